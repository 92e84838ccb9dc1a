/**
 * `trackedRange`: the per-block minimum and maximum of a tensor, as NNI's min/max observer
 * records it.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Tracked minimum and maximum of a target, one pair per block. */
export interface TrackedRange {
  /** The shape of the observed tensor (a parameter's shape, or an activation's). */
  readonly shape: readonly number[];
  /** One minimum per block (block-grid row-major). */
  readonly min: Float32Array;
  /** One maximum per block. */
  readonly max: Float32Array;
}

/**
 * The minimum and maximum of each block of `data` (NNI's `amin`/`amax` over `Scaling.shrink`).
 * A PTQ parameter's tracked range is exactly this; activations merge several observations with
 * `mergeTrackedRange` (PTQ) or `emaUpdate` (QAT).
 *
 * @param data The tensor, row-major.
 * @param shape Its dims.
 * @param kernel The block kernel (from `granularityKernel`).
 * @param options The kernels to use.
 * @returns The shape and the per-block minima and maxima.
 * @throws {RangeError} When the kernel does not fit the shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trackedRange } from "./tracked_range.ts";
 *
 * const r = trackedRange(new Float32Array([1, -2, 3, 4]), [2, 2], [1, -1]);
 * assert.deepEqual([...r.min], [-2, 3]);
 * assert.deepEqual([...r.max], [1, 4]);
 * ```
 */
export function trackedRange(
  data: Float32Array,
  shape: readonly number[],
  kernel: readonly number[],
  options: QuantizeOptions = {},
): TrackedRange {
  const { min, max } = (options.kernels ?? getKernels()).minMax(data, shape, kernel);
  return { shape: [...shape], min, max };
}

/**
 * NNI's PTQ observer update: the element-wise minimum of minima and maximum of maxima of two
 * observations of the same target (`undefined` = nothing observed yet).
 *
 * @param seen The range so far, or `undefined`.
 * @param next The newly observed range (same number of blocks).
 * @returns The merged range (a new object; the shape of `next`).
 * @throws {QuantizationError} Code `range`, when the numbers of blocks differ.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeTrackedRange } from "./tracked_range.ts";
 *
 * const a = { shape: [2], min: new Float32Array([-1]), max: new Float32Array([1]) };
 * const b = { shape: [2], min: new Float32Array([0]), max: new Float32Array([3]) };
 * const m = mergeTrackedRange(a, b);
 * assert.deepEqual([m.min[0], m.max[0]], [-1, 3]);
 * ```
 */
export function mergeTrackedRange(
  seen: TrackedRange | undefined,
  next: TrackedRange,
): TrackedRange {
  if (seen === undefined) {
    return { shape: [...next.shape], min: next.min.slice(), max: next.max.slice() };
  }
  if (seen.min.length !== next.min.length) {
    throw new QuantizationError(
      "range",
      `tracked ranges must have the same number of blocks: current values are ${seen.min.length} and ${next.min.length}`,
    );
  }
  const min = seen.min.slice();
  const max = seen.max.slice();
  for (let i = 0; i < min.length; i++) {
    if (next.min[i] < min[i] || Number.isNaN(next.min[i])) min[i] = next.min[i];
    if (next.max[i] > max[i] || Number.isNaN(next.max[i])) max[i] = next.max[i];
  }
  return { shape: [...next.shape], min, max };
}
