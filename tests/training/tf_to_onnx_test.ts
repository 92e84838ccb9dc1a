// tfToOnnx(): the exported graph's modules, fused activations, and layers it cannot export.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { describeTfModel, predict, tfToOnnx } from "../../src/training/mod.ts";
import { randomArray, tf, tfl } from "./_tf.ts";

test("fused activations, softmax, dropout and flatten export to a graph onnxruntime runs", async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [2, 3], name: "flat" }),
      tfl.layers.dense({ units: 4, activation: "tanh", name: "fc1" }),
      tfl.layers.dropout({ rate: 0.5, name: "drop" }),
      tfl.layers.leakyReLU({ alpha: 0.2, name: "leaky" }),
      tfl.layers.dense({ units: 3, useBias: false, name: "fc2" }),
      tfl.layers.softmax({ name: "probs" }),
    ],
  });
  const view = describeTfModel(model);
  const bytes = tfToOnnx(view);
  const graph = onnxModel(decodeOnnx(bytes));
  assert.deepEqual(graph.modules.map((m) => `${m.name}:${m.type}`), [
    "fc1:Linear",
    "fc1.activation:Tanh",
    "leaky:LeakyReLU",
    "fc2:Linear",
    "probs:Softmax",
  ]);
  const x = randomArray(5 * 6, 3);
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ input: new ort.Tensor("float32", x, [5, 2, 3]) });
  await session.release();
  const want = (predict(view, tf.tensor(x, [5, 2, 3])) as tf.Tensor).dataSync();
  const got = out.output.data as Float32Array;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `at ${i}`);
});

test("a layer without an export is named with its class", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 4, inputShape: [3], name: "fc1" }),
      tfl.layers.batchNormalization({ name: "bn" }),
    ],
  });
  assert.throws(
    () => tfToOnnx(describeTfModel(model)),
    /layer "bn" \(BatchNormalization\) has no ONNX export here/,
  );
});

test("a Dense layer on rank-3 inputs is rejected (Gemm takes matrices)", () => {
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 4, inputShape: [2, 3], name: "fc" })],
  });
  assert.throws(
    () => tfToOnnx(describeTfModel(model)),
    /layer "fc" \(Dense\) has inputs of rank 3/,
  );
});
