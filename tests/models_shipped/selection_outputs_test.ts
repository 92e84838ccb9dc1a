// Outputs after a selection op in ONNX models: the comparison flags them (`afterSelection`).

import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { compareOutputs } from "../../src/compress/compare_outputs.ts";

/** x [n, 8] · W [8, 6] = scores; TopK (k = 3) gives top and index. */
function topKModel(shift: number): Uint8Array {
  const w = Float32Array.from(
    { length: 48 },
    (_, i) => Math.sin(i * 1.7) + (i % 6 === 2 ? shift : 0),
  );
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "fc", opType: "MatMul", inputs: ["x", "w"], outputs: ["scores"] },
      {
        name: "topk",
        opType: "TopK",
        inputs: ["scores", "k"],
        outputs: ["top", "index"],
        attributes: [{ name: "axis", i: 1 }],
      },
    ],
    initializers: [
      { name: "w", dataType: 1, dims: [8, 6], raw: new Uint8Array(w.buffer) },
      { name: "k", dataType: 7, dims: [1], raw: new Uint8Array(BigInt64Array.of(3n).buffer) },
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 8] } }],
    outputs: [
      { name: "scores", type: { elemType: 1, dims: ["n", 6] } },
      { name: "top", type: { elemType: 1, dims: ["n", 3] } },
      { name: "index", type: { elemType: 7, dims: ["n", 3] } },
    ],
  });
}

test("ONNX: the outputs of a TopK are flagged after a selection op, the scores before it are not", async () => {
  const out = await compareOutputs(ort, topKModel(0.01), topKModel(0), {
    inputs: { x: { dims: [64, 8] } },
  });
  assert.deepEqual(
    out.map((o) => [o.name, o.afterSelection ?? ""]),
    [["scores", ""], ["top", "TopK"], ["index", "TopK"]],
  );
  assert.ok(out[0].cosine > 0.999, String(out[0].cosine));
});
