import { test } from "node:test";
import assert from "node:assert/strict";
import { blockLayout } from "./block_layout.ts";
import { expandMask } from "./expand_mask.ts";

test("expandMask() spreads 4x4 blocks over their elements", () => {
  const layout = blockLayout([2, 2], [2, 4]);
  const mask = {
    module: "m",
    target: "weight",
    layout,
    blocks: new Uint8Array([0, 1]),
    rawShape: layout.raw,
  };
  assert.deepEqual([...expandMask(mask)], [0, 0, 1, 1, 0, 0, 1, 1]);
  assert.deepEqual([...expandMask(mask, { shape: "raw" })], [0, 0, 1, 1, 0, 0, 1, 1]);
});

test("expandMask() gives NNI's compact mask of an aligned bias", () => {
  const layout = blockLayout(null, [3]);
  const mask = {
    module: "m",
    target: "bias",
    layout,
    blocks: new Uint8Array([1, 1, 1]),
    rawShape: [1],
  };
  assert.deepEqual([...expandMask(mask, { shape: "raw" })], [1]);
  assert.deepEqual([...expandMask(mask)], [1, 1, 1]);
});
