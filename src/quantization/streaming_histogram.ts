/**
 * `observeHistogram`: per-block histograms of a target accumulated over calibration batches,
 * in memory that does not grow with the number of batches.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { blockMajor } from "./_block_major.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Default number of bins per block (1024 on each side of zero). */
export const DEFAULT_HISTOGRAM_BINS = 2048;

/**
 * The state of a histogram observer: for every block, its exact minimum and maximum and a
 * histogram of `bins` equal-width bins over the symmetric range `[-range, range]` (bin
 * `min(bins - 1, floor((x + range) / (2 * range) * bins))`: zero opens bin `bins / 2`, the top
 * bin is closed). Its size depends on the number of blocks and bins only.
 */
export interface StreamingHistogram {
  /** The shape of the last observed tensor. */
  readonly shape: readonly number[];
  /** Bins per block: a multiple of 4. */
  readonly bins: number;
  /** Per-block minimum over every observation (NNI's PTQ `tracked_min`, bit for bit). */
  readonly min: Float32Array;
  /** Per-block maximum over every observation. */
  readonly max: Float32Array;
  /** Per-block half-width of the binned range; 0 while only zeros were seen. */
  readonly range: Float64Array;
  /** Counts, `bins` per block, block after block. */
  readonly counts: Float64Array;
  /** Per-block count of zeros observed while `range` was still 0. */
  readonly zeros: Float64Array;
}

/** Options of `observeHistogram`. */
export interface ObserveHistogramOptions extends QuantizeOptions {
  /** Bins per block when the state is created: a multiple of 4 in [4, 2^20] (default 2048). */
  readonly bins?: number;
}

/**
 * Adds one observation of a target to its per-block histograms (creating them on the first
 * call) and returns the state, which is updated in place.
 *
 * The range of a block starts as the largest |x| of its first non-zero observation, `R0`. When
 * a later observation exceeds the range, the range doubles (as often as needed, so it is always
 * `R0 * 2^k`) and each doubling merges pairs of bins: old bin `i` goes to bin
 * `bins / 4 + floor(i / 2)`, which is exactly the bin of the old bin's values in the doubled
 * range. No count is lost or approximated, only the resolution halves; memory stays `bins`
 * float64 counts per block however many batches are observed.
 *
 * @param state The state so far, or `undefined` for the first observation.
 * @param data The observed tensor, row-major.
 * @param shape Its dims.
 * @param kernel The block kernel (from `granularityKernel`); the number of blocks must stay the
 * same across observations.
 * @param options The number of bins (first call) and the kernels.
 * @returns The state.
 * @throws {QuantizationError} Code `non_finite` when a value is NaN or infinite, `range` when the
 * number of blocks changes, `argument` when `bins` is not a multiple of 4 in [4, 2^20].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { observeHistogram } from "./streaming_histogram.ts";
 *
 * let h = observeHistogram(undefined, Float32Array.of(-1, 0.25, 1), [3], [-1], { bins: 4 });
 * assert.deepEqual([...h.counts], [1, 0, 1, 1]);
 * h = observeHistogram(h, Float32Array.of(1.5), [1], [-1]); // range 1 -> 2, bins merged
 * assert.equal(h.range[0], 2);
 * assert.deepEqual([...h.counts], [0, 1, 2, 1]);
 * assert.deepEqual([h.min[0], h.max[0]], [-1, 1.5]);
 * ```
 */
export function observeHistogram(
  state: StreamingHistogram | undefined,
  data: Float32Array,
  shape: readonly number[],
  kernel: readonly number[],
  options: ObserveHistogramOptions = {},
): StreamingHistogram {
  const kernels = options.kernels ?? getKernels();
  const mm = kernels.minMax(data, shape, kernel);
  const blocks = mm.min.length;
  const h = state ?? create(blocks, options.bins ?? DEFAULT_HISTOGRAM_BINS);
  if (h.min.length !== blocks) {
    throw new QuantizationError(
      "range",
      `observations of a histogram must have the same number of blocks: current values are ${h.min.length} and ${blocks}`,
    );
  }
  const B = h.bins;
  for (let b = 0; b < blocks; b++) {
    const lo = mm.min[b];
    const hi = mm.max[b];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new QuantizationError(
        "non_finite",
        `histogram observers need finite values: block ${b} has values in [${lo}, ${hi}]`,
      );
    }
    if (state === undefined || lo < h.min[b]) h.min[b] = lo;
    if (state === undefined || hi > h.max[b]) h.max[b] = hi;
    const a = Math.max(-lo, hi);
    if (h.range[b] === 0 && a > 0) {
      h.range[b] = a;
      h.counts[b * B + B / 2] += h.zeros[b];
      h.zeros[b] = 0;
    }
    while (h.range[b] < a) {
      doubleRange(h.counts.subarray(b * B, (b + 1) * B));
      h.range[b] *= 2;
    }
  }
  const { values, blockSize } = blockMajor(data, shape, kernel, blocks);
  for (let b = 0; b < blocks; b++) {
    const r = h.range[b];
    const slice = values.subarray(b * blockSize, (b + 1) * blockSize);
    if (r === 0) h.zeros[b] += slice.length;
    else kernels.histogram(slice, -r, r, B, h.counts.subarray(b * B, (b + 1) * B));
  }
  return { ...h, shape: [...shape] };
}

function create(blocks: number, bins: number): StreamingHistogram {
  if (!Number.isInteger(bins) || bins % 4 !== 0 || bins < 4 || bins > 2 ** 20) {
    throw new QuantizationError(
      "argument",
      `"bins" must be a multiple of 4 within [4, 1048576]: current value is ${bins}`,
    );
  }
  return {
    shape: [],
    bins,
    min: new Float32Array(blocks),
    max: new Float32Array(blocks),
    range: new Float64Array(blocks),
    counts: new Float64Array(blocks * bins),
    zeros: new Float64Array(blocks),
  };
}

/** Re-bins one block's counts for a doubled range: old bin i joins bin bins / 4 + floor(i / 2). */
function doubleRange(c: Float64Array): void {
  const B = c.length;
  const merged = new Float64Array(B);
  for (let i = 0; i < B; i++) merged[B / 4 + (i >> 1)] += c[i];
  c.set(merged);
}
