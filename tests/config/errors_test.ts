// Every kind of bad config, each pinned by its exact issues (code, path and message).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  type ModuleInfo,
  resolveTargetSettings,
  validateConfigList,
} from "../../src/config/mod.ts";

/** The issues of the `ConfigError` that `fn` throws, as [code, path, message] rows. */
function pinned(fn: () => unknown): [string, string, string][] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => [i.code, i.path, i.message]);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

const MLP: ModuleInfo[] = [
  { name: "", type: "MLP", params: {} },
  { name: "fc1", type: "Linear", params: { weight: [32, 16], bias: [32] } },
  { name: "relu1", type: "ReLU", params: {} },
  { name: "fc2", type: "Linear", params: { weight: [10, 32] } },
];
function nested(levels: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let cur = root;
  for (let i = 0; i < levels; i++) {
    const next: Record<string, unknown> = {};
    cur.x = next;
    cur = next;
  }
  return root;
}
const deep = nested(40);

test("a config list that is an object is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList({ op_types: ["Linear"] }, "pruning")), [[
    "not_array",
    "",
    'the config list must be a list of sub-configs: current value is {"op_types":["Linear"]}',
  ]]);
});

test("a sub-config that is a string is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList(["Linear"], "pruning")), [[
    "not_object",
    "[0]",
    'a sub-config must be an object: current value is "Linear"',
  ]]);
});

test("a __proto__ key from JSON.parse is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        JSON.parse('[{"op_types":["Linear"],"__proto__":{"polluted":1}}]'),
        "pruning",
      )
    ),
    [["forbidden_key", "[0].__proto__", 'the key "__proto__" is not allowed in a config']],
  );
});

test("a constructor key in target_settings is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        target_settings: { constructor: { sparse_ratio: 0.5 } },
      }], "pruning")
    ),
    [[
      "forbidden_key",
      "[0].target_settings.constructor",
      'the key "constructor" is not allowed in a config',
    ]],
  );
});

test("data nested deeper than 32 levels is rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], align: deep }], "pruning")),
    [[
      "too_deep",
      "[0].align.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x",
      "config data must be nested at most 32 levels deep",
    ]],
  );
});

test("more than 10,000 sub-configs are rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList(new Array(10001).fill({ op_types: ["Linear"] }), "pruning")),
    [[
      "too_large",
      "",
      "the config list must have at most 10000 sub-configs: current length is 10001",
    ]],
  );
});

test("more than 100,000 list entries are rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_names: new Array(100001).fill("fc1") }], "pruning")),
    [["too_large", "[0].op_names", "the config list must have at most 100000 entries in all"]],
  );
});

test("a Date value is rejected as not plain data", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], sparse_ratio: new Date(0) }], "pruning")
    ),
    [[
      "not_plain_data",
      "[0].sparse_ratio",
      "config values must be plain JSON data: current value is [object Date]",
    ]],
  );
});

test("a near-miss key gets a did-you-mean", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], sparsity_ratio: 0.5 }], "pruning")),
    [[
      "unknown_key",
      "[0].sparsity_ratio",
      'unknown key "sparsity_ratio"; did you mean "sparse_ratio"?',
    ]],
  );
});

test("an unknown key without a near miss is named", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], foo: 1 }], "pruning")),
    [["unknown_key", "[0].foo", 'unknown key "foo"']],
  );
});

test("a quantization key in a pruning list is named as such", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], quant_dtype: "int8" }], "pruning")),
    [[
      "wrong_mode_key",
      "[0].quant_dtype",
      '"quant_dtype" is a quantization key; this config list is validated for pruning',
    ]],
  );
});

test("a distillation key in a quantization list is named as such", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], quant_dtype: "int8", lambda: 1 }], "quantization")
    ),
    [[
      "wrong_mode_key",
      "[0].lambda",
      '"lambda" is a distillation key; this config list is validated for quantization',
    ]],
  );
});

test("fuse_names outside quantization is named as a quantization key", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], fuse_names: [["a", "b"]] }], "pruning")
    ),
    [[
      "wrong_mode_key",
      "[0].fuse_names",
      '"fuse_names" is a quantization key; this config list is validated for pruning',
    ]],
  );
});

