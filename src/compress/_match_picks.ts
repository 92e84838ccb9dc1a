// Matched picks: the agreement of an output after a selection op (NMS, TopK, ArgMax, Where) as
// a set. Such an output lists elements picked by rank or threshold, so a change of the values
// before the op far below any accuracy loss can reorder them or swap one near the threshold for
// another: position by position the two lists disagree while they hold nearly the same picks.
// Here the picks of the two lists are paired (scalars in sorted order, records closest pair
// first) and the measures are taken over the pairs.

/** The agreement of an output's picks matched as a set (`matchPicks`). */
export interface MatchedPicks {
  /**
   * Values per pick: the last dim when it lists records (a box's 4 coordinates, a pose's
   * keypoints; at most 16 values for a 2-D output, 64 for more dims), else 1.
   */
  readonly record: number;
  /** Picks paired, over every batch item (dim 0 of an output of 3 or more dims) and step. */
  readonly rows: number;
  /** Picks of either side left without a partner (when the two lists differ in length). */
  readonly unmatched: number;
  /**
   * `a·b / (|a| |b|)` over the paired picks, a pick without a partner counting as paired with
   * zeros (1 when both are all zero, 0 when one is).
   */
  readonly cosine: number;
  /** The largest absolute difference within a pair, likewise (NaN when either holds a NaN). */
  readonly maxAbsDiff: number;
}

/** The element-wise measures of two outputs of different lengths: none hold. */
export const UNALIGNED = {
  maxAbsDiff: NaN,
  meanAbsDiff: NaN,
  relativeError: NaN,
  cosine: NaN,
} as const;

/** How an output's values split into groups (matched apart) of picks of `record` values. */
export function pickLayout(
  dims: readonly number[],
): { groups: number; rows: number; record: number } {
  const size = dims.reduce((p, q) => p * q, 1);
  if (dims.length <= 1) return { groups: 1, rows: size, record: 1 };
  const last = dims[dims.length - 1];
  if (dims.length === 2) {
    // [n, 4] boxes are records; [batch, n] scores are scalars per batch item.
    return last <= 16
      ? { groups: 1, rows: dims[0], record: last }
      : { groups: dims[0], rows: last, record: 1 };
  }
  const groups = dims[0];
  const record = last <= 64 ? last : 1;
  return { groups, rows: groups === 0 ? 0 : size / groups / record, record };
}

/** The most pairs × values a greedy match of one group may weigh (about 67M). */
const GREEDY_LIMIT = 2 ** 26;

/**
 * Pairs the picks of the model (`a`) with the reference's (`b`) and measures the pairs, over
 * every step. Within a group, picks of one value are paired in sorted order (the best pairing;
 * the values a longer list leaves out are chosen to fit best), records (L2 distance) greedily,
 * the closest pair first, or position by position when that fits better (`recordPairs`).
 *
 * @returns The measures, or `undefined` when a group is too large to match greedily (more
 * than 2^26 pair values) or the two sides split into different numbers of groups or records.
 */
export function matchPicks(
  a: readonly ArrayLike<number>[],
  b: readonly ArrayLike<number>[],
  dimsA: readonly (readonly number[])[],
  dimsB: readonly (readonly number[])[],
): MatchedPicks | undefined {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  let max = 0;
  let rows = 0;
  let unmatched = 0;
  let record = 1;
  for (let s = 0; s < b.length; s++) {
    const la = pickLayout(dimsA[s]);
    const lb = pickLayout(dimsB[s]);
    if (la.groups !== lb.groups || la.record !== lb.record) return undefined;
    record = lb.record;
    const d = lb.record;
    for (let g = 0; g < lb.groups; g++) {
      const na = la.rows;
      const nb = lb.rows;
      const x = a[s];
      const y = b[s];
      const offA = g * na * d;
      const offB = g * nb * d;
      const pairs: [number, number][] = [];
      if (d === 1 && Math.min(na, nb) * (Math.abs(na - nb) + 1) <= GREEDY_LIMIT) {
        sortedPairs(x, offA, na, y, offB, nb, pairs);
      } else {
        if (na * nb * d > GREEDY_LIMIT) return undefined;
        recordPairs(x, offA, na, y, offB, nb, d, pairs);
      }
      const pairedA = new Uint8Array(na);
      const pairedB = new Uint8Array(nb);
      for (const [i, j] of pairs) {
        pairedA[(i - offA) / d] = 1;
        pairedB[(j - offB) / d] = 1;
        for (let k = 0; k < d; k++) {
          const u = x[i + k];
          const v = y[j + k];
          max = larger(max, Math.abs(u - v));
          dot += u * v;
          aa += u * u;
          bb += v * v;
        }
      }
      // A pick without a partner counts as paired with zeros.
      const leftA = unpaired(x, offA, d, pairedA);
      const leftB = unpaired(y, offB, d, pairedB);
      aa += leftA.squares;
      bb += leftB.squares;
      max = larger(larger(max, leftA.max), leftB.max);
      rows += pairs.length;
      unmatched += na + nb - 2 * pairs.length;
    }
  }
  const cosine = aa === 0 && bb === 0 ? 1 : aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
  return { record, rows, unmatched, cosine, maxAbsDiff: max };
}

/** The sum of squares and the largest magnitude of the picks not paired (`paired[i]` 0). */
function unpaired(
  v: ArrayLike<number>,
  off: number,
  d: number,
  paired: Uint8Array,
): { squares: number; max: number } {
  let squares = 0;
  let max = 0;
  for (let i = 0; i < paired.length; i++) {
    if (paired[i] === 1) continue;
    for (let k = 0; k < d; k++) {
      const u = v[off + i * d + k];
      max = larger(max, Math.abs(u));
      squares += u * u;
    }
  }
  return { squares, max };
}

