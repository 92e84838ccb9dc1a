/**
 * Argument checks shared by the layer-wise methods with error compensation (GPTQ, SparseGPT):
 * a layer weight `[out, in]` and its calibration batches `[rows, in]`.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";

/**
 * Columns per sub-block of the column loop: inside a sub-block each column's error is
 * subtracted from the next columns right away (TypeScript), from the rest of the block once per
 * sub-block (the kernel `subtractProducts`). The result does not depend on it: every weight
 * receives the same terms in the same order.
 */
export const SUB_BLOCK = 16;

function show(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as Uint8Array).length})`;
  }
  if (Array.isArray(value)) return `[${value.join(", ")}]`;
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Checks a layer weight: a `Float32Array` of finite values of shape `[out, in]` (positive
 * integers).
 *
 * @param weight The weight.
 * @param shape Its `[out, in]`.
 * @throws {TypeError} If `weight` is not a `Float32Array`.
 * @throws {RangeError} If the shape is malformed or does not match, or a value is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLayer } from "./obs_layer.ts";
 *
 * assert.throws(
 *   () => checkLayer(new Float32Array(5), [2, 3]),
 *   /"weight" must have 2 \* 3 = 6 values \(shape \[2, 3\]\): current length is 5/,
 * );
 * ```
 */
export function checkLayer(
  weight: unknown,
  shape: unknown,
): asserts weight is Float32Array {
  if (!(weight instanceof Float32Array)) {
    throw new TypeError(`"weight" must be a Float32Array: current value is ${show(weight)}`);
  }
  if (
    !Array.isArray(shape) || shape.length !== 2 ||
    !shape.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new RangeError(
      `"shape" must be [out, in] with positive integers: current value is ${show(shape)}`,
    );
  }
  if (weight.length !== shape[0] * shape[1]) {
    throw new RangeError(
      `"weight" must have ${shape[0]} * ${shape[1]} = ${shape[0] * shape[1]} values (shape ` +
        `${show(shape)}): current length is ${weight.length}`,
    );
  }
  for (let t = 0; t < weight.length; t++) {
    if (!Number.isFinite(weight[t])) {
      throw new RangeError(
        `"weight" must hold finite values: [${Math.floor(t / shape[1])}, ${t % shape[1]}] is ${
          weight[t]
        }`,
      );
    }
  }
}

/**
 * Checks calibration batches: a non-empty array of `Float32Array`s of whole rows of `columns`
 * finite values.
 *
 * @param batches The batches.
 * @param columns The layer's input features.
 * @returns The total number of rows.
 * @throws {TypeError} If `batches` is not a non-empty array of `Float32Array`s.
 * @throws {RangeError} If a batch is empty, not whole rows, or holds a non-finite value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBatches } from "./obs_layer.ts";
 *
 * assert.equal(checkBatches([new Float32Array(6), new Float32Array(3)], 3), 3);
 * assert.throws(
 *   () => checkBatches([new Float32Array([1, NaN, 0])], 3),
 *   /"batches\[0\]" must hold finite values: row 0, feature 1 is NaN/,
 * );
 * ```
 */
export function checkBatches(batches: unknown, columns: number): number {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new TypeError(
      `"batches" must be a non-empty array of Float32Array: current value is ${show(batches)}`,
    );
  }
  let rows = 0;
  for (let b = 0; b < batches.length; b++) {
    const x = batches[b];
    if (!(x instanceof Float32Array)) {
      throw new TypeError(`"batches[${b}]" must be a Float32Array: current value is ${show(x)}`);
    }
    if (x.length === 0 || x.length % columns !== 0) {
      throw new RangeError(
        `"batches[${b}]" must hold whole rows of ${columns} input features (shape [rows, ` +
          `${columns}]): current length is ${x.length}`,
      );
    }
    for (let t = 0; t < x.length; t++) {
      if (!Number.isFinite(x[t])) {
        throw new RangeError(
          `"batches[${b}]" must hold finite values: row ${Math.floor(t / columns)}, feature ` +
            `${t % columns} is ${x[t]}`,
        );
      }
    }
    rows += x.length / columns;
  }
  return rows;
}