test("a legacy key after the first sub-config is explained", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], sparse_ratio: 0.5 }, {
        op_names: ["fc1"],
        sparsity: 0.3,
      }], "pruning")
    ),
    [[
      "legacy_key",
      "[1].sparsity",
      '"sparsity" is a legacy key (v3: sparse_ratio); legacy config lists are recognised from their first sub-config only',
    ]],
  );
});

test("a sub-config without op_names, op_names_re or op_types is rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ exclude_op_names: ["fc1"], sparse_ratio: 0.5 }], "pruning")),
    [[
      "missing_key",
      "[0]",
      'a sub-config must have at least one of "op_names", "op_names_re", "op_types"',
    ]],
  );
});

test("a quantization sub-config without quant_dtype is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList([{ op_types: ["Linear"] }], "quantization")), [[
    "missing_key",
    "[0]",
    'a quantization sub-config must have "quant_dtype" (null means int8)',
  ]]);
});

test("a quantization target setting without quant_dtype is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        quant_dtype: "int8",
        target_settings: { weight: { granularity: "out_channel" } },
      }], "quantization")
    ),
    [[
      "missing_key",
      "[0].target_settings.weight",
      'a quantization target setting must have "quant_dtype" (null means int8)',
    ]],
  );
});

test("a sparse_ratio string is a type error", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], sparse_ratio: "0.5" }], "pruning")),
    [[
      "invalid_type",
      "[0].sparse_ratio",
      '"sparse_ratio" must be a number: current value is "0.5"',
    ]],
  );
});

test("a nested sparse_ratio above 1 is out of range", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        target_settings: { weight: { sparse_ratio: 1.5 } },
      }], "pruning")
    ),
    [[
      "out_of_range",
      "[0].target_settings.weight.sparse_ratio",
      '"sparse_ratio" must be within [0, 1]: current value is 1.5',
    ]],
  );
});

test("max_sparse_ratio 0 is out of range", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, max_sparse_ratio: 0 }],
        "pruning",
      )
    ),
    [[
      "out_of_range",
      "[0].max_sparse_ratio",
      '"max_sparse_ratio" must be within (0, 1]: current value is 0',
    ]],
  );
});

test("min_sparse_ratio 1 is out of range", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, min_sparse_ratio: 1 }],
        "pruning",
      )
    ),
    [[
      "out_of_range",
      "[0].min_sparse_ratio",
      '"min_sparse_ratio" must be within [0, 1): current value is 1',
    ]],
  );
});

test("min_sparse_ratio above max_sparse_ratio is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        sparse_ratio: 0.5,
        min_sparse_ratio: 0.6,
        max_sparse_ratio: 0.4,
      }], "pruning")
    ),
    [[
      "min_above_max",
      "[0]",
      '"min_sparse_ratio" must be <= "max_sparse_ratio": current values are 0.6 and 0.4',
    ]],
  );
});

test("sparse_ratio with sparse_threshold in one dict is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, sparse_threshold: 0.1 }],
        "pruning",
      )
    ),
    [[
      "exclusive_keys",
      "[0]",
      '"sparse_ratio" and "sparse_threshold" cannot both be set in one setting: current values are 0.5 and 0.1',
    ]],
  );
});

test("a float quant_dtype is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], quant_dtype: "float8" }], "quantization")
    ),
    [[
      "invalid_value",
      "[0].quant_dtype",
      '"quant_dtype" must be "int<N>" or "uint<N>" with 2 <= N <= 16: current value is "float8"',
    ]],
  );
});

test("quant_dtype int32 is out of range", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], quant_dtype: "int32" }], "quantization")
    ),
    [[
      "out_of_range",
      "[0].quant_dtype",
      '"quant_dtype" bits must be within [2, 16]: current value is "int32"',
    ]],
  );
});

test("quant_dtype int1 is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], quant_dtype: "int1" }], "quantization")
    ),
    [[
      "out_of_range",
      "[0].quant_dtype",
      '"quant_dtype" must have at least 2 bits for signed integers ("int1" has the empty range [0, 0]): current value is "int1"',
    ]],
  );
});

