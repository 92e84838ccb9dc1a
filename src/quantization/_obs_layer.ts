/**
 * Argument checks shared by the layer-wise methods with error compensation (GPTQ, SparseGPT).
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
 */
export function checkLayer(weight: unknown, shape: unknown): void {
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

/** `out` of a checked `[out, in]` shape. */
export function rowsOf(shape: readonly number[]): number {
  return shape[0];
}

/** `in` of a checked `[out, in]` shape. */
export function columnsOf(shape: readonly number[]): number {
  return shape[1];
}
