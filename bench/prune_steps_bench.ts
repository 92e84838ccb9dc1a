/**
 * Where a one-thread streamed prune's time goes, step by step and tensor by tensor: a Level 50%
 * prune of the 1.07 GB safetensors of `e2e_bench.ts` (16 x [4096, 4096] float32 weights), each
 * weight's steps timed on their own with `performance.now()`, on this thread, in the order the
 * CLI runs them (every metric and mask first, then the output tensor by tensor, then one flush):
 *
 * - `general`: the path for any metric and dtype — the tensor read into a new buffer, the
 *   `|w|` metric (`parameterMetric`), `kSmallestMask`, the mask packed to bits (as the pipeline
 *   holds it); then read again, the mask unpacked (`expandMask`), `applyTargetMask` in place,
 *   `toFileBytes`, the write;
 * - `bits`: the element-wise magnitude path of `pruneSafetensorsFile` — the tensor read into
 *   one buffer reused for every tensor, `smallestMagnitudeBits` (the mask as bits from the value
 *   bits); then read again into the same buffer, `maskStoredInPlace`, the write of that buffer
 *   (`writeSync`, as `writeFileAtomic` writes on Deno; the general path's write is asynchronous,
 *   as it was before).
 *
 * Both end with the output's `fsync`. Biases are left out (they are 0.02% of the bytes).
 *
 *   deno run -A bench/prune_steps_bench.ts [--dir /tmp] [--paths general,bits] [--keep]
 *     [--out bench/results/prune_steps.json]
 *
 * @module
 */

import { getKernels } from "../src/kernels/default.ts";
import { toFileBytes } from "../src/model/from_float32.ts";
import type { TensorRef } from "../src/model/model_graph.ts";
import { applyTargetMask } from "../src/pruning/apply_target_mask.ts";
import { blockLayout } from "../src/pruning/block_layout.ts";
import { expandMask } from "../src/pruning/expand_mask.ts";
import { maskBits, packedMask } from "../src/pruning/packed_mask.ts";
import { parameterMetric } from "../src/pruning/prune.ts";
import { prunedCount } from "../src/pruning/pruned_count.ts";
import { maskStoredInPlace, smallestMagnitudeBits } from "../src/pruning/stored_magnitude.ts";
import type { PruningTarget } from "../src/pruning/types.ts";
import { streamSafetensors } from "../src/io/safetensors/write_safetensors.ts";
import { writeFileAtomic } from "../src/io/fs.ts";
import process from "node:process";
import { benchValues, parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const dir = await Deno.makeTempDir({ dir: args.values.get("dir") ?? "/tmp", prefix: "steps-" });
const outPath = args.values.get("out") ?? "bench/results/prune_steps.json";
const paths = (args.values.get("paths") ?? "general,bits").split(",");
const kernels = getKernels();
const N = 4096 * 4096;
const LAYERS = 16;

const file = `${dir}/model.safetensors`;
await writeFileAtomic(file, (sink) =>
  streamSafetensors(
    Array.from({ length: LAYERS }, (_, i) => ({
      name: `layers.${i}.weight`,
      dtype: "F32" as const,
      shape: [4096, 4096],
      data: () => benchValues(N, i + 1),
    })),
    sink,
  ));
const header = await Deno.open(file);
const lengthBytes = new Uint8Array(8);
await header.read(lengthBytes);
header.close();
const dataStart = 8 + Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));

const target: PruningTarget = {
  module: "layers.0",
  target: "weight",
  kind: "parameter",
  shape: [4096, 4096],
  setting: { sparse_ratio: 0.5 },
};
const layout = blockLayout(null, [4096, 4096]);
const k = prunedCount(N, 0.5);
const ref: TensorRef = {
  name: "layers.0.weight",
  dtype: "F32",
  shape: [4096, 4096],
  fileShape: [4096, 4096],
  data: () => Promise.resolve(new Float32Array(0)),
  bytes: () => Promise.resolve(new Uint8Array(0)),
};

/** Reads `length` bytes at `offset` into `out` (one seek, then reads until full). */
async function readInto(f: Deno.FsFile, offset: number, out: Uint8Array): Promise<void> {
  await f.seek(offset, Deno.SeekMode.Start);
  for (let at = 0; at < out.length;) {
    const n = await f.read(out.subarray(at));
    if (n === null) throw new Error("short read");
    at += n;
  }
}

/** Writes all of `bytes`: asynchronously (before), or with `writeSync` as `writeFileAtomic` now. */
async function writeAll(f: Deno.FsFile, bytes: Uint8Array, sync: boolean): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += sync ? f.writeSync(bytes.subarray(at)) : await f.write(bytes.subarray(at));
  }
}

/** Each step's wall times and this process's CPU times (all threads: the reads', too), in ms. */
type Steps = Record<string, { wall: number[]; cpu: number[] }>;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const time = async <T>(steps: Steps, name: string, fn: () => T | Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const c0 = cpuMs();
  const r = await fn();
  const s = steps[name] ??= { wall: [], cpu: [] };
  s.wall.push(performance.now() - t0);
  s.cpu.push(cpuMs() - c0);
  return r;
};

