import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { readQuantizedSafetensors } from "./quantized_safetensors.ts";
import { quantize } from "./quantize.ts";
import { ConfigError } from "../config/config_error.ts";

const file = readSafetensors(writeSafetensors([
  {
    name: "fc.weight",
    dtype: "F32",
    shape: [4, 3],
    data: Float32Array.from({ length: 12 }, (_, i) => i - 5.5),
  },
  { name: "fc.bias", dtype: "F32", shape: [4], data: Float32Array.of(0.1, -0.2, 0.3, -0.4) },
]));
const model = safetensorsModel(file);

test("quantize() reports targets and parameter sizes before and after", async () => {
  const result = await quantize(model, [{
    op_types: ["Linear"],
    target_names: ["weight", "bias"],
    quant_dtype: "int8",
    granularity: "out_channel",
  }]);
  assert.deepEqual(result.report.targets.map((t) => [t.target, t.blocks, t.elements]), [
    ["weight", 4, 12],
    ["bias", 4, 4],
  ]);
  assert.equal(result.report.parameterBytesBefore, 64);
  assert.equal(result.report.parameterBytesAfter, 12 + 4 * 5 + 4 + 4 * 5);
});

test("quantize().save() writes fake-quantized floats or integer safetensors", async () => {
  const result = await quantize(model, [{
    op_types: ["Linear"],
    quant_dtype: "uint4",
    target_names: ["weight"],
  }]);
  const float = readSafetensors(await result.save());
  assert.equal(float.tensors.find((t) => t.name === "fc.weight")!.dtype, "F32");
  const { quantized, others } = readQuantizedSafetensors(await result.save("int"));
  assert.deepEqual(quantized.map((q) => q.name), ["fc.weight"]);
  assert.deepEqual(others, ["fc.bias"]);
  await assert.rejects(result.save("qdq"), /needs an ONNX source/);
});

test("quantize() on a file without a graph drops NNI's default input/output targets with one warning", async () => {
  const result = await quantize(model, [{ op_types: ["Linear"], quant_dtype: "int8" }]);
  assert.deepEqual(result.params.map((p) => `${p.module}.${p.target}`), ["fc.weight", "fc.bias"]);
  const skipped = result.report.warnings.filter((w) => /input\/output target/.test(w));
  assert.equal(skipped.length, 1);
  assert.match(
    skipped[0],
    /2 input\/output targets .*\("fc\._input_0", "fc\._output_0"\) skipped: the safetensors file has no graph to run/,
  );
});

test("quantize() on a file without a graph refuses input/output targets named in the list", async () => {
  await assert.rejects(
    quantize(model, [{
      op_types: ["Linear"],
      target_names: ["weight", "_input_"],
      quant_dtype: "int8",
    }]),
    (e) =>
      e instanceof ConfigError && e.issues.length === 1 &&
      e.issues[0].code === "unsupported_target" && e.issues[0].path === "[0].target_names" &&
      /"fc" target "_input_0": the safetensors file has no graph to run/.test(e.issues[0].message),
  );
});
