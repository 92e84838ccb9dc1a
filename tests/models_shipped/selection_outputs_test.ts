// Outputs after a selection op in ONNX models: the comparison flags them (`afterSelection`).

import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { compareOutputs } from "../../src/compress/compare_outputs.ts";
import { topKOnnx } from "../_topk_onnx.ts";

/** x [n, 8] · W [8, 6] = scores; TopK (k = 3) gives top and index. */
function topKModel(shift: number): Uint8Array {
  const w = Float32Array.from(
    { length: 48 },
    (_, i) => Math.sin(i * 1.7) + (i % 6 === 2 ? shift : 0),
  );
  return topKOnnx(w, { rows: "n", in: 8, classes: 6 }, 3, true);
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
  // The picks matched as sets: rows of 3 values, none left over.
  assert.equal(out[0].matched, undefined);
  for (const o of out.slice(1)) {
    const m = o.matched!;
    assert.deepEqual([m.rows, m.record, m.unmatched], [64, 3, 0], JSON.stringify(m));
    assert.ok(m.cosine >= o.cosine, JSON.stringify(o));
  }
});

/** x [n, 8] · W [8, 6] = scores; the positions above 0.5 (NonZero, transposed) and their scores. */
function nonZeroModel(shift: number): Uint8Array {
  const w = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i * 1.7) * (1 + shift));
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "fc", opType: "MatMul", inputs: ["x", "w"], outputs: ["scores"] },
      { name: "gt", opType: "Greater", inputs: ["scores", "t"], outputs: ["pass"] },
      { name: "nz", opType: "NonZero", inputs: ["pass"], outputs: ["nz"] },
      {
        name: "tr",
        opType: "Transpose",
        inputs: ["nz"],
        outputs: ["where"],
        attributes: [{ name: "perm", ints: [1, 0] }],
      },
      { name: "g", opType: "GatherND", inputs: ["scores", "where"], outputs: ["picked"] },
    ],
    initializers: [
      { name: "w", dataType: 1, dims: [8, 6], raw: new Uint8Array(w.buffer) },
      { name: "t", dataType: 1, dims: [], raw: new Uint8Array(Float32Array.of(0.5).buffer) },
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 8] } }],
    outputs: [
      { name: "where", type: { elemType: 7, dims: ["m", 2] } },
      { name: "picked", type: { elemType: 1, dims: ["m"] } },
    ],
  });
}

test("ONNX: picks of another number (NonZero) have no element-wise measures; matched, the rest is counted", async () => {
  const same = await compareOutputs(ort, nonZeroModel(0), nonZeroModel(0), {
    inputs: { x: { dims: [64, 8] } },
  });
  assert.deepEqual(same.map((o) => [o.name, o.afterSelection, Math.round(o.cosine * 1e9)]), [
    ["where", "NonZero", 1e9],
    ["picked", "NonZero", 1e9],
    // Every output is a pick: the scores they are picked from follow.
    ["scores", undefined, 1e9],
  ]);
  const n = same[1].dims[0];
  assert.ok(n > 20 && n < 384, String(n));
  const out = await compareOutputs(ort, nonZeroModel(0.05), nonZeroModel(0), {
    inputs: { x: { dims: [64, 8] } },
  });
  assert.ok(Number.isNaN(out[0].cosine) && Number.isNaN(out[1].maxAbsDiff), JSON.stringify(out));
  const m = out[1].matched!;
  assert.ok(m.unmatched > 0 && m.rows + m.unmatched >= n, JSON.stringify(m));
  assert.ok(m.cosine > 0.99 && m.cosine < 1, JSON.stringify(m));
  assert.equal(out[0].matched!.record, 2);
});

test("ONNX: when every output is a pick, the values the selection selects from are compared too", async () => {
  // nonZeroModel's outputs are both after the NonZero: its scores come as a row of their own.
  const out = await compareOutputs(ort, nonZeroModel(0.05), nonZeroModel(0), {
    inputs: { x: { dims: [64, 8] } },
  });
  assert.deepEqual(
    out.map((o) => [o.name, o.afterSelection ?? "", o.beforeSelection ?? ""]),
    [["where", "NonZero", ""], ["picked", "NonZero", ""], ["scores", "", "NonZero"]],
  );
  // The weights scaled by 1.05 scale the scores by 1.05.
  const scores = out[2];
  assert.deepEqual(scores.dims, [64, 6]);
  assert.ok(Math.abs(scores.cosine - 1) < 1e-6, String(scores.cosine));
  assert.ok(Math.abs(scores.relativeError - 0.05) < 1e-5, String(scores.relativeError));
  // Models that keep a raw output get no such rows: the TopK model's scores are an output.
  const top = await compareOutputs(ort, topKModel(0.01), topKModel(0), {
    inputs: { x: { dims: [8, 8] } },
  });
  assert.ok(top.every((o) => o.beforeSelection === undefined));
});