async function general(): Promise<{ steps: Steps; seconds: number }> {
  const steps: Steps = {};
  const t0 = performance.now();
  const input = await Deno.open(file);
  const output = await Deno.open(`${dir}/out-general`, {
    write: true,
    create: true,
    truncate: true,
  });
  const masks: Uint8Array[] = [];
  for (let i = 0; i < LAYERS; i++) {
    const at = dataStart + i * N * 4;
    const bytes = await time(steps, "read (metric pass)", async () => {
      const b = new Uint8Array(N * 4);
      await readInto(input, at, b);
      return b;
    });
    const values = new Float32Array(bytes.buffer);
    const metric = await time(
      steps,
      "metric",
      () => parameterMetric(values, target, { pruner: "level", kernels }),
    );
    const mask = await time(steps, "selection", () => kernels.kSmallestMask(metric, k));
    await time(steps, "mask as bits", () => {
      const packed = packedMask({
        module: "m",
        target: "t",
        layout,
        rawShape: layout.raw,
        blocks: mask,
      });
      masks.push(maskBits(packed)!);
    });
  }
  for (let i = 0; i < LAYERS; i++) {
    const at = dataStart + i * N * 4;
    const bytes = await time(steps, "read (output pass)", async () => {
      const b = new Uint8Array(N * 4);
      await readInto(input, at, b);
      return b;
    });
    const values = new Float32Array(bytes.buffer);
    const full = await time(steps, "mask expanded", () => {
      const m = packedMask({
        module: "m",
        target: "t",
        layout,
        rawShape: layout.raw,
        bits: masks[i],
      });
      return expandMask(m, { kernels });
    });
    const after = await time(
      steps,
      "mask applied",
      () => applyTargetMask(values, full, { kernels, out: values }),
    );
    const encoded = await time(steps, "encode", () => toFileBytes(ref, after, kernels));
    await time(steps, "write", () => writeAll(output, encoded, false));
  }
  await time(steps, "flush (fsync)", () => output.sync());
  output.close();
  input.close();
  return { steps, seconds: (performance.now() - t0) / 1000 };
}

async function bits(): Promise<{ steps: Steps; seconds: number }> {
  const steps: Steps = {};
  const t0 = performance.now();
  const input = await Deno.open(file);
  const output = await Deno.open(`${dir}/out-bits`, { write: true, create: true, truncate: true });
  const buffer = new Uint8Array(N * 4);
  const masks: Uint8Array[] = [];
  for (let i = 0; i < LAYERS; i++) {
    const at = dataStart + i * N * 4;
    await time(steps, "read (metric pass)", () => readInto(input, at, buffer));
    masks.push(
      await time(steps, "selection (bits)", () => smallestMagnitudeBits(buffer, "F32", k)!),
    );
  }
  for (let i = 0; i < LAYERS; i++) {
    const at = dataStart + i * N * 4;
    await time(steps, "read (output pass)", () => readInto(input, at, buffer));
    await time(
      steps,
      "mask applied in place",
      () => maskStoredInPlace(buffer, "F32", masks[i], kernels),
    );
    await time(steps, "write (writeSync)", () => writeAll(output, buffer, true));
  }
  await time(steps, "flush (fsync)", () => output.sync());
  output.close();
  input.close();
  return { steps, seconds: (performance.now() - t0) / 1000 };
}

const median = (a: number[]) => {
  const b = [...a].sort((x, y) => x - y);
  const m = Math.floor(b.length / 2);
  return b.length % 2 === 1 ? b[m] : (b[m - 1] + b[m]) / 2;
};

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const results: Record<string, unknown>[] = [];
try {
  for (const name of paths) {
    const before = load();
    const r = name === "general" ? await general() : await bits();
    await Deno.remove(`${dir}/out-${name}`);
    const summary = Object.entries(r.steps).map(([step, { wall, cpu }]) => ({
      step,
      medianMs: +median(wall).toFixed(1),
      minMs: +Math.min(...wall).toFixed(1),
      maxMs: +Math.max(...wall).toFixed(1),
      totalMs: +wall.reduce((a, b) => a + b, 0).toFixed(0),
      cpuMedianMs: +median(cpu).toFixed(1),
      cpuTotalMs: +cpu.reduce((a, b) => a + b, 0).toFixed(0),
    }));
    results.push({
      path: name,
      seconds: +r.seconds.toFixed(2),
      loadavg: [before, load()],
      summary,
    });
    console.log(`\n${name}: ${r.seconds.toFixed(2)} s (load ${before} -> ${load()})`);
    console.log(
      "| step | per tensor, median ms (min-max) | 16 tensors, ms | CPU ms per tensor (median) | CPU ms, 16 tensors |",
    );
    console.log("|---|---|---|---|---|");
    for (const s of summary) {
      console.log(
        `| ${s.step} | ${s.medianMs} (${s.minMs}-${s.maxMs}) | ${s.totalMs} | ${s.cpuMedianMs} | ${s.cpuTotalMs} |`,
      );
    }
  }
} finally {
  if (!args.flags.has("keep")) await Deno.remove(dir, { recursive: true });
}
await Deno.writeTextFile(
  outPath,
  JSON.stringify({ runtime: `deno ${Deno.version.deno}`, results }, null, 2) + "\n",
);
