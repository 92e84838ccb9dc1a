/**
 * `globalThresholdStreaming`: the global-group threshold of members read one at a time.
 *
 * @module
 */

import { RadixSelect } from "./_radix_select.ts";
import { ThresholdBuffer } from "./_threshold_buffer.ts";

/** A member of a global group whose metric is read (or computed) on demand. */
export interface StreamingMember {
  /** The number of metric entries `read()` returns. */
  readonly length: number;
  /** Elements per metric entry (NNI: `target.numel() // metric.numel()`). */
  readonly grain: number;
  /**
   * Reads the member's metric (for example: loads one tensor from a safetensors file and
   * computes its metric). Called once per pass; the result is not kept after the pass.
   */
  read(): Float32Array | Promise<Float32Array>;
}

/** Options of `globalThresholdStreaming`. */
export interface GlobalThresholdStreamingOptions {
  /** Called after each member is read, with the pass number (0-based) and member index. */
  readonly onRead?: (pass: number, member: number) => void;
}

/**
 * The threshold of `globalThreshold`, with the members' metrics read one at a time so that
 * memory stays at one member plus two 65,536-bin histograms: when all grains are equal the
 * `(floor(S / g) + 1)`-th smallest value is found by two radix passes over the float32 order
 * keys (high 16 bits, then low 16 bits of the keys in the chosen bin), reading every member
 * twice. With unequal grains NNI's buffer algorithm is replayed in one pass in member order
 * (memory: the buffered entries, at most `floor(S / smallest grain) + 1`).
 *
 * Value order is the kernels' order: -0 equals +0, NaN is larger than everything.
 *
 * @param members the members in group order
 * @param sparseNumber NNI's `S = int(total * ratio)`, a non-negative integer
 * @param options a progress callback
 * @returns the threshold (a float32 value); members prune `metric < threshold`
 * @throws {RangeError} for no values, bad counts or grains, or a `read()` that returns a
 *   different length than the member's `length`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { globalThresholdStreaming } from "./global_threshold_streaming.ts";
 *
 * const members = [[5, 1, 4], [2, 3]].map((values) => ({
 *   length: values.length,
 *   grain: 1,
 *   read: () => new Float32Array(values),
 * }));
 * assert.equal(await globalThresholdStreaming(members, 2), 3);
 * ```
 */
export async function globalThresholdStreaming(
  members: readonly StreamingMember[],
  sparseNumber: number,
  options: GlobalThresholdStreamingOptions = {},
): Promise<number> {
  if (!Number.isSafeInteger(sparseNumber) || sparseNumber < 0) {
    throw new RangeError(
      `"sparseNumber" must be a non-negative integer: current value is ${sparseNumber}`,
    );
  }
  let total = 0;
  for (const m of members) {
    if (!Number.isSafeInteger(m.grain) || m.grain < 1) {
      throw new RangeError(`"grain" must be a positive integer: current value is ${m.grain}`);
    }
    total += m.length;
  }
  if (total === 0) throw new RangeError("a global group needs at least one metric value");
  const read = async (pass: number, i: number): Promise<Float32Array> => {
    const values = await members[i].read();
    if (values.length !== members[i].length) {
      throw new RangeError(
        `member ${i} read ${values.length} values but declared ${members[i].length}`,
      );
    }
    options.onRead?.(pass, i);
    return values;
  };
  const grain = members[0].grain;
  if (!members.every((m) => m.grain === grain)) {
    // NNI's buffer is itself a one-pass algorithm: replay it member by member.
    return await replayStreaming(members, sparseNumber, read);
  }
  const select = new RadixSelect(Math.min(Math.floor(sparseNumber / grain), total - 1));
  for (let i = 0; i < members.length; i++) {
    if (members[i].length > 0) select.addHigh(await read(0, i));
  }
  select.chooseHigh();
  for (let i = 0; i < members.length; i++) {
    if (members[i].length > 0) select.addLow(await read(1, i));
  }
  return select.value();
}

async function replayStreaming(
  members: readonly StreamingMember[],
  sparseNumber: number,
  read: (pass: number, i: number) => Promise<Float32Array>,
): Promise<number> {
  const buffer = new ThresholdBuffer(sparseNumber);
  for (let i = 0; i < members.length; i++) buffer.push(await read(0, i), members[i].grain);
  return buffer.threshold();
}
