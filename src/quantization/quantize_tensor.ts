/**
 * `quantizeTensor` and `dequantizeTensor`: integer codes of a float tensor and back.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { IntCodes, Kernels, QuantParams } from "../kernels/types.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Options of the quantization wrappers. */
export interface QuantizeOptions {
  /** The kernels to use (default: `getKernels()`, WASM SIMD where available). */
  readonly kernels?: Kernels;
}

/**
 * A new code array of the smallest type that holds [qmin, qmax]: Int8Array, Uint8Array,
 * Int16Array or Int32Array.
 *
 * @param qmin Smallest code.
 * @param qmax Largest code.
 * @param length Number of elements.
 * @returns A zeroed array.
 * @throws {QuantizationError} Code `range`, when the range does not fit 32-bit integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { codeArrayFor } from "./quantize_tensor.ts";
 *
 * assert.ok(codeArrayFor(-127, 127, 4) instanceof Int8Array);
 * assert.ok(codeArrayFor(0, 255, 4) instanceof Uint8Array);
 * assert.ok(codeArrayFor(0, 65535, 4) instanceof Int32Array);
 * ```
 */
export function codeArrayFor(qmin: number, qmax: number, length: number): IntCodes {
  if (qmin >= -128 && qmax <= 127) return new Int8Array(length);
  if (qmin >= 0 && qmax <= 255) return new Uint8Array(length);
  if (qmin >= -32768 && qmax <= 32767) return new Int16Array(length);
  if (qmin >= -(2 ** 31) && qmax <= 2 ** 31 - 1) return new Int32Array(length);
  throw new QuantizationError(
    "range",
    `codes must fit 32-bit integers: current range is [${qmin}, ${qmax}]`,
  );
}

/**
 * Integer codes `roundHalfEven(clamp(zp + x / s, qmin, qmax))` in float32 arithmetic, exactly
 * like NNI's fake quantization computes them, in the smallest integer array that holds
 * [qmin, qmax].
 *
 * @param data The tensor, row-major.
 * @param shape Its dims.
 * @param params Block kernel, scales, zero points and the integer range.
 * @param options The kernels to use, and a buffer to reuse for the codes.
 * @returns The codes.
 * @throws {TypeError} On malformed arguments (see the `Kernels` checks).
 * @throws {RangeError} When the shape, kernel and parameters do not agree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizeTensor } from "./quantize_tensor.ts";
 *
 * const codes = quantizeTensor(new Float32Array([0.5, -0.25, 9]), [3], {
 *   kernel: [-1],
 *   scale: new Float32Array([0.25]),
 *   zeroPoint: new Float32Array([0]),
 *   qmin: -7,
 *   qmax: 7,
 * });
 * assert.deepEqual([...codes], [2, -1, 7]);
 * ```
 */
export function quantizeTensor(
  data: Float32Array,
  shape: readonly number[],
  params: QuantParams,
  options: QuantizeOptions & {
    /**
     * A buffer to write the codes into when it has exactly their size (the code array is then
     * a view of all of it); else a new array is made. Streamed runs pass the buffer of the
     * tensor they wrote last: a fresh tensor-sized buffer costs about as much as quantizing.
     */
    readonly into?: ArrayBuffer;
  } = {},
): IntCodes {
  const kernels = options.kernels ?? getKernels();
  const fresh = codeArrayFor(params.qmin, params.qmax, 0);
  const into = options.into;
  const out = into !== undefined && into.byteLength === data.length * fresh.BYTES_PER_ELEMENT
    ? new (fresh.constructor as new (b: ArrayBuffer) => IntCodes)(into)
    : codeArrayFor(params.qmin, params.qmax, data.length);
  return kernels.quantize(data, shape, params, out);
}

/**
 * Float values `(q - zp) * s` of integer codes, in float32 arithmetic.
 *
 * @param codes The codes, row-major.
 * @param shape Their dims.
 * @param params Block kernel, scales, zero points and the integer range.
 * @param options The kernels to use.
 * @returns The values.
 * @throws {TypeError} On malformed arguments.
 * @throws {RangeError} When the shape, kernel and parameters do not agree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dequantizeTensor } from "./quantize_tensor.ts";
 *
 * const values = dequantizeTensor(new Int8Array([2, -1]), [2], {
 *   kernel: [-1],
 *   scale: new Float32Array([0.25]),
 *   zeroPoint: new Float32Array([0]),
 *   qmin: -7,
 *   qmax: 7,
 * });
 * assert.deepEqual([...values], [0.5, -0.25]);
 * ```
 */
export function dequantizeTensor(
  codes: IntCodes,
  shape: readonly number[],
  params: QuantParams,
  options: QuantizeOptions = {},
): Float32Array {
  return (options.kernels ?? getKernels()).dequantize(codes, shape, params);
}
