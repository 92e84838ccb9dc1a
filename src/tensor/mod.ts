/**
 * Tensor element types, the lowest layer of nncompress (it imports nothing else): the dtype
 * table, the ONNX data type codes, float16 / bfloat16 / float8 / float4 conversions to and from
 * float32, and decoding or encoding whole tensors' bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeFloat32, DTYPE_BYTES, encodeFloat32, ONNX_DATA_TYPE, onnxDataType } from "./mod.ts";
 *
 * const bytes = encodeFloat32(new Float32Array([1, -2.5]), "BF16");
 * assert.equal(bytes.length, 2 * DTYPE_BYTES.BF16);
 * assert.deepEqual([...decodeFloat32(bytes, "BF16")], [1, -2.5]);
 * assert.equal(onnxDataType("BF16"), ONNX_DATA_TYPE.BFLOAT16);
 * ```
 *
 * @module
 */

export { type DType, DTYPE_BYTES, elementCount, isDType } from "./dtype.ts";
export {
  ONNX_DATA_TYPE,
  ONNX_DTYPES,
  onnxDataType,
  type OnnxDataTypeName,
  onnxDataTypeName,
  onnxStoredBytes,
} from "./onnx_data_type.ts";
export {
  bf16BitsToF32Bits,
  bf16ToF32,
  f16BitsToF32Bits,
  f16ToF32,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  f32ToBf16,
  f32ToF16,
} from "./float16.ts";
export {
  f32ToFloat8,
  f32ToFloat8Array,
  F4E2M1,
  type Float8Format,
  float8Table,
  float8ToF32,
} from "./float8.ts";
export { decodeFloat32, decodeOnnxFloat32, type HalfDecoders } from "./decode_float32.ts";
export { encodeFloat32, type HalfEncoders } from "./encode_float32.ts";
export { roundHalfEven } from "./round_half_even.ts";
