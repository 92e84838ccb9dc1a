import { test } from "node:test";
import assert from "node:assert/strict";
import { blockLayout } from "./block_layout.ts";
import { fpgmMetric } from "./fpgm_metric.ts";

function naive(rows: number[][]): number[] {
  return rows.map((a) =>
    rows.reduce((s, b) => s + Math.sqrt(a.reduce((t, x, k) => t + (x - b[k]) ** 2, 0)), 0)
  );
}

test("fpgmMetric() sums the distances from each filter to all filters", () => {
  const data = new Float32Array(4 * 2 * 3 * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 1.3);
  const rows = [0, 1, 2, 3].map((r) => [...data.subarray(r * 18, (r + 1) * 18)]);
  const got = fpgmMetric(data, blockLayout("out_channel", [4, 2, 3, 3]));
  naive(rows).forEach((v, i) => assert.equal(got[i], Math.fround(v)));
});

test("fpgmMetric() gathers non-contiguous blocks (columns) before measuring", () => {
  // columns of a [2, 3] matrix: (1, 4), (2, 5), (3, 9)
  const data = new Float32Array([1, 2, 3, 4, 5, 9]);
  const got = fpgmMetric(data, blockLayout("in_channel", [2, 3]));
  const want = naive([[1, 4], [2, 5], [3, 9]]);
  want.forEach((v, i) => assert.equal(got[i], Math.fround(v)));
});

test("fpgmMetric() gives the geometric median the smallest value", () => {
  const got = fpgmMetric(
    new Float32Array([0, 0, 1, 1, 2, 2, 10, 10]),
    blockLayout("out_channel", [4, 2]),
  );
  assert.equal(got.indexOf(Math.min(...got)), 1);
});
