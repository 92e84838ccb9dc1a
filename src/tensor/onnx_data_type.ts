/**
 * ONNX `TensorProto.DataType` codes: the one table of their names, dtypes and sizes.
 *
 * @module
 */

import { type DType, DTYPE_BYTES } from "./dtype.ts";

/** Every `TensorProto.DataType` code by its ONNX name. */
export const ONNX_DATA_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

/** The name of an ONNX data type code. */
export type OnnxDataTypeName = keyof typeof ONNX_DATA_TYPE;

/** The facts about one data type: its dtype (if any) and its stored bits per element. */
interface TypeInfo {
  /** The dtype of the type, for types that have one. */
  readonly dtype?: DType;
  /** Bits per element in `raw_data` (absent for STRING, complex and UNDEFINED). */
  readonly bits?: number;
}

const TYPES: Readonly<Record<OnnxDataTypeName, TypeInfo>> = {
  UNDEFINED: {},
  FLOAT: { dtype: "F32", bits: 32 },
  UINT8: { dtype: "U8", bits: 8 },
  INT8: { dtype: "I8", bits: 8 },
  UINT16: { dtype: "U16", bits: 16 },
  INT16: { dtype: "I16", bits: 16 },
  INT32: { dtype: "I32", bits: 32 },
  INT64: { dtype: "I64", bits: 64 },
  STRING: {},
  BOOL: { dtype: "BOOL", bits: 8 },
  FLOAT16: { dtype: "F16", bits: 16 },
  DOUBLE: { dtype: "F64", bits: 64 },
  UINT32: { dtype: "U32", bits: 32 },
  UINT64: { dtype: "U64", bits: 64 },
  COMPLEX64: {},
  COMPLEX128: {},
  BFLOAT16: { dtype: "BF16", bits: 16 },
  FLOAT8E4M3FN: { dtype: "F8_E4M3", bits: 8 },
  FLOAT8E4M3FNUZ: { bits: 8 },
  FLOAT8E5M2: { dtype: "F8_E5M2", bits: 8 },
  FLOAT8E5M2FNUZ: { bits: 8 },
  UINT4: { bits: 4 },
  INT4: { bits: 4 },
  FLOAT4E2M1: { bits: 4 },
};

const BY_CODE = new Map<number, TypeInfo & { readonly name: OnnxDataTypeName }>(
  (Object.keys(ONNX_DATA_TYPE) as OnnxDataTypeName[]).map((
    name,
  ) => [ONNX_DATA_TYPE[name], { name, ...TYPES[name] }]),
);

/** ONNX data type codes with a `DType` (codes without one, like STRING, read as bytes only). */
export const ONNX_DTYPES: Readonly<Record<number, DType>> = Object.fromEntries(
  [...BY_CODE].flatMap(([code, t]) => (t.dtype === undefined ? [] : [[code, t.dtype]])),
);

/**
 * The ONNX name of a data type code.
 *
 * @param code A `TensorProto.DataType` code.
 * @returns The name (`"FLOAT"`, `"INT4"`, …), or `undefined` for an unknown code.
 *
 * @example
 * ```ts
 * import { onnxDataTypeName } from "./onnx_data_type.ts";
 * if (onnxDataTypeName(22) !== "INT4" || onnxDataTypeName(99) !== undefined) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function onnxDataTypeName(code: number): OnnxDataTypeName | undefined {
  return BY_CODE.get(code)?.name;
}

/**
 * The ONNX data type code of a dtype.
 *
 * @param dtype The dtype.
 * @returns The `TensorProto.DataType` code.
 * @throws {RangeError} For a value that is not a dtype.
 *
 * @example
 * ```ts
 * import { onnxDataType } from "./onnx_data_type.ts";
 * if (onnxDataType("F16") !== 10) throw new Error("unexpected");
 * ```
 */
export function onnxDataType(dtype: DType): number {
  for (const [code, t] of BY_CODE) if (t.dtype === dtype) return code;
  throw new RangeError(`"dtype" has no ONNX data type: current value is ${JSON.stringify(dtype)}`);
}

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
 * import { onnxStoredBytes } from "./onnx_data_type.ts";
 * if (onnxStoredBytes(22, 5) !== 3 || onnxStoredBytes(1, 5) !== 20) throw new Error("unexpected");
 * if (onnxStoredBytes(8, 5) !== undefined) throw new Error("unexpected");
 * ```
 */
export function onnxStoredBytes(dataType: number, count: number): number | undefined {
  const t = BY_CODE.get(dataType);
  if (t?.dtype !== undefined) return count * DTYPE_BYTES[t.dtype];
  if (t?.bits === undefined) return undefined;
  return Math.ceil((count * t.bits) / 8);
}
