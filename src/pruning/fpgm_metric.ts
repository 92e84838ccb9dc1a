/**
 * `fpgmMetric`: the metric of NNI's FPGM pruner (distance to the geometric median).
 *
 * @module
 */

import { gatherBlocks } from "./_gather_blocks.ts";
import type { BlockLayout } from "./types.ts";

/**
 * NNI's `fpgm_metrics`: for each block i, the sum over all blocks j of the tensor of the
 * Euclidean distance `||b_j - b_i||_2` (j = i contributes 0). Blocks near the geometric median
 * get small values and are pruned first. Each distance is computed once (the matrix is
 * symmetric) and accumulated in float64; the sums are rounded to float32 once.
 *
 * @param data the target's values, row-major, `layout.shape`
 * @param layout the block layout; must have blocks of more than one element in general (NNI
 *   refuses element-wise FPGM — `computeMetric` enforces that)
 * @returns one float32 value per block, block-grid order
 * @throws {RangeError} when `data` does not have the layout's element count
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { fpgmMetric } from "./fpgm_metric.ts";
 *
 * // rows (0,0), (3,4), (6,8): distances 5, 10 and 5
 * const m = fpgmMetric(new Float32Array([0, 0, 3, 4, 6, 8]), blockLayout("out_channel", [3, 2]));
 * assert.deepEqual([...m], [15, 10, 15]);
 * ```
 */
export function fpgmMetric(data: Float32Array, layout: BlockLayout): Float32Array {
  const n = layout.gridSize;
  const d = layout.blockSize;
  if (data.length !== n * d) {
    throw new RangeError(
      `"data" must have ${n * d} elements for shape ${
        JSON.stringify(layout.shape)
      }: current length is ${data.length}`,
    );
  }
  const rows = gatherBlocks(data, layout);
  const sums = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = i * d;
    for (let j = i + 1; j < n; j++) {
      const b = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = rows[a + k] - rows[b + k];
        s += diff * diff;
      }
      const dist = Math.sqrt(s);
      sums[i] += dist;
      sums[j] += dist;
    }
  }
  return Float32Array.from(sums);
}
