import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { validateConfigList } from "./validate_config_list.ts";

test("validateConfigList() accepts integer ratios 0 and 1 (S4)", () => {
  validateConfigList([{ op_names: ["fc1"], sparse_ratio: 0 }, {
    op_names: ["fc2"],
    sparse_ratio: 1,
  }], "pruning");
});

test("validateConfigList() accepts a top-level ratio together with nested ratios (B3)", () => {
  validateConfigList([{
    op_names: ["fc1"],
    sparse_ratio: 0.5,
    target_settings: { bias: { sparse_ratio: 0.25 } },
  }], "pruning");
});

test("validateConfigList() accepts the spec's standard form with explicit nulls", () => {
  validateConfigList([{
    op_names: ["fc1", "fc2"],
    target_names: ["weight", "bias"],
    target_settings: {
      weight: {
        sparse_ratio: 0.8,
        max_sparse_ratio: null,
        min_sparse_ratio: null,
        sparse_threshold: null,
        global_group_id: null,
        dependency_group_id: null,
        granularity: "default",
        internal_metric_block: null,
        apply_method: "mul",
      },
      bias: { align: { target_name: "weight", dims: [0], module_name: null }, apply_method: "mul" },
    },
  }], "pruning");
});

test("validateConfigList() accepts every granularity form", () => {
  for (
    const granularity of [
      "default",
      "in_channel",
      "out_channel",
      "per_channel",
      [4, 4],
      [1, -1, -1, -1],
      [[2]],
      [[2], "back"],
      [[2], "back", -1],
      [[2], null, null],
    ]
  ) {
    validateConfigList([{ op_types: ["Conv2d"], sparse_ratio: 0.5, granularity }], "pruning");
  }
});

test("validateConfigList() accepts quantization keys, fuse_names and uint dtypes", () => {
  validateConfigList([{
    op_names: ["conv1"],
    quant_dtype: "uint4",
    quant_scheme: "affine",
    granularity: [8, 4],
    apply_method: "qat_clamp_round",
    fuse_names: [["conv1", "bn1"], ["conv2", "bn2", "relu2"]],
    target_settings: { weight: { quant_dtype: "int2" }, _output_: { quant_dtype: null } },
  }], "quantization");
});

test("validateConfigList() rejects fuse_names that are not groups of 2 or 3 names, at their paths", () => {
  const issues = (fuse_names: unknown) => {
    try {
      validateConfigList(
        [{ op_names: ["conv1"], quant_dtype: "int8", fuse_names }],
        "quantization",
      );
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.issues.map((i) => `${i.path} ${i.code}`);
    }
    return [];
  };
  assert.deepEqual(issues([null]), ["[0].fuse_names[0] invalid_value"]);
  assert.deepEqual(issues([[]]), ["[0].fuse_names[0] invalid_value"]);
  assert.deepEqual(issues([["a"]]), ["[0].fuse_names[0] invalid_value"]);
  assert.deepEqual(issues("x"), ["[0].fuse_names invalid_type"]);
  assert.deepEqual(issues([[1, 2]]), ["[0].fuse_names[0] invalid_value"]);
  assert.deepEqual(issues([["a", "b"], ["a", "b", "c", "d"], ["a", ""]]), [
    "[0].fuse_names[1] invalid_value",
    "[0].fuse_names[2] invalid_value",
  ]);
  assert.deepEqual(issues([["a", "b"]]), []);
});

test("validateConfigList() accepts integer lambda (B11), string and list links", () => {
  validateConfigList([
    { op_names: ["fc1"], lambda: 1, link: "fc1", apply_method: "kl" },
    { op_names: ["fc2"], lambda: 0.5, link: ["fc2", "fc3"] },
    { op_names: ["fc3"], link: "auto" },
  ], "distillation");
});

test("validateConfigList() collects every issue of every sub-config before throwing", () => {
  assert.throws(
    () =>
      validateConfigList([
        { op_types: ["Linear"], sparse_ratio: -1, granularity: "rows" },
        { op_names: ["fc1"], min_sparse_ratio: 0.9, max_sparse_ratio: 0.1, global_group_id: 1.5 },
      ], "pruning"),
    (error: unknown) => {
      const e = error as { issues: { path: string }[] };
      assert.deepEqual(e.issues.map((i) => i.path), [
        "[0].sparse_ratio",
        "[0].granularity",
        "[1].global_group_id",
        "[1]",
      ]);
      return true;
    },
  );
});

test("validateConfigList() returns legacy warnings and options", () => {
  const r = validateConfigList([{
    op_types: ["Linear"],
    quant_types: ["weight"],
    quant_bits: 8,
    quant_start_step: 3,
  }], "quantization");
  assert.equal(r.legacy, true);
  assert.deepEqual(r.options, { quantStartStep: 3 });
  assert.deepEqual(r.warnings.map((w) => w.code), [
    "legacy_option",
    "legacy_translated",
    "legacy_translated",
    "legacy_translated",
  ]);
});

test("validateConfigList() warns about target_settings that target_names leaves unused", () => {
  const r = validateConfigList([{
    op_names: ["fc1"],
    target_names: ["weight", "_input_"],
    target_settings: {
      weight: { sparse_ratio: 0.5 },
      bias: { sparse_ratio: 0.5 },
      _input_0: { sparse_ratio: 0.1 },
    },
  }], "pruning");
  assert.deepEqual(r.warnings, [{
    code: "unused_setting",
    path: "[0].target_settings.bias",
    message: '"bias" is not in "target_names", so this setting is not used',
  }]);
});
