/**
 * The cut of a `|w|` selection on stored bits (`stored_magnitude.ts`): the radix histograms that
 * find the key of a rank (`rankCut`), and the sampled band that spares them most of the tensor
 * (`bandCut`). A sample of the keys places the cut of rank `k - 1` in a band of keys `[lo, hi]`;
 * one pass (`magnitudeBand`) counts the keys below the band and lists those in it; the
 * histograms then run on that list instead of on the whole tensor. The band is checked against
 * the counts, so a sample unlike the tensor costs the pass, never a wrong cut: the caller then
 * runs the histograms on the whole tensor.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";

/** Tensors from this many values try the sampled band first. */
export const BAND_FROM = 65536;
/** Standard deviations of the sample's rank estimate on each side of the band. */
const BAND_SIGMAS = 4;
/** The band's list, reused from call to call (grown as needed). */
let bandKeys = new Int32Array(0);
/** Below the band, in the band (`magnitudeBand`'s counts). */
const BAND_COUNTS = new Float64Array(2);

/** The kernels' passes the band uses. */
type BandPasses = Pick<
  Kernels,
  "magnitudeHighHistogram" | "magnitudeLowHistogram" | "magnitudeBand"
>;

/**
 * The places of the sample of a tensor of `n` values (`n >= BAND_FROM`): 2^14 of them, up to
 * 2^20 for tensors past 2^24 values (1/1024 of them), one at a fixed pseudo-random place in each
 * stretch of `n / size` values (a fixed stride would meet the same columns of every row).
 *
 * @param n The tensor's values.
 * @returns The indices, ascending.
 */
export function bandSampleIndices(n: number): Float64Array {
  const size = Math.min(2 ** 20, Math.max(2 ** 14, Math.floor(n / 1024)));
  const stride = Math.floor(n / size);
  const out = new Float64Array(size);
  let seed = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
    out[i] = i * stride + ((seed >>> 8) % stride);
  }
  return out;
}

/**
 * The key of rank `rank` of stored float bits (`words.length >= BAND_FROM`) and how many keys
 * are below it, from one band pass; `undefined` when the band missed that rank or overflowed its
 * list, `null` when a value is NaN or infinite.
 *
 * @param words The float32 bits, or the float16 or bfloat16 bits.
 * @param infinity The 16-bit type's infinity bits (0x7c00, 0x7f80; float32: ignored).
 * @param rank The 0-based rank of the cut, in [0, words.length).
 * @param kernels The passes.
 * @param high The high-bits histogram's bins (32,768; a 16-bit key's whole), overwritten.
 * @param low The low-bits histogram's bins (65,536), overwritten.
 * @returns The cut and the keys below it, or why there is none.
 */
export function bandCut(
  words: Int32Array | Uint16Array,
  infinity: number,
  rank: number,
  kernels: BandPasses,
  high: Uint32Array,
  low: Uint32Array,
): { cut: number; below: number } | undefined | null {
  const n = words.length;
  const wide = words instanceof Int32Array;
  const top = wide ? 0x7fffffff : 0x7fff;
  const places = bandSampleIndices(n);
  const size = places.length;
  const sample = new Int32Array(size);
  for (let i = 0; i < size; i++) sample[i] = words[places[i]] & top;
  sample.sort();
  const p = rank / n;
  const spread = BAND_SIGMAS * Math.sqrt(size * p * (1 - p)) + 2;
  const from = Math.floor(p * size - spread);
  const to = Math.ceil(p * size + spread);
  const lo = from < 0 ? 0 : sample[from];
  const hi = to >= size ? top : sample[to];
  // Room for the band with a margin: it holds about 2 * BAND_SIGMAS / sqrt(size) of the values
  // at most, unless many equal keys fall in it.
  const cap = Math.min(n, Math.ceil((3 * BAND_SIGMAS * n) / Math.sqrt(size)) + 4096);
  if (bandKeys.length < cap) bandKeys = new Int32Array(cap);
  const keys = bandKeys.subarray(0, cap);
  BAND_COUNTS.fill(0);
  if (!kernels.magnitudeBand(words, infinity, lo, hi, keys, BAND_COUNTS)) return null;
  const [below, inBand] = BAND_COUNTS;
  if (inBand > cap || rank < below || rank >= below + inBand) return undefined;
  // The cut among the band's keys, by the same histograms, on the list (16-bit keys as such).
  const listed = keys.subarray(0, inBand);
  return rankCut(
    wide ? listed : Uint16Array.from(listed),
    infinity,
    rank,
    below,
    kernels,
    high,
    low,
  );
}

/**
 * The key of rank `rank` among `keys` (stored float bits, or keys listed by a band) and how many
 * keys are below it, by their histograms: the high 16 bits, then the low 16 bits of the chosen
 * bin, for float32; the whole 15-bit key for 16-bit words. `below` keys (below these) come
 * first. `null` when a value is NaN or infinite.
 *
 * @param keys The float32 bits or the 16-bit ones.
 * @param infinity The 16-bit type's infinity bits (0x7c00, 0x7f80; float32: ignored).
 * @param rank The 0-based rank of the cut, in [below, below + keys.length).
 * @param below How many keys come before these.
 * @param kernels The passes.
 * @param high The high-bits histogram's bins (32,768), overwritten.
 * @param low The low-bits histogram's bins (65,536), overwritten.
 * @returns The cut and the keys below it, or `null`.
 */
export function rankCut(
  keys: Int32Array | Uint16Array,
  infinity: number,
  rank: number,
  below: number,
  kernels: Pick<Kernels, "magnitudeHighHistogram" | "magnitudeLowHistogram">,
  high: Uint32Array,
  low: Uint32Array,
): { cut: number; below: number } | null {
  high.fill(0);
  if (!kernels.magnitudeHighHistogram(keys, infinity, high)) return null;
  const h = binOf(high, below, rank);
  if (!(keys instanceof Int32Array)) return { cut: h.bin, below: h.below };
  low.fill(0);
  kernels.magnitudeLowHistogram(keys, h.bin, low);
  const l = binOf(low, h.below, rank);
  return { cut: (h.bin << 16) | l.bin, below: l.below };
}

/**
 * The bin of a histogram holding rank `rank`, when `below` keys come before its first bin, and
 * how many keys come before that bin.
 *
 * @param hist The counts, in key order (holding the rank: `below` + their sum > `rank`).
 * @param below Keys before the first bin.
 * @param rank The 0-based rank.
 * @returns The bin and the keys before it.
 */
export function binOf(
  hist: Uint32Array,
  below: number,
  rank: number,
): { bin: number; below: number } {
  let under = below;
  let bin = 0;
  while (under + hist[bin] <= rank) under += hist[bin++];
  return { bin, below: under };
}
