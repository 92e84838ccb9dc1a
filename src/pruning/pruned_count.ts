/**
 * `prunedCount`: how many values a ratio prunes, with NNI's arithmetic.
 *
 * @module
 */

/**
 * The number of values a ratio prunes in each of `chunks` equal chunks of `n` values: NNI's
 * `int(n // chunks * ratio)` — integer division first, then a float64 product truncated toward
 * zero, so `prunedCount(800, 0.29)` is 231 (the product is 231.99999999999997).
 *
 * @param n the number of values (metric entries)
 * @param ratio the sparse ratio
 * @param chunks the number of equal chunks (default 1)
 * @returns the count per chunk
 * @throws {RangeError} when `n` is not a non-negative integer or `chunks` not a positive integer
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prunedCount } from "./pruned_count.ts";
 *
 * assert.equal(prunedCount(800, 0.29), 231);
 * assert.equal(prunedCount(50, 0.58), 28);
 * assert.equal(prunedCount(8, 0.5, 2), 2);
 * ```
 */
export function prunedCount(n: number, ratio: number, chunks = 1): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`"n" must be a non-negative integer: current value is ${n}`);
  }
  if (!Number.isSafeInteger(chunks) || chunks < 1) {
    throw new RangeError(`"chunks" must be a positive integer: current value is ${chunks}`);
  }
  return Math.trunc(Math.floor(n / chunks) * ratio);
}
