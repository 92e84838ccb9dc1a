/**
 * `percentileRange`: a clipping range at a percentile of the observed values.
 *
 * @module
 */

import type { StreamingHistogram } from "./streaming_histogram.ts";
import type { TrackedRange } from "./tracked_range.ts";
import { clippedRange } from "./_clipped_range.ts";
import { cumulative, foldAbs, quantile } from "./_histogram_math.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Default percentile of the percentile observer. */
export const DEFAULT_PERCENTILE = 99.99;

/** Options of `percentileRange`. */
export interface PercentileRangeOptions {
  /** The percentile, in (0, 100] (default 99.99). */
  readonly percentile?: number;
  /**
   * `true` (default): clip |x| at its percentile, `[-a, a]`, for symmetric schemes; `false`:
   * clip both tails, `[q(100 - p), q(p)]`, for affine schemes.
   */
  readonly symmetric?: boolean;
}

/**
 * The per-block range that keeps `percentile` % of the observed values (interpolated within a
 * histogram bin, which assumes values spread evenly within it), intersected with the exact
 * observed minimum and maximum — so `percentile: 100` gives min/max.
 *
 * @param h The streaming histogram of the target.
 * @param options The percentile and whether to clip |x| or both tails.
 * @returns The clipped range per block, ready for `computeQuantParams`.
 * @throws {QuantizationError} Code `argument` when the percentile is not in (0, 100].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { observeHistogram } from "./streaming_histogram.ts";
 * import { percentileRange } from "./percentile_range.ts";
 *
 * const data = Float32Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
 * data[999] = 100; // one outlier
 * const h = observeHistogram(undefined, data, [1000], [-1], { bins: 4096 });
 * const r = percentileRange(h, { percentile: 99 });
 * assert.ok(Math.abs(r.max[0] - 0.99) < 0.1);
 * assert.equal(percentileRange(h, { percentile: 100 }).max[0], 100);
 * ```
 */
export function percentileRange(
  h: StreamingHistogram,
  options: PercentileRangeOptions = {},
): TrackedRange {
  const p = options.percentile ?? DEFAULT_PERCENTILE;
  if (!(typeof p === "number" && p > 0 && p <= 100)) {
    throw new QuantizationError(
      "argument",
      `"percentile" must be within (0, 100]: current value is ${p}`,
    );
  }
  const q = p / 100;
  return clippedRange(h, (counts, range) => {
    if (options.symmetric ?? true) {
      const abs = cumulative(foldAbs(counts), 0, (2 * range) / counts.length);
      const a = quantile(abs, q * abs.count[abs.count.length - 1]);
      return [-a, a];
    }
    const c = cumulative(counts, -range, (2 * range) / counts.length);
    const total = c.count[c.count.length - 1];
    return [quantile(c, (1 - q) * total), quantile(c, q * total)];
  });
}
