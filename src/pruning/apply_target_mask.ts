/**
 * `applyTargetMask`: a target's values as the masked module sees them.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { PruningApplyMethod } from "../config/types.ts";

/** Options of `applyTargetMask`. */
export interface ApplyTargetMaskOptions {
  /** `mul` (default; also for null): `x * m`; `add`: `x + (m ? 0 : -1000)`; `bypass`: `x * 1`. */
  readonly method?: PruningApplyMethod | null;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Where the masked values go (same length; may be `values` itself, masking in place without a
   * temporary). Ignored by `bypass`, which always returns a copy.
   */
  readonly out?: Float32Array;
}

/**
 * The values a masked target feeds to its module, like NNI's wrapper: `mul` multiplies by the
 * 0/1 mask (float32, so `-x * 0` is `-0`), `add` adds 0 or -1000 (NNI's `SMALL_MASK_VALUE`, for
 * pre-softmax activations), `bypass` ignores the mask (`x * 1`).
 *
 * @param values the target's values
 * @param mask the full-shape mask (from `expandMask`), one byte per value
 * @param options the apply method and the kernels
 * @returns new values
 * @throws {RangeError} when the lengths differ
 * @throws {TypeError} for an unknown method
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyTargetMask } from "./apply_target_mask.ts";
 *
 * const w = new Float32Array([1, 2]);
 * const m = new Uint8Array([0, 1]);
 * assert.deepEqual([...applyTargetMask(w, m)], [0, 2]);
 * assert.deepEqual([...applyTargetMask(w, m, { method: "add" })], [-999, 2]);
 * assert.deepEqual([...applyTargetMask(w, m, { method: "bypass" })], [1, 2]);
 * ```
 */
export function applyTargetMask(
  values: Float32Array,
  mask: Uint8Array,
  options: ApplyTargetMaskOptions = {},
): Float32Array {
  if (values.length !== mask.length) {
    throw new RangeError(
      `"mask" must have one value per element (${values.length}): current length is ${mask.length}`,
    );
  }
  const method = options.method || "mul";
  if (method === "bypass") return values.slice();
  if (method !== "mul" && method !== "add") {
    throw new TypeError(
      `"apply_method" must be mul, add or bypass: current value is ${JSON.stringify(method)}`,
    );
  }
  return (options.kernels ?? getKernels()).applyMask(values, mask, method, options.out);
}
