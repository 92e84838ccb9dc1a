/**
 * Argument checks shared by the layer-wise methods with error compensation (GPTQ, SparseGPT):
 * a layer weight `[out, in]` and its calibration batches `[rows, in]`.
 *
 * @module
 */

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
