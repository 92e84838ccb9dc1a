/**
 * NNI's sparsity schedules: the fraction of the final goal reached after `t` of `total` updates.
 *
 * @module
 */

/**
 * `LinearPruner`'s schedule: `(1 - r0) * t / total` (NNI starts from `r0 = 0`).
 *
 * @param t the number of updates done (0 … total)
 * @param total the number of updates
 * @returns the fraction of the goal, in [0, 1]
 * @throws {RangeError} when `total` is not a positive integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearRatio } from "./schedules.ts";
 *
 * assert.equal(linearRatio(1, 4), 0.25);
 * ```
 */
export function linearRatio(t: number, total: number): number {
  check(total);
  return Math.min(1, Math.max(0, t / total));
}

/**
 * `AGPPruner`'s cubic schedule: `1 - (1 - t / total)^3` (NNI starts from `r0 = 0`).
 *
 * @param t the number of updates done (0 … total)
 * @param total the number of updates
 * @returns the fraction of the goal, in [0, 1]
 * @throws {RangeError} when `total` is not a positive integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { agpRatio } from "./schedules.ts";
 *
 * assert.equal(agpRatio(1, 2), 0.875);
 * assert.equal(agpRatio(2, 2), 1);
 * ```
 */
export function agpRatio(t: number, total: number): number {
  check(total);
  const left = 1 - Math.min(1, Math.max(0, t / total));
  return 1 - left * left * left;
}

function check(total: number): void {
  if (!Number.isInteger(total) || total < 1) {
    throw new RangeError(`"total" must be a positive integer: current value is ${total}`);
  }
}
