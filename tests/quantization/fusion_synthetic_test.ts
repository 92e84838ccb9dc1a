// BatchNorm folding on small hand-built ONNX models (weights as initializers), in onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { fusableGroups } from "../../src/quantization/fusable_groups.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const X = [2, 3, 5, 5];

const bn = (name: string, c: number) => [
  tensor({ name: `${name}.weight`, dims: [c], raw: f32s(c, (i) => 0.5 + 0.3 * i) }),
  tensor({ name: `${name}.bias`, dims: [c], raw: f32s(c, (i) => 0.1 * i - 0.2) }),
  tensor({ name: `${name}.running_mean`, dims: [c], raw: f32s(c, (i) => Math.sin(i) * 0.3) }),
  tensor({ name: `${name}.running_var`, dims: [c], raw: f32s(c, (i) => 0.5 + 0.25 * i) }),
];
const bnNode = (name: string, input: string, output: string) =>
  node(
    "BatchNormalization",
    [
      input,
      ...["weight", "bias", "running_mean", "running_var"]
        .map((p) => `${name}.${p}`),
    ],
    [output],
    name,
    [attr("epsilon", { f: 1e-3 })],
  );

/**
 * x → Conv (no bias) → BN → Relu → y; x → Flatten → Gemm (transB) → BN → z (a graph output);
 * the flattened x → MatMul → Add (bias) → BN → u.
 */
function bnModel(): Uint8Array {
  return model(
    graph({
      nodes: [
        node("Conv", ["x", "conv.weight"], ["c"], "conv"),
        bnNode("bn", "c", "b"),
        node("Relu", ["b"], ["y"], "relu"),
        node("Flatten", ["x"], ["f"], "flatten"),
        node("Gemm", ["f", "fc.weight", "fc.bias"], ["g"], "fc", [attr("transB", { i: 1 })]),
        bnNode("bn2", "g", "z"),
        node("MatMul", ["f", "mm.weight"], ["mm_out"], "mm"),
        node("Add", ["mm_out", "mm.bias"], ["mm_sum"], "mm_add"),
        bnNode("bn3", "mm_sum", "u"),
      ],
      initializers: [
        tensor({
          name: "conv.weight",
          dims: [4, 3, 3, 3],
          raw: f32s(108, (i) => Math.sin(i * 1.3) * 0.4),
        }),
        ...bn("bn", 4),
        tensor({
          name: "fc.weight",
          dims: [6, 75],
          raw: f32s(450, (i) => Math.cos(i * 0.7) * 0.2),
        }),
        tensor({ name: "fc.bias", dims: [6], raw: f32s(6, (i) => 0.05 * i) }),
        ...bn("bn2", 6),
        tensor({
          name: "mm.weight",
          dims: [75, 5],
          raw: f32s(375, (i) => Math.sin(i * 0.9) * 0.2),
        }),
        tensor({ name: "mm.bias", dims: [5], raw: f32s(5, (i) => 0.1 - 0.03 * i) }),
        ...bn("bn3", 5),
      ],
      inputs: [valueInfo("x", X)],
      outputs: [valueInfo("y", [2, 4, 3, 3]), valueInfo("z", [2, 6]), valueInfo("u", [2, 5])],
    }),
    { opset: 13 },
  );
}

async function run(bytes: Uint8Array): Promise<Float32Array[]> {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "disabled" });
  const x = f32s(X.reduce((a, b) => a * b, 1), (i) => Math.sin(i * 0.3));
  const out = await s.run({ x: new ort.Tensor("float32", x, X) });
  return [out.y, out.z, out.u].map((t) => t.data as Float32Array);
}

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const CONFIG = {
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "out_channel",
};

test("fusableGroups lists conv+bn+relu and a Gemm+bn whose output is a graph output", () => {
  const m = onnxModel(decodeOnnx(bnModel()));
  assert.deepEqual(fusableGroups(m), [["conv", "bn", "relu"], ["fc", "bn2"], ["mm", "bn3"]]);
});

