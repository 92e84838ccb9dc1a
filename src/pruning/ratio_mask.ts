/**
 * `ratioMask`: NNI's `_ratio_mask` with exact-k selection.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { prunedCount } from "./pruned_count.ts";

/** Options of `ratioMask`. */
export interface RatioMaskOptions {
  /**
   * Split the metric (flattened) into this many equal consecutive chunks and prune each one
   * independently (NNI's `view_size=[b, -1]` of the dependency rule). Default 1.
   */
  readonly chunks?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * The mask that prunes the `prunedCount(n, ratio, chunks)` smallest metric values of each
 * chunk (1 keeps, 0 prunes). A ratio of exactly 0 keeps everything and exactly 1 prunes
 * everything; any other ratio must lie strictly between. Among equal values the lower index is
 * pruned first (NNI leaves that order to `torch.topk`).
 *
 * @param metric one value per block
 * @param ratio the sparse ratio
 * @param options the number of chunks and the kernels
 * @returns the mask, one byte per metric value
 * @throws {RangeError} for a ratio outside [0, 1] (or NaN), or chunks that do not divide the
 *   metric
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ratioMask } from "./ratio_mask.ts";
 *
 * assert.deepEqual([...ratioMask(new Float32Array([4, 1, 3, 1]), 0.5)], [1, 0, 1, 0]);
 * assert.deepEqual([...ratioMask(new Float32Array([4, 1, 3, 2]), 0.5, { chunks: 2 })], [1, 0, 1, 0]);
 * assert.deepEqual([...ratioMask(new Float32Array([4, 1]), 1)], [0, 0]);
 * ```
 */
export function ratioMask(
  metric: Float32Array,
  ratio: number,
  options: RatioMaskOptions = {},
): Uint8Array {
  const n = metric.length;
  if (ratio === 0) return new Uint8Array(n).fill(1);
  if (ratio === 1) return new Uint8Array(n);
  if (!(ratio > 0 && ratio < 1)) {
    throw new RangeError(`"sparse_ratio" must be within [0, 1]: current value is ${ratio}`);
  }
  const chunks = options.chunks ?? 1;
  if (!Number.isSafeInteger(chunks) || chunks < 1 || n % chunks !== 0) {
    throw new RangeError(
      `"chunks" must be a positive integer dividing the ${n} metric values: current value is ${chunks}`,
    );
  }
  const kernels = options.kernels ?? getKernels();
  const k = prunedCount(n, ratio, chunks);
  if (chunks === 1) return kernels.kSmallestMask(metric, k);
  const size = n / chunks;
  const mask = new Uint8Array(n);
  for (let c = 0; c < chunks; c++) {
    mask.set(kernels.kSmallestMask(metric.subarray(c * size, (c + 1) * size), k), c * size);
  }
  return mask;
}
