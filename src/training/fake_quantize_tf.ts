/**
 * `fakeQuantizeTf`: NNI's QAT fake quantization as a TensorFlow.js op with a straight-through
 * gradient.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/**
 * Fake quantization like NNI's `QATClampRound`: forward `(round(clamp(zp + x / s, qmin, qmax)) -
 * zp) * s` in float32 with round-half-to-even; backward the straight-through estimator — the
 * incoming gradient where `zp + x / s` lies within `[qmin, qmax]`, zero outside. No gradient flows
 * to the scale or zero point.
 *
 * @param x the tensor to quantize
 * @param scale the scale, broadcastable to `x` (a scalar or one value per channel)
 * @param zeroPoint the zero point, same shape as `scale`
 * @param range the integer range `{ qmin, qmax }` (e.g. from `quantDtypeRange`)
 * @returns the dequantized tensor
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { fakeQuantizeTf } from "./fake_quantize_tf.ts";
 *
 * const y = fakeQuantizeTf(tf.tensor1d([0.26, 0.25, 9]), tf.scalar(0.5), tf.scalar(0), { qmin: -7, qmax: 7 });
 * assert.deepEqual([...y.dataSync()], [0.5, 0, 3.5]); // 0.52 → 1, 0.5 → 0 (half to even), clamped
 * ```
 */
export function fakeQuantizeTf(
  x: tf.Tensor,
  scale: tf.Tensor,
  zeroPoint: tf.Tensor,
  range: { readonly qmin: number; readonly qmax: number },
): tf.Tensor {
  const { qmin, qmax } = range;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const v = tf.add(zeroPoint, tf.div(input, scale));
    save([v]);
    const q = tf.round(tf.clipByValue(v, qmin, qmax));
    return {
      value: tf.mul(tf.sub(q, zeroPoint), scale),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const inside = tf.logicalAnd(tf.greaterEqual(saved[0], qmin), tf.lessEqual(saved[0], qmax));
        return tf.mul(dy, tf.cast(inside, "float32"));
      },
    };
  });
  return op(x);
}
