/**
 * The layer Hessian of GPTQ and SparseGPT: `H = 2/nsamples · Σ x xᵀ` over the calibration rows
 * of a layer's input, accumulated batch by batch like the reference's `add_batch`, and the
 * factor `U` (`Uᵀ U = (H + damp·I)⁻¹`) that the column-by-column updates use.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { checkBatches } from "./obs_layer.ts";

/** Options of `layerHessian`. */
export interface LayerHessianOptions {
  /**
   * What each batch adds to `nsamples` (the reference counts the leading dim of a 3-D
   * `[sequences, tokens, in]` input, and 1 for a 2-D `[rows, in]` input). Default: 1 per batch.
   * Only the overall scale of `H` depends on it.
   */
  readonly sampleCounts?: readonly number[];
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** A layer Hessian. */
export interface LayerHessian {
  /** `H`, `[columns, columns]` row-major float32, symmetric. */
  readonly hessian: Float32Array;
  /** The layer's input features. */
  readonly columns: number;
  /** The calibration rows seen. */
  readonly rows: number;
  /** The reference's `nsamples` (sum of the sample counts). */
  readonly nsamples: number;
}

function show(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as Uint8Array).length})`;
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Accumulates the layer Hessian of GPTQ / SparseGPT over calibration batches, one `add_batch`
 * call each: `H *= nsamples / (nsamples + count); nsamples += count;
 * H += (sqrt(2 / nsamples) · x)ᵀ (sqrt(2 / nsamples) · x)`, in float32 (the kernel
 * `hessianAccumulate`). The net effect is `H = 2/nsamples · Σ x xᵀ` over all rows.
 *
 * @param batches Calibration inputs of the layer, each a `Float32Array` of shape
 *   `[rows, columns]`.
 * @param columns The layer's input features.
 * @param options Sample counts per batch and the kernels.
 * @returns `H` and the counts.
 * @throws {TypeError} If a batch is not a `Float32Array` or the options have the wrong type.
 * @throws {RangeError} If a batch is empty, not whole rows, or holds a non-finite value, or a
 *   sample count is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerHessian } from "./layer_hessian.ts";
 *
 * // one row [1, 2]: H = 2 · [[1, 2], [2, 4]]
 * const { hessian, nsamples } = layerHessian([new Float32Array([1, 2])], 2);
 * assert.deepEqual([...hessian].map((v) => Math.round(v * 1e5) / 1e5), [2, 4, 4, 8]);
 * assert.equal(nsamples, 1);
 * ```
 */
export function layerHessian(
  batches: readonly Float32Array[],
  columns: number,
  options: LayerHessianOptions = {},
): LayerHessian {
  if (!Number.isInteger(columns) || columns < 1 || columns > 46340) {
    throw new RangeError(
      `"columns" must be an integer within [1, 46340]: current value is ${show(columns)}`,
    );
  }
  const rows = checkBatches(batches, columns);
  const counts = options.sampleCounts ?? batches.map(() => 1);
  if (!Array.isArray(counts) || counts.length !== batches.length) {
    throw new RangeError(
      `"sampleCounts" must have one entry per batch (${batches.length}): current value is ${
        show(counts)
      }`,
    );
  }
  counts.forEach((c, b) => {
    if (!Number.isInteger(c) || c < 1) {
      throw new RangeError(
        `"sampleCounts[${b}]" must be a positive integer: current value is ${show(c)}`,
      );
    }
  });
  const kernels = options.kernels ?? getKernels();
  const hessian = new Float32Array(columns * columns);
  let nsamples = 0;
  for (let b = 0; b < batches.length; b++) {
    const decay = nsamples / (nsamples + counts[b]);
    nsamples += counts[b];
    kernels.hessianAccumulate(hessian, batches[b], columns, decay, Math.sqrt(2 / nsamples));
  }
  return { hessian, columns, rows, nsamples };
}

