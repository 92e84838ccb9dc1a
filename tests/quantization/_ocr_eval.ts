// Accuracy of (quantized) PP-OCR models on the 40 labelled lines, in onnxruntime.
import {
  CLS,
  ctcDecode,
  loadGray,
  loadKeys,
  loadLabels,
  loadOrt,
  type Ort,
  REC,
  toInput,
} from "../io/_ocr.ts";
import { readFile } from "../../src/io/fs.ts";
import type { ModelGraph } from "../../src/model/model_graph.ts";

export { CLS, REC };
export const readModel = (path: string): Promise<Uint8Array> => readFile(path);

/** onnxruntime's graph optimization levels. */
export type OptLevel = "disabled" | "basic" | "extended" | "all";

async function run(
  ort: Ort,
  model: Uint8Array,
  input: Float32Array,
  dims: number[],
  level: OptLevel,
): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: level,
  });
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, dims) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    return { data: out.data as Float32Array, dims: [...out.dims] as number[] };
  } finally {
    await session.release?.();
  }
}

/** Exact lines of the recognizer among the first `n` lines (default 40) and its logits. */
export async function recognizerExact(
  model: Uint8Array,
  level: OptLevel = "all",
  n = 40,
): Promise<{ exact: number; logits: Float32Array }> {
  const ort = await loadOrt();
  const labels = await loadLabels();
  const keys = await loadKeys();
  const input = toInput(await loadGray("rec"), labels.rec_shape, labels.rec_widths, 0, n);
  const out = await run(ort, model, input, [n, 3, 48, 480], level);
  const texts = ctcDecode(out.data, out.dims, keys);
  return { exact: texts.filter((t, i) => t === labels.texts[i]).length, logits: out.data };
}

/** The classifier's output probabilities `[n, 2]` on the first `n` lines. */
export async function classifierOutputs(
  model: Uint8Array,
  level: OptLevel = "all",
  n = 40,
): Promise<Float32Array> {
  const ort = await loadOrt();
  const labels = await loadLabels();
  const input = toInput(await loadGray("cls"), labels.cls_shape, labels.cls_widths, 0, n);
  return (await run(ort, model, input, [n, 3, 48, 192], level)).data;
}

/** Correct orientations of the classifier (0..40). */
export async function classifierCorrect(
  model: Uint8Array,
  level: OptLevel = "all",
): Promise<number> {
  const ort = await loadOrt();
  const labels = await loadLabels();
  const input = toInput(await loadGray("cls"), labels.cls_shape, labels.cls_widths, 0, 40);
  const out = await run(ort, model, input, [40, 3, 48, 192], level);
  let ok = 0;
  for (let i = 0; i < 40; i++) {
    const pred = out.data[2 * i + 1] > out.data[2 * i] ? 1 : 0;
    if (pred === labels.cls_labels[i]) ok++;
  }
  return ok;
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
  const labels = await loadLabels();
  const gray = await loadGray(which);
  const shape = which === "rec" ? labels.rec_shape : labels.cls_shape;
  const widths = which === "rec" ? labels.rec_widths : labels.cls_widths;
  return lines.map((from) => ({
    x: { data: toInput(gray, shape, widths, from, 4), dims: [4, 3, shape[1], shape[2]] },
  }));
}
