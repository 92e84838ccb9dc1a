/**
 * The least-squares solve of layer-wise reconstruction: `W (G + λI) = C` for the rows of `W`,
 * with `G = Σ x xᵀ` the Gram matrix of a layer's inputs and `C = Σ y xᵀ` their cross term with
 * the wanted outputs, in float32 through the kernels (`inverseCholeskyUpper`, `subtractProducts`).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";

/** Options of `ridgeSolve`. */
export interface RidgeSolveOptions {
  /**
   * Dampening: `λ = damp · mean(diag G)` is added to the diagonal (default 0.01, as GPTQ's
   * `percDamp`). It keeps the solve stable when inputs are nearly collinear (a constant input
   * channel next to a bias column) and shrinks the weights of features seldom seen.
   */
  readonly damp?: number;
  /**
   * Weights to shrink towards, `[rows, n]` (default zeros): the solve becomes
   * `W (G + λI) = C + λ·prior`, the minimiser of `‖Y − W X‖² + λ‖W − prior‖²`. With the
   * current weights as prior, a layer whose weights already fit stays as it is.
   */
  readonly prior?: Float32Array;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** What `ridgeSolve` returns. */
export interface RidgeSolution {
  /** `W`, `[rows, n]` row-major. */
  readonly weight: Float32Array;
  /** The value added to the diagonal. */
  readonly lambda: number;
}

function show(v: unknown): string {
  return typeof v === "number" ? String(v) : JSON.stringify(v) ?? String(v);
}

/**
 * Solves `W (G + λI) = C` (or `C + λ·prior`) — the ridge-regularised least-squares weights that map inputs `x` to
 * outputs `y` when `G = Σ x xᵀ` and `C = Σ y xᵀ` — as `W = C Uᵀ U` with `Uᵀ U = (G + λI)⁻¹`
 * from the kernels' `inverseCholeskyUpper`, and the two products through `subtractProducts`
 * (all in float32). A Gram matrix whose diagonal is all zero (no input ever seen) gives zero
 * weights. `gram` and `cross` are not modified.
 *
 * @param gram `G`, `[n, n]` row-major, symmetric positive semi-definite.
 * @param cross `C`, `[rows, n]` row-major.
 * @param n The number of input features.
 * @param options Dampening and kernels.
 * @returns `W` `[rows, n]` and `λ`.
 * @throws {RangeError} When the sizes disagree, `damp` is negative or not finite, or `G + λI`
 *   is not positive definite (raise `damp`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ridgeSolve } from "./ridge_solve.ts";
 *
 * // inputs x = (1, 0), (0, 1), (1, 1) with outputs y = 2·x0 - x1 = 2, -1, 1:
 * // G = Σ x xᵀ = [[2, 1], [1, 2]], C = Σ y xᵀ = [3, 0]
 * const gram = new Float32Array([2, 1, 1, 2]);
 * const { weight } = ridgeSolve(gram, new Float32Array([3, 0]), 2, { damp: 0 });
 * assert.ok(Math.abs(weight[0] - 2) < 1e-5 && Math.abs(weight[1] + 1) < 1e-5);
 * ```
 */
export function ridgeSolve(
  gram: Float32Array,
  cross: Float32Array,
  n: number,
  options: RidgeSolveOptions = {},
): RidgeSolution {
  if (!Number.isInteger(n) || n < 1 || n > 46340) {
    throw new RangeError(`"n" must be an integer within [1, 46340]: current value is ${show(n)}`);
  }
  if (!(gram instanceof Float32Array) || gram.length !== n * n) {
    throw new RangeError(
      `"gram" must be a Float32Array of n·n = ${n * n} values: current length is ${
        (gram as { length?: number })?.length
      }`,
    );
  }
  if (!(cross instanceof Float32Array) || cross.length % n !== 0) {
    throw new RangeError(
      `"cross" must be a Float32Array of whole rows of ${n} values: current length is ${
        (cross as { length?: number })?.length
      }`,
    );
  }
  const damp = options.damp ?? 0.01;
  if (typeof damp !== "number" || !(damp >= 0) || !Number.isFinite(damp)) {
    throw new RangeError(`"damp" must be a finite number >= 0: current value is ${show(damp)}`);
  }
  const kernels = options.kernels ?? getKernels();
  const rows = cross.length / n;
  const prior = options.prior;
  if (prior !== undefined && (!(prior instanceof Float32Array) || prior.length !== cross.length)) {
    throw new RangeError(
      `"prior" must be a Float32Array of ${cross.length} values like "cross": current length is ${
        (prior as { length?: number })?.length
      }`,
    );
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += gram[i * n + i];
  if (!(trace > 0)) return { weight: prior?.slice() ?? new Float32Array(rows * n), lambda: 0 };
  const lambda = Math.fround(damp * (trace / n));
  const h = gram.slice();
  // a feature never seen (zero diagonal) would make an undampened G singular: its weight is 0
  for (let i = 0; i < n; i++) {
    h[i * n + i] = Math.fround(h[i * n + i] + (h[i * n + i] === 0 ? Math.max(lambda, 1) : lambda));
  }
  let u: Float32Array;
  try {
    u = kernels.inverseCholeskyUpper(h, n);
  } catch (cause) {
    if (!(cause instanceof RangeError)) throw cause;
    throw new RangeError(
      `the Gram matrix plus dampening (damp ${damp}, λ ${lambda}) is not positive definite; ` +
        `raise "damp" or add calibration data: ${cause.message}`,
      { cause },
    );
  }
  if (rows === 0) return { weight: new Float32Array(0), lambda };
  // T = -(C Uᵀ): subtractProducts(0, a = Cᵀ [n, rows], b = Uᵀ [n, n])
  const ct = new Float32Array(n * rows);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      ct[j * rows + r] = cross[r * n + j] +
        (prior === undefined ? 0 : lambda * prior[r * n + j]);
    }
  }
  const ut = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) ut[j * n + i] = u[i * n + j];
  }
  const tneg = kernels.subtractProducts(new Float32Array(rows * n), ct, ut, n);
  // W = -(Tneg U): subtractProducts(0, a = Tnegᵀ [n, rows], b = U [n, n])
  const tt = new Float32Array(n * rows);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) tt[i * rows + r] = tneg[r * n + i];
  }
  const weight = kernels.subtractProducts(new Float32Array(rows * n), tt, u, n);
  return { weight, lambda };
}