test("a quantization apply_method in a pruning list is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, apply_method: "clamp_round" }],
        "pruning",
      )
    ),
    [[
      "invalid_value",
      "[0].apply_method",
      '"apply_method" must be one of "mul", "add", "bypass": current value is "clamp_round"',
    ]],
  );
});

test("an unknown quant_scheme is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], quant_dtype: "int8", quant_scheme: "asym" }],
        "quantization",
      )
    ),
    [[
      "invalid_value",
      "[0].quant_scheme",
      '"quant_scheme" must be one of "affine", "symmetric": current value is "asym"',
    ]],
  );
});

test("a block size of 0 is an invalid granularity", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, granularity: [4, 0] }],
        "pruning",
      )
    ),
    [[
      "invalid_granularity",
      "[0].granularity",
      '"granularity" must be one of "default", "in_channel", "out_channel", "per_channel", a list of block sizes (integers >= 1 or -1) or [[block sizes], "front" | "back", padding value]: current value is [4,0]',
    ]],
  );
});

test("an unknown granularity keyword is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, granularity: "per_layer" }],
        "pruning",
      )
    ),
    [[
      "invalid_value",
      "[0].granularity",
      '"granularity" must be one of "default", "in_channel", "out_channel", "per_channel", a list of block sizes (integers >= 1 or -1) or [[block sizes], "front" | "back", padding value]: current value is "per_layer"',
    ]],
  );
});

test("a granularity tuple with a bad padding mode is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        sparse_ratio: 0.5,
        granularity: [[2], "middle"],
      }], "pruning")
    ),
    [[
      "invalid_granularity",
      "[0].granularity",
      '"granularity" must be one of "default", "in_channel", "out_channel", "per_channel", a list of block sizes (integers >= 1 or -1) or [[block sizes], "front" | "back", padding value]: current value is [[2],"middle"]',
    ]],
  );
});

test("a boolean global_group_id is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: true }],
        "pruning",
      )
    ),
    [[
      "invalid_type",
      "[0].global_group_id",
      '"global_group_id" must be an integer or a non-empty string: current value is true',
    ]],
  );
});

test("a regex that does not compile is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList([{ op_names_re: ["fc(1"] }], "pruning")), [[
    "invalid_regex",
    "[0].op_names_re[0]",
    '"fc(1" is not a valid Python regular expression: missing ), unterminated subpattern',
  ]]);
});

test("verbose Python regex syntax is reported as unsupported", () => {
  assert.deepEqual(pinned(() => validateConfigList([{ op_names_re: ["(?x) fc 1"] }], "pruning")), [[
    "unsupported_regex",
    "[0].op_names_re[0]",
    '"(?x) fc 1" uses Python regex syntax that is not supported: verbose patterns (?x) are not supported',
  ]]);
});

test("backreferences and look-arounds are rejected with their path, since the matcher runs in linear time", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{
          op_names_re: ["(fc)\\1", "fc(?=1)"],
          exclude_op_names_re: ["(?P<a>x)(?P=a)", "(?<!a)b"],
        }],
        "pruning",
      )
    ),
    [
      [
        "unsupported_regex",
        "[0].op_names_re[0]",
        '"(fc)\\\\1" uses Python regex syntax that is not supported: backreference \\1 is not supported by the linear-time matcher',
      ],
      [
        "unsupported_regex",
        "[0].op_names_re[1]",
        '"fc(?=1)" uses Python regex syntax that is not supported: lookahead (?=...) is not supported by the linear-time matcher',
      ],
      [
        "unsupported_regex",
        "[0].exclude_op_names_re[0]",
        '"(?P<a>x)(?P=a)" uses Python regex syntax that is not supported: backreference (?P=a) is not supported by the linear-time matcher',
      ],
      [
        "unsupported_regex",
        "[0].exclude_op_names_re[1]",
        '"(?<!a)b" uses Python regex syntax that is not supported: lookbehind (?<!...) is not supported by the linear-time matcher',
      ],
    ],
  );
});

