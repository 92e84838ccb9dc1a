// Quantized ONNX exports of small hand-built models whose weights are initializers (the PP-OCR
// models store theirs as Constant nodes), also listed as graph inputs like old exporters do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx } from "../../src/io/onnx/encode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { toFileBytes } from "../../src/model/from_float32.ts";
import { fakeQuantizedTensors } from "../../src/quantization/fake_quantized_tensors.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { weightOnlyOnnx } from "../../src/quantization/weight_only_onnx.ts";
import { fakeQuantize } from "../../src/quantization/fake_quantize.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const K = 40;
const N = 8;

/** x [2, 10, 3, 3] → Conv (4 filters 3x3) [2, 4, 1, 1] → 10 copies [2, 40, 1, 1] → MatMul [40, 8]. */
const X_SHAPE = [2, 10, 3, 3];

function model40(): Uint8Array {
  const w = f32s(4 * 10 * 3 * 3, (i) => Math.sin(i * 1.7) * 0.4);
  const b = f32s(4, (i) => i * 0.1 - 0.2);
  const fc = f32s(K * N, (i) => Math.cos(i * 0.37) * (1 + (i % 7)) * 0.05);
  const fcb = f32s(N, (i) => 0.01 * i);
  return model(
    graph({
      nodes: [
        node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], "conv"),
        node("Concat", Array(10).fill("c"), ["cc"], "cat", [attr("axis", { i: 1 })]),
        node("Flatten", ["cc"], ["f"], "flatten"),
        node("MatMul", ["f", "fc.weight"], ["m"], "fc"),
        node("Add", ["m", "fc.bias"], ["y"], "fc_add"),
      ],
      initializers: [
        tensor({ name: "conv.weight", dims: [4, 10, 3, 3], raw: w }),
        tensor({ name: "conv.bias", dims: [4], raw: b }),
        tensor({ name: "fc.weight", dims: [K, N], raw: fc }),
        tensor({ name: "fc.bias", dims: [N], raw: fcb }),
      ],
      inputs: [valueInfo("x", X_SHAPE), valueInfo("fc.weight", [K, N])],
      outputs: [valueInfo("y", [2, N])],
    }),
    { opset: 13 },
  );
}

async function run(bytes: Uint8Array, level = "basic"): Promise<Float32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level });
  const x = f32s(X_SHAPE.reduce((a, b) => a * b, 1), (i) => Math.sin(i * 0.3));
  const out = await s.run({ x: new ort.Tensor("float32", x, X_SHAPE) });
  return out.y.data as Float32Array;
}

