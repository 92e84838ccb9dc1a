/**
 * NNI's global-threshold buffer (`_global_threshold_generate`), fed one member at a time.
 *
 * @module
 */

/**
 * A replay of NNI's Python `heapq` of `(-value, grain)` tuples, kept as a binary max-heap on
 * value whose ties are ordered by the smaller grain first (the order of the negated tuples). Its
 * top is what `heappushpop` compares with and pops; only the multiset of entries matters, never
 * the heap's layout, so any correct heap gives NNI's result.
 */
export class ThresholdBuffer {
  #vals = new Float64Array(1024);
  #grains = new Float64Array(1024);
  #size = 0;
  #count = 0;
  readonly #sparseNumber: number;

  /** @param sparseNumber NNI's `S`: the buffer fills while its element count is at most S. */
  constructor(sparseNumber: number) {
    this.#sparseNumber = sparseNumber;
  }

  /** Feeds the metric values of one member, in row-major order. */
  push(metric: Float32Array, grain: number): void {
    const s = this.#sparseNumber;
    for (let i = 0; i < metric.length; i++) {
      const v = metric[i] === 0 ? 0 : metric[i]; // -0 and +0 are equal Python floats
      if (this.#count <= s) {
        this.#insert(v, grain);
        this.#count += grain;
      } else {
        const vals = this.#vals;
        // heappushpop: if the top is "smaller" than the new tuple, it is replaced and popped;
        // otherwise the new tuple itself comes back and the count does not change.
        if (vals[0] > v || (vals[0] === v && this.#grains[0] < grain)) {
          const out = this.#grains[0];
          this.#replaceTop(v, grain);
          this.#count += grain - out;
        }
      }
    }
  }

  /** NNI's `-heappop(heap)[0]`: the largest buffered value. */
  threshold(): number {
    if (this.#size === 0) throw new RangeError("a global group needs at least one metric value");
    return this.#vals[0];
  }

  #insert(v: number, g: number): void {
    if (this.#size === this.#vals.length) {
      const vals = new Float64Array(this.#size * 2);
      const grains = new Float64Array(this.#size * 2);
      vals.set(this.#vals);
      grains.set(this.#grains);
      this.#vals = vals;
      this.#grains = grains;
    }
    const vals = this.#vals;
    const grains = this.#grains;
    let pos = this.#size++;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!(v > vals[parent] || (v === vals[parent] && g < grains[parent]))) break;
      vals[pos] = vals[parent];
      grains[pos] = grains[parent];
      pos = parent;
    }
    vals[pos] = v;
    grains[pos] = g;
  }

  #replaceTop(v: number, g: number): void {
    const vals = this.#vals;
    const grains = this.#grains;
    const size = this.#size;
    let pos = 0;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      const r = child + 1;
      if (
        r < size &&
        (vals[r] > vals[child] || (vals[r] === vals[child] && grains[r] < grains[child]))
      ) {
        child = r;
      }
      if (!(vals[child] > v || (vals[child] === v && grains[child] < g))) break;
      vals[pos] = vals[child];
      grains[pos] = grains[child];
      pos = child;
    }
    vals[pos] = v;
    grains[pos] = g;
  }
}
