/**
 * Element-wise magnitude pruning on a tensor's stored bytes (F32, F16, BF16, little-endian): the
 * mask of the `k` smallest `|w|` found from the value bits, and the mask applied in place. With
 * the sign bit cleared, the bits of a finite IEEE float are an integer whose order is the order
 * of `|w|` (both zeros give 0), so neither a metric array nor a float conversion is needed: the
 * selection is a radix select over those integers (one 32,768-bin histogram pass for the 16-bit
 * types; two passes, high then low 16 bits, for float32), then one pass writes the mask as bits.
 * The results are those of `kSmallestMask` on the `|w|` metric (`parameterMetric` with a
 * level, l1 or l2 pruner on element-wise blocks) and of `applyTargetMask` (`mul`) followed by
 * `toFileBytes`, byte for byte, ties included (the lower index is pruned first).
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";
import type { DType } from "../tensor/dtype.ts";
import { unpackBits } from "./_mask_bits.ts";

/** Whether typed arrays are little-endian here (as safetensors stores numbers). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The stored dtypes these functions read: the value bits give `|w|` order. */
const WIDTHS: Partial<Record<DType, { bytes: 2 | 4; infinity: number }>> = {
  F32: { bytes: 4, infinity: 0x7f800000 },
  F16: { bytes: 2, infinity: 0x7c00 },
  BF16: { bytes: 2, infinity: 0x7f80 },
};

/** Histogram bins, reused from call to call (a tensor's selection allocates nothing else). */
const HIGH = new Uint32Array(32768);
const LOW = new Uint32Array(65536);

/** Elements masked at a time by the kernels when a group of values holds a non-finite one. */
const FALLBACK_CHUNK = 65536;

/**
 * Whether `bytes` of `dtype` can be read by `smallestMagnitudeBits` and `maskStoredInPlace`: F32
 * (4-byte aligned), F16 or BF16 (2-byte aligned), on a little-endian host.
 *
 * @param bytes The stored bytes.
 * @param dtype Their dtype.
 * @returns Whether they can.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { storedMagnitudeReadable } from "./stored_magnitude.ts";
 *
 * assert.equal(storedMagnitudeReadable(new Uint8Array(8), "F32"), true);
 * assert.equal(storedMagnitudeReadable(new Uint8Array(8).subarray(1, 5), "F32"), false);
 * assert.equal(storedMagnitudeReadable(new Uint8Array(8), "I8"), false);
 * ```
 */
export function storedMagnitudeReadable(bytes: Uint8Array, dtype: DType): boolean {
  const w = WIDTHS[dtype];
  return w !== undefined && LITTLE_ENDIAN && bytes.byteOffset % w.bytes === 0 &&
    bytes.byteLength % w.bytes === 0;
}

/**
 * The stored values as integers of their width: float32 bits as signed 32-bit integers (a
 * `Uint32Array` element with the sign bit set is not a small integer to V8, and its loops ran
 * several times slower on them), 16-bit ones unsigned.
 */
function wordsOf(bytes: Uint8Array, width: 2 | 4): Int32Array | Uint16Array {
  return width === 4
    ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
    : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
}

/** Throws for bytes `storedMagnitudeReadable` refuses. */
function widthOf(bytes: Uint8Array, dtype: DType): { bytes: 2 | 4; infinity: number } {
  if (!storedMagnitudeReadable(bytes, dtype)) {
    throw new TypeError(
      `"bytes" must be aligned F32, F16 or BF16 values on a little-endian host: current dtype is ${dtype}, byte offset ${bytes.byteOffset}, length ${bytes.byteLength}`,
    );
  }
  return WIDTHS[dtype]!;
}

