import { test } from "node:test";
import assert from "node:assert/strict";
import { granularityKernel } from "./granularity_kernel.ts";
import { QuantizationError } from "./quantization_error.ts";

test("granularityKernel() maps default and null to one block per tensor", () => {
  assert.deepEqual(granularityKernel("default", "output", [4, 8]), [-1, -1]);
  assert.deepEqual(granularityKernel(undefined, "parameter", []), []);
});

test("granularityKernel() takes dim 0 for out_channel and dim 1 for in_channel", () => {
  assert.deepEqual(granularityKernel("out_channel", "parameter", [24, 32]), [1, -1]);
  assert.deepEqual(granularityKernel("in_channel", "parameter", [24, 32]), [-1, 1]);
  assert.deepEqual(granularityKernel("out_channel", "parameter", [24]), [1]);
});

test("granularityKernel() puts per_channel of a weight on dim 0 and of an activation on dim 1", () => {
  assert.deepEqual(granularityKernel("per_channel", "parameter", [8, 3, 3, 3]), [1, -1, -1, -1]);
  assert.deepEqual(granularityKernel("per_channel", "input", [4, 3, 10, 10]), [-1, 1, -1, -1]);
});

test("granularityKernel() applies block lists to the last dims and honours the tuple form", () => {
  assert.deepEqual(granularityKernel([8, 4], "parameter", [32, 16]), [8, 4]);
  assert.deepEqual(granularityKernel([4], "parameter", [2, 8]), [1, 4]);
  assert.deepEqual(granularityKernel([[2], "back", -1], "parameter", [4, 3, 3, 3]), [
    2,
    -1,
    -1,
    -1,
  ]);
  assert.deepEqual(granularityKernel([[2], "back"], "parameter", [4, 3]), [2, 1]);
  assert.deepEqual(granularityKernel([[1, -1, -1, -1]], "parameter", [4, 3, 3, 3]), [
    1,
    -1,
    -1,
    -1,
  ]);
});

test("granularityKernel() rejects channel keywords on activations and blocks that do not fit", () => {
  assert.throws(() => granularityKernel("out_channel", "output", [4, 8]), /only for parameters/);
  assert.throws(() => granularityKernel("in_channel", "parameter", [8]), /more dims/);
  assert.throws(() => granularityKernel([5], "parameter", [4, 10, 12]), /5 must divide dim 2/);
  assert.throws(() => granularityKernel([64], "parameter", [4, 32]), /larger than dim 1/);
  assert.throws(() => granularityKernel([0], "parameter", [4, 32]), /positive integers or -1/);
  assert.throws(
    () => granularityKernel("rows" as "in_channel", "parameter", [4]),
    (e) =>
      e instanceof QuantizationError && e.code === "granularity" && /unknown form/.test(e.message),
  );
  assert.throws(
    () => granularityKernel(null, "parameter", [-1]),
    (e) => e instanceof QuantizationError && e.code === "shape",
  );
});
