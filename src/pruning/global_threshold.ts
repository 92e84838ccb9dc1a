/**
 * `globalThreshold`: the threshold of NNI's global group, replayed exactly.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { ThresholdBuffer } from "./_threshold_buffer.ts";

/** A member of a global group: its metric and how many target elements one entry stands for. */
export interface GlobalMember {
  /** One value per block. */
  readonly metric: Float32Array;
  /** Elements per metric entry (NNI: `target.numel() // metric.numel()`). */
  readonly grain: number;
}

/** Options of `globalThreshold`. */
export interface GlobalThresholdOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * The threshold NNI's `_global_threshold_generate(metrics, group, S)` returns: a buffer of the
 * smallest values seen, filled while its element count (entries times grain) is at most `S`,
 * then kept by push-pop; the threshold is its largest value. Members prune `metric < threshold`.
 *
 * When all grains are equal (`g`), that is the `(floor(S / g) + 1)`-th smallest value of all
 * metrics taken together, found by selection (`kthSmallest`) in linear time. With unequal
 * grains the buffer's element count drifts and the result depends on the member order, so the
 * buffer is replayed value by value in the order given (a binary heap of (value, grain)).
 *
 * @param members the members in group order
 * @param sparseNumber NNI's `S = int(total * ratio)`, a non-negative integer
 * @param options the kernels
 * @returns the threshold (a float32 value)
 * @throws {RangeError} for no values, a non-integer `sparseNumber` or a grain below 1
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { globalThreshold } from "./global_threshold.ts";
 *
 * const a = { metric: new Float32Array([5, 1, 4]), grain: 1 };
 * const b = { metric: new Float32Array([2, 3]), grain: 1 };
 * assert.equal(globalThreshold([a, b], 2), 3); // prunes 1 and 2
 * ```
 */
export function globalThreshold(
  members: readonly GlobalMember[],
  sparseNumber: number,
  options: GlobalThresholdOptions = {},
): number {
  if (!Number.isSafeInteger(sparseNumber) || sparseNumber < 0) {
    throw new RangeError(
      `"sparseNumber" must be a non-negative integer: current value is ${sparseNumber}`,
    );
  }
  let entries = 0;
  for (const m of members) {
    if (!Number.isSafeInteger(m.grain) || m.grain < 1) {
      throw new RangeError(`"grain" must be a positive integer: current value is ${m.grain}`);
    }
    entries += m.metric.length;
  }
  if (entries === 0) throw new RangeError("a global group needs at least one metric value");
  const grain = members[0].grain;
  if (members.every((m) => m.grain === grain)) {
    const rank = Math.min(Math.floor(sparseNumber / grain), entries - 1);
    const kernels = options.kernels ?? getKernels();
    return kernels.kthSmallest(
      members.filter((m) => m.metric.length > 0).map((m) => m.metric),
      rank,
    );
  }
  const buffer = new ThresholdBuffer(sparseNumber);
  for (const m of members) buffer.push(m.metric, m.grain);
  return buffer.threshold();
}
