import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalizeSettings } from "./canonicalize_settings.ts";

const WEIGHT_DEFAULT = {
  sparse_ratio: null,
  max_sparse_ratio: null,
  min_sparse_ratio: null,
  sparse_threshold: null,
  global_group_id: null,
  dependency_group_id: null,
  granularity: "default",
  internal_metric_block: null,
  apply_method: "mul",
};
const ALIGN = { module_name: null, target_name: "weight", dims: [0] };

test("canonicalizeSettings() applies shorthand keys only where a target's default has them (S3)", () => {
  const s = canonicalizeSettings("Linear", {
    op_names: ["fc1"],
    sparse_ratio: 0.5,
    granularity: "in_channel",
    apply_method: "add",
    align: { module_name: "fc0", target_name: "weight", dims: [0] },
  }, "pruning");
  assert.deepEqual(s, {
    weight: {
      ...WEIGHT_DEFAULT,
      sparse_ratio: 0.5,
      granularity: "in_channel",
      apply_method: "add",
    },
    bias: { align: { module_name: "fc0", target_name: "weight", dims: [0] }, apply_method: "add" },
  });
});

test("canonicalizeSettings() applies target_settings after shorthand and can create targets", () => {
  const s = canonicalizeSettings("Linear", {
    op_names: ["fc1"],
    granularity: "out_channel",
    target_settings: {
      weight: { sparse_ratio: 0.25, granularity: "in_channel" },
      bias: { sparse_ratio: 0.5 },
    },
  }, "pruning");
  assert.deepEqual(s, {
    weight: { ...WEIGHT_DEFAULT, sparse_ratio: 0.25, granularity: "in_channel" },
    bias: { align: ALIGN, apply_method: "mul", sparse_ratio: 0.5 },
  });
});

test("canonicalizeSettings() moves _input_ and _output_ to the end as _input_0 and _output_0", () => {
  const s = canonicalizeSettings(
    "Conv2d",
    { op_types: ["Conv2d"], quant_dtype: "int8" },
    "quantization",
  );
  assert.deepEqual(Object.keys(s), ["weight", "bias", "_input_0", "_output_0"]);
});

test("canonicalizeSettings() uses a configured _input_0 without an _input_ default (B13)", () => {
  const s = canonicalizeSettings("Linear", {
    op_names: ["fc1"],
    target_names: ["weight", "_input_0"],
    target_settings: { weight: { sparse_ratio: 0.5 }, _input_0: { sparse_ratio: 0.5 } },
  }, "pruning");
  assert.deepEqual(s._input_0, { sparse_ratio: 0.5 });
});

test("canonicalizeSettings() falls back to the _output_ default for _output_<key>", () => {
  const s = canonicalizeSettings("Linear", {
    op_names: ["fc1"],
    quant_dtype: "uint8",
    target_names: ["_output_logits"],
  }, "quantization");
  assert.deepEqual(s, {
    _output_logits: {
      quant_dtype: "uint8",
      quant_scheme: null,
      granularity: "default",
      apply_method: "clamp_round",
    },
  });
});

test("canonicalizeSettings() gives every class an _output_ target in distillation", () => {
  const s = canonicalizeSettings("MyBlock", {
    op_names: ["block"],
    lambda: 0.5,
    link: "teacher.block",
  }, "distillation");
  assert.deepEqual(s, { _output_0: { lambda: 0.5, link: "teacher.block", apply_method: null } });
});

test("canonicalizeSettings() registers LayerNorm like BatchNorm for pruning and like Linear for quantization", () => {
  assert.deepEqual(
    Object.keys(canonicalizeSettings("LayerNorm", { op_types: ["LayerNorm"] }, "pruning")),
    ["weight", "bias"],
  );
  assert.deepEqual(
    Object.keys(
      canonicalizeSettings(
        "LayerNorm",
        { op_types: ["LayerNorm"], quant_dtype: "int8" },
        "quantization",
      ),
    ),
    ["weight", "bias", "_input_0", "_output_0"],
  );
});

test("canonicalizeSettings() lets an extra registry replace or add a class", () => {
  const registry = { quantization: { Linear: { weight: { quant_dtype: "int4" } } } };
  assert.deepEqual(
    canonicalizeSettings("Linear", { op_names: ["fc1"], quant_dtype: "int8" }, "quantization", {
      registry,
    }),
    {
      weight: { quant_dtype: "int8" },
    },
  );
});

test("canonicalizeSettings() names the module, the target and the config path in errors", () => {
  assert.throws(
    () =>
      canonicalizeSettings(
        "Linear",
        { op_names: ["fc1"], target_names: ["weight", "foo"] },
        "pruning",
        { moduleName: "fc1", configIndex: 3 },
      ),
    {
      name: "ConfigError",
      message:
        '1 issue in the config list:\n  [3].target_names[1]: "fc1" (Linear) has no pruning target "foo" (default targets: "weight", "bias"); configure it in "target_settings"',
    },
  );
});
