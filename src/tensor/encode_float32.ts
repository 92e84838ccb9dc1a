/**
 * Encoding float32 values as the stored bytes of a floating-point element type.
 *
 * @module
 */

import type { DType } from "./dtype.ts";
import { f32ToBf16, f32ToF16 } from "./float16.ts";
import { f32ToFloat8Array } from "./float8.ts";

/**
 * The half-precision roundings that encoding F16 and BF16 needs: the plain-TypeScript ones of
 * `float16.ts` by default, or a `Kernels` object (its WASM build is faster).
 */
export interface HalfEncoders {
  /** float32 values to f16 bit patterns. */
  f32ToF16(data: Float32Array): Uint16Array;
  /** float32 values to bf16 bit patterns. */
  f32ToBf16(data: Float32Array): Uint16Array;
}

const PLAIN: HalfEncoders = { f32ToF16, f32ToBf16 };

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/**
 * Encodes float32 values as little-endian bytes of a floating-point dtype: F32 and F64 exactly,
 * F16 and BF16 rounded to nearest even, F8_E4M3 and F8_E5M2 rounded to nearest even and
 * saturated (see `f32ToFloat8`).
 *
 * @param values The values.
 * @param dtype The stored dtype.
 * @param half The F16/BF16 roundings (default: the plain-TypeScript ones).
 * @returns New bytes.
 * @throws {RangeError} For integer and boolean dtypes, which need quantization parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFloat32 } from "./encode_float32.ts";
 * assert.deepEqual([...encodeFloat32(new Float32Array([1]), "F16")], [0x00, 0x3c]);
 * assert.deepEqual([...encodeFloat32(new Float32Array([1]), "F8_E4M3")], [0x38]);
 * ```
 */
export function encodeFloat32(
  values: Float32Array,
  dtype: DType,
  half: HalfEncoders = PLAIN,
): Uint8Array {
  switch (dtype) {
    case "F32":
      return bytesOf(values.slice());
    case "F64":
      return bytesOf(Float64Array.from(values));
    case "F16":
      return bytesOf(half.f32ToF16(values));
    case "BF16":
      return bytesOf(half.f32ToBf16(values));
    case "F8_E4M3":
      return f32ToFloat8Array(values, "E4M3FN");
    case "F8_E5M2":
      return f32ToFloat8Array(values, "E5M2");
  }
  throw new RangeError(
    `"dtype" must be a float type (F32, F64, F16, BF16, F8_E4M3 or F8_E5M2) to encode float values: current value is ${
      JSON.stringify(dtype)
    }`,
  );
}
