/**
 * Decoding stored tensor bytes (little-endian) of any element type into float32 values.
 *
 * @module
 */

import { type DType, DTYPE_BYTES } from "./dtype.ts";
import { bf16ToF32, f16ToF32 } from "./float16.ts";
import { F4E2M1, float8ToF32 } from "./float8.ts";
import { ONNX_DATA_TYPE, ONNX_DTYPES, onnxDataTypeName } from "./onnx_data_type.ts";

/**
 * The half-precision widenings that decoding F16 and BF16 needs: the plain-TypeScript ones of
 * `float16.ts` by default, or a `Kernels` object (its WASM build is faster).
 */
export interface HalfDecoders {
  /**
   * f16 bit patterns to float32 values (into `out` when given, of the same length, and returned;
   * a decoder that returns other values has them copied into `out`).
   */
  f16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array;
  /** bf16 bit patterns to float32 values (into `out` when given). */
  bf16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array;
}

const into = (values: Float32Array, out: Float32Array | undefined) => {
  if (out === undefined) return values;
  out.set(values);
  return out;
};

const PLAIN: HalfDecoders = {
  f16ToF32: (bits, out) => into(f16ToF32(bits), out),
  bf16ToF32: (bits, out) => into(bf16ToF32(bits), out),
};

/** Elements converted per call for F16/BF16 (keeps a kernel's working memory small). */
const CHUNK = 1 << 20;

/** F16 or BF16 bytes widened into `out`, a chunk at a time, each straight into its place. */
function decodeHalf(
  bytes: Uint8Array,
  dtype: "F16" | "BF16",
  half: HalfDecoders,
  n: number,
  out: Float32Array,
): Float32Array {
  const bits = new Uint16Array(...aligned(bytes, 2), n);
  const convert = dtype === "F16" ? half.f16ToF32 : half.bf16ToF32;
  for (let at = 0; at < n; at += CHUNK) {
    const end = Math.min(n, at + CHUNK);
    const place = out.subarray(at, end);
    // A decoder may ignore `out` (it is optional): its values are then copied into place.
    const values = convert.call(half, bits.subarray(at, end), place);
    if (values !== place) place.set(values);
  }
  return out;
}

/** The bytes as a buffer and offset that a typed array of `size`-byte elements can view. */
function aligned(bytes: Uint8Array, size: number): [ArrayBuffer, number] {
  if (bytes.byteOffset % size === 0 && bytes.buffer instanceof ArrayBuffer) {
    return [bytes.buffer, bytes.byteOffset];
  }
  return [bytes.slice().buffer, 0];
}

/**
 * Decodes little-endian tensor bytes of `dtype` into float32 values. Integers are converted
 * to the nearest float32 (64-bit ones through `BigInt`), BOOL to 0 or 1, F8 codes through the
 * OCP FP8 tables (E4M3FN: no infinities; E5M2: IEEE-like).
 *
 * @param bytes The stored bytes; the length must be a multiple of the dtype's size.
 * @param dtype The element type.
 * @param half The F16/BF16 widenings (default: the plain-TypeScript ones).
 * @param out Where to write the values (as many elements as the bytes hold; a reused buffer
 * costs no fresh memory): returned. Default: a new `Float32Array`.
 * @returns The values (`out` when given).
 * @throws {RangeError} When the byte length is not a multiple of the dtype's size, or `out`
 * has another length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFloat32 } from "./decode_float32.ts";
 * assert.deepEqual([...decodeFloat32(new Uint8Array([1, 0, 255, 255]), "I16")], [1, -1]);
 * assert.deepEqual([...decodeFloat32(new Uint8Array([0x00, 0x3c]), "F16")], [1]);
 * ```
 */
