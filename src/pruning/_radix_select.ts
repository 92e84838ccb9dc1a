/**
 * Exact selection of one rank over values fed in pieces: two radix passes over float32 order
 * keys, with memory of two 65,536-bin histograms.
 *
 * @module
 */

import { keyValue, orderKey, SUMMARY_BINS } from "./metric_summary.ts";

/**
 * Finds the value of a rank (0-based, the kernels' value order: -0 equals +0, every NaN above
 * +Infinity) among values seen in two passes: feed every piece to `addHigh` (or its counts to
 * `addHighCounts`), call `chooseHigh`, feed the same pieces (in any order) to `addLow` (or the
 * counts of a `low` summary to `addLowCounts`), then read `value()`.
 */
export class RadixSelect {
  readonly #high = new Float64Array(SUMMARY_BINS);
  readonly #low = new Float64Array(SUMMARY_BINS);
  #rank: number;
  #bin = -1;
  #lowBin = -1;

  /** @param rank the rank to find, an integer in [0, total values) */
  constructor(rank: number) {
    this.#rank = rank;
  }

  /** Pass 1: counts the high 16 key bits. */
  addHigh(values: Float32Array): void {
    const bits = bitsOf(values);
    const hist = this.#high;
    for (let i = 0; i < bits.length; i++) hist[orderKey(bits[i]) >>> 16]++;
  }

  /** Pass 1 from counts made elsewhere (a `high` summary's histogram). */
  addHighCounts(counts: Float64Array): void {
    add(this.#high, counts);
  }

  /** Ends pass 1: picks the high bin that holds the rank, and returns it. */
  chooseHigh(): number {
    const { bin, below } = pick(this.#high, this.#rank);
    this.#bin = bin;
    this.#rank -= below;
    return bin;
  }

  /** Pass 2: counts the low 16 key bits of keys in the chosen high bin. */
  addLow(values: Float32Array): void {
    const bits = bitsOf(values);
    const hist = this.#low;
    const bin = this.#bin;
    for (let i = 0; i < bits.length; i++) {
      const k = orderKey(bits[i]);
      if (k >>> 16 === bin) hist[k & 0xffff]++;
    }
  }

  /** Pass 2 from counts made elsewhere (a `low` summary's histogram for the chosen bin). */
  addLowCounts(counts: Float64Array): void {
    add(this.#low, counts);
  }

  /** Ends pass 2: the float32 value of the rank. */
  value(): number {
    if (this.#lowBin < 0) this.#lowBin = pick(this.#low, this.#rank).bin;
    return keyValue(((this.#bin << 16) | this.#lowBin) >>> 0);
  }

  /** The low 16 bits of the rank's key (after `value()`). */
  lowBin(): number {
    return this.#lowBin;
  }
}

function add(into: Float64Array, counts: Float64Array): void {
  if (counts.length !== into.length) {
    throw new RangeError(`a histogram has ${counts.length} bins, not ${into.length}`);
  }
  for (let b = 0; b < into.length; b++) into[b] += counts[b];
}

/** The bin holding rank `rank` and the count of all bins before it. */
function pick(hist: Float64Array, rank: number): { bin: number; below: number } {
  let below = 0;
  for (let b = 0; b < hist.length; b++) {
    if (below + hist[b] > rank) return { bin: b, below };
    below += hist[b];
  }
  throw new RangeError("the values of the second pass differ from the first");
}

function bitsOf(values: Float32Array): Int32Array {
  return values.byteOffset % 4 === 0
    ? new Int32Array(values.buffer, values.byteOffset, values.length)
    : new Int32Array(values.slice().buffer);
}
