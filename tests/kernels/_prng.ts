/**
 * A tiny seeded PRNG and deterministic test data, shared by the conformance suite and the
 * dependency-free browser subset.
 *
 * @module
 */

/** The float32 values that kernels most often get wrong, as bit patterns. */
export const SPECIAL_BITS: readonly number[] = [
  0x7fc00000, // NaN
  0xffc00001, // negative NaN with a payload
  0x7f800001, // signalling NaN
  0x80000000, // -0
  0x00000000, // +0
  0x7f800000, // +Infinity
  0xff800000, // -Infinity
  0x00000001, // smallest subnormal
  0x80000001, // its negative
  0x007fffff, // largest subnormal
  0x00800000, // smallest normal
  0x7f7fffff, // largest finite
  0xff7fffff, // its negative
  0x3f800000, // 1
  0xbf800000, // -1
  0x3f000000, // 0.5
];

/**
 * The mulberry32 generator: a function returning uint32 values, the same sequence for a seed
 * on every runtime.
 *
 * @param seed Any integer.
 * @returns The next-value function.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The kinds of generated data. */
export type Palette = "bits" | "ties" | "uniform" | "specials" | "mixed";

/** The palettes, in a fixed order. */
export const PALETTES: readonly Palette[] = ["bits", "ties", "uniform", "specials", "mixed"];

const SCRATCH = new Float32Array(1);
const SCRATCH_BITS = new Uint32Array(SCRATCH.buffer);

/** One value's bits from a palette. */
function nextBits(palette: Palette, next: () => number): number {
  switch (palette) {
    case "bits": // any pattern: every exponent, NaN payloads, subnormals
      return next();
    case "ties": // few distinct values: many ties, both zeros, some NaN
      SCRATCH[0] = [-2, -1, -0, 0, 1, 2, 3, NaN][next() % 8];
      return SCRATCH_BITS[0];
    case "uniform": // ordinary values in [-1, 1)
      SCRATCH[0] = next() / 2 ** 31 - 1;
      return SCRATCH_BITS[0];
    case "specials":
      return SPECIAL_BITS[next() % SPECIAL_BITS.length];
    case "mixed": {
      const kinds: Palette[] = ["bits", "ties", "uniform", "specials"];
      return nextBits(kinds[next() % 4], next);
    }
  }
}

/**
 * A deterministic Float32Array of `length` values from `palette`, built from bit patterns so
 * NaN payloads survive. With `offset > 0` it is a view that starts inside a larger buffer.
 *
 * @param length Number of elements.
 * @param seed PRNG seed.
 * @param palette Kind of values.
 * @param offset Elements of padding before the view (and one after).
 * @returns The data.
 */
export function randomFloat32Array(
  length: number,
  seed: number,
  palette: Palette,
  offset = 0,
): Float32Array {
  const next = mulberry32(seed);
  const bits = new Uint32Array(length + offset + (offset > 0 ? 1 : 0));
  for (let i = 0; i < length; i++) bits[offset + i] = nextBits(palette, next);
  return new Float32Array(bits.buffer, offset * 4, length);
}

/** The bits of a Float32Array, as a plain array (for exact comparisons). */
export function bitsOf(data: Float32Array): number[] {
  return [...new Uint32Array(data.buffer, data.byteOffset, data.length)];
}

/** `Object.is`, except that every NaN equals every other NaN. */
export function sameFloat(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}
