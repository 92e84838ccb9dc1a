import { test } from "node:test";
import assert from "node:assert/strict";
import { convertLegacyConfigList } from "./convert_legacy_config_list.ts";

test("convertLegacyConfigList() leaves a v3 list alone and returns a copy", () => {
  const list = [{ op_types: ["Linear"], sparse_ratio: 0.5 }, { op_names: ["fc1"], sparsity: 0.3 }];
  const r = convertLegacyConfigList(list, "pruning");
  assert.equal(r.legacy, false);
  assert.deepEqual(r.configList, list);
  assert.notEqual(r.configList[0], list[0]);
  assert.deepEqual(r.warnings, []);
});

test("convertLegacyConfigList() turns exclude sub-configs into exclusions on every sub-config", () => {
  const r = convertLegacyConfigList([
    { sparsity_per_layer: 0.5, op_types: ["Conv2d", "Linear"] },
    { exclude: true, op_types: ["Linear"], op_names: ["conv1"] },
  ], "pruning");
  assert.equal(r.legacy, true);
  assert.deepEqual(r.configList[1], {
    op_types: ["Linear"],
    op_names: ["conv1"],
    exclude_op_types: ["Linear"],
    exclude_op_names: ["conv1"],
    exclude_op_names_re: [],
  });
  assert.deepEqual(r.warnings.map((w) => w.path), ["[1].exclude", "[0].sparsity_per_layer"]);
});

test("convertLegacyConfigList() says that an exclude value of false is ignored", () => {
  const r = convertLegacyConfigList([{ sparsity: 0.5, op_types: ["Linear"] }, {
    exclude: false,
    op_names: ["fc2"],
  }], "pruning");
  assert.equal(
    r.warnings[0].message,
    'legacy key "exclude" (value false is ignored) was translated to "exclude_op_types", "exclude_op_names" and "exclude_op_names_re" on every sub-config',
  );
});

test("convertLegacyConfigList() turns op_partial_names into unescaped .*name.* regexes", () => {
  const r = convertLegacyConfigList(
    [{ sparsity: 0.5, op_partial_names: ["fc", "layer.0"] }],
    "pruning",
  );
  assert.deepEqual(r.configList[0], {
    op_names_re: [".*fc.*", ".*layer.0.*"],
    target_names: ["weight", "bias"],
    target_settings: { weight: { sparse_ratio: 0.5, granularity: "default" } },
  });
});

test("convertLegacyConfigList() prefers sparsity_per_layer over sparsity and keeps max_sparsity_per_layer", () => {
  const r = convertLegacyConfigList([{
    sparsity: 0.8,
    sparsity_per_layer: 0.3,
    max_sparsity_per_layer: 0.5,
    op_types: ["Linear"],
  }], "pruning");
  assert.deepEqual((r.configList[0] as { target_settings: unknown }).target_settings, {
    weight: { sparse_ratio: 0.3, granularity: "default", max_sparse_ratio: 0.5 },
  });
  assert.ok(
    r.warnings.some((w) =>
      w.message === 'legacy key "sparsity" was overridden by "sparsity_per_layer" and dropped'
    ),
  );
});

test("convertLegacyConfigList() gives each total_sparsity sub-config its own global group (B1)", () => {
  const r = convertLegacyConfigList([
    { total_sparsity: 0.5, op_types: ["Conv2d"] },
    { total_sparsity: 0.8, op_names: ["fc1"] },
  ], "pruning");
  assert.deepEqual(
    r.configList.map((c) =>
      (c as { target_settings: { weight: { global_group_id: string } } }).target_settings.weight
        .global_group_id
    ),
    ["legacy_total_sparsity_0", "legacy_total_sparsity_1"],
  );
});

test("convertLegacyConfigList() converts quant_bits dicts, keeps bias and adds a top-level quant_dtype (B2)", () => {
  const r = convertLegacyConfigList([{
    op_types: ["Linear"],
    quant_types: ["weight", "bias", "input"],
    quant_bits: { input: 8, weight: 4, bias: 8 },
  }], "quantization");
  assert.deepEqual(r.configList[0], {
    op_types: ["Linear"],
    quant_dtype: "int8",
    target_names: ["_input_", "weight", "bias"],
    target_settings: {
      _input_: { quant_dtype: "int8" },
      weight: { quant_dtype: "int4" },
      bias: { quant_dtype: "int8" },
    },
  });
});

test("convertLegacyConfigList() accepts one quant type as a string and quant_bits as an int", () => {
  const r = convertLegacyConfigList([{
    op_types: ["Linear"],
    quant_types: "output",
    quant_bits: 4,
    quant_dtype: "int8",
  }], "quantization");
  assert.deepEqual(r.configList[0], {
    op_types: ["Linear"],
    quant_dtype: "int8",
    target_names: ["_output_"],
    target_settings: { _output_: { quant_dtype: "int4" } },
  });
});

test("convertLegacyConfigList() moves quant_start_step into options with a warning (B2)", () => {
  const r = convertLegacyConfigList([{
    op_types: ["Linear"],
    quant_types: ["weight"],
    quant_bits: 8,
    quant_start_step: 10,
  }], "quantization");
  assert.deepEqual(r.options, { quantStartStep: 10 });
  assert.equal(Object.hasOwn(r.configList[0] as object, "quant_start_step"), false);
  assert.deepEqual(r.warnings.find((w) => w.code === "legacy_option"), {
    code: "legacy_option",
    path: "[0].quant_start_step",
    message:
      'legacy key "quant_start_step" is a quantizer option, not a config key: it was moved to options.quantStartStep (10)',
  });
});

test("convertLegacyConfigList() rejects different quant_start_step values", () => {
  assert.throws(
    () =>
      convertLegacyConfigList([
        { op_types: ["Linear"], quant_types: ["weight"], quant_bits: 8, quant_start_step: 1 },
        { op_names: ["fc1"], quant_types: ["weight"], quant_bits: 8, quant_start_step: 2 },
      ], "quantization"),
    {
      name: "ConfigError",
      message:
        /\[1\]\.quant_start_step: "quant_start_step" must be the same in every sub-config: 1 and 2/,
    },
  );
});
