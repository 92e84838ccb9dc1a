/**
 * GPTQ (Frantar et al., 2022): quantizes a linear layer's weight column by column, each
 * column's rounding error compensated on the columns not yet quantized through the inverse of
 * the layer Hessian `H = 2/n Σ x xᵀ` of its calibration inputs. A port of `fasterquant` of
 * IST-DASLab/gptq (commit 2d65066) that reproduces its codes (see docs/quantization.md).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { gptqCode, type GptqParams, gptqParams } from "./gptq_quantizer.ts";
import { inverseHessian, layerHessian } from "./layer_hessian.ts";
import { checkHessian, checkLayer, SUB_BLOCK, subtractError, subtractErrors } from "./obs_layer.ts";

/** Options of `gptq`. */
export interface GptqOptions {
  /** Code width, an integer in [1, 8] (2^bits levels, unsigned codes). */
  readonly bits: number;
  /** Symmetric grid (`zero = 2^(bits-1)`), default false (asymmetric, per-row range with 0). */
  readonly sym?: boolean;
  /** Columns per group of parameters, `-1` (default) for one set per row. */
  readonly groupSize?: number;
  /** Quantize columns in order of decreasing `diag(H)` (default false). */
  readonly actOrder?: boolean;
  /**
   * Compute every group's parameters up front from the (dead-zeroed) original weight, groups of
   * consecutive original columns (default false: each group's parameters are found when the
   * group's first column is reached, from the updated weights).
   */
  readonly staticGroups?: boolean;
  /** Columns per lazy-update block (default 128). */
  readonly blockSize?: number;
  /** Dampening relative to the mean diagonal of `H` (default 0.01). */
  readonly percDamp?: number;
  /**
   * Per batch, what it adds to the reference's `nsamples` (default 1 each, a 2-D input); only
   * the overall scale of `H` depends on it.
   */
  readonly sampleCounts?: readonly number[];
  /**
   * A precomputed layer Hessian (`layerHessian()`, `[in, in]`), accumulated by the caller batch
   * by batch; `batches` is then not read and may be empty.
   */
  readonly hessian?: Float32Array;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** What `gptq` returns. */
export interface GptqResult {
  /** The quantized weight `scale · (code - zero)`, `[out, in]` row-major float32. */
  readonly weight: Float32Array;
  /** The integer codes, `[out, in]` row-major, in [0, 2^bits - 1]. */
  readonly codes: Uint8Array;
  /** Scales, `[out, groups]` row-major. */
  readonly scale: Float32Array;
  /** Zero points (integers), `[out, groups]` row-major. */
  readonly zeroPoint: Float32Array;
  /** Number of parameter groups per row (1 without groups). */
  readonly groups: number;
  /** The group of each original column, `[in]`. */
  readonly groupIndex: Int32Array;
  /** Processing position → original column (the identity without `actOrder`). */
  readonly perm: Int32Array;
  /** Input features never seen in calibration (their weights are quantized from 0). */
  readonly deadColumns: readonly number[];
  /**
   * The reference's printed `error`: `Σ (w - q)² / d² / 2` over all weights, `d` the diagonal of
   * `U` (a proxy of the output error, cheap to get).
   */
  readonly loss: number;
}

const fround = Math.fround;

function checkOptions(options: GptqOptions, columns: number): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`"options" must be an object with "bits": current value is ${options}`);
  }
  const { bits } = options;
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`"bits" must be an integer within [1, 8]: current value is ${bits}`);
  }
  const gs = options.groupSize ?? -1;
  if (!Number.isInteger(gs) || (gs !== -1 && gs < 1)) {
    throw new RangeError(
      `"groupSize" must be -1 (per row) or a positive integer: current value is ${gs}`,
    );
  }
  const bs = options.blockSize ?? 128;
  if (!Number.isInteger(bs) || bs < 1) {
    throw new RangeError(`"blockSize" must be a positive integer: current value is ${bs}`);
  }
  for (const key of ["sym", "actOrder", "staticGroups"] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== "boolean") {
      throw new TypeError(`"${key}" must be a boolean: current value is ${v}`);
    }
  }
  if (columns < 1) throw new RangeError(`the layer must have input features`);
}