test("catastrophic-backtracking regexes select among 10,000-character module names", () => {
  const long = "a".repeat(10_000);
  const modules: ModuleInfo[] = [
    { name: "", type: "Net", params: {} },
    { name: long, type: "Linear", params: { weight: [4, 4] } },
    { name: `${long}X`, type: "Linear", params: { weight: [4, 4] } },
    { name: `${long}b`, type: "Linear", params: { weight: [4, 4] } },
  ];
  const settings = (
    pattern: string,
  ) => [
    ...resolveTargetSettings(modules, [{ op_names_re: [pattern], sparse_ratio: 0.5 }], "pruning")
      .byModule.keys(),
  ];
  assert.deepEqual(settings("(.*.*)*X"), [`${long}X`]);
  assert.deepEqual(settings("(a+)+b"), [`${long}b`]);
});

test("a non-string regex is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList([{ op_names_re: [1] }], "pruning")), [[
    "invalid_type",
    "[0].op_names_re[0]",
    'entries of "op_names_re" must be strings: current value is 1',
  ]]);
});

test("op_names given as a string is rejected", () => {
  assert.deepEqual(pinned(() => validateConfigList([{ op_names: "fc1" }], "pruning")), [[
    "invalid_type",
    "[0].op_names",
    '"op_names" must be a list of strings: current value is "fc1"',
  ]]);
});

test("align without module_name is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], align: { target_name: "weight", dims: [0] } }],
        "pruning",
      )
    ),
    [["missing_key", "[0].align", '"align" must have the key "module_name"']],
  );
});

test("align dims that are not a list are rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        align: { module_name: null, target_name: "weight", dims: 0 },
      }], "pruning")
    ),
    [["invalid_type", "[0].align.dims", '"dims" must be a list of integers: current value is 0']],
  );
});

test("a fractional internal_metric_block is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 0.5, internal_metric_block: 1.5 }],
        "pruning",
      )
    ),
    [[
      "invalid_type",
      "[0].internal_metric_block",
      '"internal_metric_block" must be an integer: current value is 1.5',
    ]],
  );
});

test("a negative lambda is out of range", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], lambda: -1 }], "distillation")),
    [["out_of_range", "[0].lambda", '"lambda" must be >= 0: current value is -1']],
  );
});

test("an empty link list is rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], link: [] }], "distillation")),
    [[
      "invalid_type",
      "[0].link",
      '"link" must be a module name or a non-empty list of module names: current value is []',
    ]],
  );
});

test("a distillation apply_method other than mse or kl is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], apply_method: "l1" }], "distillation")
    ),
    [[
      "invalid_value",
      "[0].apply_method",
      '"apply_method" must be one of "mse", "kl": current value is "l1"',
    ]],
  );
});

test("a fuse_names group of one module is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], quant_dtype: "int8", fuse_names: [["conv1"]] }],
        "quantization",
      )
    ),
    [[
      "invalid_value",
      "[0].fuse_names[0]",
      'each "fuse_names" entry must list 2 or 3 module names: current value is ["conv1"]',
    ]],
  );
});

test("target_settings given as a list is rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], target_settings: [] }], "pruning")),
    [[
      "invalid_type",
      "[0].target_settings",
      '"target_settings" must be an object of target settings: current value is a list',
    ]],
  );
});

test("a target setting that is a number is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], target_settings: { weight: 0.5 } }], "pruning")
    ),
    [[
      "not_object",
      "[0].target_settings.weight",
      'the setting of target "weight" must be an object: current value is 0.5',
    ]],
  );
});

test("a selector key inside a target setting is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        target_settings: { weight: { op_names: ["fc1"] } },
      }], "pruning")
    ),
    [[
      "unknown_key",
      "[0].target_settings.weight.op_names",
      '"op_names" belongs at the top level of a sub-config, not in a target setting',
    ]],
  );
});

test("target_names given as a string is rejected", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], target_names: "weight" }], "pruning")),
    [[
      "invalid_type",
      "[0].target_names",
      '"target_names" must be a list of strings: current value is "weight"',
    ]],
  );
});

test("legacy quant_types without quant_bits is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{ op_types: ["Linear"], quant_types: ["weight"] }], "quantization")
    ),
    [["missing_key", "[0]", 'legacy key "quant_types" needs "quant_bits"']],
  );
});

