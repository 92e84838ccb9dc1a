// Property tests: arbitrary JSON (including prototype keys) fed to every entry point either
// works or fails with a ConfigError — never another exception, never a changed input, never a
// polluted prototype.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ConfigError,
  explain,
  type ModuleInfo,
  resolveTargetSettings,
  validateConfigList,
} from "../../src/config/mod.ts";

const MODULES: ModuleInfo[] = [
  { name: "", type: "Net" },
  { name: "fc1", type: "Linear", params: { weight: [8, 4], bias: [8] } },
  { name: "relu", type: "ReLU" },
  { name: "fc2", type: "Linear", params: { weight: [2, 8], bias: [2] } },
];

const KEYS = [
  "op_names",
  "op_types",
  "op_names_re",
  "exclude_op_names",
  "target_names",
  "target_settings",
  "sparse_ratio",
  "sparse_threshold",
  "max_sparse_ratio",
  "min_sparse_ratio",
  "granularity",
  "global_group_id",
  "align",
  "quant_dtype",
  "quant_types",
  "quant_bits",
  "sparsity",
  "exclude",
  "lambda",
  "link",
  "apply_method",
  "__proto__",
  "constructor",
  "weight",
  "bias",
];

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      null,
      true,
      0,
      1,
      0.5,
      -1,
      1.5,
      "fc1",
      "Linear",
      "int8",
      ".*",
      "(",
      "weight",
      "default",
    ),
    fc.array(tie("any"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie("any"), { maxKeys: 4 }),
  ),
})).any;

const configList = fc.array(fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 5 }), {
  maxLength: 4,
});

function onlyConfigErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
}

test("arbitrary config lists give a result or a ConfigError, and change nothing", () => {
  fc.assert(
    fc.property(
      configList,
      fc.constantFrom("pruning", "quantization", "distillation") as fc.Arbitrary<"pruning">,
      (list, mode) => {
        const json = JSON.stringify(list);
        const parsed = JSON.parse(json);
        onlyConfigErrors(() => validateConfigList(parsed, mode));
        onlyConfigErrors(() =>
          resolveTargetSettings(MODULES, parsed, mode, { algorithm: "L1NormPruner" })
        );
        explain(MODULES, parsed, mode);
        assert.equal(JSON.stringify(parsed), json);
        assert.equal(({} as Record<string, unknown>).op_names, undefined);
        assert.deepEqual(Object.keys(Object.prototype), []);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});
