/**
 * `emaUpdate`: one step of the QAT quantizer's exponential moving average of tracked ranges.
 *
 * @module
 */

import { QuantizationError } from "./quantization_error.ts";

const f32 = Math.fround;
const DECAY = f32(0.99);
const STEP = f32(1 - 0.99);

/**
 * One observation of NNI's QATQuantizer: `ema * 0.99 + (1 - 0.99) * current`, each operation
 * rounded to float32 like torch float32 tensors do (so even a constant weight's range drifts in
 * the last bits). The first observation is the value itself: pass `ema = undefined`.
 *
 * @param ema The running value (one per block), or `undefined` before the first observation.
 * @param current The value observed now (same length).
 * @returns A new array with the updated running value.
 * @throws {QuantizationError} Code `range` when the lengths differ.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emaUpdate } from "./ema_update.ts";
 *
 * const first = emaUpdate(undefined, new Float32Array([2]));
 * assert.equal(first[0], 2);
 * const next = emaUpdate(first, new Float32Array([2]));
 * assert.equal(next[0], Math.fround(Math.fround(2 * Math.fround(0.99)) + Math.fround(Math.fround(0.01) * 2)));
 * ```
 */
export function emaUpdate(ema: Float32Array | undefined, current: Float32Array): Float32Array {
  if (ema === undefined) return Float32Array.from(current);
  if (ema.length !== current.length) {
    throw new QuantizationError(
      "range",
      `"ema" and "current" must have the same length: current lengths are ${ema.length} and ${current.length}`,
    );
  }
  const out = new Float32Array(ema.length);
  for (let i = 0; i < ema.length; i++) {
    out[i] = f32(f32(ema[i] * DECAY) + f32(STEP * current[i]));
  }
  return out;
}
