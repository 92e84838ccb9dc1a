import { test } from "node:test";
import assert from "node:assert/strict";
import { blockLayout } from "./block_layout.ts";
import { normMetric } from "./norm_metric.ts";

const w = new Float32Array([1, -2, 3, -4, 5, -6, 7, -8]);

test("normMetric() is |w| element-wise without a granularity", () => {
  assert.deepEqual([...normMetric(w, blockLayout(null, [2, 4]))], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...normMetric(w, blockLayout(null, [2, 4]), { p: 2 })], [
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
  ]);
});

test("normMetric() sums |w| per block for p = 1 (rows, columns, tiles)", () => {
  assert.deepEqual([...normMetric(w, blockLayout("out_channel", [2, 4]))], [10, 26]);
  assert.deepEqual([...normMetric(w, blockLayout("in_channel", [2, 4]))], [6, 8, 10, 12]);
  assert.deepEqual([...normMetric(w, blockLayout([2, 2], [2, 4]))], [14, 22]);
});

test("normMetric() takes the L2 norm per block for p = 2", () => {
  const m = normMetric(new Float32Array([3, 4, 6, 8]), blockLayout("out_channel", [2, 2]), {
    p: 2,
  });
  assert.deepEqual([...m], [5, 10]);
});

test("normMetric() rejects data of the wrong size", () => {
  assert.throws(() => normMetric(new Float32Array(3), blockLayout(null, [2, 2])), RangeError);
});
