/**
 * Element-wise magnitude pruning on a tensor's stored bytes (F32, F16, BF16, little-endian): the
 * mask of the `k` smallest `|w|` found from the value bits, and the mask applied in place. With
 * the sign bit cleared, the bits of a finite IEEE float are an integer whose order is the order
 * of `|w|` (both zeros give 0), so neither a metric array nor a float conversion is needed: the
 * selection is a radix select over those integers (one 32,768-bin histogram pass for the 16-bit
 * types; two passes, high then low 16 bits, for float32), then one pass writes the mask as bits.
 * A tensor of 65,536 values or more first tries one pass instead of the histograms: a sample
 * places the cut in a band of keys, `magnitudeBand` counts the keys below the band and lists
 * those in it, and the histograms run on that list; when the cut is not in the band (a sample
 * unlike the tensor) or the band overflows its list, the histograms run after all, so the
 * result never depends on the sample (`_magnitude_band.ts`). The passes are the kernels'
 * (`magnitudeHighHistogram`, `magnitudeLowHistogram`, `magnitudeBand`, `magnitudeCut`:
 * WebAssembly SIMD by default; a whole 64 MiB tensor about 2x faster than in TypeScript). The
 * results are those of `kSmallestMask` on the `|w|` metric (`parameterMetric`
 * with a level, l1 or l2 pruner on element-wise blocks) and of `applyTargetMask` (`mul`)
 * followed by `toFileBytes`, byte for byte, ties included (the lower index is pruned first).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { DType } from "../tensor/dtype.ts";
import { BAND_FROM, bandCut, binOf, rankCut } from "./_magnitude_band.ts";
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
 * @param kernels The kernels whose magnitude passes run the selection (default: `getKernels()`,
 *   WebAssembly SIMD where it runs; the reference kernels give the same bits).
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
  kernels: Passes = getKernels(),
): Uint8Array | undefined {
  return selectSmallest(bytes, dtype, k, false, kernels);
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
 * @param kernels The kernels whose magnitude passes run the selection and the mask (default:
 *   `getKernels()`; the reference kernels give the same bits and bytes).
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
  kernels: Passes = getKernels(),
): (StoredMaskCounts & { readonly bits: Uint8Array }) | undefined {
  const bits = selectSmallest(bytes, dtype, k, true, kernels);
  return bits === undefined ? undefined : { bits, zerosBefore: STATE[1], zerosAfter: STATE[2] };
}

/**
 * `maskSmallestMagnitude` on a tensor read in pieces, never whole: the same bits, masked bytes
 * and zero counts, for a tensor as large as its file allows, in memory of one piece. Three
 * passes read the tensor (`read`, into `piece`): the high-bits histogram, the low bits of the
 * cut's bin (float32 only), then the cut, each piece masked and handed to `write` (whose
 * `bytes` are `piece`'s: write them before returning). On this machine a fresh 64 MiB buffer
 * costs about 0.2-0.3 s to fault in, more than two more reads of the tensor from the page cache
 * into a reused 1 MiB piece (a [4096, 4096] float32 weight, selected, masked and written: 100 ms
 * for the first in a process and 67-73 ms for the next, against 410 ms and 60-64 ms read whole;
 * docs/performance.md). `undefined`, with nothing written, when a value is NaN or infinite.
 *
 * @param read Reads bytes `[offset, offset + into.length)` of the stored tensor into `into`.
 * @param write Takes the masked bytes of `[offset, offset + bytes.length)`.
 * @param byteLength The stored tensor's bytes.
 * @param dtype F32, F16 or BF16.
 * @param k How many to prune, an integer in [0, elements].
 * @param piece The buffer pieces are read into: 4-byte aligned, a multiple of 32 bytes long.
 * @param kernels The kernels' magnitude passes (default: `getKernels()`).
 * @returns The bits and the zeros before and after, or `undefined` for a non-finite value.
 * @throws {TypeError} For a dtype other than F32, F16 or BF16, a byte length that is not a
 *   multiple of its width, a big-endian host, or an unfit `piece`.
 * @throws {RangeError} For `k` outside [0, elements].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maskSmallestMagnitudeInPieces } from "./stored_magnitude.ts";
 *
 * const w = new Float32Array([0.5, -3, 2, -0.5, 0, 1, 4, -0.25, 3, 0.75]);
 * const stored = new Uint8Array(w.buffer);
 * const out = new Uint8Array(stored.length);
 * const r = (await maskSmallestMagnitudeInPieces(
 *   (offset, into) => Promise.resolve(into.set(stored.subarray(offset, offset + into.length))),
 *   (offset, bytes) => Promise.resolve(out.set(bytes, offset)),
 *   stored.length,
 *   "F32",
 *   4,
 *   new Uint8Array(32),
 * ))!;
 * assert.deepEqual([...new Float32Array(out.buffer)], [0, -3, 2, -0, 0, 1, 4, -0, 3, 0.75]);
 * assert.deepEqual([...r.bits], [0b01100110, 0b11]);
 * assert.deepEqual([r.zerosBefore, r.zerosAfter], [1, 4]);
 * ```
 */