test("an unknown legacy quant type is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList(
        [{ op_types: ["Linear"], quant_types: ["weights"], quant_bits: 8 }],
        "quantization",
      )
    ),
    [[
      "invalid_value",
      "[0].quant_types",
      '"quant_types" must be a list of "input", "weight", "output", "bias": current value is ["weights"]',
    ]],
  );
});

test("a legacy quant_bits dict missing a quant type is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        quant_types: ["weight", "input"],
        quant_bits: { weight: 8 },
      }], "quantization")
    ),
    [["missing_key", "[0].quant_bits", '"quant_bits" has no entry for the quant type "input"']],
  );
});

test("a legacy pruning key in a quantization list is named as such", () => {
  assert.deepEqual(
    pinned(() => validateConfigList([{ op_types: ["Linear"], sparsity: 0.5 }], "quantization")),
    [[
      "wrong_mode_key",
      "[0].sparsity",
      '"sparsity" is a legacy pruning key; this config list is validated for quantization',
    ], [
      "missing_key",
      "[0]",
      'a quantization sub-config must have "quant_dtype" (null means int8)',
    ]],
  );
});

test("a negative legacy quant_start_step is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      validateConfigList([{
        op_types: ["Linear"],
        quant_types: ["weight"],
        quant_bits: 8,
        quant_start_step: -1,
      }], "quantization")
    ),
    [[
      "invalid_value",
      "[0].quant_start_step",
      '"quant_start_step" must be an integer >= 0: current value is -1',
    ]],
  );
});

test("naming a module without default targets explains how to register it", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{ op_names: ["relu1"], sparse_ratio: 0.5 }], "pruning")
    ),
    [[
      "unregistered_module",
      "[0].op_names[0]",
      '"relu1" (ReLU) has no default pruning targets: give its class default targets with options.registry.pruning["ReLU"], or select other modules',
    ]],
  );
});

test("an unknown target name is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        target_names: ["weight", "foo"],
        sparse_ratio: 0.5,
      }], "pruning")
    ),
    [[
      "unknown_target",
      "[0].target_names[1]",
      '"fc1" (Linear) has no pruning target "foo" (default targets: "weight", "bias"); configure it in "target_settings"',
    ]],
  );
});

test("an _input_ target without a pruning default is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        target_names: ["_input_"],
        sparse_ratio: 0.5,
      }], "pruning")
    ),
    [[
      "unknown_target",
      "[0].target_names[0]",
      '"fc1" (Linear) has no default pruning setting for "_input_" (default targets: "weight", "bias"); configure "_input_" in "target_settings"',
    ]],
  );
});

test("pruning per_channel on a weight is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        sparse_ratio: 0.5,
        granularity: "per_channel",
      }], "pruning")
    ),
    [[
      "invalid_granularity",
      "[0]",
      '"fc1" target "weight": "per_channel" is for _input_/_output_ targets; for a parameter use "out_channel" (dim 0) or "in_channel" (dim 1)',
    ]],
  );
});

test("in_channel on an activation target is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        quant_dtype: "int8",
        target_names: ["_output_"],
        granularity: "in_channel",
      }], "quantization")
    ),
    [[
      "invalid_granularity",
      "[0]",
      '"fc1" target "_output_0": "in_channel" is for parameters; for an _input_/_output_ target use "per_channel"',
    ]],
  );
});

test("block sizes that do not divide the weight are rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(
        MLP,
        [{ op_names: ["fc1"], sparse_ratio: 0.5, granularity: [5, 4] }],
        "pruning",
      )
    ),
    [[
      "invalid_granularity",
      "[0]",
      '"fc1" target "weight": granularity [5,4] gives blocks of [5,4], which do not divide the parameter shape [32,16]',
    ]],
  );
});

test("a block kernel longer than the weight rank is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        sparse_ratio: 0.5,
        granularity: [1, -1, -1],
      }], "pruning")
    ),
    [[
      "invalid_granularity",
      "[0]",
      '"fc1" target "weight": granularity [1,-1,-1] needs at least 3 dims, but the parameter has shape [32,16]',
    ]],
  );
});

test("a global group with two ratios is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{ op_names: ["fc1"], sparse_ratio: 0.5, global_group_id: "g" }, {
        op_names: ["fc2"],
        sparse_ratio: 0.4,
        global_group_id: "g",
      }], "pruning")
    ),
    [[
      "group_conflict",
      "[1]",
      '"fc2" target "weight": every member of the global_group_id "g" must have the same "sparse_ratio": 0.5 ("fc1" target "weight") and 0.4',
    ]],
  );
});

