// Pre-quantized modules and unobservable input/output targets in the config layer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { explain } from "./explain.ts";
import { resolveTargetSettings } from "./resolve_target_settings.ts";
import type { ModuleInfo } from "./types.ts";

const modules: ModuleInfo[] = [
  { name: "conv", type: "Conv2d", params: { weight: [4, 3, 3, 3] }, quantizedBy: "QLinearConv" },
  { name: "fc", type: "Linear", params: { weight: [5, 64], bias: [5] } },
  { name: "head", type: "Linear", params: { weight: [3, 5] }, quantizedBy: "MatMulNBits" },
];

test("a type that sweeps in pre-quantized modules skips them with one warning naming them", () => {
  const r = resolveTargetSettings(
    modules,
    [{ op_types: ["Conv2d", "Linear"], sparse_ratio: 0.5 }],
    "pruning",
  );
  assert.deepEqual(r.targets.map((t) => `${t.module}.${t.target}`), ["fc.weight", "fc.bias"]);
  const skipped = r.warnings.filter((w) => w.code === "skipped_module");
  assert.equal(skipped.length, 1);
  assert.match(
    skipped[0].message,
    /^skipped 2 pre-quantized modules \(QLinearConv, MatMulNBits\): "conv", "head"/,
  );
});

test("naming a pre-quantized module, or selecting only such modules, is an issue", () => {
  assert.throws(
    () =>
      resolveTargetSettings(
        modules,
        [{ op_names: ["fc", "conv"], quant_dtype: "int8" }],
        "quantization",
      ),
    (e) =>
      e instanceof ConfigError && e.issues.length === 1 &&
      e.issues[0].code === "unsupported_target" && e.issues[0].path === "[0].op_names[1]" &&
      /"conv" \(Conv2d\) is pre-quantized \(QLinearConv\)/.test(e.issues[0].message),
  );
  assert.throws(
    () => resolveTargetSettings(modules, [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }], "pruning"),
    (e) =>
      e instanceof ConfigError && e.issues[0].path === "[0]" &&
      /selects only 1 pre-quantized module \(QLinearConv\): "conv"; nothing is left/.test(
        e.issues[0].message,
      ),
  );
  // distillation reads module outputs, which a pre-quantized module has like any other
  const d = resolveTargetSettings(modules, [{ op_names: ["conv"] }], "distillation");
  assert.deepEqual(d.targets.map((t) => t.module), ["conv"]);
});

test("noActivations drops default input/output targets with one warning and refuses named ones", () => {
  const reason = "the safetensors file has no graph to run";
  const r = explain(
    modules.slice(1, 2),
    [{ op_types: ["Linear"], quant_dtype: "int8" }],
    "quantization",
    {
      noActivations: reason,
    },
  );
  assert.deepEqual(r.issues, []);
  const skipped = r.warnings.filter((w) => w.code === "skipped_target");
  assert.equal(skipped.length, 1);
  assert.match(
    skipped[0].message,
    /2 input\/output targets .*\("fc\._input_0", "fc\._output_0"\) skipped: the safetensors file/,
  );
  for (
    const list of [
      [{ op_types: ["Linear"], target_names: ["weight", "_input_"], quant_dtype: "int8" }],
      [{ op_types: ["Linear"], target_names: ["weight", "_output_0"], quant_dtype: "int8" }],
      [{
        op_types: ["Linear"],
        quant_dtype: "int8",
        target_settings: { _input_: { quant_dtype: "int4" } },
      }],
    ]
  ) {
    assert.throws(
      () =>
        resolveTargetSettings(modules.slice(1, 2), list, "quantization", { noActivations: reason }),
      (e) =>
        e instanceof ConfigError && e.issues.length === 1 &&
        e.issues[0].code === "unsupported_target" &&
        e.issues[0].message.includes(`${reason}, so its inputs and outputs cannot be observed`),
      JSON.stringify(list),
    );
  }
  // without the option the defaults stay (an ONNX graph can be calibrated)
  const onnx = resolveTargetSettings(modules.slice(1, 2), [{
    op_types: ["Linear"],
    quant_dtype: "int8",
  }], "quantization");
  assert.deepEqual(onnx.targets.map((t) => t.target), ["weight", "bias", "_input_0", "_output_0"]);
});