/**
 * Quantizes one linear layer with GPTQ, like the reference's `add_batch` per batch followed by
 * `fasterquant(blocksize, percdamp, groupsize, actorder, static_groups)`: per-row parameters
 * from the original weight (before dead features are zeroed), dead features zeroed, optional
 * static groups and act-order, dampening, `U = chol(H⁻¹)ᵀ`, then blocks of `blockSize`
 * columns: each column quantized, its error `(w - q) / U[c][c]` subtracted from the rest of the
 * block right away and from the later blocks once per block (`W -= Err · U`). A group's
 * parameters come from the weights as they stand at its first column, taking the columns of
 * the current block at their values from the block's start (the reference's `W[:, c:c+gs]`).
 * Arithmetic is float32 as in the reference (`Math.fround`, round half to even).
 *
 * @param weight The weight, `[out, in]` row-major (a Linear layer's layout; not modified).
 * @param shape `[out, in]`.
 * @param batches Calibration inputs of the layer, each `[rows, in]` row-major (not read when
 *   `options.hessian` is given).
 * @param options Bits, grid, groups, order, block size, dampening, a precomputed Hessian,
 *   kernels.
 * @returns The quantized weight, codes, parameters, permutation and the reference's loss.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If the shapes disagree, a value is not finite, an option is out of
 *   range, or the dampened Hessian is not positive definite.
 *
 * @example Two output rows, four inputs, 2-bit codes
 * ```ts
 * import assert from "node:assert/strict";
 * import { gptq } from "./gptq.ts";
 *
 * const weight = new Float32Array([0.1, -0.4, 0.3, 0.2, -0.2, 0.5, 0.05, -0.1]);
 * const x = new Float32Array([1, 0.5, -1, 2, 0.3, -0.7, 1.2, 0.1, -1, 1, 0.4, -0.5]);
 * const result = gptq(weight, [2, 4], [x], { bits: 2 });
 * assert.equal(result.codes.length, 8);
 * assert.ok(result.codes.every((c) => c <= 3));
 * // every value lies on its row's grid
 * for (let i = 0; i < 8; i++) {
 *   const r = Math.floor(i / 4);
 *   const q = Math.fround(result.scale[r] * (result.codes[i] - result.zeroPoint[r]));
 *   assert.equal(result.weight[i], q);
 * }
 * ```
 */
