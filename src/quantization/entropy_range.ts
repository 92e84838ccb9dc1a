/**
 * `entropyRange`: the clipping range with the smallest KL divergence between the observed
 * distribution and its quantized version (TensorRT's entropy calibration).
 *
 * @module
 */

import type { StreamingHistogram } from "./streaming_histogram.ts";
import type { TrackedRange } from "./tracked_range.ts";
import type { ClipTarget } from "./mse_range.ts";
import { clippedRange } from "./_clipped_range.ts";
import { foldAbs } from "./_histogram_math.ts";
import { QuantizationError } from "./quantization_error.ts";

/**
 * TensorRT-style entropy calibration per block. With a symmetric scheme the histogram of |x|
 * (`bins / 2` bins over `[0, range]`) is searched for the threshold `t = i * w` (i from the
 * number of non-negative codes, `levels = qmax - zp + 1` — 128 for int8 — up to the last
 * non-empty bin) that minimises `KL(P || Q)`: `P` is the histogram's first `i` bins with every
 * larger value added to bin `i - 1`, `Q` merges those `i` bins into `levels` groups (bin `j`
 * in group `floor(j * levels / i)`) and spreads each group's count evenly over its non-empty
 * bins. Like TensorRT's calibrator, the first bin (where the zeros fall: a spike after ReLU
 * that would otherwise dominate the divergence) counts as much as the second. Candidates where
 * `Q` is 0 and `P` is not are skipped; among equal divergences the largest threshold wins. With
 * fewer non-empty bins than levels nothing is clipped.
 *
 * Affine schemes search each side of zero separately, the codes split between the sides in
 * proportion to the observed `-min` and `max`.
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
 * import { entropyRange } from "./entropy_range.ts";
 *
 * // A Laplace bulk (|x| up to 9.9) and ten outliers at ±30.
 * const data = Float32Array.from({ length: 20000 }, (_, i) => {
 *   const u = (i % 10000 + 0.5) / 10000;
 *   return (i < 10000 ? 1 : -1) * -Math.log(u);
 * });
 * data.fill(30, 0, 5);
 * data.fill(-30, 5, 10);
 * const h = observeHistogram(undefined, data, [20000], [-1]);
 * const r = entropyRange(h, { qmin: -127, qmax: 127 });
 * assert.ok(r.max[0] > 5 && r.max[0] < 12);
 * ```
 */
export function entropyRange(h: StreamingHistogram, target: ClipTarget): TrackedRange {
  const { qmin, qmax } = target;
  if (!(qmax > qmin)) {
    throw new QuantizationError(
      "range",
      `"qmax" must be larger than "qmin": current values are ${qmin}, ${qmax}`,
    );
  }
  return clippedRange(h, (counts, range, b) => {
    const half = counts.length / 2;
    const w = range / half;
    if (target.scheme !== "affine") {
      const zp = Math.floor((qmax + qmin + 1) / 2);
      const t = klThreshold(foldAbs(counts), qmax - zp + 1) * w;
      return [-t, t];
    }
    const mn = Math.min(h.min[b], 0);
    const mx = Math.max(h.max[b], 0);
    const levels = qmax - qmin + 1;
    const pos = Math.min(levels, Math.max(0, Math.round((levels * mx) / (mx - mn))));
    const up = counts.slice(half);
    const down = counts.slice(0, half).reverse();
    const hi = pos === 0 ? 0 : klThreshold(up, pos) * w;
    const lo = pos === levels ? 0 : klThreshold(down, levels - pos) * w;
    return [-lo, hi];
  });
}

/** The number of leading bins whose threshold minimises KL(P || Q) (see `entropyRange`). */
function klThreshold(histogram: Float64Array, levels: number): number {
  const n = histogram.length;
  const bins = histogram.slice();
  if (n > 1 && bins[0] > 0) bins[0] = bins[1];
  let last = n;
  while (last > 0 && bins[last - 1] === 0) last--;
  if (last <= levels) return last;
  const count = new Float64Array(n + 1);
  const nonzero = new Float64Array(n + 1);
  const xlogx = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const c = bins[k];
    count[k + 1] = count[k] + c;
    nonzero[k + 1] = nonzero[k] + (c > 0 ? 1 : 0);
    xlogx[k + 1] = xlogx[k] + (c > 0 ? c * Math.log(c) : 0);
  }
  const total = count[n];
  let best = last;
  let bestKl = Infinity;
  for (let i = levels; i <= last; i++) {
    const outliers = total - count[i];
    if (bins[i - 1] === 0 && outliers > 0) continue;
    const edge = bins[i - 1] + outliers;
    const plogp = (xlogx[i - 1] + edge * Math.log(edge)) / total - Math.log(total);
    let plogq = 0;
    for (let k = 0; k < levels; k++) {
      const s = Math.ceil((k * i) / levels);
      const e = Math.ceil(((k + 1) * i) / levels);
      const sum = count[e] - count[s];
      if (sum === 0) continue;
      const mass = e === i ? sum + outliers : sum;
      plogq += (mass / total) * Math.log(sum / ((nonzero[e] - nonzero[s]) * count[i]));
    }
    const kl = plogp - plogq;
    if (kl <= bestKl) [best, bestKl] = [i, kl];
  }
  return best;
}
