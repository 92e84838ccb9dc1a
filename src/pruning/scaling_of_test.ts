import { test } from "node:test";
import assert from "node:assert/strict";
import { PruningError } from "./pruning_error.ts";
import { scalingOf } from "./scaling_of.ts";

test("scalingOf() maps the channel keywords like NNI's register_scalers", () => {
  assert.deepEqual(scalingOf("out_channel"), {
    kernel_size: [1],
    kernel_padding_mode: "back",
    kernel_padding_val: -1,
  });
  assert.deepEqual(scalingOf("in_channel"), {
    kernel_size: [-1, 1],
    kernel_padding_mode: "back",
    kernel_padding_val: -1,
  });
  assert.deepEqual(scalingOf("per_channel", { kind: "input" }), {
    kernel_size: [-1, 1],
    kernel_padding_mode: "back",
    kernel_padding_val: -1,
  });
});

test("scalingOf() pads block lists at the front with 1", () => {
  assert.deepEqual(scalingOf([4, 4]), {
    kernel_size: [4, 4],
    kernel_padding_mode: "front",
    kernel_padding_val: 1,
  });
});

test("scalingOf() reads NNI's tuple forms with mode || front and val || 1", () => {
  assert.deepEqual(scalingOf([[2], "back", -1]), {
    kernel_size: [2],
    kernel_padding_mode: "back",
    kernel_padding_val: -1,
  });
  assert.deepEqual(scalingOf([[2], "back"]), {
    kernel_size: [2],
    kernel_padding_mode: "back",
    kernel_padding_val: 1,
  });
  assert.deepEqual(scalingOf([[2, 2]]), {
    kernel_size: [2, 2],
    kernel_padding_mode: "front",
    kernel_padding_val: 1,
  });
  assert.deepEqual(scalingOf([[2], null, null]), {
    kernel_size: [2],
    kernel_padding_mode: "front",
    kernel_padding_val: 1,
  });
});

test("scalingOf() rejects per_channel on a weight and channel keywords on activations", () => {
  assert.throws(
    () => scalingOf("per_channel", { module: "fc1", target: "weight", configIndex: 0 }),
    (e: unknown) =>
      e instanceof PruningError && e.code === "granularity" &&
      e.message.startsWith('fc1.weight (config [0], "granularity"): "per_channel" applies'),
  );
  assert.throws(() => scalingOf("out_channel", { kind: "output" }), PruningError);
  assert.throws(() => scalingOf("in_channel", { kind: "input" }), PruningError);
});

test("scalingOf() rejects unresolved default and malformed kernels", () => {
  assert.throws(() => scalingOf("default"), /"default" must be resolved/);
  assert.throws(() => scalingOf([0, 4]), /block lengths must be integers >= 1 or -1/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => scalingOf([[2], "middle"] as any), /padding mode/);
  assert.throws(() => scalingOf([[2], "back", 3]), /padding value/);
});

test("scalingOf() is null for element-wise pruning", () => {
  assert.equal(scalingOf(null), null);
  assert.equal(scalingOf(undefined), null);
});
