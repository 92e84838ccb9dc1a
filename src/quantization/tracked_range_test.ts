import { test } from "node:test";
import assert from "node:assert/strict";
import { mergeTrackedRange, trackedRange } from "./tracked_range.ts";

test("trackedRange() reduces per channel of an activation over batch and space", () => {
  const data = Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i - 6);
  const r = trackedRange(data, [2, 3, 2], [-1, 1, -1]);
  assert.deepEqual([...r.min], [-6, -4, -2]);
  assert.deepEqual([...r.max], [1, 3, 5]);
  assert.deepEqual(r.shape, [2, 3, 2]);
});

test("mergeTrackedRange() keeps the global extremes over observations", () => {
  const a = trackedRange(Float32Array.of(-1, 2), [2], [-1]);
  const b = trackedRange(Float32Array.of(-3, 1), [2], [-1]);
  const m = mergeTrackedRange(mergeTrackedRange(undefined, a), b);
  assert.deepEqual([m.min[0], m.max[0]], [-3, 2]);
  assert.deepEqual([a.min[0], a.max[0]], [-1, 2]);
  assert.throws(
    () => mergeTrackedRange(a, trackedRange(Float32Array.of(1, 2), [2], [1])),
    RangeError,
  );
});
