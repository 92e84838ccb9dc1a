/**
 * Evaluating PP-OCR recognizer and classifier models on the fixture lines with onnxruntime.
 *
 * @module
 */

import type { OrtLike } from "../io/onnx/ort.ts";
import type { EvaluationResult } from "../report/types.ts";

export type { OrtLike, OrtSession } from "../io/onnx/ort.ts";
import type { OcrData } from "./ocr_data.ts";

/** What a PP-OCR model does. */
export type OcrTask = "recognizer" | "classifier";

/** An evaluation with the model's predictions (decoded texts or class ids). */
export interface OcrEvaluation extends EvaluationResult {
  /** The task that ran. */
  readonly task: OcrTask;
  /** One prediction per line. */
  readonly predictions: readonly (string | number)[];
  /** The size of the model's last output dim (2 for the classifier). */
  readonly classes: number;
}

/**
 * Runs a model once on one float32 input, in a single-threaded session that is released after.
 *
 * @param ort The onnxruntime module.
 * @param model The model file bytes.
 * @param input The input values.
 * @param dims The input dims.
 * @param options More session options (e.g. `graphOptimizationLevel`), over the defaults.
 * @returns The first output's values and dims.
 * @throws {Error} onnxruntime's error when the model does not load or run.
 */
export async function runOrt(
  ort: OrtLike,
  model: Uint8Array,
  input: Float32Array,
  dims: readonly number[],
  options: Record<string, unknown> = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 4,
    ...options,
  });
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, dims) };
    const out = (await session.run(feeds))[session.outputNames[0]];
    return { data: out.data as Float32Array, dims: [...out.dims] };
  } finally {
    await session.release?.();
  }
}

/** Greedy CTC decoding of logits `[n, t, classes]`: argmax, collapse repeats, drop blank 0. */
export function ctcDecode(
  logits: Float32Array,
  dims: readonly number[],
  keys: readonly string[],
): string[] {
  const [n, t, c] = dims;
  const texts: string[] = [];
  for (let i = 0; i < n; i++) {
    let text = "";
    let prev = -1;
    for (let s = 0; s < t; s++) {
      const base = (i * t + s) * c;
      let best = 0;
      for (let k = 1; k < c; k++) if (logits[base + k] > logits[base + best]) best = k;
      if (best !== prev && best !== 0) text += best === c - 1 ? " " : keys[best - 1];
      prev = best;
    }
    texts.push(text.trim());
  }
  return texts;
}

/**
 * Runs a PP-OCR model on the 40 fixture lines: the recognizer's decoded lines are compared
 * exactly with the labels, the classifier's argmax (0 or 180 degrees) with the rotation labels.
 *
 * @param ort The onnxruntime module.
 * @param model The model file bytes.
 * @param task `recognizer` or `classifier`.
 * @param data The fixture inputs from `loadOcrData`.
 * @param keys The recognizer's character list (`ppocr_keys_v1.txt` lines); needed for it only.
 * @param options More session options for `runOrt`.
 * @returns Correct and total counts, and the predictions.
 * @throws {Error} onnxruntime's error when the model does not load or run.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const r = await evaluateOcr(ort, bytes, "classifier", await loadOcrData());
 * console.log(`${r.correct}/${r.total}`);
 * ```
 */
export async function evaluateOcr(
  ort: OrtLike,
  model: Uint8Array,
  task: OcrTask,
  data: OcrData,
  keys: readonly string[] = [],
  options: Record<string, unknown> = {},
): Promise<OcrEvaluation> {
  const { labels } = data;
  if (task === "recognizer") {
    const out = await runOrt(ort, model, data.rec.input, data.rec.dims, options);
    const predictions = ctcDecode(out.data, out.dims, keys);
    const correct = predictions.filter((p, i) => p === labels.texts[i]).length;
    return {
      name: "recognizer exact lines",
      task,
      correct,
      total: predictions.length,
      predictions,
      classes: out.dims[out.dims.length - 1],
    };
  }
  const out = await runOrt(ort, model, data.cls.input, data.cls.dims, options);
  const n = out.dims[0];
  const classes = out.dims[out.dims.length - 1];
  const predictions: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) {
      if (out.data[i * classes + k] > out.data[i * classes + best]) best = k;
    }
    predictions.push(best);
  }
  const correct = predictions.filter((p, i) => p === labels.cls_labels[i]).length;
  return { name: "classifier accuracy", task, correct, total: n, predictions, classes };
}
