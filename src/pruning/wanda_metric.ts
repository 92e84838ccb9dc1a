/**
 * `wandaMetric`: Wanda's importance score, `|w|` times the L2 norm of the input feature that the
 * weight multiplies.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";
import { normMetric } from "./norm_metric.ts";
import type { BlockLayout } from "./types.ts";

/**
 * Wanda's metric of a weight (Sun et al., "A Simple and Effective Pruning Approach for Large
 * Language Models"): each element `w[o, c, …]` scores `|w[o, c, …]| * ‖x_c‖₂`, where `‖x_c‖₂` is
 * the L2 norm of input feature `c` over the calibration data (every sample and position). With
 * a granularity, each block scores the sum of its elements' scores (as Level's L1 block norm).
 *
 * The weight is in PyTorch layout (`[out, in]`, `[out, in/groups, *k]`). `inputNorm` has one
 * value per input feature of the module: `shape[1]` values, or `shape[1] * groups` for a grouped
 * convolution (output channel `o` reads the features of group `o / (out / groups)`; a
 * depthwise conv has `groups = out`).
 *
 * @param data the weight, float32 row-major in `layout.shape`
 * @param layout the weight's block layout
 * @param inputNorm the L2 norm of each input feature over the calibration data
 * @param kernels the kernels for the block reduction
 * @returns one float32 value per block
 * @throws {RangeError} when `data` does not fit the layout, the weight has rank < 2, or the
 *   norms are not `shape[1] * groups` for a `groups` dividing `shape[0]`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { getKernels } from "../kernels/default.ts";
 * import { wandaMetric } from "./wanda_metric.ts";
 *
 * const w = new Float32Array([1, -2, 3, 4]); // [out 2, in 2]
 * const norms = new Float32Array([10, 0.5]);
 * const m = wandaMetric(w, blockLayout(null, [2, 2]), norms, getKernels());
 * assert.deepEqual([...m], [10, 1, 30, 2]);
 * ```
 */
export function wandaMetric(
  data: Float32Array,
  layout: BlockLayout,
  inputNorm: Float32Array,
  kernels: Kernels,
): Float32Array {
  const shape = layout.shape;
  if (shape.length < 2) {
    throw new RangeError(
      `the Wanda metric needs a weight of rank 2 or more: current shape is ${
        JSON.stringify(shape)
      }`,
    );
  }
  const [out, perGroup] = shape;
  const groups = inputNorm.length / perGroup;
  if (!Number.isInteger(groups) || groups < 1 || out % groups !== 0) {
    throw new RangeError(
      `"inputNorm" must have ${perGroup} values (times the conv groups) for weight ${
        JSON.stringify(shape)
      }: current length is ${inputNorm.length}`,
    );
  }
  if (data.length !== layout.gridSize * layout.blockSize) {
    throw new RangeError(
      `"data" must have ${
        layout.gridSize * layout.blockSize
      } elements: current length is ${data.length}`,
    );
  }
  const inner = data.length / (out * perGroup);
  const outPerGroup = out / groups;
  const scores = new Float32Array(data.length);
  for (let o = 0; o < out; o++) {
    const base = Math.floor(o / outPerGroup) * perGroup;
    for (let c = 0; c < perGroup; c++) {
      const norm = inputNorm[base + c];
      const at = (o * perGroup + c) * inner;
      for (let k = 0; k < inner; k++) scores[at + k] = Math.abs(data[at + k]) * norm;
    }
  }
  return normMetric(scores, layout, { p: 1, kernels });
}