export async function maskSmallestMagnitudeInPieces(
  read: (offset: number, into: Uint8Array) => Promise<void>,
  write: (offset: number, bytes: Uint8Array) => Promise<void>,
  byteLength: number,
  dtype: DType,
  k: number,
  piece: Uint8Array,
  kernels: Passes = getKernels(),
): Promise<(StoredMaskCounts & { readonly bits: Uint8Array }) | undefined> {
  const type = WIDTHS[dtype];
  if (
    type === undefined || !LITTLE_ENDIAN || !Number.isSafeInteger(byteLength) || byteLength < 0 ||
    byteLength % type.bytes !== 0
  ) {
    throw new TypeError(
      `"byteLength" must be a whole number of F32, F16 or BF16 values on a little-endian host: current dtype is ${dtype}, byte length ${byteLength}`,
    );
  }
  const { bytes: width, infinity } = type;
  if (piece.byteOffset % 4 !== 0 || piece.length < 32 || piece.length % 32 !== 0) {
    throw new TypeError(
      `"piece" must be 4-byte aligned and a multiple of 32 bytes long: current byte offset ${piece.byteOffset}, length ${piece.length}`,
    );
  }
  const n = byteLength / width;
  if (!Number.isSafeInteger(k) || k < 0 || k > n) {
    throw new RangeError(`"k" must be an integer in [0, ${n}]: current value is ${k}`);
  }
  // This call's own bins and state: another selection on this thread may run between its reads.
  const high = new Uint32Array(32768);
  const state = new Uint32Array(3);
  const bits = new Uint8Array(Math.ceil(n / 8));
  const pass = async (
    visit: (words: Int32Array | Uint16Array, at: number, bytes: Uint8Array) => unknown,
  ) => {
    for (let at = 0; at < byteLength; at += piece.length) {
      const bytes = piece.subarray(0, Math.min(piece.length, byteLength - at));
      await read(at, bytes);
      if (await visit(wordsOf(bytes, width), at, bytes) === false) return false;
    }
    return true;
  };
  if (!await pass((words) => kernels.magnitudeHighHistogram(words, infinity, high))) {
    return undefined;
  }
  // The key of rank k - 1 and the keys below it (`rankCut`, on the whole tensor's histograms);
  // k = 0 keeps every key (all are above -1), k = n prunes every one (none is above 2^31 - 1).
  let cut = k === 0 ? -1 : 0x7fffffff;
  if (k > 0 && k < n) {
    const h = binOf(high, 0, k - 1);
    cut = h.bin;
    state[0] = k - h.below;
    if (width === 4) {
      const low = new Uint32Array(65536);
      await pass((words) => kernels.magnitudeLowHistogram(words as Int32Array, h.bin, low));
      const l = binOf(low, h.below, k - 1);
      cut = (h.bin << 16) | l.bin;
      state[0] = k - l.below;
    }
  }
  await pass((words, at, bytes) => {
    const first = at / width;
    kernels.magnitudeCut(
      words,
      cut,
      true,
      state,
      bits.subarray(first / 8, Math.ceil((first + words.length) / 8)),
    );
    return write(at, bytes);
  });
  return { bits, zerosBefore: state[1], zerosAfter: state[2] };
}

/** The kernels' passes a selection uses. */
type Passes = Pick<
  Kernels,
  "magnitudeHighHistogram" | "magnitudeLowHistogram" | "magnitudeBand" | "magnitudeCut"
>;

/** The cut's state: ties still to prune, zeros before, zeros after (`magnitudeCut`). */
const STATE = new Uint32Array(3);

/** The selection of both: with `apply`, the values are masked too and `STATE` holds the zeros. */
function selectSmallest(
  bytes: Uint8Array,
  dtype: DType,
  k: number,
  apply: boolean,
  kernels: Passes,
): Uint8Array | undefined {
  const { bytes: width, infinity } = widthOf(bytes, dtype);
  const words = wordsOf(bytes, width);
  const n = words.length;
  if (!Number.isSafeInteger(k) || k < 0 || k > n) {
    throw new RangeError(`"k" must be an integer in [0, ${n}]: current value is ${k}`);
  }
  const bits = new Uint8Array(Math.ceil(n / 8));
  STATE.fill(0);
  if (k === 0 || k === n) {
    // Every value is finite (pass 1), then every key is above -1 (all kept) or below 0x7fffffff
    // (all pruned), with no ties.
    HIGH.fill(0);
    if (!kernels.magnitudeHighHistogram(words, infinity, HIGH)) return undefined;
    if (apply) kernels.magnitudeCut(words, k === 0 ? -1 : 0x7fffffff, true, STATE, bits);
    else if (k === 0) {
      bits.fill(0xff);
      if (n % 8 !== 0) bits[bits.length - 1] = (1 << (n % 8)) - 1;
    }
    return bits;
  }
  // The key of rank k - 1 and how many of its copies are pruned (the first in index order): from
  // a sampled band, else from the histograms of the whole tensor.
  const band = n >= BAND_FROM ? bandCut(words, infinity, k - 1, kernels, HIGH, LOW) : undefined;
  const found = band === undefined ? rankCut(words, infinity, k - 1, 0, kernels, HIGH, LOW) : band;
  if (found === null) return undefined;
  STATE[0] = k - found.below;
  kernels.magnitudeCut(words, found.cut, apply, STATE, bits);
  return bits;
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
 * @param kernels The kernels: `magnitudeApplyBits` masks the groups of finite values, the others
 *   mask a group holding a NaN or an infinity.
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
  kernels: Pick<
    Kernels,
    "applyMask" | "f16ToF32" | "f32ToF16" | "bf16ToF32" | "f32ToBf16" | "magnitudeApplyBits"
  >,
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
    // Whole groups of finite values, in the kernels; they stop at a group with a NaN or an
    // infinity, which the general path masks with what follows it, up to a chunk.
    ZEROS.fill(0);
    at += kernels.magnitudeApplyBits(
      words.subarray(at, whole),
      bits.subarray(at >>> 3, whole >>> 3),
      infinity,
      ZEROS,
    );
    COUNTS[0] += ZEROS[0];
    COUNTS[1] += ZEROS[1];
    if (at >= whole) break;
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

/** Zeros before and after (a tensor may hold 2^32 values or more). */
const COUNTS = new Float64Array(2);
/** Zeros before and after of one kernel call. */
const ZEROS = new Uint32Array(2);

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
