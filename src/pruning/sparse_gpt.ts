/**
 * SparseGPT (Frantar & Alistarh, 2023): prunes a linear layer's weight, unstructured or N:M,
 * column by column, each removed weight's error compensated on the columns not yet processed
 * through the inverse of the layer Hessian `H = 2/n Σ x xᵀ` of its calibration inputs;
 * optionally quantizing the kept weights at the same time. A port of `fasterprune` of
 * IST-DASLab/sparsegpt (commit 147d215) that reproduces its masks (see docs/quantization.md).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { gptqCode, type GptqParams, gptqParams } from "../quantization/gptq_quantizer.ts";
import { inverseHessian, layerHessian } from "../quantization/layer_hessian.ts";
import {
  checkHessian,
  checkLayer,
  SUB_BLOCK,
  subtractError,
  subtractErrors,
} from "../quantization/obs_layer.ts";

/** Options of `sparseGpt`. */
export interface SparseGptOptions {
  /**
   * Unstructured: the share of weights to prune, in [0, 1). Per block of `blockSize` columns
   * the scores `w² / U[c][c]²` up to the one of rank `floor(numel · sparsity)` are pruned (so
   * one more weight than the share, and ties). Ignored with `prunen`.
   */
  readonly sparsity?: number;
  /** N of an N:M pattern: per row, `prunen` of every `prunem` consecutive columns are pruned. */
  readonly prunen?: number;
  /** M of an N:M pattern (0, the default, for unstructured). */
  readonly prunem?: number;
  /** Columns per block (default 128). */
  readonly blockSize?: number;
  /** Dampening relative to the mean diagonal of `H` (default 0.01). */
  readonly percDamp?: number;
  /** Quantize the kept weights too (joint quantization), with per-row parameters. */
  readonly bits?: number;
  /** Symmetric grid for joint quantization (default false). */
  readonly sym?: boolean;
  /** Per batch, what it adds to the reference's `nsamples` (default 1 each). */
  readonly sampleCounts?: readonly number[];
  /**
   * A precomputed layer Hessian (`layerHessian()`, `[in, in]`), accumulated by the caller batch
   * by batch; `batches` is then not read and may be empty.
   */
  readonly hessian?: Float32Array;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** What `sparseGpt` returns. */
export interface SparseGptResult {
  /** The pruned (and compensated, and with `bits` quantized) weight, `[out, in]` row-major. */
  readonly weight: Float32Array;
  /** The mask, `[out, in]`: 1 keeps, 0 prunes. */
  readonly mask: Uint8Array;
  /** With `bits`: the integer codes `[out, in]` (a pruned weight has the row's zero point). */
  readonly codes?: Uint8Array;
  /** With `bits`: one scale per row. */
  readonly scale?: Float32Array;
  /** With `bits`: one zero point per row. */
  readonly zeroPoint?: Float32Array;
  /** Input features never seen in calibration (their weights are pruned first). */
  readonly deadColumns: readonly number[];
  /** The reference's printed `error`, `Σ (w - q)² / d² / 2`. */
  readonly loss: number;
}

const fround = Math.fround;

function checkOptions(options: SparseGptOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`"options" must be an object: current value is ${options}`);
  }
  const n = options.prunen ?? 0;
  const m = options.prunem ?? 0;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 0 || (n === 0) !== (m === 0)) {
    throw new RangeError(
      `"prunen" and "prunem" must both be 0 (unstructured) or positive integers: current ` +
        `values are ${n} and ${m}`,
    );
  }
  if (n > m) {
    throw new RangeError(`"prunen" must be at most "prunem" (${m}): current value is ${n}`);
  }
  if (n === 0) {
    const s = options.sparsity;
    if (typeof s !== "number" || !(s >= 0 && s < 1)) {
      throw new RangeError(`"sparsity" must be a number within [0, 1): current value is ${s}`);
    }
  }
  const bs = options.blockSize ?? 128;
  if (!Number.isInteger(bs) || bs < 1) {
    throw new RangeError(`"blockSize" must be a positive integer: current value is ${bs}`);
  }
  const bits = options.bits;
  if (bits !== undefined && (!Number.isInteger(bits) || bits < 1 || bits > 8)) {
    throw new RangeError(`"bits" must be an integer within [1, 8]: current value is ${bits}`);
  }
  if (options.sym !== undefined && typeof options.sym !== "boolean") {
    throw new TypeError(`"sym" must be a boolean: current value is ${options.sym}`);
  }
}