/**
 * The mask that prunes the `k` smallest `|w|` of a tensor's stored values, as bits (bit `i % 8`
 * of byte `i >> 3` is element `i`, 1 keeps; the bits past the last element are 0, as `packBits`
 * leaves them): among equal magnitudes the lower index is pruned first, and -0 equals +0 — the
 * mask `kSmallestMask` gives for the `|w|` metric. Returns `undefined` when a value is NaN or
 * infinite (no metric can rank it: the caller reports it, as `parameterMetric` does).
 *
 * @param bytes The stored values (`storedMagnitudeReadable`).
 * @param dtype F32, F16 or BF16.
 * @param k How many to prune, an integer in [0, elements].
 * @returns The bits, or `undefined` for a non-finite value.
 * @throws {TypeError} For bytes `storedMagnitudeReadable` refuses.
 * @throws {RangeError} For `k` outside [0, elements].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { smallestMagnitudeBits } from "./stored_magnitude.ts";
 *
 * const w = new Float32Array([0.5, -3, 2, -0.5, 0, 1]);
 * const bits = smallestMagnitudeBits(new Uint8Array(w.buffer), "F32", 3)!;
 * // Pruned: 0 (element 4), then the tied 0.5 and -0.5 (elements 0 and 3).
 * assert.deepEqual([...bits], [0b100110]);
 * assert.equal(smallestMagnitudeBits(new Uint8Array(new Float32Array([1, NaN]).buffer), "F32", 1), undefined);
 * ```
 */
export function smallestMagnitudeBits(
  bytes: Uint8Array,
  dtype: DType,
  k: number,
): Uint8Array | undefined {
  return selectSmallest(bytes, dtype, k, false);
}

/**
 * `smallestMagnitudeBits` then `maskStoredInPlace` with its bits, in one pass after the
 * histograms: the same bits, the same masked bytes and the same zero counts, with the values
 * read three times instead of four (the mask is applied to each group of eight as its bits are
 * made). `undefined` when a value is NaN or infinite, the bytes then unchanged.
 *
 * @param bytes The stored values (`storedMagnitudeReadable`), masked in place.
 * @param dtype F32, F16 or BF16.
 * @param k How many to prune, an integer in [0, elements].
 * @returns The bits and the zeros before and after, or `undefined` for a non-finite value.
 * @throws {TypeError} For bytes `storedMagnitudeReadable` refuses.
 * @throws {RangeError} For `k` outside [0, elements].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskSmallestMagnitude } from "./stored_magnitude.ts";
 *
 * const w = new Float32Array([0.5, -3, 2, -0.5, 0, 1]);
 * const r = maskSmallestMagnitude(new Uint8Array(w.buffer), "F32", 3)!;
 * assert.deepEqual([...r.bits], [0b100110]);
 * assert.deepEqual([...w].map((x) => Object.is(x, -0) ? "-0" : x), [0, -3, 2, "-0", 0, 1]);
 * assert.deepEqual([r.zerosBefore, r.zerosAfter], [1, 3]);
 * ```
 */
export function maskSmallestMagnitude(
  bytes: Uint8Array,
  dtype: DType,
  k: number,
): (StoredMaskCounts & { readonly bits: Uint8Array }) | undefined {
  const bits = selectSmallest(bytes, dtype, k, true);
  return bits === undefined ? undefined : { bits, zerosBefore: COUNTS[0], zerosAfter: COUNTS[1] };
}

/** The selection of both: with `apply`, the values are masked too and `COUNTS` set. */
function selectSmallest(
  bytes: Uint8Array,
  dtype: DType,
  k: number,
  apply: boolean,
): Uint8Array | undefined {
  const { bytes: width, infinity } = widthOf(bytes, dtype);
  const words = wordsOf(bytes, width);
  const n = words.length;
  if (!Number.isSafeInteger(k) || k < 0 || k > n) {
    throw new RangeError(`"k" must be an integer in [0, ${n}]: current value is ${k}`);
  }
  // Pass 1: every value is finite, and the histogram of the high key bits (all of a 16-bit key).
  const finite = width === 4
    ? highHistogram32(words as Int32Array)
    : highHistogram16(words as Uint16Array, infinity);
  if (!finite) return undefined;
  const bits = new Uint8Array(Math.ceil(n / 8));
  if (apply && (k === 0 || k === n)) {
    // Every key is above -1 (all kept) or below 0x7fffffff (all pruned), with no ties.
    const cut = k === 0 ? -1 : 0x7fffffff;
    if (width === 4) applyCut32(words as Int32Array, cut, 0, bits);
    else applyCut16(words as Uint16Array, cut, 0, bits);
    return bits;
  }
  if (k === 0) {
    bits.fill(0xff);
    if (n % 8 !== 0) bits[bits.length - 1] = (1 << (n % 8)) - 1;
    return bits;
  }
  if (k === n) return bits;
  // The key of rank k - 1 and how many of its copies are pruned (the first in index order).
  const rank = k - 1;
  let below = 0;
  let high = 0;
  while (below + HIGH[high] <= rank) below += HIGH[high++];
  let cut = high;
  if (width === 4) {
    lowHistogram32(words as Int32Array, high);
    let low = 0;
    while (below + LOW[low] <= rank) below += LOW[low++];
    cut = (high << 16) | low;
  }
  if (apply) {
    if (width === 4) applyCut32(words as Int32Array, cut, k - below, bits);
    else applyCut16(words as Uint16Array, cut, k - below, bits);
  } else if (width === 4) writeMask32(words as Int32Array, cut, k - below, bits);
  else writeMask16(words as Uint16Array, cut, k - below, bits);
  return bits;
}

