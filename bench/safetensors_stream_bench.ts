/**
 * Streams a generated safetensors file of BF16 tensors to disk and processes it back one tensor
 * at a time (read + decode to float32), reporting time and peak resident memory, against a
 * baseline in the same run: reading the same file's bytes in 16 MiB chunks without decoding.
 *
 *   deno run -A bench/safetensors_stream_bench.ts [--size MB=2048] [--tensor-mb 64]
 *     [--dir /tmp] [--out bench/results/safetensors_stream.json]
 *
 * `--size 64 --tensor-mb 4` is a smoke run of a few seconds. Prints a table and writes JSON.
 */

import { openFile, writeFileAtomic } from "../src/io/fs.ts";
import { openSafetensors } from "../src/io/safetensors/open_safetensors.ts";
import { streamSafetensors } from "../src/io/safetensors/write_safetensors.ts";
import { toFloat32 } from "../src/model/to_float32.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const mb = Number(args.values.get("size") ?? 2048);
const tensorMB = Number(args.values.get("tensor-mb") ?? Math.min(64, Math.max(1, mb / 16)));
const out = args.values.get("out") ?? "bench/results/safetensors_stream.json";
const path = `${args.values.get("dir") ?? "/tmp"}/nncompress-stream-${Date.now()}.safetensors`;
const count = Math.max(1, Math.round(mb / tensorMB));
const rows = Math.max(1, Math.round((tensorMB * 1024 * 1024) / 2 / 4096)); // BF16 [rows, 4096]
let peak = 0;
const sample = () => (peak = Math.max(peak, Deno.memoryUsage().rss));
const mib = (bytes: number) => Math.round(bytes / 1048576);
const secs = (ms: number) => Math.round(ms) / 1000;

const startRss = Deno.memoryUsage().rss;
const t0 = performance.now();
await writeFileAtomic(path, (sink) =>
  streamSafetensors(
    Array.from({ length: count }, (_, i) => ({
      name: `layers.${i}.mlp.weight`,
      dtype: "BF16" as const,
      shape: [rows, 4096],
      data: () => (sample(), new Uint16Array(rows * 4096).fill(0x3f80 + (i % 64))),
    })),
    sink,
    { metadata: { format: "pt" } },
  ));
const t1 = performance.now();
const writePeak = peak;
let total = 0;
let fileBytes = 0;
let baselineSeconds = 0;
let baselinePeak = 0;
peak = 0;
let t2 = t1;
const file = await openFile(path);
try {
  fileBytes = file.size;
  const b0 = performance.now();
  for (let at = 0; at < file.size; at += 16 << 20) {
    const chunk = await file.read(at, Math.min(16 << 20, file.size - at));
    total += chunk[0];
    sample();
  }
  baselineSeconds = secs(performance.now() - b0);
  baselinePeak = peak;
  peak = 0;
  t2 = performance.now();
  const lazy = await openSafetensors(file, { file: path });
  for (const e of lazy.entries) {
    const values = toFloat32(await lazy.read(e.name), e.dtype);
    for (let i = 0; i < values.length; i += 4096) total += values[i];
    sample();
  }
} finally {
  await file.close();
  await Deno.remove(path);
}
const t3 = performance.now();
const readSeconds = secs(t3 - t2);
const result = {
  benchmark: "safetensors_stream",
  date: new Date().toISOString(),
  runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
  baseline: "reading the file's bytes in 16 MiB chunks, no decoding",
  fileMB: mib(fileBytes),
  tensors: count,
  tensorMB: mib(rows * 4096 * 2),
  writeSeconds: secs(t1 - t0),
  baselineReadSeconds: baselineSeconds,
  readAndDecodeSeconds: readSeconds,
  readVsBaseline: baselineSeconds > 0
    ? Math.round((readSeconds / baselineSeconds) * 100) / 100
    : null,
  startRssMB: mib(startRss),
  writePeakRssMB: mib(writePeak),
  baselinePeakRssMB: mib(baselinePeak),
  readPeakRssMB: mib(peak),
  checksum: total,
};
const table = [
  ["step", "seconds", "peak RSS MB"],
  ["write (streamSafetensors)", String(result.writeSeconds), String(result.writePeakRssMB)],
  ["baseline: read bytes", String(baselineSeconds), String(result.baselinePeakRssMB)],
  ["read + decode (openSafetensors)", String(readSeconds), String(result.readPeakRssMB)],
];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
console.log(`${result.fileMB} MB, ${count} x ${result.tensorMB} MB BF16 tensors`);
for (const r of table) {
  console.log(r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  "));
}
console.log(JSON.stringify(result));
const dir = out.replace(/\/[^/]*$/, "");
if (dir !== out) await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
console.log(`JSON written to ${out}`);
