/**
 * ONNX `TensorProto.DataType` codes and their dtypes.
 *
 * @module
 */

import { type DType, DTYPE_BYTES } from "../../model/dtype.ts";

/** ONNX data type codes with a `DType` (codes without one, like STRING, read as bytes only). */
export const ONNX_DTYPES: Readonly<Record<number, DType>> = {
  1: "F32",
  2: "U8",
  3: "I8",
  4: "U16",
  5: "I16",
  6: "I32",
  7: "I64",
  9: "BOOL",
  10: "F16",
  11: "F64",
  12: "U32",
  13: "U64",
  16: "BF16",
  17: "F8_E4M3",
  19: "F8_E5M2",
};

/** Which `TensorProto` field holds typed (non-raw) values for each data type code. */
export const TYPED_FIELD: Readonly<Record<number, number>> = {
  1: 4, // float_data
  2: 5, // int32_data for UINT8, INT8, UINT16, INT16, INT32, BOOL, FLOAT16, BFLOAT16, FLOAT8*
  3: 5,
  4: 5,
  5: 5,
  6: 5,
  9: 5,
  10: 5,
  16: 5,
  17: 5,
  18: 5,
  19: 5,
  20: 5,
  21: 5, // UINT4, INT4, FLOAT4E2M1: one int32_data value per packed byte
  22: 5,
  23: 5,
  7: 7, // int64_data
  11: 10, // double_data
  12: 11, // uint64_data
  13: 11,
};

/**
 * The ONNX data type code of a dtype.
 *
 * @param dtype The dtype.
 * @returns The `TensorProto.DataType` code.
 *
 * @example
 * ```ts
 * import { onnxDataType } from "./onnx_dtype.ts";
 * if (onnxDataType("F16") !== 10) throw new Error("unexpected");
 * ```
 */
export function onnxDataType(dtype: DType): number {
  for (const [code, d] of Object.entries(ONNX_DTYPES)) if (d === dtype) return Number(code);
  throw new RangeError(`"dtype" has no ONNX data type: current value is ${JSON.stringify(dtype)}`);
}

/** ONNX data type codes stored one byte per element without a `DType` (FLOAT8 FNUZ variants). */
const BYTE_TYPES = new Set([18, 20]);
/** ONNX data type codes stored as 4-bit pairs (UINT4, INT4, FLOAT4E2M1), low nibble first. */
const NIBBLE_TYPES = new Set([21, 22, 23]);

/**
 * The number of bytes a tensor of an ONNX data type takes in `raw_data` or an external file:
 * the element count times the dtype's size, one byte per FLOAT8 element, and half a byte per
 * 4-bit element rounded up (two elements per byte, the first in the low nibble).
 *
 * @param dataType The `TensorProto.DataType` code.
 * @param count The element count.
 * @returns The byte count, or `undefined` for types not stored as fixed-size numbers (STRING,
 * complex, unknown codes).
 *
 * @example
 * ```ts
 * import { onnxStoredBytes } from "./onnx_dtype.ts";
 * if (onnxStoredBytes(22, 5) !== 3 || onnxStoredBytes(1, 5) !== 20) throw new Error("unexpected");
 * if (onnxStoredBytes(8, 5) !== undefined) throw new Error("unexpected");
 * ```
 */
export function onnxStoredBytes(dataType: number, count: number): number | undefined {
  const dtype = ONNX_DTYPES[dataType];
  if (dtype !== undefined) return count * DTYPE_BYTES[dtype];
  if (BYTE_TYPES.has(dataType)) return count;
  if (NIBBLE_TYPES.has(dataType)) return Math.ceil(count / 2);
  return undefined;
}
