/**
 * `compareOutputs`: how far a compressed ONNX model's outputs are from the original's on the
 * same deterministic random inputs.
 *
 * @module
 */

import type { OrtLike, OrtSession } from "./ocr_eval.ts";

/** The agreement of one output. */
export interface OutputComparison {
  /** The output name. */
  readonly name: string;
  /** The output dims. */
  readonly dims: readonly number[];
  /** Largest absolute difference. */
  readonly maxAbsDiff: number;
  /** `||a - b|| / ||b||` (L2; 0 when both are 0). */
  readonly relativeError: number;
  /** Rows (over the last dim) whose argmax agrees, and all rows; absent for a last dim of 1. */
  readonly argmax?: { readonly same: number; readonly total: number };
}

/** Options of `compareOutputs`. */
export interface CompareOptions {
  /** The first input's shape, replacing the model's symbolic dims. */
  readonly shape?: readonly number[];
  /** The size of symbolic dims when no shape is given: dim 0 (batch) gets this, others 16. */
  readonly batch?: number;
}

interface Meta {
  readonly name: string;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}

/** Deterministic values in [-1, 1) (a 32-bit LCG). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function feeds(
  ort: OrtLike,
  session: OrtSession,
  options: CompareOptions,
): Record<string, unknown> {
  const metas = (session as unknown as { inputMetadata?: Meta[] }).inputMetadata ?? [];
  const out: Record<string, unknown> = {};
  session.inputNames.forEach((name, k) => {
    const meta = metas.find((m) => m.name === name);
    const dims = k === 0 && options.shape
      ? [...options.shape]
      : (meta?.shape ?? []).map((d, i) =>
        typeof d === "number" && d > 0 ? d : i === 0 ? options.batch ?? 8 : 16
      );
    const n = dims.reduce((a, b) => a * b, 1);
    const type = meta?.type ?? "float32";
    const T = ort.Tensor as unknown as new (
      type: string,
      data: unknown,
      dims: readonly number[],
    ) => unknown;
    if (type === "float32") out[name] = new T("float32", noise(n, 1234 + k), dims);
    else if (type === "int64") {
      out[name] = new T(
        "int64",
        BigInt64Array.from(noise(n, 99 + k), (v) => BigInt(Math.floor((v + 1) * 5))),
        dims,
      );
    } else if (type === "int32") {
      out[name] = new T(
        "int32",
        Int32Array.from(noise(n, 99 + k), (v) => Math.floor((v + 1) * 5)),
        dims,
      );
    } else if (type === "bool") out[name] = new T("bool", new Uint8Array(n), dims);
    else {throw new RangeError(
        `input "${name}" has type ${type}, which compareOutputs cannot generate`,
      );}
  });
  return out;
}

function compare(
  name: string,
  a: Float32Array,
  b: Float32Array,
  dims: readonly number[],
): OutputComparison {
  let max = 0;
  let diff2 = 0;
  let ref2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = d;
    diff2 += d * d;
    ref2 += b[i] * b[i];
  }
  const last = dims[dims.length - 1] ?? 1;
  let argmax: OutputComparison["argmax"];
  if (last > 1 && a.length % last === 0) {
    let same = 0;
    const rows = a.length / last;
    for (let r = 0; r < rows; r++) {
      let ia = 0;
      let ib = 0;
      for (let j = 1; j < last; j++) {
        if (a[r * last + j] > a[r * last + ia]) ia = j;
        if (b[r * last + j] > b[r * last + ib]) ib = j;
      }
      if (ia === ib) same++;
    }
    argmax = { same, total: rows };
  }
  return {
    name,
    dims,
    maxAbsDiff: max,
    relativeError: ref2 === 0 ? (diff2 === 0 ? 0 : Infinity) : Math.sqrt(diff2 / ref2),
    ...(argmax ? { argmax } : {}),
  };
}

/**
 * Runs both models on the same deterministic random inputs (from the input metadata: symbolic
 * dims become `batch` for dim 0 and 16 elsewhere, or `options.shape` for the first input) and
 * compares every float output: maximum absolute difference, relative L2 error and how many rows
 * keep their argmax.
 *
 * @param ort The onnxruntime module.
 * @param model The compressed model bytes.
 * @param reference The original model bytes.
 * @param options The first input's shape or the batch size.
 * @returns One comparison per float output.
 * @throws {Error} onnxruntime's error when a model does not run on the generated inputs.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const [out] = await compareOutputs(ort, compressed, original, { shape: [4, 3, 48, 192] });
 * console.log(out.relativeError, out.argmax);
 * ```
 */
export async function compareOutputs(
  ort: OrtLike,
  model: Uint8Array,
  reference: Uint8Array,
  options: CompareOptions = {},
): Promise<OutputComparison[]> {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 };
  const a = await ort.InferenceSession.create(model, opts);
  const b = await ort.InferenceSession.create(reference, opts);
  try {
    const input = feeds(ort, b, options);
    const outA = await a.run(input);
    const outB = await b.run(input);
    return b.outputNames
      .filter((n) => outA[n]?.data instanceof Float32Array && outB[n]?.data instanceof Float32Array)
      .map((n) =>
        compare(n, outA[n].data as Float32Array, outB[n].data as Float32Array, [...outB[n].dims])
      );
  } finally {
    await a.release?.();
    await b.release?.();
  }
}