test("a global group without a ratio is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        target_names: ["weight"],
        global_group_id: "g",
      }], "pruning")
    ),
    [[
      "group_conflict",
      "[0]",
      '"fc1" target "weight": the global_group_id "g" has no "sparse_ratio"',
    ]],
  );
});

test("sparse_threshold in a dependency group is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        sparse_threshold: 0.5,
        dependency_group_id: 1,
      }], "pruning")
    ),
    [[
      "exclusive_keys",
      "[0]",
      '"fc1" target "weight": "sparse_threshold" cannot be combined with "dependency_group_id" (a dependency group shares one "sparse_ratio")',
    ]],
  );
});

test("dependency group members with different channel counts are rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(
        MLP,
        [{ op_names: ["fc1", "fc2"], sparse_ratio: 0.5, dependency_group_id: 1 }],
        "pruning",
        { algorithm: "L1NormPruner" },
      )
    ),
    [[
      "group_conflict",
      "[0]",
      '"fc2" target "weight": members of the dependency_group_id 1 must have metrics of the same shape under their granularity: [32,1] ("fc1" target "weight") and [10,1]',
    ]],
  );
});

test("an explicitly named parameter the module's class does not declare is rejected", () => {
  const modules: ModuleInfo[] = [
    ...MLP,
    { name: "emb", type: "Embedding", params: { weight: [50, 16] } },
  ];
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(modules, [
        { op_names: ["emb"], target_settings: { bias: { sparse_ratio: 0.5 } } },
        { op_names: ["fc1"], target_settings: { running_mean: { sparse_ratio: 0.5 } } },
      ], "pruning")
    ),
    [
      ["missing_parameter", "[0]", '"emb" (Embedding) has no parameter "bias"'],
      ["missing_parameter", "[1]", '"fc1" (Linear) has no parameter "running_mean"'],
    ],
  );
});

test("an explicitly named parameter its class may hold as None is skipped with a warning, as NNI skips it", () => {
  // PyTorch: Linear(bias=False).bias and BatchNorm2d(affine=False).weight are None; NNI
  // registers a None buffer for them and applies no rule.
  const modules: ModuleInfo[] = [
    ...MLP,
    { name: "bn", type: "BatchNorm2d", params: { running_mean: [8], running_var: [8] } },
    { name: "ln", type: "LayerNorm", params: { weight: [16] } },
  ];
  const r = resolveTargetSettings(modules, [
    { op_names: ["fc2", "bn"], target_names: ["weight", "bias"], sparse_ratio: 0.5 },
    { op_names: ["ln"], target_settings: { bias: { sparse_ratio: 0.5 } } },
  ], "pruning");
  assert.deepEqual(r.targets.map((t) => `${t.module}.${t.target}`), ["fc2.weight", "ln.weight"]);
  assert.deepEqual(
    r.warnings.filter((w) => w.code === "missing_parameter").map((w) => [w.path, w.message]),
    [
      [
        "[0]",
        '"fc2" (Linear) has no parameter "bias"; skipped, as NNI skips a parameter that is None',
      ],
      [
        "[0]",
        '"bn" (BatchNorm2d) has no parameter "weight"; skipped, as NNI skips a parameter that is None',
      ],
      [
        "[0]",
        '"bn" (BatchNorm2d) has no parameter "bias"; skipped, as NNI skips a parameter that is None',
      ],
      [
        "[1]",
        '"ln" (LayerNorm) has no parameter "bias"; skipped, as NNI skips a parameter that is None',
      ],
    ],
  );
});

