/**
 * Decoding stored tensor bytes (little-endian) into float32 values.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";
import { getKernels } from "../kernels/default.ts";
import { type DType, DTYPE_BYTES } from "./dtype.ts";
import { f8e4m3Table, f8e5m2Table } from "./_f8.ts";

/** The half-precision conversions that decoding F16 and BF16 needs. */
export type HalfKernels = Pick<Kernels, "f16ToF32" | "bf16ToF32">;

/** Elements converted per kernel call for F16/BF16. */
const CHUNK = 1 << 20;

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
 * @param kernels The F16/BF16 conversions (default: `getKernels()`).
 * @returns A new `Float32Array`.
 * @throws {RangeError} When the byte length is not a multiple of the dtype's size.
 *
 * @example
 * ```ts
 * import { toFloat32 } from "./to_float32.ts";
 * const v = toFloat32(new Uint8Array([1, 0, 255, 255]), "I16");
 * if (v[0] !== 1 || v[1] !== -1) throw new Error("unexpected");
 * ```
 */
export function toFloat32(
  bytes: Uint8Array,
  dtype: DType,
  kernels?: HalfKernels,
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (bytes.length % size !== 0) {
    throw new RangeError(
      `"bytes" length must be a multiple of ${size} for ${dtype}: current value is ${bytes.length}`,
    );
  }
  const n = bytes.length / size;
  switch (dtype) {
    case "F32":
      return new Float32Array(...aligned(bytes, 4), n)
        .slice();
    case "F16":
    case "BF16": {
      const bits = new Uint16Array(...aligned(bytes, 2), n);
      const k = kernels ?? getKernels();
      const convert = dtype === "F16" ? k.f16ToF32 : k.bf16ToF32;
      if (n <= CHUNK) return convert.call(k, bits);
      // In chunks, so kernel working memory stays small for large tensors.
      const out = new Float32Array(n);
      for (let at = 0; at < n; at += CHUNK) {
        out.set(convert.call(k, bits.subarray(at, at + CHUNK)), at);
      }
      return out;
    }
    case "F8_E4M3":
    case "F8_E5M2": {
      const t = dtype === "F8_E4M3" ? f8e4m3Table() : f8e5m2Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = t[bytes[i]];
      return out;
    }
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
