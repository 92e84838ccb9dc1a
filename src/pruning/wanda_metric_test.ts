import { test } from "node:test";
import assert from "node:assert/strict";
import { getKernels } from "../kernels/default.ts";
import { blockLayout } from "./block_layout.ts";
import { wandaMetric } from "./wanda_metric.ts";

const kernels = getKernels();

test("wandaMetric() scales each conv weight by the norm of its input channel", () => {
  const w = new Float32Array(2 * 3 * 2).map((_, i) => (i % 2 ? -1 : 1) * (i + 1)); // [2, 3, 1, 2]
  const norms = new Float32Array([1, 10, 100]);
  const m = wandaMetric(w, blockLayout(null, [2, 3, 1, 2]), norms, kernels);
  assert.deepEqual([...m], [1, 2, 30, 40, 500, 600, 7, 8, 90, 100, 1100, 1200]);
});

test("wandaMetric() maps each output channel of a grouped conv to its group's input features", () => {
  const w = new Float32Array(4).fill(1); // depthwise [4, 1, 1, 1]
  const norms = new Float32Array([1, 2, 3, 4]);
  assert.deepEqual([...wandaMetric(w, blockLayout(null, [4, 1, 1, 1]), norms, kernels)], [
    1,
    2,
    3,
    4,
  ]);
  const g2 = new Float32Array(8).fill(1); // 2 groups: [4, 2, 1, 1], 4 input features
  assert.deepEqual(
    [...wandaMetric(g2, blockLayout(null, [4, 2, 1, 1]), norms, kernels)],
    [1, 2, 1, 2, 3, 4, 3, 4],
  );
});

test("wandaMetric() sums the element scores of each block for a granularity", () => {
  const w = new Float32Array([1, -2, 3, 4]);
  const m = wandaMetric(w, blockLayout("out_channel", [2, 2]), new Float32Array([10, 1]), kernels);
  assert.deepEqual([...m], [12, 34]);
});

test("wandaMetric() rejects norms that do not match the input features", () => {
  assert.throws(
    () => wandaMetric(new Float32Array(6), blockLayout(null, [2, 3]), new Float32Array(4), kernels),
    /"inputNorm" must have 3 values .* current length is 4/,
  );
  assert.throws(
    () => wandaMetric(new Float32Array(3), blockLayout(null, [3]), new Float32Array(3), kernels),
    /rank 2 or more/,
  );
});
