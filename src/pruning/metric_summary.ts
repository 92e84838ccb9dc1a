/**
 * What a global group's selection needs from one member's metric, computed where the metric is
 * (on a worker thread, next to the tensor it came from): counts of the float32 order keys and
 * the member's mask, so that only small arrays travel and the thread that selects merges them.
 * Every count is exact and every mask is the one `thresholdMask` gives, so a selection from
 * summaries picks the same threshold and masks as one from the metrics themselves.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { packBits } from "./_mask_bits.ts";
import { blockLayout } from "./block_layout.ts";
import { PACKED_MASK_BLOCKS } from "./packed_mask.ts";
import type { PrunerName, PruningTarget } from "./types.ts";

/** Bins of each histogram: the high or the low 16 bits of a float32 order key. */
export const SUMMARY_BINS = 65536;

/**
 * A summary of one member's metric:
 * - `high`: the histogram of the high 16 bits of every entry's order key (pass 1 of an exact
 *   selection in two radix passes);
 * - `low`: the histogram of the low 16 bits of the keys whose high bits are `bin` (pass 2),
 *   with the member's mask decided for every entry outside `bin` and the entries of `bin`
 *   listed (their positions and low bits) when they are few, so that the mask is finished once
 *   the threshold is known (`finishSummaryMask`) without reading the member again;
 * - `mask`: `thresholdMask(metric, threshold)`.
 */
export type MetricSummary =
  | { readonly kind: "high" }
  | { readonly kind: "low"; readonly bin: number }
  | { readonly kind: "mask"; readonly threshold: number };

/**
 * A summary's result. Masks are one 0/1 byte per entry, or bits (bit `i % 8` of byte `i >> 3`)
 * when the metric has `PACKED_MASK_BLOCKS` entries or more, as the sparsity pipeline holds them.
 */
export interface MetricSummaryResult {
  /** `high` and `low`: the counts, `SUMMARY_BINS` of them. */
  readonly histogram?: Float64Array;
  /**
   * `mask`: the mask. `low`: the entries above `bin` kept (NaN pruned), those below and in it
   * pruned, given only with `positions` and `lows`.
   */
  readonly mask?: Uint8Array;
  /** `low`: the positions of the entries in `bin`, when at most `summaryCandidates` of them. */
  readonly positions?: Uint32Array;
  /** `low`: the low 16 key bits of those entries. */
  readonly lows?: Uint16Array;
}

/** The key of NaN (every NaN): one above +Infinity's. */
const NAN_KEY = 0xffc00000;

/**
 * The order key of float32 bits, as in the kernels (`_order.ts`): positive values get the sign
 * bit set, negative ones all bits flipped; -0 is +0 and every NaN one value above +Infinity.
 *
 * @param b The float32 bits, as an Int32Array element.
 * @returns The unsigned 32-bit key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { orderKey } from "./metric_summary.ts";
 *
 * const bits = new Int32Array(new Float32Array([-1, -0, 0, 1, NaN]).buffer);
 * const keys = [...bits].map(orderKey);
 * assert.ok(keys[0] < keys[1] && keys[1] === keys[2] && keys[2] < keys[3] && keys[3] < keys[4]);
 * ```
 */
export function orderKey(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return NAN_KEY;
  if (b === -0x80000000) return 0x80000000; // -0
  return (b ^ ((b >> 31) | -0x80000000)) >>> 0;
}

/** The float32 value of an order key (NaN's key gives NaN, the key of zero +0). */
export function keyValue(k: number): number {
  KEY_BITS[0] = k & 0x80000000 ? k & 0x7fffffff : ~k >>> 0;
  return KEY_FLOAT[0];
}

const KEY_BITS = new Uint32Array(1);
const KEY_FLOAT = new Float32Array(KEY_BITS.buffer);

/**
 * The most entries of the chosen bin a `low` summary lists: one in 64 of the member's entries,
 * at least 4,096 (with the mask's bits, at most about 0.22 bytes per entry). A member with more
 * gets its mask from a `mask` summary instead.
 *
 * @param entries The member's metric entries.
 * @returns The limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summaryCandidates } from "./metric_summary.ts";
 *
 * assert.equal(summaryCandidates(100), 4096);
 * assert.equal(summaryCandidates(2 ** 24), 2 ** 18);
 * ```
 */
export function summaryCandidates(entries: number): number {
  return Math.max(4096, Math.floor(entries / 64));
}

