/**
 * `klLoss`: NNI's distillation KL divergence at temperature 2.
 *
 * @module
 */

/** The temperature NNI's distiller uses for `kl`. */
export const KL_TEMPERATURE = 2;

/**
 * NNI's `kl` distillation loss: `kl_div(log_softmax(s / T), softmax(t / T), reduction =
 * "batchmean") * T^2` with `T = 2` — softmax over the last dim, the sum of
 * `p_t * (log p_t - log p_s)` over all elements divided by `shape[0]`, times 4. Accumulated in
 * float64; a teacher probability of 0 contributes 0.
 *
 * @param student the student logits, row-major
 * @param teacher the teacher logits (same length)
 * @param shape the dims of both tensors (at least one dim)
 * @returns the loss
 * @throws {RangeError} when the lengths differ or do not match `shape`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { klLoss } from "./kl_loss.ts";
 *
 * const same = klLoss(new Float32Array([1, 2, 3]), new Float32Array([1, 2, 3]), [1, 3]);
 * assert.ok(Math.abs(same) < 1e-12);
 * const loss = klLoss(new Float32Array([0, 0]), new Float32Array([2, 0]), [1, 2]);
 * const p = 1 / (1 + Math.exp(-1));
 * assert.ok(Math.abs(loss - 4 * (p * Math.log(2 * p) + (1 - p) * Math.log(2 * (1 - p)))) < 1e-12);
 * ```
 */
export function klLoss(
  student: Float32Array,
  teacher: Float32Array,
  shape: readonly number[],
): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 1 || student.length !== n || teacher.length !== n) {
    throw new RangeError(
      `"student" and "teacher" must both have ${n} elements for shape ${
        JSON.stringify(shape)
      } (at least one dim): current lengths are ${student.length} and ${teacher.length}`,
    );
  }
  const width = shape[shape.length - 1];
  const T = KL_TEMPERATURE;
  let total = 0;
  for (let row = 0; row + width <= n && width > 0; row += width) {
    let ms = -Infinity;
    let mt = -Infinity;
    for (let j = row; j < row + width; j++) {
      ms = Math.max(ms, student[j] / T);
      mt = Math.max(mt, teacher[j] / T);
    }
    let zs = 0;
    let zt = 0;
    for (let j = row; j < row + width; j++) {
      zs += Math.exp(student[j] / T - ms);
      zt += Math.exp(teacher[j] / T - mt);
    }
    const ls = Math.log(zs);
    const lt = Math.log(zt);
    for (let j = row; j < row + width; j++) {
      const logPt = teacher[j] / T - mt - lt;
      const pt = Math.exp(logPt);
      if (pt === 0) continue;
      total += pt * (logPt - (student[j] / T - ms - ls));
    }
  }
  return (total / shape[0]) * T * T;
}