/**
 * Prunes one linear layer with SparseGPT, like the reference's `add_batch` per batch followed
 * by `fasterprune(sparsity, prunen, prunem, blocksize, percdamp)` (with a `quantizer` attached
 * when `bits` is given): dead features zeroed, dampening, `U = chol(H⁻¹)ᵀ`, then blocks of
 * `blockSize` columns. Unstructured: the block's mask is chosen at its start over all rows,
 * `w² / U[c][c]² <= ` the score of rank `floor(numel · sparsity)`. N:M: at every `prunem`-th
 * column of the block, per row the `prunen` lowest scores of the next `prunem` columns, from the
 * weights as updated so far (lower column first on ties). Each column: pruned weights set to 0
 * (then quantized with the row's parameters from the original weight, with `bits`), the error
 * `(w - q) / U[c][c]` subtracted from the rest of the block, and after the block from the later
 * blocks (`W -= Err · U`). Float32 arithmetic as in the reference.
 *
 * @param weight The weight, `[out, in]` row-major (a Linear layer's layout; not modified).
 * @param shape `[out, in]`.
 * @param batches Calibration inputs of the layer, each `[rows, in]` row-major (not read when
 *   `options.hessian` is given).
 * @param options Sparsity or N:M pattern, block size, dampening, joint quantization, a
 *   precomputed Hessian, kernels.
 * @returns The new weight, its mask, the codes and parameters with `bits`, and the loss.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If the shapes disagree, a value is not finite, an option is out of
 *   range, or the dampened Hessian is not positive definite.
 *
 * @example 2:4 on two rows of four inputs
 * ```ts
 * import assert from "node:assert/strict";
 * import { sparseGpt } from "./sparse_gpt.ts";
 *
 * const weight = new Float32Array([0.1, -0.4, 0.3, 0.2, -0.2, 0.5, 0.05, -0.1]);
 * const x = new Float32Array([1, 0.5, -1, 2, 0.3, -0.7, 1.2, 0.1, -1, 1, 0.4, -0.5]);
 * const { weight: pruned, mask } = sparseGpt(weight, [2, 4], [x], { prunen: 2, prunem: 4 });
 * assert.deepEqual([mask.slice(0, 4).reduce((a, b) => a + b), mask.slice(4).reduce((a, b) => a + b)], [2, 2]);
 * assert.ok(pruned.every((v, i) => mask[i] === 1 || v === 0));
 * ```
 */
