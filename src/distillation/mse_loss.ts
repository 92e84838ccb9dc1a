/**
 * `mseLoss`: the mean squared error of two tensors (PyTorch's `F.mse_loss`, reduction `mean`).
 *
 * @module
 */

/**
 * The mean of `(s - t)^2` over all elements, accumulated in float64.
 *
 * @param student the student values
 * @param teacher the teacher values (same length)
 * @returns the mean squared error (`NaN` for empty inputs, like PyTorch)
 * @throws {RangeError} when the lengths differ
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mseLoss } from "./mse_loss.ts";
 *
 * assert.equal(mseLoss(new Float32Array([1, 2]), new Float32Array([0, 4])), 2.5);
 * ```
 */
export function mseLoss(student: Float32Array, teacher: Float32Array): number {
  if (student.length !== teacher.length) {
    throw new RangeError(
      `"student" and "teacher" must have the same length: current lengths are ${student.length} and ${teacher.length}`,
    );
  }
  let sum = 0;
  for (let i = 0; i < student.length; i++) {
    const d = student[i] - teacher[i];
    sum += d * d;
  }
  return sum / student.length;
}
