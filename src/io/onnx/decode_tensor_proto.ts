/**
 * Decoding a file that holds one serialized `TensorProto` (ONNX test data, external tools).
 *
 * @module
 */

import { decodeTensor } from "./_decode_tensor.ts";
import type { OnnxTensor } from "./onnx_types.ts";
import { LEN } from "./_wire.ts";

/** A decoded `TensorProto` file; read its values with `readOnnxTensor(file, file.tensor)`. */
export interface OnnxTensorFile {
  /** The file bytes. */
  readonly bytes: Uint8Array;
  /** The file label used in errors. */
  readonly file: string;
  /** The tensor. */
  readonly tensor: OnnxTensor;
}

/**
 * Decodes a serialized `TensorProto` (such as the `input_0.pb` files of ONNX test data).
 *
 * @param bytes The file.
 * @param options The file name for error messages.
 * @returns The tensor over the bytes (no data copied).
 * @throws {ModelFormatError} On malformed protobuf or inconsistent sizes.
 *
 * @example
 * ```ts
 * import { decodeTensorProto } from "./decode_tensor_proto.ts";
 * import { readOnnxTensor } from "./read_onnx_tensor.ts";
 * // dims [2], data_type FLOAT, raw_data = two float32 ones
 * const pb = new Uint8Array([8, 2, 16, 1, 74, 8, 0, 0, 128, 63, 0, 0, 128, 63]);
 * const file = decodeTensorProto(pb);
 * const values = new Float32Array((await readOnnxTensor(file, file.tensor)).slice().buffer);
 * if (values[1] !== 1 || file.tensor.dims[0] !== 2) throw new Error("unexpected");
 * ```
 */
export function decodeTensorProto(
  bytes: Uint8Array,
  options: { readonly file?: string } = {},
): OnnxTensorFile {
  const file = options.file ?? "<memory>";
  const root = { number: 0, wire: LEN, tagStart: 0, start: 0, end: bytes.length, value: 0 };
  const tensor = decodeTensor({ bytes, file }, root, [], "tensor", "initializer");
  return { bytes, file, tensor };
}
