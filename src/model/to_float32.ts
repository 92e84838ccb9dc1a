/**
 * Decoding stored tensor bytes (little-endian) into float32 values.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";
import { getKernels } from "../kernels/default.ts";
import type { DType } from "../tensor/dtype.ts";
import { decodeFloat32 } from "../tensor/decode_float32.ts";

/** The half-precision conversions that decoding F16 and BF16 needs. */
export type HalfKernels = Pick<Kernels, "f16ToF32" | "bf16ToF32">;

/** `getKernels()`'s conversions, looked up only when an F16 or BF16 tensor is decoded. */
export const DEFAULT_HALF_KERNELS: HalfKernels = {
  f16ToF32: (bits, out) => getKernels().f16ToF32(bits, out),
  bf16ToF32: (bits, out) => getKernels().bf16ToF32(bits, out),
};

/**
 * Decodes little-endian tensor bytes of `dtype` into float32 values. Integers are converted
 * to the nearest float32 (64-bit ones through `BigInt`), BOOL to 0 or 1, F8 codes through the
 * OCP FP8 tables (E4M3FN: no infinities; E5M2: IEEE-like); see `decodeFloat32` in
 * `src/tensor`, which this calls with the kernels' (by default WASM) half conversions.
 *
 * @param bytes The stored bytes; the length must be a multiple of the dtype's size.
 * @param dtype The element type.
 * @param kernels The F16/BF16 conversions (default: `getKernels()`).
 * @param out Where to write the values (as many elements as the bytes hold; a reused buffer
 * costs no fresh memory): returned. Default: a new `Float32Array`.
 * @returns The values (`out` when given).
 * @throws {RangeError} When the byte length is not a multiple of the dtype's size, or `out`
 * has another length.
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
  out?: Float32Array,
): Float32Array {
  return decodeFloat32(bytes, dtype, kernels ?? DEFAULT_HALF_KERNELS, out);
}
