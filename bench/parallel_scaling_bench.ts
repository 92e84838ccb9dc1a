/**
 * How the per-tensor steps of a streamed prune scale from one thread to two on this machine:
 * each step runs on one 64 MiB float32 tensor (16.7M values, like the 1.07 GB file of
 * `e2e_bench.ts`), first on one worker alone, then on two workers at the same time (each with a
 * tensor of its own), and the time per call is compared. Steps:
 *
 * - `select`: `smallestMagnitudeBits` (the mask of a Level 50% prune from the value bits);
 * - `mask`: `maskStoredInPlace` (the masked values written over the read buffer);
 * - `stream`: one read pass summing the tensor as int32 (memory bandwidth alone);
 * - `arith`: the same number of loop steps on a 4 KiB array that stays in the L1 cache (no
 *   memory traffic: what the cores alone give);
 * - `write-one-file`: the tensor written (synchronously, as the CLI writes) at the worker's own
 *   offset of one file both workers write, as two threads writing one output would;
 * - `write-own-file`: the same into a file of the worker's own.
 *
 * The files are written in `--dir` (default: the system's temporary folder) and removed.
 *
 * A step whose time per call grows when two run at once shares something other than the core:
 * memory bandwidth, or the host's. The speed-up of two threads on that step is at most
 * `2 x alone / together`.
 *
 *   deno run -A bench/parallel_scaling_bench.ts [--reps 8] [--out bench/results/parallel_scaling.json]
 *
 * Prints one JSON line per step and a Markdown table; writes JSON.
 *
 * @module
 */

import { benchValues, parseArgs } from "./_harness.ts";

const STEPS = ["select", "mask", "stream", "arith", "write-one-file", "write-own-file"] as const;
type Step = typeof STEPS[number];

/** Runs in a worker: `reps` calls of a step on a tensor of its own; returns ms per call. */
async function workerMain() {
  const { getKernels } = await import("../src/kernels/default.ts");
  const { maskStoredInPlace, smallestMagnitudeBits } = await import(
    "../src/pruning/stored_magnitude.ts"
  );
  const kernels = getKernels();
  const self = globalThis as unknown as {
    onmessage: (
      e: MessageEvent<{ step: Step; reps: number; seed: number; dir: string; worker: number }>,
    ) => void;
    postMessage: (m: unknown) => void;
  };
  const n = 4096 * 4096;
  const values = new Float32Array(n);
  self.onmessage = (e) => {
    const { step, reps, seed, dir, worker } = e.data;
    benchValues(n, seed, values);
    const bytes = new Uint8Array(values.buffer);
    const bits = smallestMagnitudeBits(bytes, "F32", n >> 1)!;
    const words = new Int32Array(values.buffer);
    const small = new Int32Array(1024);
    let sink = 0;
    const once = () => {
      if (step === "select") sink += smallestMagnitudeBits(bytes, "F32", n >> 1)![0];
      else if (step === "mask") sink += maskStoredInPlace(bytes, "F32", bits, kernels).zerosAfter;
      else if (step === "stream") {
        let a = 0;
        for (let i = 0; i < n; i++) a = (a + words[i]) | 0;
        sink += a;
      } else if (step === "arith") {
        let a = 0;
        for (let i = 0; i < n; i++) a = (a + small[i & 1023] + i) | 0;
        sink += a;
      } else {
        const one = step === "write-one-file";
        const f = Deno.openSync(`${dir}/${one ? "shared" : `own-${worker}`}.bin`, {
          write: true,
          create: true,
        });
        try {
          f.seekSync(one ? worker * bytes.length : 0, Deno.SeekMode.Start);
          for (let at = 0; at < bytes.length;) at += f.writeSync(bytes.subarray(at));
        } finally {
          f.close();
        }
      }
    };
    once();
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      once();
      ms.push(performance.now() - t0);
    }
    self.postMessage({ ms, sink });
  };
  self.postMessage({ ready: true });
}

if ((globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== undefined) {
  await workerMain();
} else {
  const args = parseArgs(Deno.args);
  const reps = Number(args.values.get("reps") ?? 8);
  const out = args.values.get("out") ?? "bench/results/parallel_scaling.json";
  const spawn = () =>
    new Promise<Worker>((resolve) => {
      const w = new Worker(import.meta.url, { type: "module" });
      w.onmessage = () => resolve(w);
    });
  const dir = await Deno.makeTempDir({
    ...(args.values.has("dir") ? { dir: args.values.get("dir") } : {}),
    prefix: "scaling-",
  });
  const ask = (w: Worker, step: Step, seed: number) =>
    new Promise<number[]>((resolve) => {
      w.onmessage = (e) => resolve(e.data.ms);
      w.postMessage({ step, reps, seed, dir, worker: seed - 1 });
    });
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const workers = [await spawn(), await spawn()];
  const rows: Record<string, unknown>[] = [];
  for (const step of STEPS) {
    const alone = median(await ask(workers[0], step, 1));
    const both = await Promise.all(workers.map((w, i) => ask(w, step, i + 1)));
    const together = median(both.flat());
    const row = {
      step,
      aloneMs: +alone.toFixed(1),
      togetherMs: +together.toFixed(1),
      slowdown: +(together / alone).toFixed(2),
      twoThreadSpeedup: +((2 * alone) / together).toFixed(2),
      loadavg: Deno.loadavg().map((x) => x.toFixed(2)).join(" "),
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
  for (const w of workers) w.terminate();
  await Deno.remove(dir, { recursive: true });
  console.log("| step | ms per call, alone | ms per call, two at once | speed-up of two threads |");
  console.log("|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.step} | ${r.aloneMs} | ${r.togetherMs} | ${r.twoThreadSpeedup}x |`);
  }
  await Deno.writeTextFile(
    out,
    JSON.stringify({ runtime: `deno ${Deno.version.deno}`, reps, results: rows }, null, 2) + "\n",
  );
}
