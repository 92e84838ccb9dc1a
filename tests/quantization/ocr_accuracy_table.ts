// Regenerates the accuracy table of docs/quantization.md: quantized PP-OCR models run in
// onnxruntime on the 40 labelled lines.
//   deno run -A tests/quantization/ocr_accuracy_table.ts
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { calibrateOnnx } from "../../src/quantization/calibrate_onnx.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { weightOnlyOnnx } from "../../src/quantization/weight_only_onnx.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { loadOrt } from "../io/_ocr.ts";
import {
  calibrationBatches,
  classifierCorrect,
  CLS,
  fullInt8,
  readModel,
  REC,
  recognizerExact,
} from "./_ocr_eval.ts";

const INT8_WEIGHTS = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "out_channel",
}];
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
const rows: string[][] = [];

for (
  const [name, path, which] of [["recognizer", REC, "rec"], ["classifier", CLS, "cls"]] as const
) {
  const bytes = await readModel(path);
  const onnx = decodeOnnx(bytes);
  const model = onnxModel(onnx);
  const score = async (m: Uint8Array) =>
    which === "rec" ? (await recognizerExact(m)).exact : await classifierCorrect(m);
  rows.push([name, "float32 (original)", `${await score(bytes)}/40`, mb(bytes.length)]);
  const weightsOnly = await qdqOnnx(
    onnx,
    model,
    (await quantizeWeights(model, INT8_WEIGHTS)).params,
  );
  rows.push([
    name,
    "int8 per-channel weights, QDQ",
    `${await score(weightsOnly)}/40`,
    mb(weightsOnly.length),
  ]);
  if (which === "rec") {
    const { bytes: nbits } = await weightOnlyOnnx(onnx, model, { bits: 4, blockSize: 32 });
    rows.push([
      name,
      "int4 MatMulNBits, block 32 along K",
      `${await score(nbits)}/40`,
      mb(nbits.length),
    ]);
  }
  const config = fullInt8(model);
  const { targets } = resolveTargetSettings(moduleInfos(model), config, "quantization");
  const ranges = await calibrateOnnx(
    onnx,
    model,
    targets,
    await calibrationBatches(which, [0, 4]),
    {
      ort: await loadOrt(),
    },
  );
  const full = await qdqOnnx(
    onnx,
    model,
    (await quantizeWeights(model, config, { ranges })).params,
  );
  rows.push([
    name,
    "full int8 QDQ, calibrated on lines 0-7",
    `${await score(full)}/40`,
    mb(full.length),
  ]);
}

console.log("| model | quantization | lines | size |\n|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