/**
 * Whether a target's metric (`parameterMetric`) is `|v|` element by element: the level, l1 and
 * slim pruners (and wanda on a bias) with one block per element. Its summaries can then be made
 * from the values themselves (`summarizeMetric`'s `magnitude`), without a metric the size of
 * the tensor (nor its copies in and out of WebAssembly memory).
 *
 * @param target The pruning target, with its setting and shape.
 * @param pruner The pruner (short name).
 * @returns `true` for a magnitude metric.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMagnitudeMetric } from "./metric_summary.ts";
 *
 * const target = { module: "fc", target: "weight", kind: "parameter" as const, shape: [4, 8],
 *   setting: { sparse_ratio: 0.5 } };
 * assert.equal(isMagnitudeMetric(target, "level"), true);
 * assert.equal(isMagnitudeMetric(target, "fpgm"), false);
 * const rows = { ...target, setting: { sparse_ratio: 0.5, granularity: "out_channel" as const } };
 * assert.equal(isMagnitudeMetric(rows, "l1"), false);
 * ```
 */
export function isMagnitudeMetric(target: PruningTarget, pruner: PrunerName): boolean {
  const p1 = pruner === "level" || pruner === "l1" || pruner === "slim" ||
    (pruner === "wanda" && target.target !== "weight");
  if (!p1 || target.kind !== "parameter" || target.shape === null) return false;
  try {
    const layout = blockLayout(target.setting.granularity, target.shape);
    return layout.gridSize === target.shape.reduce((a, b) => a * b, 1);
  } catch {
    // A granularity that does not fit: the metric gives its error.
    return false;
  }
}

/** Options of `summarizeMetric`. */
export interface SummarizeMetricOptions {
  /** The kernels (`mask` uses `thresholdMask`; default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * The values given are not the metric but the tensor whose magnitudes are (`|v|`, the
   * element-wise metric of the level, l1 and slim pruners): summarised without making the
   * metric. `summarizeMetric` then returns `undefined` when a value is NaN or infinite (the
   * metric refuses them: compute it to get its error).
   */
  readonly magnitude?: boolean;
}

/**
 * One member's summary (`MetricSummary`).
 *
 * @param metric The member's metric (or, with `magnitude`, the values whose magnitudes it is).
 * @param summary What to compute.
 * @param options The kernels, and whether `metric` holds the values of a magnitude metric.
 * @returns The histogram, the mask, or both with the entries of the bin; `undefined` with
 * `magnitude` for values that are not all finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finishSummaryMask, keyValue, summarizeMetric } from "./metric_summary.ts";
 *
 * const metric = new Float32Array([0.5, 3, 1, 1, 2]);
 * const high = summarizeMetric(metric, { kind: "high" })!.histogram!;
 * assert.equal(high.reduce((a, b) => a + b), 5);
 * // 1.0 is the value of rank 1: its key's high bits, then its low bits.
 * const bin = 0xbf80;
 * assert.equal(high[bin], 2);
 * const low = summarizeMetric(metric, { kind: "low", bin })!;
 * assert.equal(low.histogram![0], 2);
 * assert.deepEqual([...low.positions!], [2, 3]);
 * // The same from the signed values of a magnitude metric.
 * const values = new Float32Array([-0.5, 3, -1, 1, 2]);
 * const fromValues = summarizeMetric(values, { kind: "low", bin }, { magnitude: true })!;
 * assert.deepEqual(fromValues, low);
 * const mask = finishSummaryMask(low, 0, metric.length);
 * assert.equal(keyValue((bin << 16) >>> 0), 1);
 * assert.deepEqual([...mask], [0, 1, 1, 1, 1]); // thresholdMask(metric, 1)
 * ```
 */
export function summarizeMetric(
  metric: Float32Array,
  summary: MetricSummary,
  options: SummarizeMetricOptions = {},
): MetricSummaryResult | undefined {
  const packed = metric.length >= PACKED_MASK_BLOCKS;
  const magnitude = options.magnitude === true;
  const bits = bitsOf(metric);
  const n = bits.length;
  if (magnitude && summary.kind === "high") return magnitudeHigh(bits);
  if (summary.kind === "low") {
    return magnitude && packed && n <= 2 ** 32
      ? magnitudeLowSummary(bits, summary.bin, options.kernels ?? getKernels())
      : lowSummary(bits, summary.bin, packed, magnitude);
  }
  if (magnitude) {
    for (let i = 0; i < n; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) return undefined;
  }
  if (summary.kind === "mask") {
    if (!magnitude) {
      const mask = (options.kernels ?? getKernels()).thresholdMask(metric, summary.threshold);
      return { mask: packed ? packBits(mask) : mask };
    }
    // `|v| >= threshold`, compared exactly as `thresholdMask` does (NaN keeps nothing).
    const t = summary.threshold;
    const mask = new Uint8Array(packed ? (n + 7) >> 3 : n);
    for (let i = 0; i < n; i++) {
      if (!(Math.abs(metric[i]) >= t)) continue;
      if (packed) mask[i >> 3] |= 1 << (i & 7);
      else mask[i] = 1;
    }
    return { mask };
  }
  const histogram = new Float64Array(SUMMARY_BINS);
  for (let i = 0; i < n; i++) histogram[orderKey(bits[i]) >>> 16]++;
  return { histogram };
}

