// Exporting masks into ONNX models built by hand: masked weights in place (initializer and
// Constant storage, MatMul's [in, out] layout), activation masks as Mul/Add nodes, and the
// written model run in onnxruntime-node against the masked model computed by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { generateMasks } from "../../src/pruning/generate_masks.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedOnnx } from "../../src/pruning/pruned_onnx.ts";
import { PruningError } from "../../src/pruning/pruning_error.ts";
import type { PruningTarget } from "../../src/pruning/types.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt, run } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };

const W1 = f32s(12, (i) => Math.sin(i + 1)); // file layout [in 4, out 3]
const B1 = f32s(3, (i) => i / 10 - 0.1);
const W2 = f32s(6, (i) => Math.cos(i) / 2); // file layout [in 3, out 2]
const X = f32s(8, (i) => (i % 5) / 2 - 1); // [2, 4]

/** x[2,4] → MatMul+Add (fc1) → Relu (act) → MatMul with a Constant weight (fc2) → y. */
function mlp(): Uint8Array {
  return model(graph({
    nodes: [
      node("Constant", [], ["fc2.weight"], "", [
        attr("value", { t: tensor({ dims: [3, 2], raw: W2 }) }),
      ]),
      node("MatMul", ["x", "fc1.weight"], ["h"], "/fc1/MatMul"),
      node("Add", ["h", "fc1.bias"], ["h2"], "/fc1/Add"),
      node("Relu", ["h2"], ["r"], "/act/Relu"),
      node("MatMul", ["r", "fc2.weight"], ["y"], "/fc2/MatMul"),
    ],
    initializers: [
      tensor({ name: "fc1.weight", dims: [4, 3], raw: W1 }),
      tensor({ name: "fc1.bias", dims: [3], raw: B1 }),
    ],
    inputs: [valueInfo("x", [2, 4])],
    outputs: [valueInfo("y", [2, 2])],
  }));
}

/** a [n, k] times b [k, m] (file layout of a MatMul weight). */
function matmul(a: Float32Array, b: Float32Array, n: number, k: number, m: number): Float32Array {
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * m + j];
      out[i * m + j] = s;
    }
  }
  return out;
}

/** The model computed by hand, with masks on the weights (file layout) and activations. */
function forward(
  w1: Float32Array,
  w2: Float32Array,
  act: (r: Float32Array) => Float32Array = (r) => r,
): Float32Array {
  const h = matmul(X, w1, 2, 4, 3).map((v, i) => Math.max(0, v + B1[i % 3]));
  return matmul(act(h), w2, 2, 3, 2);
}

function close(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${i}: ${a[i]} ${b[i]}`);
  }
}

test(
  "prunedOnnx() zeroes MatMul weights where the masks say, in place, in [in, out] layout, initializer and Constant alike",
  SLOW,
  async () => {
    const onnx = decodeOnnx(mlp());
    const result = await prune(onnxModel(onnx), [
      { op_types: ["Linear"], target_names: ["weight"], sparse_ratio: 0.5 },
    ], { pruner: "level" });
    const out = decodeOnnx(await result.save());
    assert.deepEqual(
      out.tensors.map((t) => [t.name, t.kind]),
      onnx.tensors.map((t) => [t.name, t.kind]),
    );
    const files: Record<string, Float32Array> = {};
    for (const [module, [inp, outp]] of [["fc1", [4, 3]], ["fc2", [3, 2]]] as const) {
      const t = out.tensors.find((x) => x.name === `${module}.weight`)!;
      const file = new Float32Array((await readOnnxTensor(out, t)).slice().buffer);
      const mask = expandMask(result.masks[module].weight); // [out, in]
      for (let o = 0; o < outp; o++) {
        for (let i = 0; i < inp; i++) {
          assert.equal(file[i * outp + o] === 0, mask[o * inp + i] === 0, `${module} [${o}, ${i}]`);
        }
      }
      files[module] = file;
    }
    const ort = await loadOrt();
    const y = await run(ort, await result.save(), X, [2, 4]);
    close(y.data, forward(files.fc1, files.fc2));
  },
);

test(
  "prunedOnnx() writes activation masks as Mul and Add nodes that broadcast over the batch",
  SLOW,
  async () => {
    const onnx = decodeOnnx(mlp());
    const targets: PruningTarget[] = [
      {
        module: "act",
        target: "_output_0",
        kind: "output",
        shape: [2, 3],
        setting: { sparse_ratio: 0.34, granularity: "per_channel", apply_method: "mul" },
      },
      {
        module: "fc2",
        target: "_output_0",
        kind: "output",
        shape: [1, 2],
        setting: { sparse_ratio: 0.5, granularity: "per_channel", apply_method: "add" },
      },
    ];
    const { masks } = generateMasks({
      act: { _output_0: new Float32Array([3, 1, 2]) },
      fc2: { _output_0: new Float32Array([5, 4]) },
    }, targets);
    assert.deepEqual([...masks.act._output_0.blocks], [1, 0, 1]);
    assert.deepEqual(masks.act._output_0.rawShape, [1, 3]);
    const bytes = await prunedOnnx(onnx, { model: onnxModel(onnx), targets, masks });
    const written = decodeOnnx(bytes);
    assert.deepEqual(
      written.graph.nodes.map((n) => n.opType),
      ["Constant", "MatMul", "Add", "Relu", "Mul", "MatMul", "Add"],
    );
    assert.deepEqual(written.graph.outputs, ["y"]);
    const ort = await loadOrt();
    const y = await run(ort, bytes, X, [2, 4]);
    const want = forward(W1, W2, (r) => r.map((v, i) => (i % 3 === 1 ? 0 : v)))
      .map((v, i) => (i % 2 === 1 ? v - 1000 : v));
    close(y.data, want);
  },
);

test("prunedOnnx() rejects an activation target whose module has no such input, naming it", async () => {
  const onnx = decodeOnnx(mlp());
  const targets: PruningTarget[] = [{
    module: "act",
    target: "_input_3",
    kind: "input",
    shape: [2, 3],
    setting: { sparse_ratio: 0.5, granularity: "per_channel" },
    configIndex: 0,
  }];
  const { masks } = generateMasks({ act: { _input_3: new Float32Array([1, 2, 3]) } }, targets);
  await assert.rejects(
    prunedOnnx(onnx, { model: onnxModel(onnx), targets, masks }),
    (e) => e instanceof PruningError && /act\._input_3.*no activation input 3/.test(e.message),
  );
});