export function sparseGpt(
  weight: Float32Array,
  shape: readonly [number, number] | readonly number[],
  batches: readonly Float32Array[],
  options: SparseGptOptions,
): SparseGptResult {
  checkLayer(weight, shape);
  checkOptions(options);
  const [rows, cols] = shape;
  const kernels = options.kernels ?? getKernels();
  const prunen = options.prunen ?? 0;
  const prunem = options.prunem ?? 0;
  const sparsity = options.sparsity ?? 0;
  const bs = options.blockSize ?? 128;
  const hessian = options.hessian ?? layerHessian(batches, cols, {
    sampleCounts: options.sampleCounts,
    kernels,
  }).hessian;
  checkHessian(hessian, cols);

  // column-major working copy: column c is w[c * rows .. (c + 1) * rows]
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) w[c * rows + r] = weight[r * cols + c];
  }
  const col = (c: number) => w.subarray(c * rows, (c + 1) * rows);
  let params: GptqParams | undefined;
  if (options.bits !== undefined) {
    // per-row parameters from the untouched weight (sparsegpt.py:58-60)
    const list: Float32Array[] = [];
    for (let c = 0; c < cols; c++) list.push(col(c));
    params = gptqParams(list, options.bits, options.sym ?? false);
  }
  const { u, dead } = inverseHessian(hessian, cols, { percDamp: options.percDamp, kernels });
  for (const c of dead) col(c).fill(0);

  const q = new Float32Array(rows * cols);
  const mask = new Uint8Array(rows * cols).fill(1);
  const codes = params ? new Uint8Array(rows * cols) : undefined;
  const errT = new Float32Array(Math.min(bs, cols) * rows);
  const sub = prunem === 0 ? SUB_BLOCK : prunem * Math.max(1, Math.floor(SUB_BLOCK / prunem));
  let loss = 0;
  for (let i1 = 0; i1 < cols; i1 += bs) {
    const i2 = Math.min(i1 + bs, cols);
    const count = i2 - i1;
    // pruned[(c - i1) * rows + r] = 1 when weight (r, c) is pruned
    const pruned = new Uint8Array(count * rows);
    if (prunen === 0) {
      const score = new Float32Array(count * rows);
      for (let i = 0; i < count; i++) {
        const d = u[(i1 + i) * cols + i1 + i];
        const dd = fround(d * d);
        const wc = col(i1 + i);
        for (let r = 0; r < rows; r++) score[i * rows + r] = fround(fround(wc[r] * wc[r]) / dd);
      }
      const thresh = score.slice().sort()[Math.floor(count * rows * sparsity)];
      for (let t = 0; t < score.length; t++) pruned[t] = score[t] <= thresh ? 1 : 0;
    }
    for (let c = i1; c < i2; c++) {
      const i = c - i1;
      if (prunen !== 0 && i % prunem === 0) {
        const end = Math.min(i + prunem, count);
        const ids: number[] = [];
        const scores: number[] = [];
        for (let r = 0; r < rows; r++) {
          ids.length = 0;
          scores.length = 0;
          for (let k = i; k < end; k++) {
            const d = u[(i1 + k) * cols + i1 + k];
            const v = col(i1 + k)[r];
            ids.push(k);
            scores[k - i] = fround(fround(v * v) / fround(d * d));
          }
          ids.sort((a, b) => scores[a - i] - scores[b - i] || a - b);
          for (let t = 0; t < Math.min(prunen, ids.length); t++) pruned[ids[t] * rows + r] = 1;
        }
      }
      const wc = col(c);
      const d = u[c * cols + c];
      const err = errT.subarray(i * rows, (i + 1) * rows);
      for (let r = 0; r < rows; r++) {
        const x = wc[r];
        let value = pruned[i * rows + r] ? 0 : x;
        if (params) {
          const code = gptqCode(value, params.scale[r], params.zero[r], params.maxq);
          codes![r * cols + c] = code;
          value = fround(params.scale[r] * (code - params.zero[r]));
        }
        if (pruned[i * rows + r]) mask[r * cols + c] = 0;
        q[r * cols + c] = value;
        const diff = fround(x - value);
        loss += (diff * diff) / (d * d) / 2;
        err[r] = fround(diff / d);
      }
      // sub-blocks hold whole N:M groups, so a group's scores see every earlier column's error
      const subStart = i1 + Math.floor(i / sub) * sub;
      const subEnd = Math.min(i2, subStart + sub);
      subtractError(w, u, err, c, subEnd);
      if (c + 1 === subEnd) subtractErrors(w, u, errT, [i1, subStart, subEnd, i2], kernels);
    }
    subtractErrors(w, u, errT, [i1, i1, i2, cols], kernels);
  }
  return {
    weight: q,
    mask,
    codes,
    scale: params?.scale,
    zeroPoint: params?.zero,
    deadColumns: dead,
    loss,
  };
}