/**
 * `summarizeMetric`'s `high` of a magnitude metric from the values' bits: the key of a finite
 * `|v|` is its bits with the sign bit set. `undefined` when a value is NaN or infinite (an
 * exponent of all ones: `(b & 0x7f800000) + 0x800000` then reaches bit 31, gathered in `bad`).
 */
function magnitudeHigh(bits: Int32Array): MetricSummaryResult | undefined {
  const n = bits.length;
  // 32-bit counts (a quarter of the float64 histogram's cache lines).
  const counts = new Uint32Array(SUMMARY_BINS);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    bad |= (b & 0x7f800000) + 0x800000;
    counts[((b >>> 16) & 0x7fff) | 0x8000]++;
  }
  if (bad < 0) return undefined;
  return { histogram: Float64Array.from(counts) };
}

/**
 * `lowSummary` of a magnitude metric with a packed mask, in two kernel passes over the values'
 * bits: the key of a finite `|v|` is its bits with the sign bit set, so an entry is kept when
 * its magnitude key is above the bin's last one (`magnitudeCut`, the bin's own keys pruned as
 * ties), and the bin's entries are counted and listed by `magnitudeBin`. The same result as
 * `lowSummary`, 2-3x faster on a [4096, 4096] tensor with the WebAssembly kernels.
 */
function magnitudeLowSummary(
  bits: Int32Array,
  bin: number,
  kernels: Pick<Kernels, "magnitudeCut" | "magnitudeBin">,
): MetricSummaryResult | undefined {
  const n = bits.length;
  const counts = new Uint32Array(SUMMARY_BINS);
  const limit = summaryCandidates(n);
  const positions = new Uint32Array(limit);
  const lows = new Uint16Array(limit);
  // Magnitude keys fill the upper half of the bins: a bin below it holds none and keeps all.
  const high = bin - 0x8000;
  const count = high < 0 ? 0 : kernels.magnitudeBin(bits, high, counts, positions, lows);
  if (count < 0) return undefined;
  const histogram = Float64Array.from(counts);
  if (count > limit) return { histogram };
  if (high < 0) {
    // Still every value must be finite.
    for (let i = 0; i < n; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) return undefined;
  }
  const mask = new Uint8Array((n + 7) >> 3);
  // Above the bin's last key: kept; the rest pruned (the bin's last key too: ties for all).
  const cut = high < 0 ? -1 : (high << 16) | 0xffff;
  kernels.magnitudeCut(bits, cut, false, new Uint32Array([0xffffffff, 0, 0]), mask);
  return { histogram, mask, positions: positions.slice(0, count), lows: lows.slice(0, count) };
}

/**
 * `summarizeMetric`'s `low` (of a magnitude metric from the values' bits with `magnitude`): the
 * mask bit of each entry is `h > bin` computed without a branch, eight to a byte; only the
 * entries in the bin take one (to be counted and listed). About 2x faster than deciding each
 * bit with a branch, which the values make random (a [4096, 4096] tensor: 147 -> 67 ms).
 */