/** Options of `inverseHessian`. */
export interface InverseHessianOptions {
  /** Dampening: `percDamp · mean(diag H)` is added to the diagonal (default 0.01). */
  readonly percDamp?: number;
  /** Process columns in order of decreasing `diag(H)` (GPTQ's `actorder`; default false). */
  readonly actOrder?: boolean;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** What `inverseHessian` returns. */
export interface InverseHessian {
  /** `U`, upper triangular `[columns, columns]` with `Uᵀ U = (H + damp·I)⁻¹`, in processing order. */
  readonly u: Float32Array;
  /** Input features never seen (`diag(H) = 0`): their weights are to be zeroed. */
  readonly dead: readonly number[];
  /** Processing position → original column (the identity without `actOrder`). */
  readonly perm: Int32Array;
  /** The value added to the diagonal. */
  readonly damp: number;
}

/**
 * Prepares a layer Hessian for GPTQ / SparseGPT as the reference does: dead features
 * (`diag(H) = 0`) get a diagonal of 1; with `actOrder`, columns are ordered by decreasing
 * `diag(H)` (stable: the lower column first on a tie); `damp = fround(percDamp · mean(diag H))`
 * is added to the diagonal; then `U` with `Uᵀ U = H⁻¹` (the kernel `inverseCholeskyUpper`).
 * `hessian` is not modified.
 *
 * @param hessian `H`, `[columns, columns]` row-major.
 * @param columns The layer's input features.
 * @param options Dampening, act-order and the kernels.
 * @returns `U`, the dead features, the permutation and the dampening.
 * @throws {RangeError} If `percDamp` is negative or not finite, or `H + damp·I` is not positive
 *   definite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inverseHessian } from "./layer_hessian.ts";
 *
 * // H = diag(4, 0): feature 1 is dead (diagonal 1), damp = 0.01 · 2.5
 * const { u, dead, damp } = inverseHessian(new Float32Array([4, 0, 0, 0]), 2);
 * assert.deepEqual(dead, [1]);
 * assert.equal(damp, Math.fround(0.025));
 * assert.ok(Math.abs(u[0] - 1 / Math.sqrt(4.025)) < 1e-6 && u[2] === 0);
 * ```
 */
export function inverseHessian(
  hessian: Float32Array,
  columns: number,
  options: InverseHessianOptions = {},
): InverseHessian {
  const percDamp = options.percDamp ?? 0.01;
  if (typeof percDamp !== "number" || !(percDamp >= 0) || !Number.isFinite(percDamp)) {
    throw new RangeError(
      `"percDamp" must be a finite number >= 0: current value is ${show(percDamp)}`,
    );
  }
  const kernels = options.kernels ?? getKernels();
  const n = columns;
  let h = hessian.slice();
  const dead: number[] = [];
  for (let i = 0; i < n; i++) {
    if (h[i * n + i] === 0) {
      h[i * n + i] = 1;
      dead.push(i);
    }
  }
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  if (options.actOrder) {
    const diag = new Float32Array(n);
    for (let i = 0; i < n; i++) diag[i] = h[i * n + i];
    perm.sort((a, b) => diag[b] - diag[a] || a - b);
    const p = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      const src = perm[i] * n;
      for (let j = 0; j < n; j++) p[i * n + j] = h[src + perm[j]];
    }
    h = p;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += h[i * n + i];
  const damp = Math.fround(percDamp * Math.fround(sum / n));
  for (let i = 0; i < n; i++) h[i * n + i] = Math.fround(h[i * n + i] + damp);
  let u: Float32Array;
  try {
    u = kernels.inverseCholeskyUpper(h, n);
  } catch (cause) {
    if (!(cause instanceof RangeError)) throw cause;
    throw new RangeError(
      `the layer Hessian plus dampening (percDamp ${percDamp}, damp ${damp}) is not positive ` +
        `definite; raise "percDamp" or add calibration rows: ${cause.message}`,
      { cause },
    );
  }
  return { u, dead, perm, damp };
}