/**
 * Subtracts the errors of processed columns from later columns, the update of GPTQ and
 * SparseGPT: for columns `j` in `[to, end)`, `W[:, j] -= Σ_c err_c · U[c][j]` over the columns
 * `c` in `[from, to)`, term by term in increasing `c` (the kernel `subtractProducts`). `w` is the
 * weight column-major (`w[c * rows + r]`), `u` is `[cols, cols]` and `errT` holds the error of
 * column `c` at `errT[(c - base) * rows ..]`.
 *
 * @param w The weight, column-major `[cols][rows]` (updated).
 * @param u `U`, `[cols, cols]` row-major.
 * @param errT The errors, one column of `rows` values per processed column from `base`.
 * @param range `[base, from, to, end]`: the column of `errT`'s first row, the processed
 *   columns `[from, to)` and the end of the columns to update.
 * @param kernels The kernels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceKernels } from "../kernels/reference.ts";
 * import { subtractErrors } from "./obs_layer.ts";
 *
 * // one row, columns 0 and 1; column 0's error 2 moves column 1 by 2 · U[0][1] = 1
 * const w = new Float32Array([5, 3]);
 * const u = new Float32Array([1, 0.5, 0, 1]);
 * subtractErrors(w, u, new Float32Array([2]), [0, 0, 1, 2], referenceKernels);
 * assert.deepEqual([...w], [5, 2]);
 * ```
 */
export function subtractErrors(
  w: Float32Array,
  u: Float32Array,
  errT: Float32Array,
  range: readonly [number, number, number, number],
  kernels: Kernels,
): void {
  const [base, from, to, end] = range;
  const cols = Math.round(Math.sqrt(u.length));
  const rows = w.length / cols;
  const count = to - from;
  const width = end - to;
  if (count <= 0 || width <= 0) return;
  const a = new Float32Array(count * width);
  for (let k = 0; k < count; k++) {
    a.set(u.subarray((from + k) * cols + to, (from + k) * cols + end), k * width);
  }
  kernels.subtractProducts(
    w.subarray(to * rows, end * rows),
    a,
    errT.subarray((from - base) * rows, (to - base) * rows),
    count,
  );
}

/**
 * Subtracts one column's error from the next columns one at a time, in TypeScript:
 * `W[:, j] = fround(W[:, j] - fround(err · U[c][j]))` for `j` in `(c, end)`.
 *
 * @param w The weight, column-major `[cols][rows]` (updated).
 * @param u `U`, `[cols, cols]` row-major.
 * @param err The column's error, `rows` values.
 * @param c The column.
 * @param end The end of the columns to update.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subtractError } from "./obs_layer.ts";
 *
 * const w = new Float32Array([5, 3]);
 * subtractError(w, new Float32Array([1, 0.5, 0, 1]), new Float32Array([2]), 0, 2);
 * assert.deepEqual([...w], [5, 2]);
 * ```
 */
export function subtractError(
  w: Float32Array,
  u: Float32Array,
  err: Float32Array,
  c: number,
  end: number,
): void {
  const rows = err.length;
  const cols = w.length / rows;
  for (let j = c + 1; j < end; j++) {
    const uj = u[c * cols + j];
    const wj = w.subarray(j * rows, (j + 1) * rows);
    for (let r = 0; r < rows; r++) wj[r] = Math.fround(wj[r] - Math.fround(err[r] * uj));
  }
}

/**
 * Checks a precomputed layer Hessian: a `Float32Array` of `columns²` finite values.
 *
 * @param hessian The Hessian.
 * @param columns The layer's input features.
 * @throws {RangeError} If it has the wrong type or length, or a value is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHessian } from "./obs_layer.ts";
 *
 * checkHessian(new Float32Array([2, 0, 0, 2]), 2);
 * assert.throws(() => checkHessian(new Float32Array(3), 2), /"hessian" must be a Float32Array of 2 \* 2 values/);
 * ```
 */
export function checkHessian(hessian: unknown, columns: number): asserts hessian is Float32Array {
  if (!(hessian instanceof Float32Array) || hessian.length !== columns * columns) {
    throw new RangeError(
      `"hessian" must be a Float32Array of ${columns} * ${columns} values: current value is ${
        show(hessian)
      }`,
    );
  }
  for (let t = 0; t < hessian.length; t++) {
    if (!Number.isFinite(hessian[t])) {
      throw new RangeError(
        `"hessian" must hold finite values: [${Math.floor(t / columns)}, ${t % columns}] is ${
          hessian[t]
        }`,
      );
    }
  }
}
