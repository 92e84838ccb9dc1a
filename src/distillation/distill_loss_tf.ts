/**
 * `distillLossTf`: NNI's layer-wise distillation loss as TensorFlow.js ops, for training.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { checkShapes, normalTarget } from "./_targets.ts";
import { DistillationError } from "./distillation_error.ts";
import { KL_TEMPERATURE } from "./kl_loss.ts";
import type { DistillTarget } from "./types.ts";

/** Hidden states as tensors, by module name, then target name. */
export type TensorStates = Readonly<Record<string, Readonly<Record<string, tf.Tensor>>>>;

/**
 * NNI's `kl` loss as ops: `sum(p_t * (log p_t - log_softmax(s / 2))) / shape[0] * 4` with
 * `p_t = softmax(t / 2)` over the last dim.
 *
 * @param s the student logits
 * @param t the teacher logits (same shape)
 * @returns a scalar
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { klLossTf } from "./distill_loss_tf.ts";
 *
 * const x = tf.tensor2d([[1, 2, 3]]);
 * assert.ok(Math.abs(klLossTf(x, x).dataSync()[0]) < 1e-6);
 * ```
 */
export function klLossTf(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const T = KL_TEMPERATURE;
    const logPt = tf.logSoftmax(tf.div(t, T));
    const logPs = tf.logSoftmax(tf.div(s, T));
    const terms = tf.mul(tf.exp(logPt), tf.sub(logPt, logPs));
    return tf.mul(tf.sum(terms), (T * T) / s.shape[0]) as tf.Scalar;
  });
}

/**
 * The mean squared error as ops (PyTorch's `F.mse_loss`, reduction `mean`).
 *
 * @param s the student tensor
 * @param t the teacher tensor (same shape)
 * @returns a scalar
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { mseLossTf } from "./distill_loss_tf.ts";
 *
 * assert.equal(mseLossTf(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])).dataSync()[0], 2.5);
 * ```
 */
export function mseLossTf(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.mean(tf.squaredDifference(s, t)) as tf.Scalar;
}

/**
 * `distillLoss` as TensorFlow.js ops, so gradients flow to the student's states: per target the
 * smallest `lambda * L` over the links (the gradient goes to the smallest one), summed over
 * targets. The teacher states are constants of the graph: compute them outside the function
 * whose gradient is taken, or leave the teacher's variables out of the variable list. Taking
 * gradients needs the core ops' gradients registered (importing `@tensorflow/tfjs-layers` does).
 *
 * @param student the student's states by module, then target
 * @param teacher the teacher's states by module (the link), then target
 * @param targets the student's targets (see `distillLoss`)
 * @returns a scalar (0 for no targets)
 * @throws {DistillationError} like `distillLoss`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { distillLossTf } from "./distill_loss_tf.ts";
 *
 * const student = { fc: { _output_0: tf.tensor2d([[1, 2]]) } };
 * const teacher = { fc: { _output_0: tf.tensor2d([[1, 4]]) } };
 * const targets = [{ module: "fc", target: "_output_0", setting: { lambda: 0.5 } }];
 * assert.equal(distillLossTf(student, teacher, targets).dataSync()[0], 1);
 * ```
 */
export function distillLossTf(
  student: TensorStates,
  teacher: TensorStates,
  targets: readonly DistillTarget[],
): tf.Scalar {
  const normal = targets.map(normalTarget);
  for (const t of normal) {
    const s = student[t.module]?.[t.target];
    if (s === undefined) {
      throw new DistillationError(
        "missing_student_state",
        `the student has no captured state for ${t.module}.${t.target}`,
        t,
      );
    }
    for (const link of t.links) {
      const ts = teacher[link]?.[t.target];
      if (ts === undefined) {
        throw new DistillationError(
          "missing_teacher_state",
          `the teacher has no captured state for ${link}.${t.target} (linked module ${
            JSON.stringify(link)
          })`,
          t,
        );
      }
      checkShapes(t, link, s.shape, ts.shape);
    }
  }
  return tf.tidy(() => {
    let loss: tf.Scalar = tf.scalar(0);
    for (const t of normal) {
      const s = student[t.module][t.target];
      const values = t.links.map((link) => {
        const ts = teacher[link][t.target];
        const l = t.method === "kl" ? klLossTf(s, ts) : mseLossTf(s, ts);
        return tf.mul(l, t.lambda);
      });
      const best = values.length === 1 ? values[0] : tf.min(tf.stack(values));
      loss = tf.add(loss, best);
    }
    return loss;
  });
}
