// compressModel's `auto` storage falls back to float only for what QDQ cannot store (a
// QuantizationError with code "storage"), and `int` storage reports it with its config path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compressModel } from "../../src/compress/compress_model.ts";
import { describeError } from "../../src/compress/describe_error.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";

/** x [2, 8] → Gemm(transB, weight [4, 8]) → y [2, 4]. */
const onnx = () =>
  loadModel(
    model(
      graph({
        nodes: [node("Gemm", ["x", "fc.weight"], ["y"], "fc", [attr("transB", { i: 1 })])],
        initializers: [
          tensor({ name: "fc.weight", dims: [4, 8], raw: f32s(32, (i) => Math.sin(i * 0.7)) }),
        ],
        inputs: [valueInfo("x", [2, 8])],
        outputs: [valueInfo("y", [2, 4])],
      }),
      { opset: 13 },
    ),
    "fc.onnx",
  );

const blocks = [{
  op_names: ["fc"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: [1, 4],
}];

test("auto storage stores a block granularity as float, with QDQ's reason as a warning", async () => {
  const { report } = await compressModel(onnx(), {
    mode: "quantization",
    configList: blocks,
    storage: "auto",
  });
  assert.equal(report.storage, "float");
  assert.ok(
    report.warnings.some((w) =>
      w.startsWith("quantized weights are stored as float (fake-quantized): fc.weight") &&
      w.includes("QDQ export supports per-tensor and per-channel granularity")
    ),
    report.warnings.join("\n"),
  );
});

test("int storage refuses a block granularity with code, target and config path", async () => {
  const e = await compressModel(onnx(), {
    mode: "quantization",
    configList: blocks,
    storage: "int",
  })
    .then(() => assert.fail("int storage accepted a block granularity"), (e: Error) => e);
  assert.ok(e instanceof QuantizationError, `${e.name}: ${e.message}`);
  const d = describeError(e);
  assert.deepEqual(
    [d.kind, d.category, d.code, d.module, d.target, d.path],
    ["QuantizationError", "usage", "storage", "fc", "weight", "[0].granularity"],
  );
  assert.match(d.hint ?? "", /float storage/);
});

test("per-channel int8 is stored as QDQ under auto storage", async () => {
  const { report } = await compressModel(onnx(), {
    mode: "quantization",
    configList: [{ ...blocks[0], granularity: "per_channel" }],
    storage: "auto",
  });
  assert.equal(report.storage, "qdq");
});