// The passes, one function per width with its constants written out: V8 keeps them in 32-bit
// integer arithmetic (constants above 2^30 read from a variable made it use doubles, 7x slower).

/** `HIGH` counts the high 16 bits of each |w| key; false when a value is not finite. */
function highHistogram32(words: Int32Array): boolean {
  HIGH.fill(0);
  let bad = 0;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    bad |= 0x7f7fffff - m;
    HIGH[m >>> 16]++;
  }
  return bad >= 0;
}

/** `HIGH` counts each 15-bit |w| key; false when a value is not finite (`infinity`'s key). */
function highHistogram16(words: Uint16Array, infinity: number): boolean {
  HIGH.fill(0);
  const limit = infinity - 1;
  let bad = 0;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fff;
    bad |= limit - m;
    HIGH[m]++;
  }
  return bad >= 0;
}

/** `LOW` counts the low 16 bits of the keys whose high bits are `high`. */
function lowHistogram32(words: Int32Array, high: number): void {
  LOW.fill(0);
  for (let i = 0; i < words.length; i++) {
    const m = words[i] & 0x7fffffff;
    if (m >>> 16 === high) LOW[m & 0xffff]++;
  }
}

/** Keeps keys above `cut`, and those equal to it after the first `ties`. */
function writeMask32(words: Int32Array, cut: number, ties: number, bits: Uint8Array): void {
  const n = words.length;
  const whole = n >>> 3;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    // Without branches (the keys are in random order): keep above the cut; note the ties.
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fffffff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fffffff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
  }
  for (let i = whole << 3; i < n; i++) {
    const m = words[i] & 0x7fffffff;
    if (m > cut || (m === cut && ties-- <= 0)) bits[i >> 3] |= 1 << (i & 7);
  }
}

/** `writeMask32` for 16-bit values. */
function writeMask16(words: Uint16Array, cut: number, ties: number, bits: Uint8Array): void {
  const n = words.length;
  const whole = n >>> 3;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    // Without branches (the keys are in random order): keep above the cut; note the ties.
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
  }
  for (let i = whole << 3; i < n; i++) {
    const m = words[i] & 0x7fff;
    if (m > cut || (m === cut && ties-- <= 0)) bits[i >> 3] |= 1 << (i & 7);
  }
}

/**
 * `writeMask32` and `maskGroups32` in one pass over finite values: each group of eight gets its
 * bits, then is masked (a pruned value keeps its sign bit) and its zeros counted into `COUNTS`.
 */
function applyCut32(words: Int32Array, cut: number, ties: number, bits: Uint8Array): void {
  const n = words.length;
  const whole = n >>> 3;
  let zerosBefore = 0;
  let zerosAfter = 0;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fffffff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fffffff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fffffff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | -0x80000000);
    }
  }
  for (let i = whole << 3; i < n; i++) {
    const x = words[i];
    const m = x & 0x7fffffff;
    const kept = m > cut || (m === cut && ties-- <= 0) ? 1 : 0;
    if (kept === 1) bits[i >> 3] |= 1 << (i & 7);
    const zero = m === 0 ? 1 : 0;
    zerosBefore += zero;
    zerosAfter += zero | (kept ^ 1);
    words[i] = x & (-kept | -0x80000000);
  }
  COUNTS[0] = zerosBefore;
  COUNTS[1] = zerosAfter;
}

