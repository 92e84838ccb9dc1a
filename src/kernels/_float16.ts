/**
 * Bit-level conversions between float32 and the 16-bit formats IEEE binary16 (f16) and
 * bfloat16 (bf16). Every function works on bit patterns held in numbers, so NaN payloads and
 * signs survive exactly.
 *
 * @module
 */

import { roundHalfEven } from "./_round.ts";

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
 */
export function f32BitsToBf16Bits(bits: number): number {
  const upper = bits >>> 16;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return upper | 0x0040;
  const lower = bits & 0xffff;
  const roundUp = lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1);
  return roundUp ? upper + 1 : upper;
}
