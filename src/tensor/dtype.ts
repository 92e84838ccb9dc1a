/**
 * Tensor element types as stored in model files, named like safetensors does. ONNX types map
 * onto these names (`onnx_data_type.ts`).
 *
 * @module
 */

/** An element type of a stored tensor. */
export type DType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "F8_E4M3"
  | "F8_E5M2"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

/** Bytes per element of each dtype. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const satisfies Record<DType, number>;

/**
 * Whether `value` names a dtype.
 *
 * @param value Any value.
 * @returns `true` for one of the `DType` names.
 *
 * @example
 * ```ts
 * import { isDType } from "./dtype.ts";
 * if (!isDType("BF16") || isDType("F128")) throw new Error("unexpected");
 * ```
 */
export function isDType(value: unknown): value is DType {
  return typeof value === "string" && Object.hasOwn(DTYPE_BYTES, value);
}

/**
 * The number of elements of a shape, or `undefined` when a dim is not a non-negative safe
 * integer or the product exceeds `Number.MAX_SAFE_INTEGER`.
 *
 * @param shape The dims.
 * @returns The element count (1 for a scalar), or `undefined`.
 *
 * @example
 * ```ts
 * import { elementCount } from "./dtype.ts";
 * if (elementCount([2, 3]) !== 6 || elementCount([2 ** 40, 2 ** 40]) !== undefined) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function elementCount(shape: readonly unknown[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return undefined;
  }
  return n;
}
