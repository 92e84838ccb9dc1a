/**
 * Exact selection in WebAssembly: the driver of `kSmallestMask` and `kthSmallest`.
 *
 * 1. Two pivots are read from a strided sample (taken in TypeScript, sorted by order key) so
 *    that the wanted rank almost surely lies between them.
 * 2. One SIMD pass counts the values below, between and above the pivots and copies the values
 *    between them (a few percent of the data) into a candidate buffer.
 * 3. A radix select (11/11/10-bit key histograms, `nnc_key_hist`) over the candidates finds the
 *    exact cut-off key. When the sample was unlucky (the rank is not between the pivots, or the
 *    candidates overflow their buffer), the radix select runs over all the data instead: the
 *    result is the same, only slower.
 * 4. For a mask, one more pass (`nnc_select_mask`) writes it, comparing values with the
 *    cut-off's value (the same order as keys) and pruning ties in index order.
 *
 * Data that fits in linear memory is copied in once; larger data is streamed chunk by chunk on
 * every pass, with memory bounded by one chunk.
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import { checkStatus, type KernelExports } from "./_wasm_abi.ts";

/** Bins per level, and the key bits below each level's bins. */
const LEVELS = [
  { bins: 2048, shift: 21 },
  { bins: 2048, shift: 10 },
  { bins: 1024, shift: 0 },
] as const;

/** A set of float arrays placed in linear memory, whole or a chunk at a time. */
interface Stream {
  /** Calls `fn` for every piece: its pointer, length, offset overall, and its scratch bytes. */
  each(fn: (ptr: number, length: number, offset: number, scratch: number) => void): void;
}

/**
 * Places `arrays` in the arena: copied once when they fit together with `scratchPerElement`
 * bytes per element, else streamed through one chunk buffer (and one scratch buffer).
 */
function placeArrays(
  arena: Arena,
  arrays: readonly Float32Array[],
  scratchPerElement: number,
  what: string,
): Stream {
  let total = 0;
  for (const a of arrays) total += a.length;
  // Resident only when every buffer stays below 2^31 bytes (the largest Rust slice on wasm32).
  const resident = arena.fit(4 + scratchPerElement, 1, arrays.length + 1) >= total &&
    arrays.every((a) => a.length < 2 ** 29) && total * scratchPerElement < 2 ** 31;
  if (resident) {
    const ptrs = arrays.map((a, i) => arena.copyIn(a, `${what}[${i}]`));
    const scratch = arena.alloc(total * scratchPerElement, what);
    return {
      each(fn) {
        let offset = 0;
        arrays.forEach((a, i) => {
          fn(ptrs[i], a.length, offset, scratch + offset * scratchPerElement);
          offset += a.length;
        });
      },
    };
  }
  const chunk = Math.min(arena.fit(4 + scratchPerElement, 16, 2), 2 ** 28);
  if (chunk < 16) {
    throw new RangeError(
      `"${what}" (${total} elements) cannot be processed: only ${arena.available} bytes of ` +
        `WebAssembly memory are free`,
    );
  }
  const ptr = arena.alloc(chunk * 4, what);
  const scratch = arena.alloc(chunk * scratchPerElement, what);
  return {
    each(fn) {
      let offset = 0;
      for (const a of arrays) {
        for (let start = 0; start < a.length; start += chunk) {
          const piece = a.subarray(start, start + chunk);
          arena.view(Float32Array, ptr, piece.length).set(piece);
          fn(ptr, piece.length, offset + start, scratch);
        }
        offset += a.length;
      }
    },
  };
}

/** The result of a selection: the cut-off key and how many elements equal to it count. */
interface Cut {
  /** The key (an unsigned 32-bit integer). */
  readonly key: number;
  /** With `key` from the last level: the elements equal to `key` up to the rank; else 0. */
  readonly ties: number;
}

/**
 * Finds the key of rank `rank` (0-based) over the stream, counting into the 2048 `u32` bins at
 * `hist`. With `wholeBins`, stops early when
 * the rank ends exactly at the end of a bin: every key below the next bin counts, no ties.
 */