/** `applyCut32` for 16-bit values. */
function applyCut16(words: Uint16Array, cut: number, ties: number, bits: Uint8Array): void {
  const n = words.length;
  const whole = n >>> 3;
  let zerosBefore = 0;
  let zerosAfter = 0;
  for (let j = 0; j < whole; j++) {
    const i = j << 3;
    let b = 0;
    let tie = 0;
    for (let q = 0; q < 8; q++) {
      const m = words[i + q] & 0x7fff;
      b |= ((cut - m) >>> 31) << q;
      tie |= ((m ^ cut) - 1) >>> 31;
    }
    if (tie !== 0) {
      for (let q = 0; q < 8; q++) {
        if ((words[i + q] & 0x7fff) !== cut) continue;
        if (ties > 0) ties--;
        else b |= 1 << q;
      }
    }
    bits[j] = b;
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | 0x8000);
    }
  }
  for (let i = whole << 3; i < n; i++) {
    const x = words[i];
    const m = x & 0x7fff;
    const kept = m > cut || (m === cut && ties-- <= 0) ? 1 : 0;
    if (kept === 1) bits[i >> 3] |= 1 << (i & 7);
    const zero = m === 0 ? 1 : 0;
    zerosBefore += zero;
    zerosAfter += zero | (kept ^ 1);
    words[i] = x & (-kept | 0x8000);
  }
  COUNTS[0] = zerosBefore;
  COUNTS[1] = zerosAfter;
}

/** Zeros (+0 and -0) before and after masking. */
export interface StoredMaskCounts {
  readonly zerosBefore: number;
  readonly zerosAfter: number;
}

/**
 * Applies an element-wise mask given as bits to a tensor's stored values, in place: a pruned
 * value keeps only its sign (`x * 0` is `±0`), a kept one is unchanged — the bytes
 * `applyTargetMask` (`mul`) then `toFileBytes` give. A group of eight values holding a NaN or an
 * infinity is masked, with what follows it up to 65,536 values, by the kernels themselves
 * (decoded, `applyMask`, encoded), so those bytes match too. Counts the zeros before and after.
 *
 * @param bytes The stored values (`storedMagnitudeReadable`), changed in place.
 * @param dtype F32, F16 or BF16.
 * @param bits The mask, bit `i % 8` of byte `i >> 3` for element `i` (1 keeps).
 * @param kernels The kernels of the values that are not finite.
 * @returns The zeros before and after.
 * @throws {TypeError} For bytes `storedMagnitudeReadable` refuses.
 * @throws {RangeError} When `bits` holds fewer bits than there are values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernels } from "../kernels/default.ts";
 * import { maskStoredInPlace } from "./stored_magnitude.ts";
 *
 * const w = new Float32Array([0.5, -3, 2, -0.5, 0, 1]);
 * const counts = maskStoredInPlace(new Uint8Array(w.buffer), "F32", new Uint8Array([0b100110]), getKernels());
 * assert.deepEqual([...w].map((x) => Object.is(x, -0) ? "-0" : x), [0, -3, 2, "-0", 0, 1]);
 * assert.deepEqual(counts, { zerosBefore: 1, zerosAfter: 3 });
 * ```
 */
