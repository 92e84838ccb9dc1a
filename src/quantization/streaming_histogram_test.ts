import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels } from "../kernels/reference.ts";
import { getKernels } from "../kernels/default.ts";
import { mergeTrackedRange, trackedRange } from "./tracked_range.ts";
import { observeHistogram, type StreamingHistogram } from "./streaming_histogram.ts";

/** Pseudo-random values in (-scale, scale). */
function centred(n: number, scale: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s + 0.5) / 2 ** 31 - 1) * scale;
  });
}

test("observeHistogram() doubles the range and merges bins exactly when a batch exceeds it", () => {
  const a = centred(1000, 1, 1);
  const b = centred(1000, 3.5, 2);
  let h = observeHistogram(undefined, a, [1000], [-1], { bins: 64 });
  assert.equal(h.range[0], Math.max(...a.map(Math.abs)));
  const r0 = h.range[0];
  h = observeHistogram(h, b, [1000], [-1]);
  assert.equal(h.range[0], r0 * 4);
  // Direct binning over the final range gives the same counts, except for the value at the old
  // range's closed top edge (the largest |x| of the first batch), which stays in the top bin of
  // its range: bin 63, then 16 + 31 = 47, then 16 + 23 = 39 (direct binning would give 40).
  const inside = a.filter((x) => Math.abs(x) !== r0);
  assert.equal(inside.length, 999);
  const direct = getKernels().histogram(inside, -r0 * 4, r0 * 4, 64);
  getKernels().histogram(b, -r0 * 4, r0 * 4, 64, direct);
  direct[a.includes(r0) ? 39 : 24]++;
  assert.deepEqual([...h.counts], [...direct]);
  assert.equal(h.counts.reduce((x, y) => x + y, 0), 2000);
});

test("observeHistogram() keeps its size whatever the number of batches", () => {
  let h: StreamingHistogram | undefined;
  const sizes = new Set<number>();
  for (let i = 0; i < 64; i++) {
    const data = centred(512, 1 + i, i);
    h = observeHistogram(h, data, [4, 2, 64], [-1, 1, -1], { bins: 256 });
    sizes.add(h.counts.byteLength + h.min.byteLength + h.max.byteLength + h.range.byteLength);
  }
  assert.equal(sizes.size, 1);
  assert.equal(h!.counts.length, 2 * 256);
  assert.equal(h!.counts.reduce((x, y) => x + y, 0), 64 * 512);
});

test("observeHistogram() keeps the exact minimum and maximum of NNI's PTQ observer", () => {
  let h: StreamingHistogram | undefined;
  let r;
  for (let i = 0; i < 5; i++) {
    const data = centred(96, 0.3 * (i + 1), i).map((x, j) => x + (j % 3) * 0.01 * i);
    h = observeHistogram(h, data, [2, 3, 16], [-1, 1, -1]);
    r = mergeTrackedRange(r, trackedRange(data, [2, 3, 16], [-1, 1, -1]));
  }
  assert.deepEqual([...h!.min], [...r!.min]);
  assert.deepEqual([...h!.max], [...r!.max]);
});

test("observeHistogram() bins each channel of an activation separately", () => {
  // [batch 2, channels 2, 3]: channel 0 holds 1, 2, 3 and 4, 5, 6; channel 1 their negatives.
  const data = Float32Array.of(1, 2, 3, -1, -2, -3, 4, 5, 6, -4, -5, -6);
  const h = observeHistogram(undefined, data, [2, 2, 3], [-1, 1, -1], {
    bins: 4,
    kernels: referenceKernels,
  });
  assert.deepEqual([...h.range], [6, 6]);
  assert.deepEqual([...h.counts], [0, 0, 2, 4, 3, 3, 0, 0]);
});

test("observeHistogram() counts zeros seen before the first non-zero value", () => {
  let h = observeHistogram(undefined, new Float32Array(5), [5], [-1], { bins: 8 });
  assert.equal(h.range[0], 0);
  assert.equal(h.zeros[0], 5);
  h = observeHistogram(h, Float32Array.of(-2, 2), [2], [-1]);
  assert.deepEqual([...h.counts], [1, 0, 0, 0, 5, 0, 0, 1]);
});

test("observeHistogram() rejects NaN, infinities, a changed block count and bad bins", () => {
  assert.throws(
    () => observeHistogram(undefined, Float32Array.of(1, NaN), [2], [-1]),
    /histogram observers need finite values: block 0/,
  );
  assert.throws(
    () => observeHistogram(undefined, Float32Array.of(1, -Infinity), [2], [-1]),
    /finite values/,
  );
  const h = observeHistogram(undefined, Float32Array.of(1, 2), [2], [-1]);
  assert.throws(
    () => observeHistogram(h, Float32Array.of(1, 2), [2], [1]),
    /same number of blocks: current values are 1 and 2/,
  );
  assert.throws(
    () => observeHistogram(undefined, Float32Array.of(1), [1], [-1], { bins: 6 }),
    /"bins" must be a multiple of 4/,
  );
});
