import { test } from "node:test";
import assert from "node:assert/strict";
import { onnxModuleName } from "./onnx_module_name.ts";

const name = (n: string, weight?: string, output = "out") =>
  onnxModuleName({ name: n, output }, weight);

test("onnxModuleName() turns PyTorch node paths into dotted module names", () => {
  assert.equal(name("/blocks.0/fcn_layer/Gemm"), "blocks.0.fcn_layer");
  assert.equal(name("/encoder/0/activation/Relu"), "encoder.0.activation");
  assert.equal(name("model/dense/MatMul"), "model.dense");
  assert.equal(
    name("If_0_else_branch__Inline_0__/encoder/0/activation/Relu"),
    "If_0_else_branch__Inline_0__encoder.0.activation",
  );
});

test("onnxModuleName() strips parameter suffixes from weight names, PyTorch and Paddle", () => {
  assert.equal(name("", "layer1.weight"), "layer1");
  assert.equal(name("p2o.Conv.3", "conv2d_12.w_0"), "conv2d_12");
  assert.equal(name("", "bn.running_mean"), "bn");
  assert.equal(name("", "linear_77.b_0"), "linear_77");
});

test("onnxModuleName() falls back to the node name, then the output, for generated weight names", () => {
  assert.equal(name("/Gemm", "onnx::Gemm_5"), "/Gemm");
  assert.equal(name("MatMul_12", "onnx::MatMul_5"), "MatMul_12");
  assert.equal(name("Conv_40", "1122"), "Conv_40");
  assert.equal(name("", "onnx::MatMul_5", "h"), "h");
  assert.equal(name("", undefined, "y"), "y");
});
