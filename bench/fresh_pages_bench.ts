/**
 * What writing 1 GiB of new file data costs on this machine, by how long the memory it lands in
 * has been free. A streamed prune writes its whole output (the input's size), so this is most of
 * its time here: on a VM with free page reporting (Linux `page_reporting`; this machine is a
 * Firecracker guest booted with `page_reporting.page_reporting_order=11`), memory freed more
 * than about 2 s before is handed back to the host, and each page the page cache takes then
 * faults in from the host.
 *
 * Each run writes 16 x 64 MiB with `writeSync` into a new file (then deletes it):
 *
 * - `warm`: right after another 1 GiB file was deleted (its pages are taken again at once);
 * - `settled`: after a pause (`--pause`, 8 s) with that memory free; then again with each
 *   write call given 4 MiB, 1 MiB and 256 KiB at most (the size of a write call is what
 *   decides: `writeInPieces` in `src/io/fs.ts` writes 256 KiB a call);
 * - `settled, 2 workers`: the same pause, then two workers writing 512 MiB each into two files.
 *
 * It also times the first touch of 1 GiB of anonymous memory (a fresh `Uint8Array`).
 *
 *   deno run -A bench/fresh_pages_bench.ts [--reps 3] [--pause 8] [--dir /tmp]
 *     [--out bench/results/fresh_pages.json]
 *
 * @module
 */

import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const reps = Number(args.values.get("reps") ?? 3);
const pause = Number(args.values.get("pause") ?? 8);
const dir = await Deno.makeTempDir({ dir: args.values.get("dir") ?? "/tmp", prefix: "pages-" });
const out = args.values.get("out") ?? "bench/results/fresh_pages.json";
const CHUNK = 64 << 20;
const GIB_CHUNKS = 16;

function chunk(): Uint8Array {
  const b = new Uint8Array(CHUNK);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1 + (i & 127);
  return b;
}

/** Writes `count` chunks into a new file, `piece` bytes a call at most; returns the seconds. */
function writeFile(path: string, count: number, b: Uint8Array, piece = b.length): number {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  for (let k = 0; k < count; k++) {
    for (let at = 0; at < b.length;) {
      at += f.writeSync(b.subarray(at, Math.min(b.length, at + piece)));
    }
  }
  const s = (performance.now() - t0) / 1000;
  f.close();
  return s;
}

const WORKER = `
self.onmessage = (e) => {
  const { path, count, size } = e.data;
  const b = new Uint8Array(size);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1 + (i & 127);
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const t0 = performance.now();
  for (let k = 0; k < count; k++) for (let at = 0; at < b.length;) at += f.writeSync(b.subarray(at));
  f.close();
  self.postMessage((performance.now() - t0) / 1000);
};`;

/** Two workers writing half a GiB each into files of their own; the wall seconds. */
async function twoWorkers(): Promise<number> {
  const url = URL.createObjectURL(new Blob([WORKER], { type: "text/javascript" }));
  const t0 = performance.now();
  await Promise.all([0, 1].map((id) =>
    new Promise<void>((resolve) => {
      const w = new Worker(url, { type: "module" });
      w.onmessage = () => {
        w.terminate();
        resolve();
      };
      w.postMessage({ path: `${dir}/w${id}.bin`, count: GIB_CHUNKS / 2, size: CHUNK });
    })
  ));
  const s = (performance.now() - t0) / 1000;
  for (const id of [0, 1]) Deno.removeSync(`${dir}/w${id}.bin`);
  URL.revokeObjectURL(url);
  return s;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const b = chunk();
const rows: { run: string; seconds: number }[] = [];
const record = (run: string, seconds: number) => {
  rows.push({ run, seconds: +seconds.toFixed(3) });
  console.log(JSON.stringify(rows.at(-1)));
};
for (let r = 0; r < reps; r++) {
  await sleep(pause);
  const t0 = performance.now();
  const a = new Uint8Array(1 << 30);
  for (let i = 0; i < a.length; i += 4096) a[i] = 1;
  record("first touch of 1 GiB of anonymous memory", (performance.now() - t0) / 1000);
  await sleep(pause);
  record("settled: 1 GiB into a new file", writeFile(`${dir}/a.bin`, GIB_CHUNKS, b));
  Deno.removeSync(`${dir}/a.bin`);
  record("warm: 1 GiB into a new file", writeFile(`${dir}/a.bin`, GIB_CHUNKS, b));
  Deno.removeSync(`${dir}/a.bin`);
  for (const kib of [4096, 1024, 256]) {
    await sleep(pause);
    record(
      `settled: 1 GiB into a new file, ${kib} KiB a write call`,
      writeFile(`${dir}/a.bin`, GIB_CHUNKS, b, kib * 1024),
    );
    Deno.removeSync(`${dir}/a.bin`);
  }
  await sleep(pause);
  record("settled, 2 workers: 512 MiB each into two files", await twoWorkers());
}
await Deno.remove(dir, { recursive: true });
const median = (run: string) => {
  const v = rows.filter((x) => x.run === run).map((x) => x.seconds).sort((p, q) => p - q);
  return v[Math.floor(v.length / 2)];
};
const summary = Object.fromEntries([...new Set(rows.map((x) => x.run))].map((k) => [k, median(k)]));
console.log(JSON.stringify({ medians: summary }));
await Deno.writeTextFile(
  out,
  JSON.stringify({ bench: "fresh_pages", pause, reps, rows, medians: summary }, null, 2) + "\n",
);
