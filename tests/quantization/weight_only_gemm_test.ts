// weightOnlyOnnx() on Gemm layers (as torch.onnx exports nn.Linear): MatMulNBits plus an Add for
// the bias, run in onnxruntime against the float model with the dequantized weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx } from "../../src/io/onnx/encode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { toFileBytes } from "../../src/model/from_float32.ts";
import { weightOnlyOnnx } from "../../src/quantization/weight_only_onnx.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const K = 40;
const N = 32;
const OUT = 8;

/** x [3, 40] → Gemm(transB, weight [32, 40]) with bias → Gemm(weight [32, 8], no bias) → [3, 8]. */
function gemmModel(alpha = 1): Uint8Array {
  return model(
    graph({
      nodes: [
        node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], "fc1", [
          attr("transB", { i: 1 }),
          attr("alpha", { f: alpha }),
        ]),
        node("Gemm", ["h", "fc2.weight"], ["y"], "fc2"),
      ],
      initializers: [
        tensor({ name: "fc1.weight", dims: [N, K], raw: f32s(N * K, (i) => Math.sin(i * 0.7)) }),
        tensor({ name: "fc1.bias", dims: [N], raw: f32s(N, (i) => 0.1 * i - 0.3) }),
        tensor({
          name: "fc2.weight",
          dims: [N, OUT],
          raw: f32s(N * OUT, (i) => Math.cos(i * 0.3)),
        }),
      ],
      inputs: [valueInfo("x", [3, K])],
      outputs: [valueInfo("y", [3, OUT])],
    }),
    { opset: 13 },
  );
}

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "basic" });
  const x = f32s(3 * K, (i) => Math.cos(i * 0.11));
  return (await s.run({ x: new ort.Tensor("float32", x, [3, K]) })).y.data as Float32Array;
}

test("weightOnlyOnnx() turns Gemm layers into MatMulNBits with the bias added after", async () => {
  const onnx = decodeOnnx(gemmModel());
  const graphModel = onnxModel(onnx);
  const { bytes, layers } = await weightOnlyOnnx(onnx, graphModel, {
    bits: 4,
    blockSize: 16,
    modules: ["fc1"],
  });
  assert.deepEqual(layers.map((l) => [l.module, l.k, l.n]), [["fc1", K, N]]);
  const back = decodeOnnx(bytes);
  assert.deepEqual(back.graph.nodes.map((n) => n.opType), ["MatMulNBits", "Add", "Gemm"]);
  assert.equal(back.graph.initializers.some((t) => t.name === "fc1.weight"), false);
  const ref = graphModel.modules.find((m) => m.name === "fc1")!.params.weight;
  const float = encodeOnnx(
    onnx,
    new Map([["fc1.weight", { bytes: toFileBytes(ref, layers[0].dequantized) }]]),
  );
  const [a, b] = [await run(bytes), await run(float)];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `${a[i]} vs ${b[i]}`);
});

test("weightOnlyOnnx() quantizes a Gemm without transB or bias by default selection", async () => {
  const onnx = decodeOnnx(gemmModel());
  const graphModel = onnxModel(onnx);
  const { bytes, layers } = await weightOnlyOnnx(onnx, graphModel, { bits: 8, blockSize: 16 });
  assert.deepEqual(layers.map((l) => l.module), ["fc1", "fc2"]);
  assert.deepEqual([layers[1].k, layers[1].n], [N, OUT]);
  const weights = new Map(layers.map((l) => {
    const ref = graphModel.modules.find((m) => m.name === l.module)!.params.weight;
    return [l.tensor, { bytes: toFileBytes(ref, l.dequantized) }];
  }));
  const [a, b] = [await run(bytes), await run(encodeOnnx(onnx, weights))];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-3, `${a[i]} vs ${b[i]}`);
});

test("weightOnlyOnnx() keeps a Gemm's alpha as a Mul after MatMulNBits, before the bias Add", async () => {
  const onnx = decodeOnnx(gemmModel(2));
  const graphModel = onnxModel(onnx);
  const { bytes, layers } = await weightOnlyOnnx(onnx, graphModel, {
    blockSize: 16,
    modules: ["fc1"],
  });
  const back = decodeOnnx(bytes);
  assert.deepEqual(back.graph.nodes.map((n) => n.opType), ["MatMulNBits", "Mul", "Add", "Gemm"]);
  const ref = graphModel.modules.find((m) => m.name === "fc1")!.params.weight;
  const float = encodeOnnx(
    onnx,
    new Map([["fc1.weight", { bytes: toFileBytes(ref, layers[0].dequantized) }]]),
  );
  const [a, b] = [await run(bytes), await run(float)];
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-3, `${a[i]} vs ${b[i]}`);
});
