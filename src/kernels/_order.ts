/**
 * The order-preserving key of a float32 value: an unsigned 32-bit integer whose integer order
 * is the value order of the kernels (IEEE order, -0 equal to +0, every NaN equal to every other
 * NaN and larger than +Infinity).
 *
 * @module
 */

/** The bits of the canonical NaN that every NaN maps to. */
const CANONICAL_NAN_BITS = 0x7fc00000;

/**
 * The order key of the float32 with bits `bits`. Positive values get the sign bit set (so they
 * sort above negatives); negative values get all bits flipped (so larger magnitudes sort
 * lower). -0 is first turned into +0 and every NaN into one positive quiet NaN.
 *
 * @param bits The float32 bit pattern, as an unsigned 32-bit integer.
 * @returns The key, an unsigned 32-bit integer.
 */
export function orderKey(bits: number): number {
  if (bits === 0x80000000) bits = 0; // -0 -> +0
  else if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    bits = CANONICAL_NAN_BITS;
  }
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/**
 * The float32 value of an order key (the inverse of `orderKey` on canonical values: zeros come
 * back as +0 and NaNs as NaN).
 *
 * @param key An order key.
 * @returns The float32 value, as a number.
 */
export function keyToValue(key: number): number {
  const bits = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  SCRATCH_BITS[0] = bits;
  return SCRATCH_FLOAT[0];
}

/**
 * The order keys of every element of `data`, read from its bits.
 *
 * @param data The values.
 * @returns One key per element.
 */
export function orderKeys(data: Float32Array): Uint32Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const keys = new Uint32Array(data.length);
  for (let i = 0; i < bits.length; i++) keys[i] = orderKey(bits[i]);
  return keys;
}

const SCRATCH_BITS = new Uint32Array(1);
const SCRATCH_FLOAT = new Float32Array(SCRATCH_BITS.buffer);
