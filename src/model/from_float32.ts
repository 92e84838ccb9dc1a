/**
 * Encoding float32 values back into a tensor's stored dtype and layout.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { DType } from "../tensor/dtype.ts";
import { encodeFloat32 } from "../tensor/encode_float32.ts";
import type { TensorRef } from "./model_graph.ts";
import { invertPermutation, permute } from "./permute.ts";

/** The conversions that encoding F16 and BF16 needs. */
export type HalfEncoders = Pick<Kernels, "f32ToF16" | "f32ToBf16">;

/** `getKernels()`'s conversions, looked up only when an F16 or BF16 tensor is encoded. */
const DEFAULT: HalfEncoders = {
  f32ToF16: (data) => getKernels().f32ToF16(data),
  f32ToBf16: (data) => getKernels().f32ToBf16(data),
};

/**
 * Encodes float32 values as little-endian bytes of a floating-point dtype (F16, BF16 and the F8
 * types round to nearest even; see `encodeFloat32` in `src/tensor`, which this calls with the
 * kernels' (by default WASM) half conversions).
 *
 * @param values The values.
 * @param dtype The stored dtype.
 * @param kernels The F16/BF16 conversions (default: `getKernels()`).
 * @returns New bytes.
 * @throws {RangeError} For integer and boolean dtypes, which need quantization parameters.
 *
 * @example
 * ```ts
 * import { fromFloat32 } from "./from_float32.ts";
 * const b = fromFloat32(new Float32Array([1]), "F16");
 * if (b[0] !== 0x00 || b[1] !== 0x3c) throw new Error("unexpected");
 * ```
 */
export function fromFloat32(
  values: Float32Array,
  dtype: DType,
  kernels?: HalfEncoders,
): Uint8Array {
  return encodeFloat32(values, dtype, kernels ?? DEFAULT);
}

/**
 * Encodes new values of a parameter, given in PyTorch layout, into the file's layout and
 * dtype (the inverse of `TensorRef.data()`), ready for `encodeOnnx` or a safetensors writer.
 *
 * @param ref The parameter.
 * @param values Its new values in PyTorch layout (`ref.shape`).
 * @param kernels The F16/BF16 conversions (default: `getKernels()`).
 * @returns The stored bytes.
 * @throws {RangeError} When the length does not match the shape or the dtype is not a float type.
 *
 * @example
 * ```ts
 * import { toFileBytes } from "./from_float32.ts";
 * const ref = { name: "w", dtype: "F32" as const, shape: [2, 1], fileShape: [1, 2], transpose: [1, 0],
 *   data: () => Promise.resolve(new Float32Array(2)), bytes: () => Promise.resolve(new Uint8Array(8)) };
 * const b = toFileBytes(ref, new Float32Array([1, 2]));
 * if (new Float32Array(b.buffer)[1] !== 2) throw new Error("unexpected");
 * ```
 */
export function toFileBytes(
  ref: TensorRef,
  values: Float32Array,
  kernels?: HalfEncoders,
): Uint8Array {
  const n = ref.shape.reduce((a, b) => a * b, 1);
  if (values.length !== n) {
    throw new RangeError(
      `"values" must have ${n} elements for ${ref.name} [${ref.shape}]: current value is ${values.length}`,
    );
  }
  const file = ref.transpose === undefined
    ? values
    : permute(values, ref.shape, invertPermutation(ref.transpose));
  return fromFloat32(file, ref.dtype, kernels);
}
