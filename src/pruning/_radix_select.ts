/**
 * Exact selection of one rank over values fed in pieces: two radix passes over float32 order
 * keys, with memory of two 65,536-bin histograms.
 *
 * @module
 */

const KEY_BITS = new Uint32Array(1);
const KEY_FLOAT = new Float32Array(KEY_BITS.buffer);

/**
 * Finds the value of a rank (0-based, the kernels' value order: -0 equals +0, every NaN above
 * +Infinity) among values seen in two passes: feed every piece to `addHigh`, call `chooseHigh`,
 * feed the same pieces (in any order) to `addLow`, then read `value()`.
 */
export class RadixSelect {
  readonly #high = new Float64Array(65536);
  readonly #low = new Float64Array(65536);
  #rank: number;
  #bin = -1;

  /** @param rank the rank to find, an integer in [0, total values) */
  constructor(rank: number) {
    this.#rank = rank;
  }

  /** Pass 1: counts the high 16 key bits. */
  addHigh(values: Float32Array): void {
    const bits = bitsOf(values);
    const hist = this.#high;
    for (let i = 0; i < bits.length; i++) hist[key(bits[i]) >>> 16]++;
  }

  /** Ends pass 1: picks the high bin that holds the rank. */
  chooseHigh(): void {
    const { bin, below } = pick(this.#high, this.#rank);
    this.#bin = bin;
    this.#rank -= below;
  }

  /** Pass 2: counts the low 16 key bits of keys in the chosen high bin. */
  addLow(values: Float32Array): void {
    const bits = bitsOf(values);
    const hist = this.#low;
    const bin = this.#bin;
    for (let i = 0; i < bits.length; i++) {
      const k = key(bits[i]);
      if (k >>> 16 === bin) hist[k & 0xffff]++;
    }
  }

  /** Ends pass 2: the float32 value of the rank. */
  value(): number {
    const { bin } = pick(this.#low, this.#rank);
    const k = ((this.#bin << 16) | bin) >>> 0;
    KEY_BITS[0] = k & 0x80000000 ? k & 0x7fffffff : ~k >>> 0;
    return KEY_FLOAT[0];
  }
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

/**
 * The order key of float32 bits, as in the kernels (`_order.ts`): positive values get the sign
 * bit set, negative ones all bits flipped; -0 is +0 and every NaN one value above +Infinity.
 */
function key(b: number): number {
  if ((b & 0x7fffffff) > 0x7f800000) return 0xffc00000; // NaN
  if (b === -0x80000000) return 0x80000000; // -0
  return (b ^ ((b >> 31) | -0x80000000)) >>> 0;
}
