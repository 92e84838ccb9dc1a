/**
 * `foldBatchNorm`: a Conv or Linear weight and bias with the following BatchNorm folded in.
 *
 * @module
 */

import { QuantizationError } from "./quantization_error.ts";

/** The parameters and running statistics of a BatchNorm. */
export interface BatchNormParams {
  /** `weight` (gamma), one per channel; `undefined` for an affine-free BatchNorm (all 1). */
  readonly gamma?: Float32Array;
  /** `bias` (beta), one per channel; `undefined` for an affine-free BatchNorm (all 0). */
  readonly beta?: Float32Array;
  /** `running_mean`, one per channel. */
  readonly mean: Float32Array;
  /** `running_var`, one per channel. */
  readonly variance: Float32Array;
  /** `eps` (PyTorch's default is 1e-5). */
  readonly eps: number;
}

/** A folded weight and bias. */
export interface FoldedParams {
  /** `w * gamma / sqrt(var + eps)` per output channel (dim 0), same shape as the weight. */
  readonly weight: Float32Array;
  /** `(b - mean) * gamma / sqrt(var + eps) + beta`, one per output channel. */
  readonly bias: Float32Array;
}

/**
 * Folds a BatchNorm into the Conv or Linear before it, as NNI's module fusion does for
 * `fuse_names` groups: with `f = gamma / sqrt(var + eps)` per output channel (dim 0 of the
 * weight, PyTorch layout), the weight becomes `w * f` and the bias `(b - mean) * f + beta` (a
 * missing bias counts as 0). Every step is rounded to float32, like torch's float32 arithmetic.
 *
 * @param weight The weight in PyTorch layout (`[out, in/groups, *k]` or `[out, in]`).
 * @param shape Its dims.
 * @param bias The bias (`out` values), or `undefined` when the module has none.
 * @param bn The BatchNorm's affine parameters, running statistics and `eps`.
 * @returns The folded weight and bias (new arrays).
 * @throws {QuantizationError} Code `shape` when the channel counts do not agree with dim 0 of the
 * weight, `fusion` when `var + eps` is not positive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldBatchNorm } from "./fold_batch_norm.ts";
 *
 * const folded = foldBatchNorm(Float32Array.of(1, 2, 3, 4), [2, 2], Float32Array.of(1, 0), {
 *   gamma: Float32Array.of(2, 1), beta: Float32Array.of(0, 1),
 *   mean: Float32Array.of(1, 2), variance: Float32Array.of(4, 1), eps: 0,
 * });
 * assert.deepEqual([...folded.weight], [1, 2, 3, 4]);
 * assert.deepEqual([...folded.bias], [0, -1]);
 * ```
 */
export function foldBatchNorm(
  weight: Float32Array,
  shape: readonly number[],
  bias: Float32Array | undefined,
  bn: BatchNormParams,
): FoldedParams {
  const out = shape[0] ?? 0;
  const n = shape.reduce((a, b) => a * b, 1);
  if (weight.length !== n || out === 0) {
    throw new QuantizationError(
      "shape",
      `the weight must have ${n} values for dims [${shape}]: current value has ${weight.length}`,
    );
  }
  const arrays: [string, Float32Array | undefined][] = [
    ["bias", bias],
    ["gamma", bn.gamma],
    ["beta", bn.beta],
    ["running_mean", bn.mean],
    ["running_var", bn.variance],
  ];
  for (const [name, a] of arrays) {
    if (a !== undefined && a.length !== out) {
      throw new QuantizationError(
        "shape",
        `BatchNorm folding: ${name} must have ${out} values (dim 0 of the weight [${shape}]): current value has ${a.length}`,
      );
    }
  }
  const inner = n / out;
  const w = new Float32Array(n);
  const b = new Float32Array(out);
  for (let c = 0; c < out; c++) {
    const denom = Math.fround(Math.sqrt(Math.fround(bn.variance[c] + bn.eps)));
    if (!(denom > 0)) {
      throw new QuantizationError(
        "fusion",
        `BatchNorm folding: running_var + eps must be positive: channel ${c} has ${
          bn.variance[c]
        } + ${bn.eps}`,
      );
    }
    const f = Math.fround((bn.gamma?.[c] ?? 1) / denom);
    for (let k = c * inner; k < (c + 1) * inner; k++) w[k] = Math.fround(weight[k] * f);
    const centred = Math.fround((bias?.[c] ?? 0) - bn.mean[c]);
    b[c] = Math.fround(Math.fround(centred * f) + (bn.beta?.[c] ?? 0));
  }
  return { weight: w, bias: b };
}
