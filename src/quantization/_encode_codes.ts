// Integer codes as ONNX tensor bytes: the element type for a bit width and the raw_data.
import type { Kernels } from "../kernels/types.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { QuantizationError } from "./quantization_error.ts";

/** The ONNX element type that stores codes of `bits` bits. */
export function onnxCodeType(bits: number, signed: boolean, int4: boolean): number {
  if (bits <= 4 && int4) return signed ? ONNX_DATA_TYPE.INT4 : ONNX_DATA_TYPE.UINT4;
  if (bits <= 8) return signed ? ONNX_DATA_TYPE.INT8 : ONNX_DATA_TYPE.UINT8;
  return signed ? ONNX_DATA_TYPE.INT16 : ONNX_DATA_TYPE.UINT16;
}

/** The little-endian raw_data of codes stored as `type` (4-bit types packed low nibble first). */
export function onnxCodeBytes(
  codes: ArrayLike<number>,
  type: number,
  kernels: Kernels,
): Uint8Array {
  const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  switch (type) {
    case ONNX_DATA_TYPE.INT4:
      return kernels.packInt4(Int8Array.from(codes));
    case ONNX_DATA_TYPE.UINT4:
      return kernels.packInt4(Uint8Array.from(codes));
    case ONNX_DATA_TYPE.INT8:
      return bytes(Int8Array.from(codes));
    case ONNX_DATA_TYPE.UINT8:
      return Uint8Array.from(codes);
    case ONNX_DATA_TYPE.INT16:
      return bytes(Int16Array.from(codes));
    case ONNX_DATA_TYPE.UINT16:
      return bytes(Uint16Array.from(codes));
  }
  throw new QuantizationError(
    "storage",
    `codes are stored as ONNX INT4, UINT4, INT8, UINT8, INT16 or UINT16: current type is ${type}`,
  );
}
