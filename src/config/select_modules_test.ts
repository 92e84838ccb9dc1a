import { test } from "node:test";
import assert from "node:assert/strict";
import { selectModules } from "./select_modules.ts";
import type { ModuleInfo } from "./types.ts";

const CNN: ModuleInfo[] = [
  { name: "", type: "MnistCNN" },
  { name: "conv1", type: "Conv2d" },
  { name: "conv2", type: "Conv2d" },
  { name: "dropout1", type: "Dropout" },
  { name: "fc1", type: "Linear" },
  { name: "fc2", type: "Linear" },
];

const names = (config: unknown, options = {}) => selectModules(CNN, config, options).names;

test("selectModules() unions op_names and op_names_re, in model order", () => {
  assert.deepEqual(names({ op_names: ["fc2", "conv1"], op_names_re: ["fc.*"] }), [
    "conv1",
    "fc1",
    "fc2",
  ]);
});

test("selectModules() intersects names with op_types, or takes all modules of the types alone", () => {
  assert.deepEqual(names({ op_names_re: [".*1$"], op_types: ["Linear"] }), ["fc1"]);
  assert.deepEqual(names({ op_types: ["Conv2d"] }), ["conv1", "conv2"]);
});

test("selectModules() treats empty name lists as absent", () => {
  assert.deepEqual(names({ op_names: [], op_types: ["Conv2d"] }), ["conv1", "conv2"]);
  assert.deepEqual(names({ op_names: [] }), []);
});

test("selectModules() matches regexes at the start only, like re.match", () => {
  assert.deepEqual(names({ op_names_re: ["conv", "1"] }), ["conv1", "conv2"]);
  assert.deepEqual(names({ op_names_re: ["onv"] }), []);
});

test("selectModules() lets exclusions win", () => {
  assert.deepEqual(
    names({
      op_names_re: ["conv", ".*1$"],
      exclude_op_names_re: [".*2"],
      exclude_op_types: ["Dropout"],
      exclude_op_names: ["fc1"],
    }),
    ["conv1"],
  );
});

test("selectModules() matches op_types against the raw ONNX op type too", () => {
  const modules: ModuleInfo[] = [{ name: "/fc/MatMul", type: "Linear", opType: "MatMul" }, {
    name: "/act",
    type: "ReLU",
    opType: "Relu",
  }];
  assert.deepEqual(selectModules(modules, { op_types: ["MatMul"] }).names, ["/fc/MatMul"]);
});

test("selectModules() ignores names the model lacks, with a warning (B4)", () => {
  const r = selectModules(CNN, { op_names: ["fc1", "fc9"] });
  assert.deepEqual(r.names, ["fc1"]);
  assert.deepEqual(r.warnings, [{
    code: "unknown_module",
    path: "[0].op_names[1]",
    message: '"fc9" is not a module of the model; it is ignored',
  }]);
});

test("selectModules() skips swept-in modules without defaults for the mode, with a warning (S2)", () => {
  const r = selectModules(CNN, { op_names_re: [".*"] }, { mode: "pruning", configIndex: 2 });
  assert.deepEqual(r.names, ["conv1", "conv2", "fc1", "fc2"]);
  assert.deepEqual(r.warnings.map((w) => [w.path, w.message]), [
    [
      "[2]",
      'the root module ("", MnistCNN) has no default pruning targets and was skipped; name it in "op_names" with a registered class to configure it',
    ],
    [
      "[2]",
      '"dropout1" (Dropout) has no default pruning targets and was skipped; name it in "op_names" with a registered class to configure it',
    ],
  ]);
});

test("selectModules() rejects a named module without defaults for the mode (S2)", () => {
  assert.throws(() => selectModules(CNN, { op_names: ["dropout1"] }, { mode: "pruning" }), {
    name: "ConfigError",
    message:
      '1 issue in the config list:\n  [0].op_names[0]: "dropout1" (Dropout) has no default pruning targets: give its class default targets with options.registry.pruning["Dropout"], or select other modules',
  });
});

test("selectModules() accepts a module class given default targets in options.registry", () => {
  const registry = { pruning: { Dropout: { _output_: { sparse_ratio: null } } } };
  assert.deepEqual(names({ op_names: ["dropout1"] }, { mode: "pruning", registry }), ["dropout1"]);
});

test("selectModules() warns about op_types and op_names_re entries that match nothing", () => {
  const r = selectModules(CNN, { op_types: ["Conv2D"], op_names_re: ["onv"] });
  assert.deepEqual(r.warnings.map((w) => [w.code, w.path, w.message]), [
    [
      "no_match",
      "[0].op_types[0]",
      '"Conv2D" is not a module type of the model; did you mean "Conv2d"?',
    ],
    [
      "no_match",
      "[0].op_names_re[0]",
      '"onv" matches no module name (patterns match at the start of names, like re.match)',
    ],
  ]);
});
