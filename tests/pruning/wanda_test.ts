// Wanda through prune(): input-feature norms measured with onnxruntime-node on a model built by
// hand, supplied by the user, or missing (a clear error).
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { prune } from "../../src/pruning/prune.ts";
import { PruningError } from "../../src/pruning/pruning_error.ts";
import { wandaInputNorms } from "../../src/pruning/wanda_input_norms.ts";
import { f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };

function fcModel() {
  return safetensorsModel(readSafetensors(writeSafetensors([
    // rows [out 2, in 3]: the small weights sit on the loud input feature 2
    {
      name: "fc.weight",
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([4, 3, 0.5, 2, 5, 0.1]),
    },
  ])));
}

test("prune() with the wanda pruner and no input norms says that calibration data are required", async () => {
  await assert.rejects(
    prune(fcModel(), [{ op_types: ["Linear"], sparse_ratio: 0.5 }], { pruner: "wanda" }),
    (e) => e instanceof TypeError && /"inputNorms" must be given.*calibration data/.test(e.message),
  );
  await assert.rejects(
    prune(fcModel(), [{ op_types: ["Linear"], sparse_ratio: 0.5 }], {
      pruner: "wanda",
      inputNorms: {},
    }),
    (e) => e instanceof PruningError && /^fc\.weight .*needs calibration data/.test(e.message),
  );
});

test("prune() with the wanda pruner ranks |w| times the input feature norm, element-wise by default", async () => {
  const configList = [{ op_types: ["Linear"], sparse_ratio: 0.5 }];
  const level = await prune(fcModel(), configList, { pruner: "level" });
  assert.deepEqual([...expandMask(level.masks.fc.weight)], [1, 1, 0, 0, 1, 0]);
  const wanda = await prune(fcModel(), configList, {
    pruner: "wanda",
    inputNorms: { fc: new Float32Array([0.1, 1, 100]) },
  });
  // scores 0.4 3 50 / 0.2 5 10: the three smallest are pruned
  assert.deepEqual([...expandMask(wanda.masks.fc.weight)], [0, 0, 1, 0, 1, 1]);
  assert.equal(wanda.targets[0].setting.granularity ?? null, null);
});

test(
  "wandaInputNorms() measures the L2 norm of each input feature of every MatMul in onnxruntime",
  SLOW,
  async () => {
    const w1 = f32s(6, (i) => i - 2.5); // [in 2, out 3]
    const w2 = f32s(6, (i) => Math.cos(i)); // [in 3, out 2]
    const onnx = decodeOnnx(model(graph({
      nodes: [
        node("MatMul", ["x", "fc1.weight"], ["h"], "/fc1/MatMul"),
        node("Relu", ["h"], ["r"], "/act/Relu"),
        node("MatMul", ["r", "fc2.weight"], ["y"], "/fc2/MatMul"),
      ],
      initializers: [
        tensor({ name: "fc1.weight", dims: [2, 3], raw: w1 }),
        tensor({ name: "fc2.weight", dims: [3, 2], raw: w2 }),
      ],
      inputs: [valueInfo("x", ["n", 2])],
      outputs: [valueInfo("y", ["n", 2])],
    })));
    const xs = [f32s(4, (i) => i - 1), f32s(6, (i) => (i * 7) % 5 - 2)];
    const norms = await wandaInputNorms(
      onnx,
      xs.map((data) => ({ x: { data, dims: [data.length / 2, 2] } })),
      { ort: await loadOrt() },
    );
    const x = [...xs[0], ...xs[1]];
    const want1 = [0, 1].map((c) =>
      Math.sqrt(x.filter((_, i) => i % 2 === c).reduce((a, v) => a + v * v, 0))
    );
    const r: number[] = [];
    for (let s = 0; s < x.length / 2; s++) {
      for (let o = 0; o < 3; o++) r.push(Math.max(0, x[2 * s] * w1[o] + x[2 * s + 1] * w1[3 + o]));
    }
    const want2 = [0, 1, 2].map((c) =>
      Math.sqrt(r.filter((_, i) => i % 3 === c).reduce((a, v) => a + v * v, 0))
    );
    assert.deepEqual(Object.keys(norms).sort(), ["fc1", "fc2"]);
    for (const [got, want] of [[norms.fc1, want1], [norms.fc2, want2]] as const) {
      assert.equal(got.length, want.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${v} vs ${want[i]}`));
    }
    const result = await prune(onnxModel(onnx), [{ op_types: ["Linear"], sparse_ratio: 0.5 }], {
      pruner: "wanda",
      inputNorms: norms,
    });
    assert.equal(result.report.totals.kept, 6);
  },
);
