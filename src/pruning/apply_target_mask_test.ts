import { test } from "node:test";
import assert from "node:assert/strict";
import { applyTargetMask } from "./apply_target_mask.ts";

const w = new Float32Array([-1.5, 2, -0, 3]);
const m = new Uint8Array([0, 1, 1, 0]);

test("applyTargetMask() multiplies by the mask, keeping float32 signs of zero", () => {
  const v = applyTargetMask(w, m);
  assert.ok(Object.is(v[0], -0));
  assert.deepEqual([...v].slice(1), [2, -0, 0]);
});

test("applyTargetMask() adds -1000 at pruned positions for add", () => {
  assert.deepEqual([...applyTargetMask(w, m, { method: "add" })], [-1001.5, 2, 0, -997]);
});

test("applyTargetMask() ignores the mask for bypass", () => {
  assert.deepEqual([...applyTargetMask(w, m, { method: "bypass" })], [...w]);
});

test("applyTargetMask() rejects a mask of another length and unknown methods", () => {
  assert.throws(() => applyTargetMask(w, new Uint8Array(3)), RangeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => applyTargetMask(w, m, { method: "movement" as any }), TypeError);
});
