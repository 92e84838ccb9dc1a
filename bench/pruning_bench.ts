/**
 * Pruning benchmarks: exact-k ratio masks and global-group thresholds, each compared in the same
 * run with one plain streaming pass over the same data (a whole-tensor sum with `blockReduce`),
 * plus NNI's timings on this machine for reference. Prints a table and writes JSON.
 *
 * With `--large`, instead: a global Level prune (`prune()`, one global group over every Linear
 * weight) of a generated safetensors model written to a temporary file and opened lazily, with
 * its time and peak memory (default 64 x [4096, 4096] float32 = 1.07B parameters, 4.3 GB).
 *
 * Usage:
 *   deno run -A bench/pruning_bench.ts                 # 10M and 100M elements, 100 tensors
 *   deno run -A bench/pruning_bench.ts --quick         # 1M and 10M, 20 tensors
 *   deno run -A bench/pruning_bench.ts --large [--layers 64] [--dim 4096]
 *   deno run -A bench/pruning_bench.ts --out file.json # JSON path (default
 *                                    # bench/results/pruning.json, pruning_large.json with --large)
 *
 * @module
 */

import { openFile } from "../src/io/fs.ts";
import { openSafetensors } from "../src/io/safetensors/open_safetensors.ts";
import { streamSafetensors } from "../src/io/safetensors/write_safetensors.ts";
import { getKernels } from "../src/kernels/default.ts";
import { safetensorsModel } from "../src/model/safetensors_model.ts";
import { globalThreshold } from "../src/pruning/global_threshold.ts";
import { globalThresholdStreaming } from "../src/pruning/global_threshold_streaming.ts";
import { prune } from "../src/pruning/prune.ts";
import { ratioMask } from "../src/pruning/ratio_mask.ts";
import { parseArgs, timeIt } from "./_harness.ts";

const args = parseArgs(Deno.args);
const quick = args.flags.has("quick");
const large = args.flags.has("large");
const outPath = args.values.get("out") ??
  (large ? "bench/results/pruning_large.json" : "bench/results/pruning.json");
const minSeconds = quick ? 0.05 : 0.2;
const kernels = getKernels();

/** NNI's timings on this machine (nni-semantics.md section 15), seconds for n elements. */
const NNI: Record<string, (n: number) => number> = {
  // torch.topk + scatter: 0.68-0.79 s at 10M, 7.2-8.0 s at 100M (~0.075 us/element)
  ratioMask: (n) => n * 0.075e-6,
  // _global_threshold_generate: ~6.6 us/element (65-68 s for 10M)
  globalGroup: (n) => n * 6.6e-6,
  globalGroupStreaming: (n) => n * 6.6e-6,
  // the same heap, 1M elements warm: 1.8-2.3 s
  heapReplay: (n) => n * 2.3e-6,
};

interface Result {
  bench: string;
  n: number;
  seconds: number;
  runs: number;
  baselineSeconds: number;
  timeVsStreamingPass: number;
  nniSeconds: number | null;
  speedupVsNni: number | null;
}

const results: Result[] = [];

function record(bench: string, n: number, t: { seconds: number; runs: number }, base: number) {
  const nni = NNI[bench]?.(n) ?? null;
  results.push({
    bench,
    n,
    seconds: t.seconds,
    runs: t.runs,
    baselineSeconds: base,
    timeVsStreamingPass: t.seconds / base,
    nniSeconds: nni,
    speedupVsNni: nni === null ? null : nni / t.seconds,
  });
}

function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 3;
  }
  return out;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<{ seconds: number; runs: number }> {
  await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 20) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
    if (times.length >= 3 && (performance.now() - start) / 1000 >= minSeconds) break;
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)], runs: times.length };
}

