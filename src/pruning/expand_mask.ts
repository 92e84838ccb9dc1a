/**
 * `expandMask`: a block mask spread over its target's elements.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { TargetMask } from "./types.ts";

/** Options of `expandMask`. */
export interface ExpandMaskOptions {
  /**
   * `full` (default): one value per element of the target. `raw`: NNI's compact mask of shape
   * `mask.rawShape` (whole-dim blocks kept as size-1 dims, e.g. `[out, 1]` for `out_channel`), as
   * NNI's `generate_masks()` returns it.
   */
  readonly shape?: "full" | "raw";
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * Spreads each block value of a mask over the block's elements.
 *
 * @param mask the mask of a target (from `generateMasks`)
 * @param options `full` or `raw` shape, and the kernels
 * @returns one 0/1 byte per element of `mask.layout.shape` (or of `mask.rawShape`)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { expandMask } from "./expand_mask.ts";
 *
 * const mask = {
 *   module: "fc",
 *   target: "weight",
 *   layout: blockLayout("out_channel", [2, 3]),
 *   blocks: new Uint8Array([0, 1]),
 *   rawShape: [2, 1],
 * };
 * assert.deepEqual([...expandMask(mask)], [0, 0, 0, 1, 1, 1]);
 * assert.deepEqual([...expandMask(mask, { shape: "raw" })], [0, 1]);
 * ```
 */
export function expandMask(mask: TargetMask, options: ExpandMaskOptions = {}): Uint8Array {
  const kernels = options.kernels ?? getKernels();
  const { layout } = mask;
  if (options.shape !== "raw") {
    if (layout.blockSize === 1) return mask.blocks.slice();
    return kernels.blockExpand(mask.blocks, layout.shape, layout.kernel);
  }
  const raw = kernels.blockExpand(mask.blocks, layout.raw, layout.kernel);
  const want = mask.rawShape;
  if (want.reduce((a, b) => a * b, 1) === raw.length) return raw;
  // A narrower compact shape (an aligned mask): its values repeat along the broadcast dims of
  // the layout's compact shape, so any element of each slice is the value.
  const pad = layout.raw.length - want.length;
  const kernel = layout.raw.map((s, d) => (d < pad || (want[d - pad] === 1 && s !== 1) ? -1 : 1));
  const values = kernels.blockReduce(Float32Array.from(raw), layout.raw, kernel, "maxabs");
  return Uint8Array.from(values);
}