export function maskStoredInPlace(
  bytes: Uint8Array,
  dtype: DType,
  bits: Uint8Array,
  kernels: Pick<Kernels, "applyMask" | "f16ToF32" | "f32ToF16" | "bf16ToF32" | "f32ToBf16">,
): StoredMaskCounts {
  const { bytes: width, infinity } = widthOf(bytes, dtype);
  const words = wordsOf(bytes, width);
  const n = words.length;
  if (bits.length * 8 < n) {
    throw new RangeError(`"bits" must hold ${n} bits: current length is ${bits.length} bytes`);
  }
  COUNTS.fill(0);
  const whole = (n >>> 3) << 3;
  let at = 0;
  for (;;) {
    at = width === 4
      ? maskGroups32(words as Int32Array, bits, at)
      : maskGroups16(words as Uint16Array, bits, at, infinity - 1);
    if (at >= whole) break;
    // A group with a NaN or an infinity: the kernels mask it and what follows, up to a chunk.
    const end = Math.min(n, at + FALLBACK_CHUNK);
    const c = maskByKernels(words, dtype, at, end, bits, kernels);
    COUNTS[0] += c.zerosBefore;
    COUNTS[1] += c.zerosAfter;
    at = end;
  }
  if (at < n) {
    const c = maskByKernels(words, dtype, at, n, bits, kernels);
    COUNTS[0] += c.zerosBefore;
    COUNTS[1] += c.zerosAfter;
  }
  return { zerosBefore: COUNTS[0], zerosAfter: COUNTS[1] };
}

/** Zeros before and after, counted by the group functions. */
const COUNTS = new Float64Array(2);

/**
 * Masks whole groups of 8 values from `start` (a multiple of 8) while every value of a group is
 * finite, without branches on the mask (random to the branch predictor): a pruned value keeps
 * its sign bit, a kept one all its bits. Adds the zeros to `COUNTS`; returns where it stopped.
 */
function maskGroups32(words: Int32Array, bits: Uint8Array, start: number): number {
  const whole = words.length >>> 3;
  let zerosBefore = 0;
  let zerosAfter = 0;
  let j = start >>> 3;
  for (; j < whole; j++) {
    const i = j << 3;
    let bad = 0;
    for (let q = 0; q < 8; q++) bad |= 0x7f7fffff - (words[i + q] & 0x7fffffff);
    if (bad < 0) break;
    const b = bits[j];
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fffffff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | -0x80000000);
    }
  }
  COUNTS[0] += zerosBefore;
  COUNTS[1] += zerosAfter;
  return j << 3;
}

/** `maskGroups32` for 16-bit values (`limit`: the largest finite key). */
function maskGroups16(words: Uint16Array, bits: Uint8Array, start: number, limit: number): number {
  const whole = words.length >>> 3;
  let zerosBefore = 0;
  let zerosAfter = 0;
  let j = start >>> 3;
  for (; j < whole; j++) {
    const i = j << 3;
    let bad = 0;
    for (let q = 0; q < 8; q++) bad |= limit - (words[i + q] & 0x7fff);
    if (bad < 0) break;
    const b = bits[j];
    for (let q = 0; q < 8; q++) {
      const x = words[i + q];
      const zero = ((x & 0x7fff) - 1) >>> 31;
      const kept = (b >> q) & 1;
      zerosBefore += zero;
      zerosAfter += zero | (kept ^ 1);
      words[i + q] = x & (-kept | 0x8000);
    }
  }
  COUNTS[0] += zerosBefore;
  COUNTS[1] += zerosAfter;
  return j << 3;
}

/** Elements `[start, end)` (start a multiple of 8) masked as the general path does. */
function maskByKernels(
  words: Int32Array | Uint16Array,
  dtype: DType,
  start: number,
  end: number,
  bits: Uint8Array,
  kernels: Pick<Kernels, "applyMask" | "f16ToF32" | "f32ToF16" | "bf16ToF32" | "f32ToBf16">,
): StoredMaskCounts {
  const stored = words.subarray(start, end);
  const values = dtype === "F32"
    ? new Float32Array(stored.slice().buffer)
    : dtype === "F16"
    ? kernels.f16ToF32(stored as Uint16Array)
    : kernels.bf16ToF32(stored as Uint16Array);
  const mask = unpackBits(bits.subarray(start >>> 3), end - start);
  const zerosBefore = zeros(values);
  const after = kernels.applyMask(values, mask, "mul", values);
  const zerosAfter = zeros(after);
  if (dtype === "F32") stored.set(new Int32Array(after.buffer, after.byteOffset, after.length));
  else stored.set(dtype === "F16" ? kernels.f32ToF16(after) : kernels.f32ToBf16(after));
  return { zerosBefore, zerosAfter };
}

function zeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}
