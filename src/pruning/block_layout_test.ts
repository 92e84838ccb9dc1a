import { test } from "node:test";
import assert from "node:assert/strict";
import { blockLayout } from "./block_layout.ts";
import { PruningError } from "./pruning_error.ts";

test("blockLayout() pads out_channel at the back with -1 on a conv weight", () => {
  const l = blockLayout("out_channel", [64, 32, 3, 3]);
  assert.deepEqual(l.kernel, [1, -1, -1, -1]);
  assert.deepEqual(l.grid, [64, 1, 1, 1]);
  assert.deepEqual(l.raw, [64, 1, 1, 1]);
  assert.equal(l.gridSize, 64);
  assert.equal(l.blockSize, 288);
});

test("blockLayout() gives in_channel one block per column", () => {
  const l = blockLayout("in_channel", [24, 32]);
  assert.deepEqual(l.kernel, [-1, 1]);
  assert.deepEqual(l.grid, [1, 32]);
  assert.deepEqual(l.raw, [1, 32]);
});

test("blockLayout() gives out_channel on a 1-D BatchNorm weight one block per element", () => {
  const l = blockLayout("out_channel", [16]);
  assert.deepEqual(l.kernel, [1]);
  assert.deepEqual(l.grid, [16]);
});

test("blockLayout() pads block lists at the front and tuple forms as given", () => {
  assert.deepEqual(blockLayout([8, 4], [32, 16]).grid, [4, 4]);
  assert.deepEqual(blockLayout([1, -1, -1, -1], [32, 1, 3, 3]).grid, [32, 1, 1, 1]);
  assert.deepEqual(blockLayout([[2], "back", -1], [32, 1, 3, 3]).kernel, [2, -1, -1, -1]);
  assert.deepEqual(blockLayout([[2], "back"], [32, 1, 3, 3]).kernel, [2, 1, 1, 1]);
});

test("blockLayout() is element-wise without a granularity", () => {
  const l = blockLayout(null, [3, 2]);
  assert.deepEqual(l.kernel, [1, 1]);
  assert.deepEqual(l.grid, [3, 2]);
  assert.equal(l.blockSize, 1);
});

test("blockLayout() rejects a kernel longer than the rank, naming module, target and config", () => {
  assert.throws(
    () =>
      blockLayout([1, -1, -1, -1], [24, 32], { module: "fc2", target: "weight", configIndex: 1 }),
    (e: unknown) =>
      e instanceof PruningError && e.code === "block_rank" &&
      e.message ===
        'fc2.weight (config [1], "granularity"): kernel [1,-1,-1,-1] has 4 dims but the target has rank 2 (shape [24,32])',
  );
  assert.throws(() => blockLayout("in_channel", [16]), /has 2 dims but the target has rank 1/);
});

test("blockLayout() rejects a block length that does not divide its dim", () => {
  assert.throws(
    () => blockLayout([4, 4], [32, 1, 3, 3], { module: "conv1", target: "weight" }),
    (e: unknown) =>
      e instanceof PruningError && e.code === "block_divisor" &&
      e.message ===
        'conv1.weight ("granularity"): block length 4 does not divide dim 2 (size 3) of shape [32,1,3,3]',
  );
});