function selectKey(
  ex: KernelExports,
  arena: Arena,
  hist: number,
  stream: Stream,
  rank: number,
  wholeBins: boolean,
): Cut {
  let prefix = 0;
  let below = 0;
  for (let level = 0; level < LEVELS.length; level++) {
    const { bins, shift } = LEVELS[level];
    const totals = new Float64Array(bins);
    stream.each((ptr, length) => {
      arena.view(Uint32Array, hist, bins).fill(0);
      checkStatus("nnc_key_hist", ex.nnc_key_hist(ptr, length, level, prefix, hist));
      const counts = arena.view(Uint32Array, hist, bins);
      for (let b = 0; b < bins; b++) totals[b] += counts[b];
    });
    let b = 0;
    while (below + totals[b] <= rank) below += totals[b++];
    prefix = prefix * bins + b;
    if (wholeBins && level < LEVELS.length - 1 && below + totals[b] === rank + 1) {
      return { key: (prefix + 1) * 2 ** shift, ties: 0 };
    }
  }
  return { key: prefix, ties: rank + 1 - below };
}

/** The order key of every NaN. */
const NAN_KEY = 0xffffffff;

/** Sample size for the pivots (inputs below 4x this go straight to the radix select). */
const SAMPLE = 16384;

const KEY_BITS = new Uint32Array(1);
const KEY_FLOAT = new Float32Array(KEY_BITS.buffer);

/** The float32 value of an order key (zeros as +0, the NaN key as NaN). */
function valueOfKey(key: number): number {
  KEY_BITS[0] = key >= 2 ** 31 ? key - 2 ** 31 : ~key >>> 0;
  return KEY_FLOAT[0];
}

/** The order key of a float32 value (see `crates/kernels/src/keys.rs`). */
function keyOf(value: number): number {
  KEY_FLOAT[0] = value;
  const bits = KEY_BITS[0];
  if (Number.isNaN(value)) return NAN_KEY;
  if ((bits & 0x7fffffff) === 0) return 2 ** 31;
  return bits >= 2 ** 31 ? ~bits >>> 0 : bits + 2 ** 31;
}

/**
 * Pivots around rank `rank` of `total` values from a strided sample of `arrays`: the sample
 * values at least four standard deviations of the sample rank below and above, or -Infinity /
 * +Infinity when that reaches past the sample's ends. NaN pivots become +Infinity (NaNs are
 * counted apart). `undefined` for small inputs.
 */
function samplePivots(
  arrays: readonly Float32Array[],
  total: number,
  rank: number,
): { lo: number; hi: number } | undefined {
  if (total < 4 * SAMPLE) return undefined;
  const sample = new Uint32Array(SAMPLE + arrays.length);
  let s = 0;
  for (const a of arrays) {
    const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const m = Math.round((SAMPLE * a.length) / total);
    for (let j = 0; j < m; j++) {
      const b = bits[Math.floor(((j + 0.5) * a.length) / m)];
      const abs = b & 0x7fffffff;
      sample[s++] = abs > 0x7f800000
        ? NAN_KEY
        : abs === 0
        ? 2 ** 31
        : b >= 2 ** 31
        ? ~b >>> 0
        : b + 2 ** 31;
    }
  }
  if (s === 0) return undefined;
  const sorted = sample.subarray(0, s).sort();
  const at = ((rank + 0.5) / total) * s;
  const spread = 2 * Math.sqrt(s) + 16; // >= 4 standard deviations of the sample rank
  // Near either end the pivot is the infinity itself: the sample's extremes rarely bracket
  // the data's, and a rank outside the pivots costs a radix select over all the data.
  const a = Math.floor(at - spread);
  const b = Math.ceil(at + spread);
  const value = (key: number) => (key === NAN_KEY ? Infinity : valueOfKey(key));
  return {
    lo: a < 0 ? -Infinity : value(sorted[a]),
    hi: b > s - 1 ? Infinity : value(sorted[b]),
  };
}

/** The fixed buffers of a selection, allocated before the data is placed. */
interface Scratch {
  /** 2048 `u32` histogram bins. */
  readonly hist: number;
  /** Three `u32` range counts. */
  readonly counts: number;
}