function lowSummary(
  bits: Int32Array,
  bin: number,
  packed: boolean,
  magnitude: boolean,
): MetricSummaryResult | undefined {
  const n = bits.length;
  const counts = new Uint32Array(SUMMARY_BINS);
  const limit = summaryCandidates(n);
  // The mask is built only while the bin's entries fit the limit (and positions fit 32 bits).
  let listing = n <= 2 ** 32;
  const mask = new Uint8Array(listing ? (packed ? (n + 7) >> 3 : n) : 0);
  let positions = new Uint32Array(listing ? Math.min(limit, 4096) : 0);
  let lows = new Uint16Array(positions.length);
  let count = 0;
  let bad = 0;
  const abs = magnitude ? 0x7fffffff : -1;
  const finite = magnitude ? -1 : 0;
  // Eight entries at a time: their mask bits are gathered in a byte, written once.
  for (let i0 = 0; i0 < n; i0 += 8) {
    const m = Math.min(8, n - i0);
    let byte = 0;
    for (let j = 0; j < m; j++) {
      const i = i0 + j;
      // With `magnitude`, the bits of |v|; a NaN or infinite value sets bit 31 of `bad` (an
      // exponent of all ones plus 0x800000).
      const b = bits[i] & abs;
      bad |= ((b & 0x7f800000) + 0x800000) & finite;
      // `orderKey`'s high and low 16 bits, in small integers (a key above 2^31 would make the
      // loop work in doubles): positive values get the sign bit set, negative ones all bits
      // flipped; NaN and -0 take a branch the values do not make random.
      const sign = b >> 31;
      let h = (((b ^ sign) >>> 16) & 0x7fff) | (~sign & 0x8000);
      let low = (b ^ sign) & 0xffff;
      let keep = 1;
      if ((b & 0x7fffffff) > 0x7f800000) {
        h = NAN_KEY >>> 16;
        low = 0;
        keep = 0;
      } else if (b === -0x80000000) {
        h = 0x8000;
        low = 0;
      }
      // Kept: h > bin (bin - h is negative), NaN excepted.
      byte |= (((bin - h) >>> 31) & keep) << j;
      if (h !== bin) continue;
      counts[low]++;
      if (!listing) continue;
      if (count === limit) {
        listing = false;
        continue;
      }
      if (count === positions.length) {
        const p = new Uint32Array(Math.min(limit, count * 2));
        p.set(positions);
        positions = p;
        const l = new Uint16Array(p.length);
        l.set(lows);
        lows = l;
      }
      positions[count] = i;
      lows[count++] = low;
    }
    if (!listing) continue;
    if (packed) mask[i0 >> 3] = byte;
    else for (let j = 0; j < m; j++) mask[i0 + j] = (byte >> j) & 1;
  }
  if (bad < 0) return undefined;
  const histogram = Float64Array.from(counts);
  if (!listing) return { histogram };
  return { histogram, mask, positions: positions.slice(0, count), lows: lows.slice(0, count) };
}

/**
 * Finishes the mask of a `low` summary once the threshold's low bits are known: the entries of
 * the bin at or above `lowBin` are kept. The result is `thresholdMask(metric, threshold)` for
 * the threshold whose key has the summary's bin and `lowBin` (a number, not NaN).
 *
 * @param result A `low` summary's result with its mask (changed in place).
 * @param lowBin The threshold key's low 16 bits.
 * @param entries The member's metric entries.
 * @returns The mask (bits when `entries` is at least `PACKED_MASK_BLOCKS`).
 * @throws {RangeError} When the result has no mask.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { finishSummaryMask } from "./metric_summary.ts";
 *
 * const result = {
 *   mask: new Uint8Array([1, 0, 0, 0]),
 *   positions: new Uint32Array([1, 3]),
 *   lows: new Uint16Array([7, 2]),
 * };
 * assert.deepEqual([...finishSummaryMask(result, 5, 4)], [1, 1, 0, 0]);
 * ```
 */
export function finishSummaryMask(
  result: MetricSummaryResult,
  lowBin: number,
  entries: number,
): Uint8Array {
  const { mask, positions, lows } = result;
  if (mask === undefined || positions === undefined || lows === undefined) {
    throw new RangeError("the summary lists no entries of its bin: ask for a mask summary");
  }
  const packed = entries >= PACKED_MASK_BLOCKS;
  for (let j = 0; j < positions.length; j++) {
    if (lows[j] < lowBin) continue;
    const i = positions[j];
    if (packed) mask[i >> 3] |= 1 << (i & 7);
    else mask[i] = 1;
  }
  return mask;
}

/**
 * The buffers of a summary's result (to transfer between threads).
 *
 * @param result A summary's result.
 * @returns Its arrays' buffers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeMetric, summaryBuffers } from "./metric_summary.ts";
 *
 * const result = summarizeMetric(new Float32Array([1, 2]), { kind: "high" })!;
 * assert.deepEqual(summaryBuffers(result), [result.histogram!.buffer]);
 * ```
 */
export function summaryBuffers(result: MetricSummaryResult): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [result.histogram, result.mask, result.positions, result.lows]) {
    if (a !== undefined && a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) {
      out.push(a.buffer);
    }
  }
  return out;
}

function bitsOf(values: Float32Array): Int32Array {
  return values.byteOffset % 4 === 0
    ? new Int32Array(values.buffer, values.byteOffset, values.length)
    : new Int32Array(values.slice().buffer);
}
