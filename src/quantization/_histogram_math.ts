// Statistics of one block of a streaming histogram, assuming values spread uniformly within
// each bin: counts, first and second moments below a value, quantiles, and |x| folding.

/** Cumulative counts and moments of a histogram over [lo, lo + bins * width]. */
export interface Cumulative {
  readonly lo: number;
  readonly width: number;
  /** `count[k]`, `sum[k]`, `sq[k]`: totals of bins 0..k-1 (length bins + 1). */
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly sq: Float64Array;
  readonly counts: Float64Array;
}

/** Prefix sums of counts, Σx and Σx² of `counts` (bins of `width` from `lo`). */
export function cumulative(counts: Float64Array, lo: number, width: number): Cumulative {
  const n = counts.length;
  const count = new Float64Array(n + 1);
  const sum = new Float64Array(n + 1);
  const sq = new Float64Array(n + 1);
  for (let k = 0; k < n; k++) {
    const a = lo + k * width;
    const b = a + width;
    const c = counts[k];
    count[k + 1] = count[k] + c;
    sum[k + 1] = sum[k] + c * (a + b) / 2;
    sq[k + 1] = sq[k] + c * (a * a + a * b + b * b) / 3;
  }
  return { lo, width, count, sum, sq, counts };
}

/** Count, Σx and Σx² of the values below `v`. */
export function below(c: Cumulative, v: number): [number, number, number] {
  const n = c.counts.length;
  const t = (v - c.lo) / c.width;
  if (t <= 0) return [0, 0, 0];
  if (t >= n) return [c.count[n], c.sum[n], c.sq[n]];
  const k = Math.floor(t);
  const a = c.lo + k * c.width;
  const dens = c.counts[k] / c.width;
  return [
    c.count[k] + dens * (v - a),
    c.sum[k] + dens * (v * v - a * a) / 2,
    c.sq[k] + dens * (v * v * v - a * a * a) / 3,
  ];
}

/**
 * The smallest value with `target` values below it (interpolated within its bin); for
 * `target` 0 the lower edge of the first non-empty bin.
 */
export function quantile(c: Cumulative, target: number): number {
  const n = c.counts.length;
  for (let k = 0; k < n; k++) {
    const ck = c.counts[k];
    if (ck > 0 && c.count[k + 1] >= target) {
      const f = Math.min(1, Math.max(0, (target - c.count[k]) / ck));
      return c.lo + (k + f) * c.width;
    }
  }
  return c.lo + n * c.width;
}

/** The histogram of |x| (bins / 2 bins over [0, range]) of a signed block over [-range, range]. */
export function foldAbs(counts: Float64Array): Float64Array {
  const half = counts.length / 2;
  const out = new Float64Array(half);
  for (let k = 0; k < half; k++) out[k] = counts[half + k] + counts[half - 1 - k];
  return out;
}
