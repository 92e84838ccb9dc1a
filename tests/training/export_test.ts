// Exports of trained tfjs models: float and QDQ ONNX run by onnxruntime, integer and
// fake-quantized safetensors of a QAT model, masked weights and mask sidecars of a pruned model.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { distillLoss } from "../../src/distillation/distill_loss.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { loadMasks } from "../../src/pruning/load_masks.ts";
import { saveMasks } from "../../src/pruning/save_masks.ts";
import { fakeQuantizedTensors } from "../../src/quantization/fake_quantized_tensors.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import {
  quantizedSafetensors,
  readQuantizedSafetensors,
} from "../../src/quantization/quantized_safetensors.ts";
import {
  createQuantizer,
  createTrainingPruner,
  predict,
  prunerTargetMasks,
  quantizedParams,
  quantTargetParams,
  tfModelGraph,
  type TfModelView,
  tfSafetensors,
  tfToOnnx,
} from "../../src/training/mod.ts";
import { accuracyOf, fit, loadDigits, mlp } from "./_digits.ts";
import { tf } from "./_tf.ts";

const SLOW = { timeout: 120_000 };
const QUANT = [{
  op_types: ["Linear"],
  target_names: ["_input_", "weight", "_output_"],
  quant_dtype: "int8",
}];

const { train, test: holdOut } = loadDigits();
let trained: {
  teacher: TfModelView;
  student: TfModelView;
  qat: ReturnType<typeof createQuantizer>;
};
function setup() {
  if (trained !== undefined) return trained;
  const teacher = mlp(1);
  fit(teacher, train, { epochs: 10, lr: 0.01 });
  const student = mlp(5);
  student.model.setWeights(teacher.model.getWeights());
  const qat = createQuantizer(student, QUANT, { quantStartStep: 20 });
  fit(student, train, { epochs: 2, lr: 0.001, parts: [qat], seed: 3 });
  trained = { teacher, student, qat };
  return trained;
}

/** Runs an ONNX model on the hold-out rows at "basic" optimization (no integer kernel fusion). */
async function runOnnx(bytes: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: "basic",
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const input = new ort.Tensor("float32", holdOut.x.dataSync() as Float32Array, [450, 64]);
  const out = await session.run({ input });
  await session.release();
  return out.output.data as Float32Array;
}

const tfLogits = (view: TfModelView, parts = [] as Parameters<typeof predict>[2]) => {
  const out = predict(view, holdOut.x, parts) as tf.Tensor;
  const data = out.dataSync() as Float32Array;
  out.dispose();
  return data;
};

test("tfToOnnx() writes an MLP that onnxruntime runs with the tfjs outputs", SLOW, async () => {
  const { teacher } = setup();
  const got = await runOnnx(tfToOnnx(teacher));
  const want = tfLogits(teacher);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, `at ${i}`);
  assert.equal(accuracyOf(got, holdOut.labels), accuracyOf(want, holdOut.labels));
});

test("a QAT int8 MLP as QDQ ONNX has its tfjs hold-out accuracy in onnxruntime", SLOW, async () => {
  const { student, qat } = setup();
  const onnx = decodeOnnx(tfToOnnx(student));
  const qdq = await qdqOnnx(onnx, onnxModel(onnx), quantTargetParams(student, qat));
  const ops = decodeOnnx(qdq).graph.nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === "QuantizeLinear").length, 4); // inputs and outputs
  assert.equal(ops.filter((o) => o === "DequantizeLinear").length, 6); // + 2 weights
  const got = await runOnnx(qdq);
  const want = tfLogits(student, [qat]);
  const ortAcc = accuracyOf(got, holdOut.labels);
  const tfAcc = accuracyOf(want, holdOut.labels);
  console.log(
    `QAT int8 on the 450 hold-out rows: tfjs ${tfAcc.toFixed(2)} %, onnxruntime ${
      ortAcc.toFixed(2)
    } %`,
  );
  assert.equal(ortAcc, tfAcc);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  const step = qat.calibrationConfig().fc2._output_0.scale[0];
  assert.ok(worst <= step * 1.01, `largest difference ${worst}, one output step ${step}`);
});

test("quantizedSafetensors() stores a QAT model's codes, scales and zero points", async () => {
  const { student, qat } = setup();
  const bytes = await quantizedSafetensors(tfModelGraph(student), quantTargetParams(student, qat));
  const file = readQuantizedSafetensors(bytes);
  const want = quantizedParams(student, qat);
  assert.deepEqual(file.quantized.map((t) => t.name), ["fc1.weight", "fc2.weight"]);
  for (const [i, t] of file.quantized.entries()) {
    assert.deepEqual(t.shape, want[i].shape); // PyTorch layout [out, in]
    assert.deepEqual([...t.codes], [...want[i].codes]);
    assert.deepEqual([...t.params.scale], [...want[i].params.scale]);
    assert.deepEqual([...t.params.zeroPoint], [0]);
  }
  const kinds = readSafetensors(bytes).tensors.map((t) => `${t.name}:${t.dtype}`);
  assert.ok(kinds.includes("fc1.weight:I8") && kinds.includes("fc1.bias:F32"), kinds.join());
});

