// Dynamic quantization of an opset-9 model: the opset becomes 11 (DynamicQuantizeLinear's) and
// the nodes whose attributes became inputs at 10 and 11 (Clip, Slice, Pad, TopK) are rewritten,
// so onnxruntime loads the result and computes what the original computes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { editOnnx } from "../../src/io/onnx/edit_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { dynamicOnnx } from "../../src/quantization/dynamic_onnx.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";
import { f32, weights } from "../models_shipped/_gemm_subgraph_models.ts";
import { values } from "../models_shipped/_models.ts";
import { loadOrt } from "../io/_ocr.ts";

const FLOAT = 1;

/**
 * x [1, 4, 6, 6] → Conv (8 filters 3×3, bias) → Clip [0, 6] → Pad (1 each side of H and W,
 * value 0.5) → Slice (H 1:7) → Flatten → MatMul [512, 10] → TopK (k 3), all at opset 9.
 */
function opset9Model(extra: { opType: string } | undefined = undefined): Uint8Array {
  return buildOnnx({
    opsets: [{ domain: "", version: 9 }],
    nodes: [
      {
        name: "conv",
        opType: "Conv",
        inputs: ["x", "conv.weight", "conv.bias"],
        outputs: ["c"],
        attributes: [{ name: "kernel_shape", ints: [3, 3] }, { name: "pads", ints: [1, 1, 1, 1] }],
      },
      {
        name: "clip",
        opType: "Clip",
        inputs: ["c"],
        outputs: ["r"],
        attributes: [{ name: "min", f: 0 }, { name: "max", f: 6 }],
      },
      {
        name: "pad",
        opType: "Pad",
        inputs: ["r"],
        outputs: ["p"],
        attributes: [
          { name: "mode", s: "constant" },
          { name: "pads", ints: [0, 0, 1, 1, 0, 0, 1, 1] },
          { name: "value", f: 0.5 },
        ],
      },
      {
        name: "slice",
        opType: "Slice",
        inputs: ["p"],
        outputs: ["s"],
        attributes: [
          { name: "starts", ints: [1] },
          { name: "ends", ints: [7] },
          { name: "axes", ints: [2] },
        ],
      },
      {
        name: "flatten",
        opType: "Flatten",
        inputs: ["s"],
        outputs: ["f"],
        attributes: [{ name: "axis", i: 1 }],
      },
      { name: "fc", opType: "MatMul", inputs: ["f", "fc.weight"], outputs: ["logits"] },
      {
        name: "topk",
        opType: "TopK",
        inputs: ["logits"],
        outputs: ["top", "index"],
        attributes: [{ name: "k", i: 3 }],
      },
      ...(extra === undefined ? [] : [{
        name: "extra",
        opType: extra.opType,
        inputs: ["x", "scales"],
        outputs: ["up"],
      }]),
    ],
    initializers: [
      f32("conv.weight", [8, 4, 3, 3], weights(8 * 36, 5, 36)),
      f32("conv.bias", [8], weights(8, 6, 4)),
      f32("fc.weight", [8 * 6 * 8, 10], weights(384 * 10, 7, 384)),
      ...(extra === undefined ? [] : [f32("scales", [4], Float32Array.of(1, 1, 2, 2))]),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, 4, 6, 6] } }],
    outputs: [
      { name: "top", type: { elemType: FLOAT, dims: [1, 3] } },
      ...(extra === undefined ? [] : [{ name: "up", type: { elemType: FLOAT, dims: [] } }]),
    ],
  });
}

test("dynamic quantization raises an opset-9 model to 11 with Clip, Pad, Slice and TopK in their opset-11 form", async () => {
  const model = opset9Model();
  const onnx = decodeOnnx(model);
  const { bytes, layers } = await dynamicOnnx(onnx, onnxModel(onnx), { weightType: "uint8" });
  assert.deepEqual(layers.map((l) => [l.module, l.opType]).sort(), [
    ["conv", "Conv"],
    ["fc", "MatMul"],
  ]);
  const out = decodeOnnx(bytes);
  assert.deepEqual(out.opsets, [{ domain: "", version: 11 }]);
  const byName = new Map(out.graph.nodes.map((n) => [n.name, n]));
  assert.deepEqual(byName.get("clip")!.inputs, ["c", "clip_min", "clip_max"]);
  assert.deepEqual(byName.get("pad")!.inputs, ["r", "pad_pads", "pad_value"]);
  assert.deepEqual(byName.get("pad")!.attributes.map((a) => [a.name, a.s]), [["mode", "constant"]]);
  assert.deepEqual(byName.get("slice")!.inputs, ["p", "slice_starts", "slice_ends", "slice_axes"]);
  assert.deepEqual(byName.get("topk")!.inputs, ["logits", "topk_k"]);
  for (const n of ["clip", "slice", "topk"]) assert.equal(byName.get(n)!.attributes.length, 0);
  // ConvInteger keeps the Conv's attributes; the bias is reshaped to [1, -1, 1, 1] and added.
  const conv = byName.get("conv_quant")!;
  assert.equal(conv.opType, "ConvInteger");
  assert.deepEqual(conv.attributes.map((a) => [a.name, a.ints]), [
    ["kernel_shape", [3, 3]],
    ["pads", [1, 1, 1, 1]],
  ]);
  assert.deepEqual(byName.get("c_bias_add")!.inputs, [
    "cquant_scaled_output",
    "c_bias_reshape_output",
  ]);
  const ort = await loadOrt();
  const feeds = { x: new ort.Tensor("float32", values(144, 3, 2), [1, 4, 6, 6]) };
  const run = async (b: Uint8Array) => {
    const s = await ort.InferenceSession.create(b);
    const r = await s.run(feeds);
    return r.top.data as Float32Array;
  };
  const a = await run(model);
  const b = await run(bytes);
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 0.05 * Math.abs(a[0]), `top ${i}: ${a[i]} vs ${b[i]}`);
  }
});

test("an opset-9 model with Upsample is refused: it has no opset-11 form", async () => {
  const onnx = decodeOnnx(opset9Model({ opType: "Upsample" }));
  await assert.rejects(
    () => dynamicOnnx(onnx, onnxModel(onnx)),
    (e: unknown) =>
      e instanceof QuantizationError && e.code === "storage" &&
      /needs opset 11 \(DynamicQuantizeLinear\) and the model is opset 9: its Upsample node "extra" has no opset-11 form here/
        .test(e.message),
  );
});

test("editOnnx setOpset rewrites an imported domain's version and adds a missing one", () => {
  const model = opset9Model();
  const edited = decodeOnnx(
    editOnnx(model, [
      { op: "setOpset", domain: "", version: 11 },
      { op: "setOpset", domain: "com.microsoft", version: 1 },
    ]).bytes,
  );
  assert.deepEqual(edited.opsets, [{ domain: "", version: 11 }, {
    domain: "com.microsoft",
    version: 1,
  }]);
  assert.equal(edited.graph.nodes.length, decodeOnnx(model).graph.nodes.length);
  assert.throws(
    () => editOnnx(model, [{ op: "setOpset", domain: "", version: 0 }]),
    /"version" must be a positive integer: current value is 0/,
  );
});
