/**
 * The 8-bit (and 4-bit) float formats of ONNX and their float32 values: FLOAT8E4M3FN
 * (safetensors `F8_E4M3`), FLOAT8E4M3FNUZ, FLOAT8E5M2 (`F8_E5M2`), FLOAT8E5M2FNUZ and
 * FLOAT4E2M1. Decoding goes through 256-entry tables; encoding rounds to the nearest code, ties
 * to the even code, and saturates like ONNX `Cast` with `saturate=1`.
 *
 * @module
 */

/** An ONNX 8-bit float format. */
export type Float8Format = "E4M3FN" | "E4M3FNUZ" | "E5M2" | "E5M2FNUZ";

/** Values of the codes of an OCP format (E4M3FN: no infinities, only S.1111.111 is NaN). */
function ocpTable(expBits: number, manBits: number, finiteOnly: boolean): Float32Array {
  const out = new Float32Array(256);
  const bias = (1 << (expBits - 1)) - 1;
  const expMax = (1 << expBits) - 1;
  for (let code = 0; code < 256; code++) {
    const sign = code & 0x80 ? -1 : 1;
    const e = (code >> manBits) & expMax;
    const m = code & ((1 << manBits) - 1);
    let v: number;
    if (finiteOnly) {
      v = e === expMax && m === (1 << manBits) - 1 ? NaN : 0;
    } else {
      v = e === expMax ? (m === 0 ? Infinity : NaN) : 0;
    }
    if (v === 0) {
      v = e === 0 ? m * 2 ** (1 - bias - manBits) : (1 + m / (1 << manBits)) * 2 ** (e - bias);
    }
    out[code] = sign * v;
  }
  return out;
}

/** Values of the codes of a FNUZ format: bias 2^(e-1), no infinities, 0x80 is the only NaN. */
function fnuzTable(expBits: number, manBits: number): Float32Array {
  const out = new Float32Array(256);
  const bias = 1 << (expBits - 1);
  for (let code = 0; code < 256; code++) {
    const e = (code >> manBits) & ((1 << expBits) - 1);
    const m = code & ((1 << manBits) - 1);
    const v = e === 0 ? m * 2 ** (1 - bias - manBits) : (1 + m / (1 << manBits)) * 2 ** (e - bias);
    out[code] = code === 0x80 ? NaN : code & 0x80 ? -v : v;
  }
  return out;
}

const TABLES = new Map<Float8Format, Float32Array>();
const BUILD: Record<Float8Format, () => Float32Array> = {
  E4M3FN: () => ocpTable(4, 3, true),
  E5M2: () => ocpTable(5, 2, false),
  E4M3FNUZ: () => fnuzTable(4, 3),
  E5M2FNUZ: () => fnuzTable(5, 2),
};

/**
 * The float32 values of the 256 codes of a format (do not modify the table).
 *
 * @param format The format.
 * @returns The values by code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { float8Table } from "./float8.ts";
 * assert.equal(float8Table("E4M3FN")[0x7e], 448);
 * assert.equal(float8Table("E5M2")[0x7c], Infinity);
 * assert.ok(Number.isNaN(float8Table("E4M3FNUZ")[0x80]));
 * ```
 */
export function float8Table(format: Float8Format): Float32Array {
  let t = TABLES.get(format);
  if (t === undefined) TABLES.set(format, t = BUILD[format]());
  return t;
}

/** Values of the 16 FLOAT4E2M1 codes (sign, 2 exponent bits with bias 1, 1 mantissa bit). */
export const F4E2M1: Float32Array = Float32Array.from(
  [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6],
);

/**
 * Decodes 8-bit float codes into float32 values.
 *
 * @param codes One code per element.
 * @param format The format.
 * @returns A new array of values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { float8ToF32 } from "./float8.ts";
 * assert.deepEqual([...float8ToF32(new Uint8Array([0x38, 0xb8]), "E4M3FN")], [1, -1]);
 * ```
 */
export function float8ToF32(codes: Uint8Array, format: Float8Format): Float32Array {
  const t = float8Table(format);
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = t[codes[i]];
  return out;
}

/** The NaN code of each format (positive sign where there is one). */
const NAN_CODE: Record<Float8Format, number> = {
  E4M3FN: 0x7f,
  E5M2: 0x7f,
  E4M3FNUZ: 0x80,
  E5M2FNUZ: 0x80,
};

/** The codes 0..0x7f of a format that are finite and non-negative, in value order. */
function positiveCodes(format: Float8Format): number[] {
  const t = float8Table(format);
  const codes: number[] = [];
  for (let c = 0; c < 0x80; c++) if (Number.isFinite(t[c])) codes.push(c);
  return codes.sort((a, b) => t[a] - t[b]);
}

const POSITIVE = new Map<Float8Format, number[]>();

/**
 * The code of a format nearest to a value: ties go to the even code (last mantissa bit 0),
 * magnitudes past the largest finite value saturate to it (ONNX `Cast` with `saturate=1`),
 * infinities stay infinite in E5M2 and saturate elsewhere, NaN becomes the format's NaN.
 * A negative zero is kept in the formats that have one.
 *
 * @param value The value.
 * @param format The format.
 * @returns The code (0..255).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToFloat8 } from "./float8.ts";
 * assert.equal(f32ToFloat8(1, "E4M3FN"), 0x38);
 * assert.equal(f32ToFloat8(1000, "E4M3FN"), 0x7e); // saturates to 448
 * assert.equal(f32ToFloat8(1.0625, "E4M3FN"), 0x38); // a tie, to the even code
 * assert.equal(f32ToFloat8(-Infinity, "E5M2"), 0xfc);
 * ```
 */
export function f32ToFloat8(value: number, format: Float8Format): number {
  if (Number.isNaN(value)) return NAN_CODE[format];
  const fnuz = format === "E4M3FNUZ" || format === "E5M2FNUZ";
  const sign = value < 0 || Object.is(value, -0) ? 0x80 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Infinity && format === "E5M2") return sign | 0x7c;
  let codes = POSITIVE.get(format);
  if (codes === undefined) POSITIVE.set(format, codes = positiveCodes(format));
  const t = float8Table(format);
  // The largest finite code not above the magnitude, by binary search.
  let lo = 0;
  let hi = codes.length - 1;
  if (magnitude >= t[codes[hi]]) return sign | codes[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[codes[mid]] <= magnitude) lo = mid;
    else hi = mid;
  }
  const below = t[codes[lo]];
  const above = t[codes[hi]];
  let code: number;
  if (magnitude - below < above - magnitude) code = codes[lo];
  else if (magnitude - below > above - magnitude) code = codes[hi];
  else code = (codes[lo] & 1) === 0 ? codes[lo] : codes[hi];
  // FNUZ formats have no negative zero: 0x80 is their NaN.
  if (code === 0 && fnuz) return 0;
  return sign | code;
}

/**
 * Encodes float32 values as 8-bit float codes (see `f32ToFloat8` for rounding and saturation).
 *
 * @param values The values.
 * @param format The format.
 * @returns A new array, one code per element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToFloat8Array, float8ToF32 } from "./float8.ts";
 * const codes = f32ToFloat8Array(new Float32Array([0.5, -3, 57344]), "E5M2");
 * assert.deepEqual([...float8ToF32(codes, "E5M2")], [0.5, -3, 57344]);
 * ```
 */
export function f32ToFloat8Array(values: Float32Array, format: Float8Format): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToFloat8(values[i], format);
  return out;
}