test("the fake-quantized safetensors of a QAT model holds (code - zp) * scale", async () => {
  const { student, qat } = setup();
  const params = quantTargetParams(student, qat);
  const bytes = tfSafetensors(student, {
    replacements: await fakeQuantizedTensors(tfModelGraph(student), params),
  });
  const tensors = readSafetensors(bytes).tensors;
  for (const q of quantizedParams(student, qat)) {
    const t = tensors.find((x) => x.name === `${q.module}.${q.name}`)!;
    const values = new Float32Array(t.data.slice().buffer);
    const s = q.params.scale[0];
    // torch's sign of zero: a negative weight whose code is 0 is stored as -0
    assert.deepEqual([...values].map((v) => Math.round(v / s) + 0), [...q.codes]);
  }
});

test("an AGP-pruned model exports masked weights and a mask sidecar", () => {
  const { teacher } = setup();
  const student = mlp(7);
  student.model.setWeights(teacher.model.getWeights());
  const pruner = createTrainingPruner(student, [{ op_types: ["Linear"], sparse_ratio: 0.8 }], {
    schedule: "agp",
    totalTimes: 2,
    intervalSteps: 10,
  });
  fit(student, train, { epochs: 1, lr: 0.003, parts: [pruner] });
  assert.equal(pruner.sparsity()["fc1.weight"], 1638 / 2048); // int(2048 * 0.8) pruned
  const weights = readSafetensors(tfSafetensors(student, { masks: pruner.masks() })).tensors;
  const masks = loadMasks(saveMasks(prunerTargetMasks(student, pruner)));
  for (const name of ["fc1", "fc2"]) {
    const w = new Float32Array(
      weights.find((t) => t.name === `${name}.weight`)!.data.slice().buffer,
    );
    const m = masks[name].weight.blocks;
    assert.deepEqual([...m], [...pruner.masks()[name].weight]);
    assert.ok(w.every((v, i) => (m[i] === 0 ? v === 0 : true)));
    assert.equal(w.filter((v) => v === 0).length, m.filter((v) => v === 0).length);
  }
  pruner.dispose();
});

test("distillLoss() measures how far a QDQ model drifts from its float original in onnxruntime", async () => {
  const { student, qat } = setup();
  const float = tfToOnnx(student, { outputName: "logits" });
  const onnx = decodeOnnx(float);
  const int8 = await qdqOnnx(onnx, onnxModel(onnx), quantTargetParams(student, qat));
  // the snippet of docs/training.md, as written there
  const original = await ort.InferenceSession.create(float);
  const compressed = await ort.InferenceSession.create(int8);
  const feeds = {
    input: new ort.Tensor("float32", holdOut.x.dataSync() as Float32Array, [450, 64]),
  };
  const a = await original.run(feeds);
  const b = await compressed.run(feeds);
  const state = (t: ort.Tensor) => ({ _output_0: { data: t.data as Float32Array, shape: t.dims } });
  const drift = distillLoss({ logits: state(b.logits) }, { logits: state(a.logits) }, [
    { module: "logits", target: "_output_0", setting: { apply_method: "kl" } },
  ]);
  const none = distillLoss({ logits: state(a.logits) }, { logits: state(a.logits) }, [
    { module: "logits", target: "_output_0", setting: { apply_method: "kl" } },
  ]);
  await original.release();
  await compressed.release();
  assert.equal(none, 0);
  assert.ok(drift > 0 && drift < 0.05, `drift ${drift}`);
});

test("per-channel weights and activations of a PTQ model export to QDQ with their axes", async () => {
  const { teacher } = setup();
  const ptq = createQuantizer(teacher, [
    {
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      granularity: "out_channel",
    },
    {
      op_types: ["Linear"],
      target_names: ["_input_0"],
      quant_dtype: "int8",
      granularity: "per_channel",
    },
  ], { mode: "ptq" });
  ptq.calibrate([train.x]);
  const params = quantTargetParams(teacher, ptq);
  assert.deepEqual(params.map((p) => p.gridShape), [[32, 1], [10, 1], [1, 64], [1, 32]]);
  const onnx = decodeOnnx(tfToOnnx(teacher));
  const qdq = await qdqOnnx(onnx, onnxModel(onnx), params);
  const axes = decodeOnnx(qdq).graph.nodes.filter((n) => n.opType === "DequantizeLinear")
    .map((n) => n.attributes.find((a) => a.name === "axis")?.i);
  assert.deepEqual(axes.sort(), [0, 0, 1, 1]);
  const got = await runOnnx(qdq);
  const want = tfLogits(teacher, [ptq]);
  assert.equal(accuracyOf(got, holdOut.labels), accuracyOf(want, holdOut.labels));
  ptq.dispose();
});
