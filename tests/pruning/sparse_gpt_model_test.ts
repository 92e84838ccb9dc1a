// SparseGPT over an ONNX model: layer inputs captured with onnxruntime-node, sequentially.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { sparseGpt } from "../../src/pruning/sparse_gpt.ts";
import { sparseGptOnnx } from "../../src/pruning/sparse_gpt_model.ts";
import { graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

test(
  "sparseGptOnnx() prunes every MatMul 2:4 in graph order and encodes the new weights",
  SLOW,
  async () => {
    const w1 = values(16 * 32, 1, 0.5);
    const w2 = values(32 * 8, 2, 0.5);
    const onnx = decodeOnnx(model(graph({
      nodes: [
        node("MatMul", ["x", "fc1.weight"], ["h"], "/fc1/MatMul"),
        node("Relu", ["h"], ["r"], "/act/Relu"),
        node("MatMul", ["r", "fc2.weight"], ["y"], "/fc2/MatMul"),
      ],
      initializers: [
        tensor({ name: "fc1.weight", dims: [16, 32], raw: w1 }),
        tensor({ name: "fc2.weight", dims: [32, 8], raw: w2 }),
      ],
      inputs: [valueInfo("x", ["n", 16])],
      outputs: [valueInfo("y", ["n", 8])],
    })));
    const xs = [0, 1].map((b) => values(50 * 16, 20 + b, 2));
    const batches = xs.map((data) => ({ x: { data, dims: [50, 16] } }));
    const { layers, encode } = await sparseGptOnnx(onnx, batches, {
      ort: await loadOrt(),
      prunen: 2,
      prunem: 4,
    });
    assert.deepEqual(layers.map((l) => l.module), ["fc1", "fc2"]);
    const w1t = await onnxModel(onnx).modules.find((m) => m.name === "fc1")!.params.weight.data();
    const direct = sparseGpt(w1t, [32, 16], xs, { prunen: 2, prunem: 4 });
    assert.deepEqual(layers[0].result.mask, direct.mask);
    assert.deepEqual(layers[0].result.weight, direct.weight);
    const saved = onnxModel(decodeOnnx(encode()));
    for (const layer of layers) {
      const { mask, weight } = layer.result;
      for (let g = 0; g < mask.length; g += 4) {
        assert.equal(mask[g] + mask[g + 1] + mask[g + 2] + mask[g + 3], 2, `${layer.module} ${g}`);
      }
      const got = await saved.modules.find((m) => m.name === layer.module)!.params.weight.data();
      assert.deepEqual(got, weight, layer.module);
    }
  },
);
