import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels } from "../kernels/reference.ts";
import { ratioMask } from "./ratio_mask.ts";

test("ratioMask() prunes exactly int(n * r) values, the smallest ones", () => {
  const metric = new Float32Array([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.0]);
  const mask = ratioMask(metric, 0.7);
  assert.equal(mask.length - mask.reduce((a, b) => a + b, 0), 7);
  assert.deepEqual([...mask], [0, 0, 1, 0, 1, 0, 1, 0, 0, 0]);
});

test("ratioMask() prunes the lower index first on ties", () => {
  assert.deepEqual([...ratioMask(new Float32Array(6).fill(1), 0.5)], [0, 0, 0, 1, 1, 1]);
});

test("ratioMask() short-circuits ratios of exactly 0 and 1", () => {
  const metric = new Float32Array([NaN, 1]);
  assert.deepEqual([...ratioMask(metric, 0)], [1, 1]);
  assert.deepEqual([...ratioMask(metric, 1)], [0, 0]);
});

test("ratioMask() prunes each chunk independently", () => {
  const metric = new Float32Array([1, 2, 3, 4, 0.5, 0.6, 9, 8]);
  assert.deepEqual([...ratioMask(metric, 0.5, { chunks: 2 })], [0, 0, 1, 1, 0, 0, 1, 1]);
});

test("ratioMask() rejects ratios outside [0, 1] and chunks that do not divide", () => {
  assert.throws(
    () => ratioMask(new Float32Array(4), 1.5),
    /"sparse_ratio" must be within \[0, 1\]/,
  );
  assert.throws(() => ratioMask(new Float32Array(4), -0.1), RangeError);
  assert.throws(() => ratioMask(new Float32Array(4), NaN), RangeError);
  assert.throws(() => ratioMask(new Float32Array(5), 0.5, { chunks: 2 }), /"chunks"/);
});

test("ratioMask() gives the same mask with the reference and the default kernels", () => {
  const metric = new Float32Array(1001);
  for (let i = 0; i < metric.length; i++) metric[i] = (i * 7919) % 101;
  assert.deepEqual(ratioMask(metric, 0.37), ratioMask(metric, 0.37, { kernels: referenceKernels }));
});