/** Allocates the fixed buffers of a selection. */
function allocScratch(arena: Arena, what: string): Scratch {
  return { hist: arena.alloc(2048 * 4, what), counts: arena.alloc(3 * 4, what) };
}

/**
 * The cut-off of rank `rank` over the stream: through the pivots and candidates when the sample
 * brackets the rank, else by a radix select over all of it.
 */
function findCut(
  ex: KernelExports,
  arena: Arena,
  scratch: Scratch,
  arrays: readonly Float32Array[],
  stream: Stream,
  rank: number,
  wholeBins: boolean,
): Cut {
  const { hist, counts } = scratch;
  let total = 0;
  for (const a of arrays) total += a.length;
  const pivots = samplePivots(arrays, total, rank);
  if (pivots !== undefined) {
    const { lo, hi } = pivots;
    const cap = Math.max(0, Math.min(Math.ceil(total / 8) + 4096, arena.fit(4, 1, 1)));
    const cand = arena.alloc(cap * 4, "candidates");
    let [below, inside, above, kept] = [0, 0, 0, 0];
    stream.each((ptr, length) => {
      const free = lo === hi ? 0 : cap - kept;
      checkStatus(
        "nnc_range_count",
        ex.nnc_range_count(ptr, length, lo, hi, counts, cand + kept * 4, free),
      );
      const c = arena.view(Uint32Array, counts, 3);
      below += c[0];
      inside += c[1];
      above += c[2];
      kept = Math.min(cap, kept + c[1]);
    });
    const numbers = below + inside + above;
    if (rank >= numbers) return { key: NAN_KEY, ties: rank + 1 - numbers };
    if (rank >= below && rank < below + inside) {
      if (lo === hi) return { key: keyOf(lo), ties: rank + 1 - below };
      if (inside <= cap) {
        // Not wholeBins: a bin boundary past the candidates' keys could cover values above hi.
        const candidates: Stream = { each: (fn) => fn(cand, inside, 0, 0) };
        return selectKey(ex, arena, hist, candidates, rank - below, false);
      }
    }
  }
  return selectKey(ex, arena, hist, stream, rank, wholeBins);
}

/**
 * The mask with zeros at the `k` smallest values of `metric` (0 < k < n, validated).
 *
 * @param ex The module's exports.
 * @param arena The module's arena.
 * @param metric The values.
 * @param k How many to prune.
 * @returns The mask.
 */
export function kSmallestMaskWasm(
  ex: KernelExports,
  arena: Arena,
  metric: Float32Array,
  k: number,
): Uint8Array {
  return arena.scope(() => {
    const scratch = allocScratch(arena, "metric");
    const ties = arena.alloc(4, "metric");
    const stream = placeArrays(arena, [metric], 1, "metric");
    const cut = findCut(ex, arena, scratch, [metric], stream, k - 1, true);
    arena.view(Uint32Array, ties, 1)[0] = cut.ties;
    const mask = new Uint8Array(metric.length);
    // Keys above +Infinity's (0xff800000) stand for NaN: every number is below them.
    const t = cut.key > 0xff800000 ? NaN : valueOfKey(cut.key);
    stream.each((ptr, length, offset, scratch) => {
      checkStatus("nnc_select_mask", ex.nnc_select_mask(ptr, length, t, ties, scratch));
      mask.set(arena.view(Uint8Array, scratch, length), offset);
    });
    return mask;
  });
}

/**
 * The value of rank `k` among all elements of `arrays` (validated).
 *
 * @param ex The module's exports.
 * @param arena The module's arena.
 * @param arrays The values, as if concatenated.
 * @param k The rank.
 * @returns The float32 value.
 */
export function kthSmallestWasm(
  ex: KernelExports,
  arena: Arena,
  arrays: readonly Float32Array[],
  k: number,
): number {
  return arena.scope(() => {
    const scratch = allocScratch(arena, "arrays");
    const stream = placeArrays(arena, arrays, 0, "arrays");
    return valueOfKey(findCut(ex, arena, scratch, arrays, stream, k, false).key);
  });
}