export function decodeFloat32(
  bytes: Uint8Array,
  dtype: DType,
  half: HalfDecoders = PLAIN,
  out?: Float32Array,
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (bytes.length % size !== 0) {
    throw new RangeError(
      `"bytes" length must be a multiple of ${size} for ${dtype}: current value is ${bytes.length}`,
    );
  }
  const n = bytes.length / size;
  if (out !== undefined) {
    if (out.length !== n) {
      throw new RangeError(
        `"out" must have ${n} elements for ${bytes.length} bytes of ${dtype}: current value is ${out.length}`,
      );
    }
    if (dtype === "F16" || dtype === "BF16") return decodeHalf(bytes, dtype, half, n, out);
    out.set(decodeFloat32(bytes, dtype, half));
    return out;
  }
  switch (dtype) {
    case "F32":
      // One copy: an unaligned view is copied by `aligned` already.
      return bytes.byteOffset % 4 === 0 && bytes.buffer instanceof ArrayBuffer
        ? new Float32Array(bytes.buffer, bytes.byteOffset, n).slice()
        : new Float32Array(bytes.slice().buffer, 0, n);
    case "F16":
    case "BF16":
      return decodeHalf(bytes, dtype, half, n, new Float32Array(n));
    case "F8_E4M3":
      return float8ToF32(bytes, "E4M3FN");
    case "F8_E5M2":
      return float8ToF32(bytes, "E5M2");
    case "U8":
    case "BOOL": {
      const out = Float32Array.from(bytes);
      if (dtype === "BOOL") { for (let i = 0; i < n; i++) out[i] = out[i] === 0 ? 0 : 1; }
      return out;
    }
    default: {
      const Ctor = {
        F64: Float64Array,
        I64: BigInt64Array,
        U64: BigUint64Array,
        I32: Int32Array,
        U32: Uint32Array,
        I16: Int16Array,
        U16: Uint16Array,
        I8: Int8Array,
      }[dtype];
      const view = new Ctor(...aligned(bytes, size), n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(view[i]);
      return out;
    }
  }
}

function unpackNibbles(bytes: Uint8Array, count: number, table: ArrayLike<number>): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = table[(bytes[i >> 1] >> ((i & 1) * 4)) & 0x0f];
  }
  return out;
}

const UINT4 = Float32Array.from({ length: 16 }, (_, i) => i);
const INT4 = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? i : i - 16));

/**
 * Decodes the stored bytes of any numeric ONNX data type into float32 values: the types with a
 * `DType` as `decodeFloat32` does, FLOAT8E4M3FNUZ and FLOAT8E5M2FNUZ (bias 8 and 16, no
 * infinities, 0x80 is NaN), and the packed 4-bit types UINT4, INT4 and FLOAT4E2M1 (two values
 * per byte, the first in the low nibble).
 *
 * @param bytes The stored bytes (as `onnxStoredBytes` counts them).
 * @param dataType The `TensorProto.DataType` code.
 * @param count The element count.
 * @param half The F16/BF16 widenings (default: the plain-TypeScript ones).
 * @returns A new array with `count` values.
 * @throws {TypeError} When the type holds no numbers (STRING, COMPLEX64, COMPLEX128,
 * UNDEFINED, unknown codes).
 * @throws {RangeError} When the byte length does not match `count`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnxFloat32 } from "./decode_float32.ts";
 * assert.deepEqual([...decodeOnnxFloat32(new Uint8Array([0xf1, 0x07]), 22, 3)], [1, -1, 7]);
 * ```
 */
export function decodeOnnxFloat32(
  bytes: Uint8Array,
  dataType: number,
  count: number,
  half: HalfDecoders = PLAIN,
): Float32Array {
  const dtype = ONNX_DTYPES[dataType];
  if (dtype !== undefined) {
    const out = decodeFloat32(bytes, dtype, half);
    if (out.length !== count) {
      throw new RangeError(
        `"bytes" must hold ${count} ${dtype} values: current count is ${out.length}`,
      );
    }
    return out;
  }
  const T = ONNX_DATA_TYPE;
  const fnuz = dataType === T.FLOAT8E4M3FNUZ || dataType === T.FLOAT8E5M2FNUZ;
  const nibbles = dataType === T.UINT4 || dataType === T.INT4 || dataType === T.FLOAT4E2M1;
  if (!fnuz && !nibbles) {
    throw new TypeError(
      `ONNX data type ${onnxDataTypeName(dataType) ?? dataType} cannot be read as numbers`,
    );
  }
  const need = fnuz ? count : Math.ceil(count / 2);
  if (bytes.length !== need) {
    throw new RangeError(
      `"bytes" must have ${need} bytes for ${count} values: current value is ${bytes.length}`,
    );
  }
  if (fnuz) return float8ToF32(bytes, dataType === T.FLOAT8E4M3FNUZ ? "E4M3FNUZ" : "E5M2FNUZ");
  return unpackNibbles(
    bytes,
    count,
    dataType === T.UINT4 ? UINT4 : dataType === T.INT4 ? INT4 : F4E2M1,
  );
}