function close(a: Float32Array, b: Float32Array, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${i}: ${a[i]} vs ${b[i]}`);
  }
}

test("qdqOnnx() replaces initializer weights (and their graph inputs) by integer codes", async () => {
  const bytes = model40();
  const onnx = decodeOnnx(bytes);
  const graphModel = onnxModel(onnx);
  const { params } = await quantizeWeights(graphModel, [
    {
      op_types: ["Conv2d", "Linear"],
      target_names: ["weight", "bias"],
      quant_dtype: "int8",
      granularity: "out_channel",
    },
  ]);
  assert.equal(params.length, 4);
  const qdq = await qdqOnnx(onnx, graphModel, params);
  const back = decodeOnnx(qdq);
  const init = new Map(back.graph.initializers.map((t) => [t.name, t]));
  assert.equal(init.has("fc.weight"), false);
  assert.equal(init.get("fc.weight_quantized")?.dtype, "I8");
  assert.deepEqual(init.get("fc.weight_quantized")?.dims, [K, N]);
  assert.deepEqual(init.get("fc.weight_scale")?.dims, [N], "one scale per output column of [K, N]");
  assert.deepEqual(back.graph.inputs, ["x"]);
  const dq = back.graph.nodes.find((n) => n.outputs[0] === "fc.weight")!;
  assert.equal(dq.opType, "DequantizeLinear");
  assert.equal(dq.domain, "com.microsoft");
  assert.equal(dq.attributes.find((a) => a.name === "axis")?.i, 1);
  const fq = await fakeQuantizedTensors(graphModel, params);
  const simulated = encodeOnnx(onnx, new Map([...fq].map(([k, b]) => [k, { bytes: b }])));
  close(await run(qdq), await run(simulated), 1e-5);
});

test("weightOnlyOnnx() quantizes an initializer MatMul whose K is not a multiple of the block", async () => {
  const bytes = model40();
  const onnx = decodeOnnx(bytes);
  const graphModel = onnxModel(onnx);
  for (const [bits, scheme] of [[4, "symmetric"], [4, "affine"], [8, "symmetric"]] as const) {
    const { bytes: out, layers } = await weightOnlyOnnx(onnx, graphModel, {
      bits,
      blockSize: 16,
      scheme,
    });
    assert.equal(layers.length, 1);
    assert.equal(layers[0].scale.length, N * 3, "ceil(40 / 16) = 3 blocks per output");
    const back = decodeOnnx(out);
    assert.equal(back.graph.initializers.some((t) => t.name === "fc.weight"), false);
    assert.equal(back.graph.nodes.find((n) => n.outputs[0] === "m")?.opType, "MatMulNBits");
    const ref = graphModel.modules.find((m) => m.name === layers[0].module)!.params.weight;
    const float = encodeOnnx(
      onnx,
      new Map([["fc.weight", { bytes: toFileBytes(ref, layers[0].dequantized) }]]),
    );
    close(await run(out, "all"), await run(float), 1e-4);
  }
});

test("qdqOnnx() puts QuantizeLinear/DequantizeLinear pairs at calibrated inputs and outputs", async () => {
  const onnx = decodeOnnx(model40());
  const graphModel = onnxModel(onnx);
  const x = f32s(X_SHAPE.reduce((a, b) => a * b, 1), (i) => Math.sin(i * 0.3));
  const weights = [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "out_channel",
  }];
  const { params: weightParams } = await quantizeWeights(graphModel, weights);
  const weightOnly = await qdqOnnx(onnx, graphModel, weightParams);
  const yFloat = await run(weightOnly);
  const range = (v: Float32Array, shape: number[]) => ({
    shape,
    min: Float32Array.of(Math.min(...v)),
    max: Float32Array.of(Math.max(...v)),
  });
  const ranges = new Map([["conv._input_0", range(x, X_SHAPE)], [
    "fc._output_0",
    range(yFloat, [2, N]),
  ]]);
  const { params } = await quantizeWeights(graphModel, [
    ...weights,
    { op_names: ["conv"], target_names: ["_input_0"], quant_dtype: "int8" },
    { op_names: ["fc"], target_names: ["_output_0"], quant_dtype: "uint8", quant_scheme: "affine" },
  ], { ranges });
  const full = await qdqOnnx(onnx, graphModel, params);
  const back = decodeOnnx(full);
  assert.equal(back.graph.nodes.filter((n) => n.opType === "QuantizeLinear").length, 2);
  assert.deepEqual(back.graph.outputs, ["y"], "the graph output keeps its name");
  // Expected: fake-quantize x, run the weight-only model, fake-quantize y.
  const [pin, pout] = [
    params.find((p) => p.target === "_input_0")!,
    params.find((p) => p.target === "_output_0")!,
  ];
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(weightOnly, { graphOptimizationLevel: "basic" });
  const xq = fakeQuantize(x, X_SHAPE, pin);
  const y1 = (await s.run({ x: new ort.Tensor("float32", xq, X_SHAPE) })).y.data as Float32Array;
  const want = fakeQuantize(y1, [2, N], pout);
  const got = await run(full);
  close(got, want, pout.scale[0] * 1.0001);
  const exact = got.filter((v, i) => Math.abs(v - want[i]) < 1e-6).length;
  assert.ok(exact >= got.length - 1, `${exact}/${got.length} equal`);
});
