/**
 * Bit packing of 0/1 masks: bit i of byte j is element 8j + i (NumPy's `packbits(...,
 * bitorder="little")`, the oracle's `bits_b64`).
 *
 * @module
 */

/** Packs a 0/1 mask into bits, element 8j + i at bit i of byte j. */
export function packBits(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  const whole = mask.length >> 3;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    out[j] = (mask[i] ? 1 : 0) | (mask[i + 1] ? 2 : 0) | (mask[i + 2] ? 4 : 0) |
      (mask[i + 3] ? 8 : 0) | (mask[i + 4] ? 16 : 0) | (mask[i + 5] ? 32 : 0) |
      (mask[i + 6] ? 64 : 0) | (mask[i + 7] ? 128 : 0);
  }
  for (let i = whole << 3; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/** Unpacks `n` elements of a bit-packed mask into one 0/1 byte each. */
export function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bits[i >> 3] >> (i & 7)) & 1;
  return out;
}