/** A value to sort or compare by: NaN ranks last (as Infinity). */
const ranked = (x: number) => x === x ? x : Infinity;

/** The larger of two differences; NaN once either is. */
const larger = (max: number, diff: number) =>
  max !== max || diff !== diff ? NaN : diff > max ? diff : max;

/** Pairs of picks (their value lists) that a global greedy match sorts at once (about 1M). */
const GLOBAL_LIMIT = 2 ** 20;

/**
 * Pairs two lists of records: greedily, the closest pair first (for up to 2^20 pairs), else
 * each reference record in its order taking the nearest left; when the lists are as long, the
 * pairing position by position instead if its squared differences sum to less (then the
 * matched cosine is never below the element-wise one).
 */
function recordPairs(
  x: ArrayLike<number>,
  offA: number,
  na: number,
  y: ArrayLike<number>,
  offB: number,
  nb: number,
  d: number,
  pairs: [number, number][],
): void {
  // The squared distance of two records; a NaN one ranks last but still pairs.
  const dist = (i: number, j: number) => {
    let sum = 0;
    for (let k = 0; k < d; k++) {
      const t = x[offA + i * d + k] - y[offB + j * d + k];
      sum += t * t;
    }
    return ranked(sum);
  };
  const found: [number, number][] = [];
  let cost = 0;
  const takenA = new Uint8Array(na);
  if (na * nb <= GLOBAL_LIMIT) {
    const all = new Float64Array(na * nb);
    for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) all[i * nb + j] = dist(i, j);
    const order = new Uint32Array(na * nb);
    for (let p = 0; p < order.length; p++) order[p] = p;
    order.sort((p, q) => all[p] - all[q] || p - q);
    const takenB = new Uint8Array(nb);
    const want = Math.min(na, nb);
    for (let p = 0; p < order.length && found.length < want; p++) {
      const i = Math.floor(order[p] / nb);
      const j = order[p] - i * nb;
      if (takenA[i] === 1 || takenB[j] === 1) continue;
      takenA[i] = takenB[j] = 1;
      found.push([i, j]);
      cost += all[order[p]];
    }
  } else {
    for (let j = 0; j < nb && found.length < na; j++) {
      let best = -1;
      let bestDist = Infinity;
      for (let i = 0; i < na; i++) {
        if (takenA[i] === 1) continue;
        const t = dist(i, j);
        if (best < 0 || t < bestDist) {
          best = i;
          bestDist = t;
        }
      }
      takenA[best] = 1;
      found.push([best, j]);
      cost += bestDist;
    }
  }
  if (na === nb) {
    let identity = 0;
    for (let i = 0; i < na && identity <= cost; i++) identity += dist(i, i);
    if (identity <= cost) {
      for (let i = 0; i < na; i++) pairs.push([offA + i * d, offB + i * d]);
      return;
    }
  }
  for (const [i, j] of found) pairs.push([offA + i * d, offB + j * d]);
}

/**
 * Pairs two lists of scalars in sorted order; when one is longer, the values it leaves out are
 * the ones that make the squared differences least, a value left out counting as paired with
 * zero (dynamic programming over the shorter list and the number left out so far).
 */
function sortedPairs(
  x: ArrayLike<number>,
  offA: number,
  na: number,
  y: ArrayLike<number>,
  offB: number,
  nb: number,
  pairs: [number, number][],
): void {
  const ia = sortedIndex(x, offA, na);
  const ib = sortedIndex(y, offB, nb);
  const swap = na > nb;
  const [short, long, sv, lv] = swap ? [ib, ia, y, x] : [ia, ib, x, y];
  const n = short.length;
  const k = long.length - n;
  const pair = (i: number, j: number) =>
    pairs.push(swap ? [long[j], short[i]] : [short[i], long[j]]);
  if (k === 0) {
    for (let i = 0; i < n; i++) pair(i, i);
    return;
  }
  const value = (v: ArrayLike<number>, at: number) => ranked(v[at]);
  // cost[s]: the least cost with i values of the short list paired and s of the long left out;
  // took[i * (k + 1) + s]: whether the step to (i, s) paired (1) or left one out (0).
  let cost = new Float64Array(k + 1);
  let next = new Float64Array(k + 1);
  const took = new Uint8Array((n + 1) * (k + 1));
  // A value left out counts as paired with zero (as in the measures): it costs its square.
  const out = (j: number) => {
    const v = value(lv, long[j]);
    return v * v;
  };
  for (let s = 1; s <= k; s++) cost[s] = cost[s - 1] + out(s - 1);
  for (let i = 1; i <= n; i++) {
    for (let s = 0; s <= k; s++) {
      const t = value(sv, short[i - 1]) - value(lv, long[i - 1 + s]);
      const d = t === t ? t * t : Infinity;
      const paired = cost[s] + d;
      const left = s > 0 ? next[s - 1] + out(i + s - 1) : Infinity;
      if (paired <= left) {
        next[s] = paired;
        took[i * (k + 1) + s] = 1;
      } else next[s] = left;
    }
    [cost, next] = [next, cost];
  }
  let s = k;
  let i = n;
  while (i > 0) {
    if (took[i * (k + 1) + s] === 1) {
      pair(i - 1, i - 1 + s);
      i--;
    } else s--;
  }
}

/** The offsets of `n` values from `off` in ascending order of value (NaN last). */
function sortedIndex(v: ArrayLike<number>, off: number, n: number): Float64Array {
  const idx = new Float64Array(n);
  for (let i = 0; i < n; i++) idx[i] = off + i;
  const key = (i: number) => ranked(v[i]);
  return idx.sort((p, q) => key(p) - key(q) || p - q);
}