async function standard(): Promise<void> {
  // 1. Exact-k ratio masks on one tensor.
  for (const n of quick ? [1_000_000, 10_000_000] : [10_000_000, 100_000_000]) {
    const data = randomData(n, n).map(Math.abs);
    const base = timeIt(() => kernels.blockReduce(data, [n], [-1], "sum"), minSeconds);
    record("streamingSum", n, base, base.seconds);
    record(
      "ratioMask",
      n,
      timeIt(() => ratioMask(data, 0.5, { kernels }), minSeconds),
      base.seconds,
    );
  }

  // 2. A global group over many tensors of different sizes, Level metrics (grain 1).
  const groupTotal = quick ? 10_000_000 : 100_000_000;
  const groupTensors = quick ? 20 : 100;
  const weights = Array.from({ length: groupTensors }, (_, i) => 1 + ((i * 37) % 10));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const lengths = weights.map((w) => Math.floor((groupTotal * w) / wsum));
  lengths[0] += groupTotal - lengths.reduce((a, b) => a + b, 0);
  const tensors = lengths.map((n, i) => randomData(n, i + 1).map(Math.abs));
  const s = Math.trunc(groupTotal * 0.5);
  const base = timeIt(() => {
    for (const t of tensors) kernels.blockReduce(t, [t.length], [-1], "sum");
  }, minSeconds);
  record("streamingSum", groupTotal, base, base.seconds);
  const members = tensors.map((metric) => ({ metric, grain: 1 }));
  const inMemory = timeIt(() => {
    const t = globalThreshold(members, s, { kernels });
    for (const m of tensors) kernels.thresholdMask(m, t);
  }, minSeconds);
  record("globalGroup", groupTotal, inMemory, base.seconds);
  const streaming = tensors.map((m) => ({ length: m.length, grain: 1, read: () => m }));
  const streamed = await timeAsync(async () => {
    const t = await globalThresholdStreaming(streaming, s);
    for (const m of tensors) kernels.thresholdMask(m, t);
  });
  record("globalGroupStreaming", groupTotal, streamed, base.seconds);

  // 3. NNI's buffer replay with unequal grains (channel pruning of differently sized layers).
  const heapN = quick ? 100_000 : 1_000_000;
  const heapMembers = [0, 1, 2, 3].map((i) => ({
    metric: randomData(heapN / 4, 100 + i).map(Math.abs),
    grain: [9, 288, 9216, 128][i],
  }));
  const heapTotal = heapMembers.reduce((t, m) => t + m.metric.length * m.grain, 0);
  const heapBase = timeIt(() => {
    for (const m of heapMembers) kernels.blockReduce(m.metric, [m.metric.length], [-1], "sum");
  }, minSeconds);
  const heap = timeIt(() => globalThreshold(heapMembers, Math.trunc(heapTotal * 0.5)), minSeconds);
  record("heapReplay", heapN, heap, heapBase.seconds);
  writeOut({ groupTensors });
  printTable();
}

/** Peak resident memory of this process (Linux `VmHWM`), in bytes; `rss` elsewhere. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall back to the current resident size
  }
  return Deno.memoryUsage().rss;
}

async function largeModel(): Promise<void> {
  const layers = Number(args.values.get("layers") ?? 64);
  const dim = Number(args.values.get("dim") ?? 4096);
  const params = layers * dim * dim;
  const dir = await Deno.makeTempDir({ prefix: "nncompress-prune-" });
  const path = `${dir}/model.safetensors`;
  try {
    let t0 = performance.now();
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      await streamSafetensors(
        Array.from({ length: layers }, (_, i) => ({
          name: `layers.${i}.weight`,
          dtype: "F32" as const,
          shape: [dim, dim],
          data: () => randomData(dim * dim, i + 1),
        })),
        {
          write: async (chunk: Uint8Array) => {
            for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
          },
        },
      );
    } finally {
      file.close();
    }
    const writeSeconds = (performance.now() - t0) / 1000;
    const before = peakRss();

    t0 = performance.now();
    const source = await openFile(path);
    let result;
    try {
      const model = safetensorsModel(await openSafetensors(source, { file: path }));
      const config = [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }];
      result = await prune(model, config, { pruner: "level", kernels });
    } finally {
      await source.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    const peak = peakRss();
    const { kept, total } = result.report.totals;
    const gib = (b: number) => (b / 2 ** 30).toFixed(2);
    console.log(
      `global Level prune of ${params} parameters (${
        gib(params * 4)
      } GiB file, ${layers} tensors): ` +
        `${seconds.toFixed(1)} s, peak RSS ${gib(peak)} GiB (${gib(before)} GiB before pruning), ` +
        `kept ${kept} of ${total}; NNI's heap: ~${(params * 6.6e-6 / 3600).toFixed(1)} h`,
    );
    writeOut({
      large: {
        params,
        layers,
        dim,
        fileBytes: params * 4,
        writeSeconds,
        pruneSeconds: seconds,
        peakRssBytes: peak,
        peakRssBeforePruneBytes: before,
        kept,
        total,
        nniSecondsEstimate: params * 6.6e-6,
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function writeOut(extra: Record<string, unknown>): void {
  const out = {
    benchmark: large ? "pruning-large" : "pruning",
    date: new Date().toISOString(),
    runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
    kernels: kernels.name,
    baseline: "one streaming pass (blockReduce sum) over the same data, same run",
    nniReference: "NNI v3 timings on this machine (nni-semantics.md section 15), per element",
    results,
    ...extra,
  };
  const dir = outPath.replace(/\/[^/]*$/, "");
  if (dir !== outPath) Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(outPath, JSON.stringify(out, null, 2) + "\n");
}

function printTable(): void {
  const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
  const header = ["bench", "n", "seconds", "x streaming pass", "NNI seconds", "speed-up vs NNI"];
  const lines = [header];
  for (const r of results) {
    lines.push([
      r.bench,
      String(r.n),
      fmt(r.seconds),
      fmt(r.timeVsStreamingPass),
      r.nniSeconds === null ? "-" : fmt(r.nniSeconds),
      r.speedupVsNni === null ? "-" : `${fmt(r.speedupVsNni)}x`,
    ]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const l of lines) {
    console.log(
      l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
    );
  }
  console.log(`\nJSON written to ${outPath}`);
}

if (large) await largeModel();
else await standard();
