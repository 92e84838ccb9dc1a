import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveTargetSettings } from "./resolve_target_settings.ts";
import type { ModuleInfo } from "./types.ts";

const MLP: ModuleInfo[] = [
  { name: "", type: "MLP", params: {} },
  { name: "fc1", type: "Linear", params: { weight: [32, 16], bias: [32] } },
  { name: "relu", type: "ReLU", params: {} },
  { name: "fc2", type: "Linear", params: { weight: [10, 32] } },
];

test("resolveTargetSettings() keeps the first setting of a target and names both sub-configs (B5)", () => {
  const r = resolveTargetSettings(
    MLP,
    [
      { op_names: ["fc1"], quant_dtype: "int4" },
      { op_types: ["Linear"], quant_dtype: "int8" },
    ],
    "quantization",
    { algorithm: "PtqQuantizer" },
  );
  assert.equal(
    (r.byModule.get("fc1")!.get("weight")!.setting as { quant_dtype: string }).quant_dtype,
    "int4",
  );
  assert.equal(r.byModule.get("fc1")!.get("weight")!.configIndex, 0);
  assert.equal(
    (r.byModule.get("fc2")!.get("weight")!.setting as { quant_dtype: string }).quant_dtype,
    "int8",
  );
  assert.deepEqual(r.warnings.map((w) => w.message), [
    '"fc1" target "weight" is already configured by [0]; the setting from [1] is ignored',
    '"fc1" target "bias" is already configured by [0]; the setting from [1] is ignored',
    '"fc1" target "_input_0" is already configured by [0]; the setting from [1] is ignored',
    '"fc1" target "_output_0" is already configured by [0]; the setting from [1] is ignored',
    '"fc2" (Linear) has no parameter "bias"; the default target is skipped',
  ]);
});

test("resolveTargetSettings() lets later sub-configs add new targets", () => {
  const r = resolveTargetSettings(MLP, [
    { op_names: ["fc1"], target_names: ["weight"], sparse_ratio: 0.25 },
    { op_names: ["fc1"], sparse_ratio: 0.75 },
  ], "pruning");
  assert.deepEqual(r.targets.map((t) => [t.target, t.configIndex]), [["weight", 0], ["bias", 1]]);
});

test("resolveTargetSettings() reports targets, kinds and shapes", () => {
  const r = resolveTargetSettings(MLP, [{
    op_names: ["fc1"],
    quant_dtype: "int8",
    target_names: ["weight", "_output_"],
  }], "quantization");
  assert.deepEqual(r.targets.map((t) => [t.module, t.moduleType, t.target, t.kind, t.shape]), [
    ["fc1", "Linear", "weight", "parameter", [32, 16]],
    ["fc1", "Linear", "_output_0", "output", null],
  ]);
});

test("resolveTargetSettings() passes legacy options through", () => {
  const r = resolveTargetSettings(MLP, [{
    op_types: ["Linear"],
    quant_types: ["weight"],
    quant_bits: 8,
    quant_start_step: 2,
  }], "quantization");
  assert.equal(r.legacy, true);
  assert.deepEqual(r.options, { quantStartStep: 2 });
});

test("resolveTargetSettings() warns when a bias is aligned to an inactive weight (B14)", () => {
  const r = resolveTargetSettings(MLP, [{ op_names: ["fc1"] }], "pruning");
  assert.deepEqual(r.warnings.map((w) => w.code), ["inactive_target"]);
});

test("resolveTargetSettings() accepts a BatchNorm aligned to a conv in another module", () => {
  const modules: ModuleInfo[] = [
    { name: "conv1", type: "Conv2d", params: { weight: [16, 3, 3, 3], bias: [16] } },
    { name: "bn1", type: "BatchNorm2d", params: { weight: [16], bias: [16] } },
  ];
  const align = { module_name: "conv1", target_name: "weight", dims: [0] };
  const r = resolveTargetSettings(
    modules,
    [
      { op_names: ["conv1"], sparse_ratio: 0.5 },
      { op_names: ["bn1"], target_settings: { weight: { align }, bias: { align } } },
    ],
    "pruning",
    { algorithm: "L1NormPruner" },
  );
  assert.deepEqual(r.warnings, []);
  assert.equal(r.targets.length, 4);
});

test("resolveTargetSettings() rejects a top-level ratio meeting a nested threshold", () => {
  assert.throws(
    () =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        sparse_ratio: 0.5,
        target_settings: { weight: { sparse_threshold: 0.1 } },
      }], "pruning"),
    {
      name: "ConfigError",
      message:
        '1 issue in the config list:\n  [0]: "fc1" target "weight": "sparse_ratio" 0.5 and "sparse_threshold" 0.1 both apply (one from the top level, one from "target_settings"); set the other one to null in "target_settings"',
    },
  );
});

test("resolveTargetSettings() warns about fuse_names that name no module", () => {
  const r = resolveTargetSettings(MLP, [{
    op_names: ["fc1"],
    quant_dtype: "int8",
    target_names: ["weight"],
    fuse_names: [["fc1", "bn9"]],
  }], "quantization");
  assert.deepEqual(r.warnings, [{
    code: "unknown_module",
    path: "[0].fuse_names[0][1]",
    message: '"bn9" is not a module of the model; this fusion cannot apply',
  }]);
});
