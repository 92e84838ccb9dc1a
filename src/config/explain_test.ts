import { test } from "node:test";
import assert from "node:assert/strict";
import { explain } from "./explain.ts";
import { formatExplain } from "./format_explain.ts";
import type { ModuleInfo } from "./types.ts";

const MLP: ModuleInfo[] = [
  { name: "", type: "MLP" },
  { name: "fc1", type: "Linear", params: { weight: [32, 16], bias: [32] } },
  { name: "relu", type: "ReLU" },
  { name: "fc2", type: "Linear", params: { weight: [10, 32], bias: [10] } },
];

test("explain() shows each sub-config's modules and targets, where the used setting comes from", () => {
  const r = explain(
    MLP,
    [{ op_names: ["fc1"], sparse_ratio: 0.25 }, { op_names_re: [".*"], sparse_ratio: 0.75 }],
    "pruning",
    {
      algorithm: "L1NormPruner",
    },
  );
  assert.deepEqual(
    r.configs.map((c) =>
      c.modules.map((m) => [m.name, m.targets.map((t) => `${t.target}:${t.from}:${t.used}`)])
    ),
    [
      [["fc1", ["weight:0:true", "bias:0:true"]]],
      [["fc1", ["weight:0:false", "bias:0:false"]], ["fc2", ["weight:1:true", "bias:1:true"]]],
    ],
  );
  assert.deepEqual(r.warnings.map((w) => w.code), [
    "skipped_module",
    "skipped_module",
    "duplicate_target",
    "duplicate_target",
  ]);
  assert.deepEqual(r.issues, []);
});

test("explain() returns issues as data instead of throwing", () => {
  const r = explain(MLP, [{ op_names: ["relu"], sparse_ratio: 0.5 }], "pruning");
  assert.deepEqual(r.issues.map((i) => i.code), ["unregistered_module"]);
  assert.deepEqual(r.targets, []);
});

test("formatExplain() prints issues, one table per sub-config and warnings", () => {
  const text = formatExplain(
    explain(MLP, [{
      op_names: ["fc1", "fc9"],
      quant_dtype: "int8",
      target_names: ["weight", "_output_"],
    }], "quantization"),
  );
  assert.equal(
    text,
    [
      "quantization config list: 1 sub-config, 2 targets configured",
      "",
      "[0] selects 1 module",
      "  module  type    target     from  setting",
      "  fc1     Linear  weight     [0]   quant_dtype=int8 apply_method=clamp_round",
      "  fc1     Linear  _output_0  [0]   quant_dtype=int8 apply_method=clamp_round",
      "",
      "1 warning:",
      '  [0].op_names[1]: "fc9" is not a module of the model; it is ignored [unknown_module]',
    ].join("\n"),
  );
});

test("formatExplain() prints the issues of an invalid list", () => {
  const text = formatExplain(explain(MLP, [{ op_names: ["fc1"], sparse_ratio: 1.5 }], "pruning"));
  assert.equal(
    text,
    [
      "pruning config list: 0 sub-configs, 0 targets configured",
      "",
      "1 issue:",
      '  [0].sparse_ratio: "sparse_ratio" must be within [0, 1]: current value is 1.5 [out_of_range]',
    ].join("\n"),
  );
});