test("a legacy ratio beside a v3 one prunes the weights; a conv without a bias skips it", () => {
  // The translation names ["weight", "bias"] and gives the weight the legacy ratio (NNI's
  // trans_legacy_config_list); NNI skips the None bias.
  const modules: ModuleInfo[] = [
    { name: "c0", type: "Conv2d", params: { weight: [8, 3, 3, 3] } },
    { name: "c1", type: "Conv2d", params: { weight: [8, 8, 1, 1], bias: [8] } },
  ];
  const r = resolveTargetSettings(modules, [{
    op_types: ["Conv2d"],
    sparsity: 0.25,
    sparse_ratio: 0.5,
  }], "pruning");
  assert.equal(r.legacy, true);
  assert.deepEqual(
    r.targets.map((
      t,
    ) => [
      `${t.module}.${t.target}`,
      (t.setting as { sparse_ratio?: number }).sparse_ratio ?? null,
    ]),
    // The bias's default setting has no ratio key for the shorthand to update: it is aligned.
    [["c0.weight", 0.25], ["c1.weight", 0.25], ["c1.bias", null]],
  );
  assert.deepEqual(r.warnings.filter((w) => w.code === "missing_parameter").map((w) => w.message), [
    '"c0" (Conv2d) has no parameter "bias"; skipped, as NNI skips a parameter that is None',
  ]);
});

test("a bias aligned to a weight its module lacks is skipped with a warning", () => {
  // A Keras BatchNormalization with center but no scale: beta and no gamma.
  const modules: ModuleInfo[] = [
    { name: "bn", type: "BatchNorm2d", params: { bias: [8], running_mean: [8], running_var: [8] } },
    { name: "fc", type: "Linear", params: { weight: [4, 8], bias: [4] } },
  ];
  const r = resolveTargetSettings(modules, [{
    op_types: ["BatchNorm2d", "Linear"],
    sparse_ratio: 0.5,
  }], "pruning");
  assert.deepEqual(r.targets.map((t) => `${t.module}.${t.target}`), ["fc.weight", "fc.bias"]);
  assert.deepEqual(
    r.warnings.filter((w) => w.code === "missing_parameter").map((w) => w.message),
    [
      '"bn" (BatchNorm2d) has no parameter "weight"; the default target is skipped',
      '"bn" target "bias" is aligned to "bn" target "weight", a parameter that module does not have; skipped',
    ],
  );
});

test("an align source that is not configured is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{
        op_names: ["fc1"],
        target_names: ["bias"],
        target_settings: {
          bias: { align: { module_name: "fc9", target_name: "weight", dims: [0] } },
        },
      }], "pruning")
    ),
    [[
      "unknown_target",
      "[0]",
      '"fc1" target "bias": its "align" source "fc9" target "weight" is not configured',
    ]],
  );
});

test("an unknown key in an extra registry is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{ op_names: ["relu1"], sparse_ratio: 0.5 }], "pruning", {
        registry: { pruning: { ReLU: { _output_: { sparsity: 0.5 } } } } as never,
      })
    ),
    [[
      "invalid_registry",
      "registry.pruning.ReLU._output_.sparsity",
      'unknown pruning setting key "sparsity"',
    ]],
  );
});

test("an extra registry for an unknown mode is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(MLP, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], "pruning", {
        registry: { prune: {} } as never,
      })
    ),
    [[
      "invalid_registry",
      "registry.prune",
      '"prune" is not a mode (pruning, quantization, distillation)',
    ]],
  );
});

test("an activation target for LevelPruner is rejected", () => {
  assert.deepEqual(
    pinned(() =>
      resolveTargetSettings(
        MLP,
        [{
          op_names: ["fc1"],
          target_names: ["_output_0"],
          target_settings: { _output_0: { sparse_ratio: 0.5, granularity: "per_channel" } },
        }],
        "pruning",
        { algorithm: "LevelPruner" },
      )
    ),
    [[
      "unsupported_target",
      "[0]",
      '"fc1" target "_output_0": LevelPruner prunes parameters only; an _input_/_output_ target needs a pruner that observes activations',
    ]],
  );
});

test("the error message lists every issue with its path", () => {
  assert.throws(
    () =>
      validateConfigList(
        [{ op_types: ["Linear"], sparse_ratio: 2 }, { op_names: ["fc1"], foo: 1 }],
        "pruning",
      ),
    {
      name: "ConfigError",
      message: "2 issues in the config list:\n" +
        '  [0].sparse_ratio: "sparse_ratio" must be within [0, 1]: current value is 2\n' +
        '  [1].foo: unknown key "foo"',
    },
  );
});
