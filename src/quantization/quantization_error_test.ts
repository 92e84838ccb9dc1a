import { test } from "node:test";
import assert from "node:assert/strict";
import { QuantizationError } from "./quantization_error.ts";
import { locateError } from "./_locate_error.ts";

test("QuantizationError names module, target, config and key, and keeps them as fields", () => {
  const e = new QuantizationError(
    "quant_dtype",
    '"quant_dtype" must be "int<N>": current value is "f8"',
    {
      module: "conv",
      target: "weight",
      configIndex: 2,
    },
  );
  assert.equal(
    e.message,
    'conv.weight (config [2], "quant_dtype"): "quant_dtype" must be "int<N>": current value is "f8"',
  );
  assert.deepEqual(
    [e.name, e.code, e.module, e.target, e.configIndex, e.key, e.path],
    ["QuantizationError", "quant_dtype", "conv", "weight", 2, "quant_dtype", "[2].quant_dtype"],
  );
  assert.ok(e instanceof RangeError);
});

test("QuantizationError leaves out what it does not know", () => {
  const bare = new QuantizationError("calibration", "calibration needs at least one batch");
  assert.equal(bare.message, "calibration needs at least one batch");
  assert.equal(bare.path, undefined);
  assert.equal(bare.module, undefined);
  const noKey = new QuantizationError("non_finite", "block 0 is [NaN, 1]", {
    module: "fc",
    target: "weight",
    configIndex: 0,
  });
  assert.equal(noKey.message, "fc.weight (config [0]): block 0 is [NaN, 1]");
  assert.equal(noKey.path, "[0]");
  const noConfig = new QuantizationError("storage", "tensor is F16", {
    module: "fc",
    target: "weight",
  });
  assert.equal(noConfig.message, "fc.weight: tensor is F16");
  const keyOnly = new QuantizationError("granularity", "does not fit", {
    module: "fc",
    target: "weight",
  });
  assert.equal(keyOnly.message, 'fc.weight ("granularity"): does not fit');
});

test("QuantizationError takes a config path instead of an index, with or without a module", () => {
  const group = new QuantizationError("fusion", '"fc" is a MatMul without a bias Add', {
    path: "[1].fuse_names[0]",
  });
  assert.equal(group.message, '[1].fuse_names[0]: "fc" is a MatMul without a bias Add');
  assert.equal(group.path, "[1].fuse_names[0]");
  assert.equal(group.key, "fuse_names");
  const named = new QuantizationError("fusion", "x", { module: "fc", path: "[1].fuse_names[0]" });
  assert.equal(named.message, "fc (config [1].fuse_names[0]): x");
});

test("QuantizationError keeps its cause and a key that overrides the code's", () => {
  const cause = new Error("inner");
  const e = new QuantizationError("storage", "block kernels cannot be stored", {
    module: "fc",
    target: "weight",
    configIndex: 0,
    key: "granularity",
    cause,
  });
  assert.equal(e.cause, cause);
  assert.equal(e.path, "[0].granularity");
  assert.equal(e.code, "storage");
});

test("locateError() adds the target to an error that lacks it, keeping code, key and detail", () => {
  const at = { module: "fc", target: "_output_0", configIndex: 3 };
  const inner = new QuantizationError("granularity", "block size 5 must divide dim 1");
  const located = locateError(inner, at, "shape") as QuantizationError;
  assert.equal(
    located.message,
    'fc._output_0 (config [3], "granularity"): block size 5 must divide dim 1',
  );
  assert.equal(located.code, "granularity");
  assert.equal(located.cause, inner);
  const already = new QuantizationError("range", "x", { module: "a", target: "b" });
  assert.equal(locateError(already, at, "shape"), already);
  const kernel = locateError(
    new RangeError('"shape" needs 4 values'),
    at,
    "shape",
  ) as QuantizationError;
  assert.equal(kernel.code, "shape");
  assert.equal(kernel.message, 'fc._output_0 (config [3]): "shape" needs 4 values');
  const other = new Error("disk full");
  assert.equal(locateError(other, at, "shape"), other);
});
