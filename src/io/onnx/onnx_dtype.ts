/**
 * ONNX `TensorProto.DataType` codes and their dtypes.
 *
 * @module
 */

import type { DType } from "../../model/dtype.ts";

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
  19: 5,
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
