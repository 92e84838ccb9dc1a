/**
 * A metric whose one use was done where its tensor was read: the ratio rule's selection of the
 * `k` smallest entries, given as the mask's bits. The metric itself is never formed (for an
 * element-wise magnitude metric it would be as large as the tensor): a stand-in of its length,
 * never written nor read, carries the selection to the ratio rule, which merges the bits.
 *
 * @module
 */

/** The selection a stand-in carries. */
export interface Preselection {
  /** How many entries are pruned. */
  readonly k: number;
  /** The mask of the `k` smallest entries (`kSmallestMask`), bit `i % 8` of byte `i >> 3`. */
  readonly bits: Uint8Array;
}

const SELECTED = new WeakMap<Float32Array, Preselection>();

/**
 * A stand-in for a metric of `length` entries whose `k` smallest are pruned by `bits`: the ratio
 * rule merges `bits` when it asks for that `k` (a metric only the ratio rule reads: a
 * `sparse_ratio` outside global and dependency groups, no threshold). Any other use of the
 * stand-in is an error (`preselection` tells it apart). Its memory is not touched, so it costs no
 * page of its size.
 *
 * @param length The metric's entries (the target's blocks).
 * @param k How many are pruned.
 * @param bits The mask as bits (1 keeps).
 * @returns The stand-in.
 * @throws {RangeError} When `bits` is too short or `k` is outside [0, length].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preselectedMetric, preselection } from "./preselected_metric.ts";
 *
 * const metric = preselectedMetric(3, 1, new Uint8Array([0b110]));
 * assert.equal(metric.length, 3);
 * assert.equal(preselection(metric)!.k, 1);
 * assert.equal(preselection(new Float32Array(3)), undefined);
 * ```
 */
export function preselectedMetric(length: number, k: number, bits: Uint8Array): Float32Array {
  if (bits.length * 8 < length) {
    throw new RangeError(`"bits" must hold ${length} bits: current length is ${bits.length} bytes`);
  }
  if (!Number.isSafeInteger(k) || k < 0 || k > length) {
    throw new RangeError(`"k" must be an integer in [0, ${length}]: current value is ${k}`);
  }
  const metric = new Float32Array(length);
  SELECTED.set(metric, { k, bits });
  return metric;
}

/**
 * The selection a stand-in from `preselectedMetric` carries; `undefined` for a real metric.
 *
 * @param metric A metric.
 * @returns Its selection, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preselection } from "./preselected_metric.ts";
 *
 * assert.equal(preselection(new Float32Array([1, 2])), undefined);
 * ```
 */
export function preselection(metric: Float32Array): Preselection | undefined {
  return SELECTED.get(metric);
}
