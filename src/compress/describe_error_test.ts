import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../config/config_error.ts";
import { DistillationError } from "../distillation/distillation_error.ts";
import { FileError } from "../io/file_error.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import { PruningError } from "../pruning/pruning_error.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import { describeError } from "./describe_error.ts";

test("describeError() gives a config error every issue with its path", () => {
  const issues = [
    { code: "out_of_range" as const, path: "[0].sparse_ratio", message: "must be within [0, 1]" },
    {
      code: "unknown_key" as const,
      path: "[1].sparse_ration",
      message: 'unknown key "sparse_ration"',
    },
  ];
  const d = describeError(new ConfigError(issues));
  assert.equal(d.kind, "ConfigError");
  assert.equal(d.category, "usage");
  assert.deepEqual(d.issues?.map((i) => i.path), ["[0].sparse_ratio", "[1].sparse_ration"]);
});

test("describeError() gives a model-file error the file, field and byte offset", () => {
  const e = new ModelFormatError("header is not JSON", { file: "m.safetensors", offset: 8 });
  assert.deepEqual(describeError(e), {
    kind: "ModelFormatError",
    category: "input",
    message: e.message,
    file: "m.safetensors",
    offset: 8,
  });
  const field = new ModelFormatError("bad", { file: "m.onnx", field: "graph.node[3]", offset: 12 });
  assert.equal(describeError(field).field, "graph.node[3]");
});

test("describeError() gives a file error its code and path", () => {
  const e = FileError.from(
    "read",
    "model file",
    "m.onnx",
    Object.assign(new Error("x"), { code: "ENOENT" }),
  );
  assert.deepEqual(describeError(e), {
    kind: "FileError",
    category: "input",
    code: "not_found",
    message: 'cannot read model file "m.onnx": no such file',
    file: "m.onnx",
  });
});

test("describeError() keeps the code, module, target and path of pruning and distillation errors", () => {
  const p = new PruningError("block_divisor", "block size 3 does not divide dim 0 (size 32)", {
    module: "fc1",
    target: "weight",
    configIndex: 0,
  });
  assert.deepEqual(describeError(p), {
    kind: "PruningError",
    category: "usage",
    code: "block_divisor",
    message: p.message,
    module: "fc1",
    target: "weight",
    path: "[0]",
  });
  const d = new DistillationError("lambda", '"lambda" must be >= 0: current value is -1', {
    module: "fc3",
    target: "_output_0",
    configIndex: 2,
  });
  assert.deepEqual(describeError(d), {
    kind: "DistillationError",
    category: "usage",
    code: "lambda",
    message: d.message,
    module: "fc3",
    target: "_output_0",
    path: "[2].lambda",
  });
});

test("describeError() classifies quantization errors by code and adds a hint for some", () => {
  const at = { module: "conv", target: "_input_0", configIndex: 1 };
  const uncalibrated = describeError(new QuantizationError("uncalibrated", "never observed", at));
  assert.equal(uncalibrated.category, "usage");
  assert.equal(uncalibrated.code, "uncalibrated");
  assert.equal(uncalibrated.path, "[1].target_names");
  assert.match(uncalibrated.hint ?? "", /calibration data/);
  const nan = describeError(new QuantizationError("non_finite", "block 0 is [NaN, 1]", at));
  assert.equal(nan.category, "input");
  assert.equal(nan.path, "[1]");
  const batch = describeError(new QuantizationError("calibration", "no batch"));
  assert.deepEqual(batch, {
    kind: "QuantizationError",
    category: "input",
    code: "calibration",
    message: "no batch",
  });
  const group = describeError(new QuantizationError("fusion", "x", { path: "[0].fuse_names[1]" }));
  assert.equal(group.path, "[0].fuse_names[1]");
  assert.equal(group.module, undefined);
});

test("describeError() reads classes, never message text", () => {
  // A plain Error that reads like a config or calibration problem is still internal.
  const lookalike = new Error('1 issue in the config list: "_input_0" was never observed');
  assert.deepEqual(describeError(lookalike), {
    kind: "Error",
    category: "internal",
    message: lookalike.message,
  });
  // The library's plain argument checks are the caller's mistake.
  assert.deepEqual(describeError(new RangeError("bad")), {
    kind: "RangeError",
    category: "usage",
    message: "bad",
  });
  assert.equal(describeError(new TypeError('"mode" must be pruning')).category, "usage");
  assert.deepEqual(describeError("oops"), { kind: "Error", category: "internal", message: "oops" });
});

test("describeError() output survives JSON, as the worker and the edge send it", () => {
  const e = new QuantizationError("granularity", "does not fit", {
    module: "fc",
    target: "weight",
    configIndex: 0,
  });
  const d = describeError(e);
  assert.deepEqual(JSON.parse(JSON.stringify(d)), d);
});