export function gptq(
  weight: Float32Array,
  shape: readonly [number, number] | readonly number[],
  batches: readonly Float32Array[],
  options: GptqOptions,
): GptqResult {
  checkLayer(weight, shape);
  const [rows, cols] = shape;
  checkOptions(options, cols);
  const kernels = options.kernels ?? getKernels();
  const { bits } = options;
  const sym = options.sym ?? false;
  const gs = options.groupSize ?? -1;
  const bs = options.blockSize ?? 128;
  const staticGroups = (options.staticGroups ?? false) && gs !== -1;

  const hessian = options.hessian ?? layerHessian(batches, cols, {
    sampleCounts: options.sampleCounts,
    kernels,
  }).hessian;
  checkHessian(hessian, cols);

  // column-major copy of the weight: column c is wt[c * rows .. (c + 1) * rows]
  const wt = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) wt[c * rows + r] = weight[r * cols + c];
  }
  const column = (c: number) => wt.subarray(c * rows, (c + 1) * rows);
  const allColumns = (from: number, to: number) => {
    const list: Float32Array[] = [];
    for (let c = from; c < to; c++) list.push(column(c));
    return list;
  };
  // per-row parameters from the untouched weight (gptq.py:72-73)
  let params: GptqParams = gptqParams(allColumns(0, cols), bits, sym);

  const { u, dead, perm } = inverseHessian(hessian, cols, {
    percDamp: options.percDamp,
    actOrder: options.actOrder ?? false,
    kernels,
  });
  for (const c of dead) column(c).fill(0);

  const ngroups = gs === -1 ? 1 : Math.ceil(cols / gs);
  const staticParams: GptqParams[] = [];
  if (staticGroups) {
    for (let g = 0; g < ngroups; g++) {
      staticParams.push(gptqParams(allColumns(g * gs, Math.min(cols, (g + 1) * gs)), bits, sym));
    }
  }

  // processing order
  let w = wt;
  if (options.actOrder) {
    w = new Float32Array(rows * cols);
    for (let c = 0; c < cols; c++) w.set(column(perm[c]), c * rows);
  }
  const col = (c: number) => w.subarray(c * rows, (c + 1) * rows);

  const q = new Float32Array(rows * cols);
  const codes = new Uint8Array(rows * cols);
  const scale = new Float32Array(rows * ngroups);
  const zeroPoint = new Float32Array(rows * ngroups);
  const groupIndex = new Int32Array(cols);
  const groupSeen = new Uint8Array(ngroups);
  let loss = 0;
  const errT = new Float32Array(Math.min(bs, cols) * rows);
  const snapshot = gs !== -1 && !staticGroups ? new Float32Array(Math.min(bs, cols) * rows) : null;

  for (let i1 = 0; i1 < cols; i1 += bs) {
    const i2 = Math.min(i1 + bs, cols);
    snapshot?.set(w.subarray(i1 * rows, i2 * rows));
    for (let c = i1; c < i2; c++) {
      const orig = perm[c];
      let group = 0;
      if (gs !== -1) {
        if (!staticGroups) {
          group = Math.floor(c / gs);
          if (c % gs === 0) {
            const list: Float32Array[] = [];
            for (let k = c; k < Math.min(c + gs, cols); k++) {
              // block-start values inside the current block (the reference's `W`, not `W1`)
              list.push(
                k < i2 ? snapshot!.subarray((k - i1) * rows, (k - i1 + 1) * rows) : col(k),
              );
            }
            params = gptqParams(list, bits, sym);
          }
        } else {
          group = Math.floor(orig / gs);
          params = staticParams[group];
        }
      }
      groupIndex[orig] = group;
      if (!groupSeen[group]) {
        groupSeen[group] = 1;
        for (let r = 0; r < rows; r++) {
          scale[r * ngroups + group] = params.scale[r];
          zeroPoint[r * ngroups + group] = params.zero[r];
        }
      }
      const wc = col(c);
      const d = u[c * cols + c];
      const err = errT.subarray((c - i1) * rows, (c - i1 + 1) * rows);
      const { scale: s, zero: z, maxq } = params;
      for (let r = 0; r < rows; r++) {
        const x = wc[r];
        const code = gptqCode(x, s[r], z[r], maxq);
        const value = fround(s[r] * (code - z[r]));
        codes[r * cols + orig] = code;
        q[r * cols + orig] = value;
        const diff = fround(x - value);
        loss += (diff * diff) / (d * d) / 2;
        err[r] = fround(diff / d);
      }
      // the rest of the block: the rest of the sub-block right away, the columns after it
      // once per sub-block (the same terms in the same order as one column at a time)
      const subStart = i1 + Math.floor((c - i1) / SUB_BLOCK) * SUB_BLOCK;
      const subEnd = Math.min(i2, subStart + SUB_BLOCK);
      subtractError(w, u, err, c, subEnd);
      if (c + 1 === subEnd) subtractErrors(w, u, errT, [i1, subStart, subEnd, i2], kernels);
    }
    // later blocks: W[:, i2:] -= Err1 · U[i1:i2, i2:]
    subtractErrors(w, u, errT, [i1, i1, i2, cols], kernels);
  }
  return {
    weight: q,
    codes,
    scale,
    zeroPoint,
    groups: ngroups,
    groupIndex,
    perm,
    deadColumns: dead,
    loss,
  };
}
