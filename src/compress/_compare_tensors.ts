// The measures of one output of two models: differences, cosine, top-1 agreement along a class
// axis, mask IoU. Shared by compareOutputs (and open to compareTfjsOutputs).

import type { OutputMeasures as TensorComparison } from "./compare_outputs.ts";

/** Options of `compareTensors`. */
export interface CompareTensorsOptions {
  /** The output name, for errors. */
  readonly name: string;
  /** The class axis (negative counts from the end). */
  readonly classAxis?: number;
  /** Whether `classAxis` was named for this output (then it must fit its dims). */
  readonly explicit: boolean;
  /** Measure IoU. */
  readonly iou: boolean;
  /** The mask threshold of IoU without a class axis. */
  readonly threshold: number;
}

function labels(v: ArrayLike<number>, dims: readonly number[], axis: number): Int32Array {
  const c = dims[axis];
  const inner = dims.slice(axis + 1).reduce((p, q) => p * q, 1);
  const outer = v.length / (c * inner);
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * c * inner + i;
      let best = 0;
      for (let k = 1; k < c; k++) if (v[base + k * inner] > v[base + best * inner]) best = k;
      out[o * inner + i] = best;
    }
  }
  return out;
}

/**
 * Compares the steps of one output of a model (`a`) with the reference's (`b`); every step's
 * values are in `a[s]`, `b[s]` with dims `dims[s]`.
 */
export function compareTensors(
  a: readonly ArrayLike<number>[],
  b: readonly ArrayLike<number>[],
  dims: readonly (readonly number[])[],
  options: CompareTensorsOptions,
): TensorComparison {
  let max = 0;
  let sumAbs = 0;
  let diff2 = 0;
  let ref2 = 0;
  let a2 = 0;
  let dot = 0;
  let count = 0;
  for (let s = 0; s < b.length; s++) {
    const x = a[s];
    const y = b[s];
    if (x.length !== y.length) {
      throw new RangeError(
        `output "${options.name}" has ${x.length} values in the model and ${y.length} in the reference`,
      );
    }
    for (let i = 0; i < y.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      // NaN stays once seen (`!(d <= NaN)` would let the next difference replace it).
      if (!(d <= max) && max === max) max = d;
      sumAbs += d;
      diff2 += d * d;
      ref2 += y[i] * y[i];
      a2 += x[i] * x[i];
      dot += x[i] * y[i];
    }
    count += y.length;
  }
  const last = dims[dims.length - 1] ?? [];
  let axis = options.classAxis;
  if (axis !== undefined) {
    const rank = last.length;
    const k = axis < 0 ? axis + rank : axis;
    if (!Number.isInteger(axis) || k < 0 || k >= rank || last[k] < 2) {
      if (options.explicit) {
        throw new RangeError(
          `the class axis of output "${options.name}" must be a dim of more than one class of ` +
            `[${last.join(", ")}]: current value is ${axis}`,
        );
      }
      axis = undefined;
    } else axis = k;
  } else if (last.length === 2 && last[1] > 1) axis = 1;
  let argmax: TensorComparison["argmax"];
  let iou: number | undefined;
  if (axis !== undefined) {
    let same = 0;
    let total = 0;
    const inter = new Map<number, number>();
    const union = new Map<number, number>();
    for (let s = 0; s < b.length; s++) {
      const la = labels(a[s], dims[s], axis);
      const lb = labels(b[s], dims[s], axis);
      for (let i = 0; i < lb.length; i++) {
        if (la[i] === lb[i]) {
          same++;
          inter.set(la[i], (inter.get(la[i]) ?? 0) + 1);
          union.set(la[i], (union.get(la[i]) ?? 0) + 1);
        } else {
          union.set(la[i], (union.get(la[i]) ?? 0) + 1);
          union.set(lb[i], (union.get(lb[i]) ?? 0) + 1);
        }
      }
      total += lb.length;
    }
    argmax = { axis, same, total };
    if (options.iou) {
      let sum = 0;
      for (const [c, u] of union) sum += (inter.get(c) ?? 0) / u;
      iou = union.size === 0 ? 1 : sum / union.size;
    }
  } else if (options.iou) {
    let inter = 0;
    let union = 0;
    for (let s = 0; s < b.length; s++) {
      for (let i = 0; i < b[s].length; i++) {
        const ma = a[s][i] > options.threshold;
        const mb = b[s][i] > options.threshold;
        if (ma && mb) inter++;
        if (ma || mb) union++;
      }
    }
    iou = union === 0 ? 1 : inter / union;
  }
  const norms = Math.sqrt(a2) * Math.sqrt(ref2);
  return {
    maxAbsDiff: max,
    meanAbsDiff: count === 0 ? 0 : sumAbs / count,
    relativeError: ref2 === 0 ? (diff2 === 0 ? 0 : Infinity) : Math.sqrt(diff2 / ref2),
    cosine: norms === 0 ? (a2 === 0 && ref2 === 0 ? 1 : 0) : dot / norms,
    ...(argmax === undefined ? {} : { argmax }),
    ...(iou === undefined ? {} : { iou }),
  };
}
