// Accuracy of the calibration observers on the PP-OCR models: int8 per-channel weights, every
// Conv and MatMul input int8 per tensor (Q/DQ pairs, i.e. fake-quantized activations run by
// onnxruntime), biases int8; calibrated on lines 0-15 (four batches of four), scored on all 40.
// Prints the table of docs/quantization.md.
//   deno run -A tests/quantization/ocr_observer_table.ts [--lines 0,4,8,12]
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { OBSERVERS } from "../../src/quantization/observer_range.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { loadOrt } from "../io/_ocr.ts";
import {
  calibrationBatches,
  classifierCorrect,
  CLS,
  perTensorInt8,
  readModel,
  REC,
  recognizerExact,
} from "./_ocr_eval.ts";

const at = Deno.args.indexOf("--lines");
const lines = at < 0 ? [0, 4, 8, 12] : Deno.args[at + 1].split(",").map(Number);
const rows: string[][] = [];
for (
  const [name, path, which] of [["recognizer", REC, "rec"], ["classifier", CLS, "cls"]] as const
) {
  const onnx = decodeOnnx(await readModel(path));
  const model = onnxModel(onnx);
  for (const observer of OBSERVERS) {
    const t0 = performance.now();
    const result = await quantize(model, perTensorInt8(model), {
      observer,
      calibration: { onnx, batches: await calibrationBatches(which, lines), ort: await loadOrt() },
    });
    const seconds = (performance.now() - t0) / 1000;
    const qdq = await result.save("qdq");
    const score = which === "rec"
      ? (await recognizerExact(qdq)).exact
      : await classifierCorrect(qdq);
    rows.push([name, observer, `${score}/40`, `${seconds.toFixed(1)} s`]);
    console.error(rows[rows.length - 1].join(" "));
  }
}
console.log(
  `| model | observer | lines (calibrated on ${
    lines.length * 4
  }) | quantize() time |\n|---|---|---|---|`,
);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
