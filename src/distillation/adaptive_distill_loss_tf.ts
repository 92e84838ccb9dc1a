/**
 * `adaptiveDistillLossTf`: NNI's `Adaptive1dLayerwiseDistiller` loss as TensorFlow.js ops.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { checkOneLink, checkShapes, normalTarget } from "./_targets.ts";
import { DistillationError } from "./distillation_error.ts";
import { klLossTf, mseLossTf, type TensorStates } from "./distill_loss_tf.ts";
import type { DistillTarget } from "./types.ts";

/** A linear map of the last dim: `y = x · kernel + bias`, kernel `[in, out]` (tf layout). */
export interface LastDimMap {
  /** `[in, out]`. */
  readonly kernel: tf.Tensor;
  /** `[out]`. */
  readonly bias: tf.Tensor;
}

/** Maps by student module, then target. */
export type LastDimMaps = Readonly<Record<string, Readonly<Record<string, LastDimMap>>>>;

/**
 * Applies a linear map to the last dim of `x` (PyTorch's `nn.Linear` on any leading dims).
 *
 * @param x the tensor `[..., in]`
 * @param map the kernel `[in, out]` and bias `[out]`
 * @returns `[..., out]`
 * @throws {RangeError} when the last dim of `x` is not the kernel's input width
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { mapLastDim } from "./adaptive_distill_loss_tf.ts";
 *
 * const y = mapLastDim(tf.ones([2, 3, 4]), { kernel: tf.ones([4, 5]), bias: tf.zeros([5]) });
 * assert.deepEqual(y.shape, [2, 3, 5]);
 * assert.equal(y.dataSync()[0], 4);
 * ```
 */
export function mapLastDim(x: tf.Tensor, map: LastDimMap): tf.Tensor {
  const [inDim, outDim] = map.kernel.shape;
  if (x.shape[x.rank - 1] !== inDim) {
    throw new RangeError(
      `the map takes a last dim of ${inDim}: current shape is ${JSON.stringify(x.shape)}`,
    );
  }
  return tf.tidy(() => {
    const flat = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
    const y = tf.add(tf.matMul(flat, map.kernel as tf.Tensor2D), map.bias);
    return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

/**
 * NNI's `Adaptive1dLayerwiseDistiller` loss: per target, the student state — mapped by the
 * target's trainable linear map when it has one (student and teacher widths differ) — against
 * the state of its one linked teacher module, `lambda * L` with `L` = `mse` or `kl`, summed over
 * targets (no minimum: one link per target). Gradients flow to the student states and to the
 * maps' kernels and biases.
 *
 * @param student the student's states by module, then target
 * @param teacher the teacher's states by module (the link), then target
 * @param targets the student's targets (one link each)
 * @param maps the linear maps by student module, then target (default none)
 * @returns a scalar (0 for no targets)
 * @throws {DistillationError} for a target with several links, a missing state, or shapes that
 *   differ after the map
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { adaptiveDistillLossTf } from "./adaptive_distill_loss_tf.ts";
 *
 * const student = { fc: { _output_0: tf.tensor2d([[1, 2]]) } };
 * const teacher = { fc: { _output_0: tf.tensor2d([[3, 3, 3]]) } };
 * const maps = { fc: { _output_0: { kernel: tf.ones([2, 3]), bias: tf.zeros([3]) } } };
 * const targets = [{ module: "fc", target: "_output_0", setting: { lambda: 0.5 } }];
 * assert.equal(adaptiveDistillLossTf(student, teacher, targets, maps).dataSync()[0], 0);
 * ```
 */
export function adaptiveDistillLossTf(
  student: TensorStates,
  teacher: TensorStates,
  targets: readonly DistillTarget[],
  maps: LastDimMaps = {},
): tf.Scalar {
  const normal = targets.map((t) => {
    const n = normalTarget(t);
    checkOneLink(n.links, n);
    return n;
  });
  return tf.tidy(() => {
    let loss: tf.Scalar = tf.scalar(0);
    for (const t of normal) {
      const s = student[t.module]?.[t.target];
      const link = t.links[0];
      const ts = teacher[link]?.[t.target];
      if (s === undefined || ts === undefined) {
        throw new DistillationError(
          s === undefined ? "missing_student_state" : "missing_teacher_state",
          s === undefined
            ? `the student has no captured state for ${t.module}.${t.target}`
            : `the teacher has no captured state for ${link}.${t.target} (linked module ${
              JSON.stringify(link)
            })`,
          t,
        );
      }
      const map = maps[t.module]?.[t.target];
      const mapped = map === undefined ? s : mapLastDim(s, map);
      checkShapes(t, link, mapped.shape, ts.shape);
      const l = t.method === "kl" ? klLossTf(mapped, ts) : mseLossTf(mapped, ts);
      loss = tf.add(loss, tf.mul(l, t.lambda));
    }
    return loss;
  });
}
