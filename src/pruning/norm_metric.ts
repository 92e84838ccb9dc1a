/**
 * `normMetric`: the metric of NNI's Level, L1-norm and L2-norm pruners.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { BlockLayout } from "./types.ts";

/** Options of `normMetric`. */
export interface NormMetricOptions {
  /** The norm of each block: 1 (sum of |x|) or 2 (square root of the sum of squares). Default 1. */
  readonly p?: 1 | 2;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * NNI's `norm_metrics`: `|w|` element-wise when the layout has blocks of one element, else the
 * L1 or L2 norm of each block (not divided by the block size). Level uses p = 1, so a Level
 * pruner with a granularity ranks blocks by their L1 norm. Norms accumulate in float64 and are
 * rounded to float32 once.
 *
 * @param data the target's values, row-major, `layout.shape`
 * @param layout the block layout (see `blockLayout`)
 * @param options the norm and the kernels
 * @returns one float32 value per block, block-grid order
 * @throws {RangeError} when `data` does not have the layout's element count
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { normMetric } from "./norm_metric.ts";
 *
 * const w = new Float32Array([3, -4, 1, 0]);
 * assert.deepEqual([...normMetric(w, blockLayout(null, [2, 2]))], [3, 4, 1, 0]);
 * assert.deepEqual([...normMetric(w, blockLayout("out_channel", [2, 2]), { p: 2 })], [5, 1]);
 * ```
 */
export function normMetric(
  data: Float32Array,
  layout: BlockLayout,
  options: NormMetricOptions = {},
): Float32Array {
  const size = layout.gridSize * layout.blockSize;
  if (data.length !== size) {
    throw new RangeError(
      `"data" must have ${size} elements for shape ${
        JSON.stringify(layout.shape)
      }: current length is ${data.length}`,
    );
  }
  const kernels = options.kernels ?? getKernels();
  if (layout.blockSize === 1) return kernels.blockReduce(data, layout.shape, layout.kernel, "l1");
  return kernels.blockReduce(data, layout.shape, layout.kernel, options.p === 2 ? "l2" : "l1");
}
