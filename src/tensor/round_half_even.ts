/**
 * Round half to even (like `torch.round` and IEEE `roundTiesToEven`), never `Math.round`.
 *
 * @module
 */

/**
 * Rounds `x` to the nearest integer, ties to the even neighbour. NaN and ±Infinity are returned
 * unchanged; like IEEE rounding, a zero result keeps the sign of `x` (-0.3 gives -0).
 *
 * @param x The value to round.
 * @returns The nearest integer, the even one on a tie.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roundHalfEven } from "./round_half_even.ts";
 * assert.deepEqual([0.5, 1.5, 2.5, -0.5].map(roundHalfEven), [0, 2, 2, -0]);
 * ```
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  const diff = x - floor; // exact: x and its floor are less than one apart
  let rounded: number;
  if (diff < 0.5) rounded = floor;
  else if (diff > 0.5) rounded = floor + 1;
  else rounded = floor % 2 === 0 ? floor : floor + 1;
  return rounded === 0 && (x < 0 || Object.is(x, -0)) ? -0 : rounded;
}
