/**
 * GPTQ benchmark: one `[dim, dim]` linear layer with `rows` calibration rows, H accumulation
 * (`layerHessian`) and GPTQ 4-bit with groups of 128 (`gptq`), timed with the default kernels
 * (WebAssembly SIMD), against the reference implementation's time on this machine (IST-DASLab/
 * gptq with torch 1.13 float32 on one CPU thread: 0.48 s for H and 3.6 s for `fasterquant` at
 * 4096 x 4096 with 2,048 rows, 4.08 s in all; the target is within 4x). Then the three
 * linear-algebra kernels, the TypeScript reference against the WebAssembly build on a smaller
 * layer (`--ratio-dim`), with their ratio. Prints JSON (also written to `--out`).
 *
 * Times are given as wall-clock seconds and as the process's CPU seconds: on a machine shared
 * with other work the wall-clock time of this single-threaded run stretches, the CPU time does
 * not (both are reported; the ratio to the reference uses the CPU time, and the wall-clock one
 * is reported beside it).
 *
 * Usage:
 *   deno run -A bench/gptq_bench.ts [--dim 4096] [--rows 2048] [--ratio-dim 768]
 *                                   [--out bench/results/gptq.json]
 *
 * @module
 */

import process from "node:process";
import { referenceKernels } from "../src/kernels/reference.ts";
import { createWasmKernels } from "../src/kernels/wasm.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { gptq } from "../src/quantization/gptq.ts";
import { inverseHessian, layerHessian } from "../src/quantization/layer_hessian.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const dim = Number(args.values.get("dim") ?? 4096);
const rows = Number(args.values.get("rows") ?? 2048);
const ratioDim = Number(args.values.get("ratio-dim") ?? 768);
const outPath = args.values.get("out") ?? "bench/results/gptq.json";

/** The reference's seconds on this machine at 4096 x 4096, 2,048 rows, group 128. */
const REFERENCE = { hessian: 0.48, fasterquant: 3.6, total: 4.08 };

/** A deterministic normal-ish float32 array (sum of uniforms). */
function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      v += s / 2 ** 32;
    }
    out[i] = (v - 2) * 1.7;
  }
  return out;
}

/** Calibration rows with a low-rank part, so H is not diagonal. */
function calibration(n: number, cols: number, seed: number): Float32Array {
  const rank = 16;
  const z = randn(n * rank, seed);
  const a = randn(rank * cols, seed + 1);
  const x = randn(n * cols, seed + 2);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < rank; k++) {
      const zk = z[r * rank + k] * 0.25;
      for (let c = 0; c < cols; c++) x[r * cols + c] += zk * a[k * cols + c];
    }
  }
  return x;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;
const cpuNow = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const wasm = createWasmKernels();

/** Runs `fn` and returns its wall-clock and CPU seconds. */
function timed(fn: () => unknown): { wall: number; cpu: number } {
  const c0 = cpuNow();
  const t0 = performance.now();
  fn();
  return { wall: seconds(t0), cpu: cpuNow() - c0 };
}

// --- the layer -------------------------------------------------------------------------
const weight = randn(dim * dim, 1).map((v) => v / Math.sqrt(dim));
const x = calibration(rows, dim, 7);
let hessian: Float32Array = new Float32Array(0);
const hessianTime = timed(() => ({ hessian } = layerHessian([x], dim, { kernels: wasm })));
const inverseTime = timed(() => inverseHessian(hessian, dim, { kernels: wasm }));
let loss = 0;
const gptqTime = timed(() => {
  loss = gptq(weight, [dim, dim], [x], { bits: 4, groupSize: 128, kernels: wasm }).loss;
});
const fasterquant = {
  wall: gptqTime.wall - hessianTime.wall,
  cpu: gptqTime.cpu - hessianTime.cpu,
};

// --- kernels: reference vs WebAssembly ---------------------------------------------------
function kernelTimes(k: Kernels, n: number) {
  const xs = calibration(Math.max(64, n / 2), n, 3);
  const h = new Float32Array(n * n);
  const hs = timed(() => k.hessianAccumulate(h, xs, n, 0, Math.sqrt(2))).cpu;
  for (let i = 0; i < n; i++) h[i * n + i] += 1;
  let u: Float32Array = new Float32Array(0);
  const is = timed(() => (u = k.inverseCholeskyUpper(h, n))).cpu;
  const c = randn(n * n, 5);
  const a = u.subarray(0, 128 * n);
  const b = randn(128 * n, 6);
  const ss = timed(() => k.subtractProducts(c, a, b, 128)).cpu;
  return { hessianAccumulate: hs, inverseCholeskyUpper: is, subtractProducts: ss };
}
const wasmTimes = kernelTimes(wasm, ratioDim);
const refTimes = kernelTimes(referenceKernels, ratioDim);
const ratios = Object.fromEntries(
  Object.entries(refTimes).map(([name, s]) => [
    name,
    { reference: s, wasm: wasmTimes[name as keyof typeof wasmTimes], ratio: 0 },
  ]),
);
for (const r of Object.values(ratios)) r.ratio = r.reference / r.wasm;

const report = {
  layer: { out: dim, in: dim, calibrationRows: rows, bits: 4, groupSize: 128, blockSize: 128 },
  seconds: {
    note: "gptq() = H accumulation + fasterquant; inverseHessian is part of fasterquant",
    hessian: hessianTime,
    inverseHessian: inverseTime,
    fasterquant,
    gptq: gptqTime,
  },
  referenceImplementation: REFERENCE,
  ratioToReference: dim === 4096 && rows === 2048
    ? { cpu: gptqTime.cpu / REFERENCE.total, wall: gptqTime.wall / REFERENCE.total }
    : null,
  targetRatio: 4,
  loss,
  kernels: {
    dim: ratioDim,
    note:
      "CPU seconds; hessianAccumulate with dim/2 rows, inverseCholeskyUpper, subtractProducts k=128",
    ...ratios,
  },
};
const json = JSON.stringify(report, null, 2);
console.log(json);
try {
  await Deno.writeTextFile(outPath, json + "\n");
} catch (error) {
  console.error(`could not write ${outPath}: ${error}`);
}
