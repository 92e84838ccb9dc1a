import { test } from "node:test";
import assert from "node:assert/strict";
import { prunedCount } from "./pruned_count.ts";

test("prunedCount() truncates the float64 product like Python's int(n * r)", () => {
  assert.equal(prunedCount(800, 0.29), 231);
  assert.equal(prunedCount(50, 0.58), 28);
  assert.equal(prunedCount(10, 0.7), 7);
  assert.equal(prunedCount(0, 0.5), 0);
});

test("prunedCount() divides by the chunks before multiplying", () => {
  assert.equal(prunedCount(8, 0.5, 2), 2);
  assert.equal(prunedCount(9, 0.5, 2), 2);
});

test("prunedCount() rejects non-integer sizes and chunks", () => {
  assert.throws(() => prunedCount(1.5, 0.5), RangeError);
  assert.throws(() => prunedCount(4, 0.5, 0), RangeError);
});
