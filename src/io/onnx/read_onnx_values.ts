/**
 * Reading any numeric ONNX tensor as float32 values, including the types without a `DType`.
 *
 * @module
 */

import { getKernels } from "../../kernels/default.ts";
import type { Kernels } from "../../kernels/types.ts";
import { decodeFloat32, decodeOnnxFloat32 } from "../../tensor/decode_float32.ts";
import type { OnnxTensor } from "./onnx_types.ts";
import { type OnnxBytes, readOnnxTensor, type ReadOnnxTensorOptions } from "./read_onnx_tensor.ts";

/** `getKernels()`'s conversions, looked up only when an F16 or BF16 tensor is read. */
const DEFAULT: Pick<Kernels, "f16ToF32" | "bf16ToF32"> = {
  f16ToF32: (bits, out) => getKernels().f16ToF32(bits, out),
  bf16ToF32: (bits, out) => getKernels().bf16ToF32(bits, out),
};

/** Options of `readOnnxValues`. */
export interface ReadOnnxValuesOptions extends ReadOnnxTensorOptions {
  /** The F16/BF16 conversions (default: `getKernels()`). */
  readonly kernels?: Pick<Kernels, "f16ToF32" | "bf16ToF32">;
}

/** Names of the ONNX data types that have no numeric reading. */
const NOT_NUMBERS: Readonly<Record<number, string>> = {
  0: "UNDEFINED",
  8: "STRING",
  14: "COMPLEX64",
  15: "COMPLEX128",
};

/**
 * Reads a stored tensor's values as float32 numbers (in the file's layout). Every numeric ONNX
 * type is read (see `decodeOnnxFloat32` in `src/tensor`): those with a `DType`, FLOAT8E4M3FNUZ and FLOAT8E5M2FNUZ
 * (bias 8 and 16, no infinities, 0x80 is NaN), and the packed 4-bit types UINT4, INT4 and
 * FLOAT4E2M1 (two values per byte, the first in the low nibble).
 *
 * @param model The decoded model (or tensor file).
 * @param tensor One of `model.tensors`.
 * @param options The external-data opener and the F16/BF16 kernels.
 * @returns A new array with one value per element.
 * @throws {TypeError} When the tensor's type holds no numbers (STRING, COMPLEX64,
 * COMPLEX128, UNDEFINED, unknown codes) — such tensors are still written back byte for byte —
 * or it is external and no opener is given.
 * @throws {ModelFormatError} When the stored values do not match the dims.
 *
 * @example
 * ```ts
 * import { decodeTensorProto } from "./decode_tensor_proto.ts";
 * import { readOnnxValues } from "./read_onnx_values.ts";
 * // dims [3], data_type INT4 (22), raw_data 0xF1 0x07: values 1, -1, 7
 * const file = decodeTensorProto(new Uint8Array([8, 3, 16, 22, 74, 2, 0xf1, 0x07]));
 * const values = await readOnnxValues(file, file.tensor);
 * if (values.join() !== "1,-1,7") throw new Error("unexpected");
 * ```
 */
export async function readOnnxValues(
  model: OnnxBytes,
  tensor: OnnxTensor,
  options: ReadOnnxValuesOptions = {},
): Promise<Float32Array> {
  const code = tensor.dataType;
  const name = NOT_NUMBERS[code];
  const supported = tensor.dtype !== undefined || (code >= 18 && code <= 23 && code !== 19);
  if (name !== undefined || !supported) {
    throw new TypeError(
      `tensor ${JSON.stringify(tensor.name)} has ONNX data type ${
        name ?? code
      }, which cannot be read as numbers`,
    );
  }
  const bytes = await readOnnxTensor(model, tensor, options);
  const half = options.kernels ?? DEFAULT;
  if (tensor.dtype !== undefined) return decodeFloat32(bytes, tensor.dtype, half);
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  return decodeOnnxFloat32(bytes, code, count, half);
}
