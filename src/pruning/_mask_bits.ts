/**
 * Bit packing of 0/1 masks: bit i of byte j is element 8j + i (NumPy's `packbits(...,
 * bitorder="little")`, the oracle's `bits_b64`).
 *
 * @module
 */

/**
 * Packs a 0/1 mask into bits, element 8j + i at bit i of byte j (any non-zero byte counts as 1).
 * Eight 0/1 bytes read as two little-endian words are packed by a multiplication each (the
 * bytes land summed, without carries, in the top byte); other values take the byte-wise loop.
 */
export function packBits(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 8));
  let whole = mask.length >> 3;
  if (LITTLE_ENDIAN && mask.byteOffset % 4 === 0) {
    const words = new Uint32Array(mask.buffer, mask.byteOffset, whole * 2);
    let j = 0;
    for (; j < whole; j++) {
      const lo = words[2 * j];
      const hi = words[2 * j + 1];
      if (((lo | hi) & 0xfefefefe) !== 0) break;
      out[j] = (Math.imul(lo, 0x01020408) >>> 24) | ((Math.imul(hi, 0x01020408) >>> 24) << 4);
    }
    if (j === whole) whole = 0;
    else {
      for (let i = j << 3; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
      return out;
    }
    for (let i = (mask.length >> 3) << 3; i < mask.length; i++) {
      if (mask[i]) out[i >> 3] |= 1 << (i & 7);
    }
    return out;
  }
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    out[j] = (mask[i] ? 1 : 0) | (mask[i + 1] ? 2 : 0) | (mask[i + 2] ? 4 : 0) |
      (mask[i + 3] ? 8 : 0) | (mask[i + 4] ? 16 : 0) | (mask[i + 5] ? 32 : 0) |
      (mask[i + 6] ? 64 : 0) | (mask[i + 7] ? 128 : 0);
  }
  for (let i = whole << 3; i < mask.length; i++) if (mask[i]) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/** Whether typed arrays are little-endian here. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Each byte's 8 bits as 8 bytes of 0/1, in two little-endian words (low 4, high 4). */
const SPREAD = (() => {
  const t = new Uint32Array(512);
  for (let b = 0; b < 256; b++) {
    for (let i = 0; i < 8; i++) if ((b >> i) & 1) t[2 * b + (i >> 2)] |= 1 << ((i & 3) * 8);
  }
  return t;
})();

/** Unpacks `n` elements of a bit-packed mask into one 0/1 byte each. */
export function unpackBits(bits: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const whole = n >> 3;
  if (LITTLE_ENDIAN) {
    const words = new Uint32Array(out.buffer, 0, whole * 2);
    for (let j = 0; j < whole; j++) {
      const b = bits[j];
      words[2 * j] = SPREAD[2 * b];
      words[2 * j + 1] = SPREAD[2 * b + 1];
    }
  } else {
    for (let i = 0; i < whole << 3; i++) out[i] = (bits[i >> 3] >> (i & 7)) & 1;
  }
  for (let i = whole << 3; i < n; i++) out[i] = (bits[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** The number of set bits among the first `n` of a bit-packed mask. */
export function countBits(bits: Uint8Array, n: number): number {
  let count = 0;
  const whole = n >> 3;
  for (let j = 0; j < whole; j++) {
    let b = bits[j];
    b = b - ((b >> 1) & 0x55);
    b = (b & 0x33) + ((b >> 2) & 0x33);
    count += (b + (b >> 4)) & 0x0f;
  }
  for (let i = whole << 3; i < n; i++) count += (bits[i >> 3] >> (i & 7)) & 1;
  return count;
}