test("a folded Conv without bias, Gemm and MatMul+Add run in onnxruntime like fake-quantized weights", async () => {
  const bytes = bnModel();
  const onnx = decodeOnnx(bytes);
  const m = onnxModel(onnx);
  const fuse_names = fusableGroups(m);
  const r = await quantize(m, [{ ...CONFIG, fuse_names }], { onnx });
  const qdq = await r.save("qdq");
  const float = await r.save("float");
  const out = decodeOnnx(float);
  assert.deepEqual(out.graph.nodes.map((n) => n.opType), [
    "Conv",
    "Relu",
    "Flatten",
    "Gemm",
    "MatMul",
    "Add",
  ]);
  assert.deepEqual(out.graph.nodes[0].inputs, ["x", "conv.weight", "conv.bias"]);
  assert.deepEqual(out.graph.nodes[3].outputs, ["z"]);
  assert.deepEqual(out.graph.nodes[5].outputs, ["u"]);
  assert.deepEqual(out.graph.initializers.map((t) => t.name).sort(), [
    "conv.bias",
    "conv.weight",
    "fc.bias",
    "fc.weight",
    "mm.bias",
    "mm.weight",
  ]);
  const [want, fq, q] = [await run(bytes), await run(float), await run(qdq)];
  for (const k of [0, 1, 2]) {
    assert.ok(maxDiff(fq[k], q[k]) < 1e-5, `QDQ vs fake-quant output ${k}`);
    assert.ok(maxDiff(fq[k], want[k]) < 0.05, `int8 vs float output ${k}`);
  }
  // The folded tensors, before quantization, compute the original outputs.
  const exact = await quantize(m, [{ ...CONFIG, quant_dtype: "int16", fuse_names }], { onnx });
  const outs = await run(await exact.save("float"));
  outs.forEach((o, k) => assert.ok(maxDiff(o, want[k]) < 1e-3, `int16 vs float output ${k}`));
});

test("fuse_names with a BatchNorm reads each epsilon from the ONNX model the view was built from", async () => {
  const onnx = decodeOnnx(bnModel());
  const m = onnxModel(onnx);
  const config = [{ ...CONFIG, fuse_names: [["conv", "bn"]] }];
  // No calibration and no options.onnx: the view's source model serves.
  const implicit = await (await quantize(m, config)).save("qdq");
  const explicit = await (await quantize(m, config, { onnx })).save("qdq");
  assert.deepEqual(implicit, explicit);
  // A view with no decoded model behind it still needs options.onnx.
  const { source: _source, ...bare } = m;
  await assert.rejects(
    quantize(bare, config),
    (e: Error) => e instanceof RangeError && /options\.onnx/.test(e.message),
  );
});

test("a MatMul without a bias Add cannot take a folded BatchNorm: the error names the group", async () => {
  const bytes = model(
    graph({
      nodes: [node("MatMul", ["x", "mm.weight"], ["m"], "mm"), bnNode("bn", "m", "y")],
      initializers: [
        tensor({ name: "mm.weight", dims: [3, 2], raw: f32s(6, (i) => i * 0.1) }),
        ...bn("bn", 2),
      ],
      inputs: [valueInfo("x", [1, 3])],
      outputs: [valueInfo("y", [1, 2])],
    }),
    { opset: 13 },
  );
  const onnx = decodeOnnx(bytes);
  const m = onnxModel(onnx);
  await assert.rejects(
    quantize(m, [{ ...CONFIG, fuse_names: fusableGroups(m) }], { onnx }),
    (e: Error) =>
      e instanceof RangeError &&
      e.message ===
        '[0].fuse_names[0]: "mm" is a MatMul without a bias Add, which cannot take the folded bias',
  );
});

test("a weight shared with another node cannot be folded: the error names that node", async () => {
  const bytes = model(
    graph({
      nodes: [
        node("Gemm", ["x", "w"], ["g"], "fc", [attr("transB", { i: 1 })]),
        bnNode("bn", "g", "y"),
        node("Gemm", ["x", "w"], ["z"], "other", [attr("transB", { i: 1 })]),
      ],
      initializers: [
        tensor({ name: "w", dims: [2, 3], raw: f32s(6, (i) => i * 0.1) }),
        ...bn("bn", 2),
      ],
      inputs: [valueInfo("x", [1, 3])],
      outputs: [valueInfo("y", [1, 2]), valueInfo("z", [1, 2])],
    }),
    { opset: 13 },
  );
  const onnx = decodeOnnx(bytes);
  const m = onnxModel(onnx);
  const first = m.modules.find((x) => x.type === "Linear")!.name;
  await assert.rejects(
    quantize(m, [{ ...CONFIG, fuse_names: [[first, "bn"]] }], { onnx }),
    (e: Error) =>
      e instanceof RangeError && /is also read by node "other" \(Gemm\)/.test(e.message),
  );
});
