// Accuracy of (quantized) PP-OCR models on the 40 labelled lines, in onnxruntime.
import { CLS, ctcDecode, loadOrt, REC, run } from "../io/_ocr.ts";
import { loadOcrData, loadOcrKeys, type OcrData, ocrLines } from "../../src/compress/ocr_data.ts";
import { evaluateOcr } from "../../src/compress/ocr_eval.ts";
import { readFile } from "../../src/io/fs.ts";
import type { ModelGraph } from "../../src/model/model_graph.ts";

export { CLS, REC };
export const readModel = (path: string): Promise<Uint8Array> => readFile(path);

let fixtures: Promise<OcrData> | undefined;
/** The fixture lines, read once. */
const ocrData = () => fixtures ??= loadOcrData();

/** onnxruntime's graph optimization levels. */
export type OptLevel = "disabled" | "basic" | "extended" | "all";

/** Exact lines of the recognizer among the first `n` lines (default 40) and its logits. */
export async function recognizerExact(
  model: Uint8Array,
  level: OptLevel = "all",
  n = 40,
): Promise<{ exact: number; logits: Float32Array }> {
  const data = await ocrData();
  const { input, dims } = ocrLines(data.rec, 0, n);
  const out = await run(await loadOrt(), model, input, dims, { graphOptimizationLevel: level });
  const texts = ctcDecode(out.data, out.dims, await loadOcrKeys());
  return { exact: texts.filter((t, i) => t === data.labels.texts[i]).length, logits: out.data };
}

/** The classifier's output probabilities `[n, 2]` on the first `n` lines. */
export async function classifierOutputs(
  model: Uint8Array,
  level: OptLevel = "all",
  n = 40,
): Promise<Float32Array> {
  const { input, dims } = ocrLines((await ocrData()).cls, 0, n);
  return (await run(await loadOrt(), model, input, dims, { graphOptimizationLevel: level })).data;
}

/** Correct orientations of the classifier (0..40). */
export async function classifierCorrect(
  model: Uint8Array,
  level: OptLevel = "all",
): Promise<number> {
  const ort = await loadOrt();
  const options = { graphOptimizationLevel: level };
  return (await evaluateOcr(ort, model, "classifier", await ocrData(), [], options)).correct;
}

/** Weights int8 per channel, Conv inputs int8 per channel, MatMul inputs int8, biases int8. */
export function fullInt8(model: ModelGraph) {
  const withBias = model.modules
    .filter((m) => (m.type === "Conv2d" || m.type === "Linear") && m.params.bias !== undefined)
    .map((m) => m.name);
  return [
    {
      op_types: ["Conv2d", "Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      granularity: "out_channel",
    },
    {
      op_types: ["Conv2d"],
      target_names: ["_input_0"],
      quant_dtype: "int8",
      granularity: "per_channel",
    },
    { op_types: ["Linear"], target_names: ["_input_0"], quant_dtype: "int8" },
    // onnxruntime would otherwise insert an opset-11 Round to quantize float biases next to
    // quantized inputs and weights, which the opset-9 PP-OCR models cannot hold.
    ...(withBias.length === 0
      ? []
      : [{ op_names: withBias, target_names: ["bias"], quant_dtype: "int8" }]),
  ];
}

/** Like `fullInt8`, with every Conv input per tensor (the outlier-sensitive setting). */
export function perTensorInt8(model: ModelGraph) {
  return fullInt8(model).map((c) => (
    c.target_names[0] === "_input_0" ? { ...c, granularity: "default" } : c
  ));
}

/** Batches of 4 lines starting at each of `lines`, as the model input `x`. */
export async function calibrationBatches(which: "rec" | "cls", lines: number[]) {
  const data = await ocrData();
  return lines.map((from) => {
    const { input, dims } = ocrLines(data[which], from, 4);
    return { x: { data: input, dims } };
  });
}
