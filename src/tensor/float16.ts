/**
 * Bit-level conversions between float32 and the 16-bit formats IEEE binary16 (f16) and
 * bfloat16 (bf16). Every function works on bit patterns held in numbers, so NaN payloads and
 * signs survive exactly. The array conversions are the plain-TypeScript twins of the `Kernels`
 * methods of the same names (which `src/kernels/reference.ts` builds on).
 *
 * @module
 */

import { roundHalfEven } from "./round_half_even.ts";

const SCRATCH_BITS = new Uint32Array(1);
const SCRATCH_FLOAT = new Float32Array(SCRATCH_BITS.buffer);

/** The float32 bits of a float32-representable number. */
function float32Bits(value: number): number {
  SCRATCH_FLOAT[0] = value;
  return SCRATCH_BITS[0];
}

/** The number held by float32 bits. */
function float32Value(bits: number): number {
  SCRATCH_BITS[0] = bits;
  return SCRATCH_FLOAT[0];
}

/**
 * The float32 bits of the f16 with bits `h` (exact: every f16 is a float32).
 *
 * @param h The f16 bit pattern (0..0xffff).
 * @returns The float32 bit pattern, unsigned.
 *
 * @example
 * ```ts
 * import { f16BitsToF32Bits } from "./float16.ts";
 * if (f16BitsToF32Bits(0x3c00) !== 0x3f800000) throw new Error("unexpected");
 * ```
 */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) {
    // Infinity (mantissa 0) or NaN: same sign and payload, widened.
    return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  }
  const magnitude = exponent === 0
    ? mantissa * 2 ** -24 // subnormal: 0.mantissa * 2^-14
    : (1024 + mantissa) * 2 ** (exponent - 25); // normal: 1.mantissa * 2^(exponent - 15)
  return (sign | float32Bits(magnitude)) >>> 0;
}

/**
 * The f16 bits nearest to the float32 with bits `bits` (ties to even), ±Infinity on overflow,
 * a quiet NaN that keeps the sign and top payload bits for NaN.
 *
 * @param bits The float32 bit pattern, unsigned.
 * @returns The f16 bit pattern.
 *
 * @example
 * ```ts
 * import { f32BitsToF16Bits } from "./float16.ts";
 * if (f32BitsToF16Bits(0x3f800000) !== 0x3c00) throw new Error("unexpected");
 * ```
 */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const magnitude = Math.abs(float32Value(bits));
  if (magnitude < 2 ** -14) {
    // f16 subnormal range: count units of 2^-24 (a result of 1024 is the smallest normal).
    return sign | roundHalfEven(magnitude * 2 ** 24);
  }
  const e = exponent - 127; // magnitude is a normal float32 here, in [2^e, 2^(e+1))
  if (e > 15) return sign | 0x7c00;
  const fraction = roundHalfEven((magnitude / 2 ** e - 1) * 1024); // 0..1024, exact arithmetic
  // A fraction of 1024 carries into the exponent (up to Infinity, 0x7c00, past 65504).
  return sign | (((e + 15) << 10) + fraction);
}

/**
 * The float32 bits of the bf16 with bits `b` (exact: bf16 is the top half of a float32).
 *
 * @param b The bf16 bit pattern (0..0xffff).
 * @returns The float32 bit pattern, unsigned.
 *
 * @example
 * ```ts
 * import { bf16BitsToF32Bits } from "./float16.ts";
 * if (bf16BitsToF32Bits(0x3f80) !== 0x3f800000) throw new Error("unexpected");
 * ```
 */
export function bf16BitsToF32Bits(b: number): number {
  return (b << 16) >>> 0;
}

/**
 * The bf16 bits nearest to the float32 with bits `bits` (ties to even; the carry of rounding
 * up reaches ±Infinity on overflow), a quiet NaN that keeps the sign and top payload bits for
 * NaN.
 *
 * @param bits The float32 bit pattern, unsigned.
 * @returns The bf16 bit pattern.
 *
 * @example
 * ```ts
 * import { f32BitsToBf16Bits } from "./float16.ts";
 * if (f32BitsToBf16Bits(0x3f808000) !== 0x3f80) throw new Error("unexpected"); // tie to even
 * ```
 */
export function f32BitsToBf16Bits(bits: number): number {
  const upper = bits >>> 16;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return upper | 0x0040;
  const lower = bits & 0xffff;
  const roundUp = lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1);
  return roundUp ? upper + 1 : upper;
}

const bitsOf = (values: Float32Array) =>
  new Uint32Array(values.buffer, values.byteOffset, values.length);

/**
 * Widens f16 bit patterns to float32 values (exact).
 *
 * @param bits The f16 bit patterns.
 * @returns A new array, one value per element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f16ToF32 } from "./float16.ts";
 * assert.deepEqual([...f16ToF32(new Uint16Array([0x3c00, 0xc000, 0x7c00]))], [1, -2, Infinity]);
 * ```
 */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const values = new Float32Array(bits.length);
  const out = bitsOf(values);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToF32Bits(bits[i]);
  return values;
}

/**
 * Rounds float32 values to f16 bit patterns (ties to even, ±Infinity on overflow).
 *
 * @param data The values.
 * @returns A new array of bit patterns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToF16 } from "./float16.ts";
 * assert.deepEqual([...f32ToF16(new Float32Array([1, 65520]))], [0x3c00, 0x7c00]);
 * ```
 */
export function f32ToF16(data: Float32Array): Uint16Array {
  const input = bitsOf(data);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < input.length; i++) out[i] = f32BitsToF16Bits(input[i]);
  return out;
}

/**
 * Widens bf16 bit patterns to float32 values (exact).
 *
 * @param bits The bf16 bit patterns.
 * @returns A new array, one value per element.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bf16ToF32 } from "./float16.ts";
 * assert.deepEqual([...bf16ToF32(new Uint16Array([0x3f80, 0xc000]))], [1, -2]);
 * ```
 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const values = new Float32Array(bits.length);
  const out = bitsOf(values);
  for (let i = 0; i < bits.length; i++) out[i] = bf16BitsToF32Bits(bits[i]);
  return values;
}

/**
 * Rounds float32 values to bf16 bit patterns (ties to even).
 *
 * @param data The values.
 * @returns A new array of bit patterns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32ToBf16 } from "./float16.ts";
 * assert.deepEqual([...f32ToBf16(new Float32Array([1, -2]))], [0x3f80, 0xc000]);
 * ```
 */
export function f32ToBf16(data: Float32Array): Uint16Array {
  const input = bitsOf(data);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < input.length; i++) out[i] = f32BitsToBf16Bits(input[i]);
  return out;
}
