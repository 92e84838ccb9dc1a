/**
 * `mseRange`: the clipping range that minimises the expected quantization error.
 *
 * @module
 */

import type { QuantScheme } from "./compute_quant_params.ts";
import type { StreamingHistogram } from "./streaming_histogram.ts";
import type { TrackedRange } from "./tracked_range.ts";
import { clippedRange } from "./_clipped_range.ts";
import { below, type Cumulative, cumulative } from "./_histogram_math.ts";
import { QuantizationError } from "./quantization_error.ts";

/** The integer range and scheme a range is chosen for. */
export interface ClipTarget {
  /** Smallest code. */
  readonly qmin: number;
  /** Largest code. */
  readonly qmax: number;
  /** `null` or `"symmetric"`: clip at `[-a, a]`; `"affine"`: clip each end. */
  readonly scheme?: QuantScheme | null;
}

/**
 * The per-block clipping range with the smallest expected squared error of quantizing the
 * observed values to `[qmin, qmax]` with the scale and zero point NNI's formulas give for that
 * range. The error of a range is estimated from the histogram, values taken as spread evenly
 * within a bin: values inside the representable range cost the rounding noise `s² / 12`, values
 * outside it their squared distance to its nearest end.
 *
 * Symmetric schemes try `a = k * w` for every bin width `w` up to the largest |x| (and that
 * value itself); affine schemes start from `[min, max]` and move whichever end lowers the error
 * more by one bin width at a time towards 0, keeping the best range seen (a linear search).
 *
 * @param h The streaming histogram of the target.
 * @param target The integer range and the scheme.
 * @returns The clipped range per block, ready for `computeQuantParams`.
 * @throws {QuantizationError} Code `range` when `qmax <= qmin`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { observeHistogram } from "./streaming_histogram.ts";
 * import { mseRange } from "./mse_range.ts";
 *
 * // Uniform values on [-1, 1], int4: the codes ±7 also cover half a step beyond ±a, so the
 * // best range is a + a / 14 = 1, a = 14 / 15.
 * const data = Float32Array.from({ length: 10000 }, (_, i) => -1 + (2 * i + 1) / 10000);
 * const h = observeHistogram(undefined, data, [10000], [-1]);
 * assert.ok(Math.abs(mseRange(h, { qmin: -7, qmax: 7 }).max[0] - 14 / 15) < 0.02);
 * // One outlier at 50: int4 clips at a = 100 / 36, the minimum of (50 - a)² + 10000 a² / (12 * 7²).
 * data[0] = 50;
 * const h2 = observeHistogram(undefined, data, [10000], [-1]);
 * assert.ok(Math.abs(mseRange(h2, { qmin: -7, qmax: 7 }).max[0] - 100 / 36) < 0.05);
 * ```
 */
export function mseRange(h: StreamingHistogram, target: ClipTarget): TrackedRange {
  const { qmin, qmax } = target;
  if (!(qmax > qmin)) {
    throw new QuantizationError(
      "range",
      `"qmax" must be larger than "qmin": current values are ${qmin}, ${qmax}`,
    );
  }
  return clippedRange(h, (counts, range, b) => {
    const width = (2 * range) / counts.length;
    const c = cumulative(counts, -range, width);
    if (target.scheme === "affine") {
      return affineSearch(c, Math.min(h.min[b], 0), Math.max(h.max[b], 0), width, qmin, qmax);
    }
    const zp = Math.floor((qmax + qmin + 1) / 2);
    const half = (qmax - qmin) / 2;
    const maxAbs = Math.max(-h.min[b], h.max[b]);
    let best = maxAbs;
    let bestError = Infinity;
    const steps = counts.length / 2;
    for (let k = 1; k <= steps + 1; k++) {
      const a = Math.min(k * width, maxAbs);
      const s = a / half;
      const e = error(c, (qmin - zp) * s, (qmax - zp) * s, s);
      if (e <= bestError) [best, bestError] = [a, e];
      if (a === maxAbs) break;
    }
    return [-best, best];
  });
}

/** Expected squared error of values in [lo, hi] rounding with step s, outside clipped. */
function error(c: Cumulative, lo: number, hi: number, s: number): number {
  const n = c.count.length - 1;
  const [nL, sL, qL] = below(c, lo);
  const [nH, sH, qH] = below(c, hi);
  const [N, S, Q] = [c.count[n], c.sum[n], c.sq[n]];
  const noise = ((nH - nL) * s * s) / 12;
  const upper = Q - qH - 2 * hi * (S - sH) + hi * hi * (N - nH);
  const lower = qL - 2 * lo * sL + lo * lo * nL;
  return noise + Math.max(0, upper) + Math.max(0, lower);
}

function affineSearch(
  c: Cumulative,
  mn: number,
  mx: number,
  width: number,
  qmin: number,
  qmax: number,
): [number, number] {
  const cost = (lo: number, hi: number) => error(c, lo, hi, (hi - lo) / (qmax - qmin));
  let [lo, hi] = [mn, mx];
  let best: [number, number] = [lo, hi];
  let bestError = cost(lo, hi);
  while (lo + width <= 0 || hi - width >= 0) {
    const up = lo + width <= 0 && hi > lo + width ? cost(lo + width, hi) : Infinity;
    const down = hi - width >= 0 && hi - width > lo ? cost(lo, hi - width) : Infinity;
    if (up === Infinity && down === Infinity) break;
    if (up <= down) lo += width;
    else hi -= width;
    const e = Math.min(up, down);
    if (e < bestError) [best, bestError] = [[lo, hi], e];
  }
  return best;
}
