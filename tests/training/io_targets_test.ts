// Input and output targets of tfjs layers: by position (`_output_<index>`, also on layers with
// several outputs); named outputs (`_output_<key>`) are rejected with the layer and config path.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { SymbolicTensor } from "@tensorflow/tfjs-layers";
import { DistillationError, mseLoss } from "../../src/distillation/mod.ts";
import {
  createDistiller,
  createQuantizer,
  describeTfModel,
  type TfModelView,
  trainStep,
  writeParam,
} from "../../src/training/mod.ts";
import { randomArray, tf, tfl } from "./_tf.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";

/** An LSTM returning [output, h, c] (three outputs), then a Dense on the cell state. */
function rnn(seed: number): { view: TfModelView; cell: tfl.LayersModel } {
  const input = tfl.input({ shape: [5, 3] });
  const [, , c] = tfl.layers.lstm({
    units: 4,
    returnState: true,
    name: "rnn",
    recurrentInitializer: "glorotUniform", // the orthogonal default needs tfjs's chained ops
  })
    .apply(input) as SymbolicTensor[];
  const out = tfl.layers.dense({ units: 2, name: "fc" }).apply(c) as SymbolicTensor;
  const view = describeTfModel(tfl.model({ inputs: input, outputs: out }));
  view.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    writeParam(view, p, randomArray(n, seed * 10 + i));
  });
  return { view, cell: tfl.model({ inputs: input, outputs: c }) };
}

const x = tf.tensor3d(randomArray(6 * 5 * 3, 9), [6, 5, 3]);

test("_output_2 distils the third output of a layer with several (an LSTM's cell state)", () => {
  const student = rnn(1);
  const teacher = rnn(2);
  const d = createDistiller(student.view, teacher.view, [
    { op_names: ["rnn"], target_names: ["_output_2"] },
  ]);
  const got = trainStep(student.view, {
    optimizer: tf.train.sgd(0),
    x,
    loss: () => tf.scalar(0),
    parts: [d],
  });
  const cs = (student.cell.predict(x) as tf.Tensor).dataSync() as Float32Array;
  const ct = (teacher.cell.predict(x) as tf.Tensor).dataSync() as Float32Array;
  const want = mseLoss(cs, ct);
  assert.ok(want > 0 && Math.abs(got - want) <= 1e-5 * want, `${got} vs ${want}`);
});

test("an output index beyond a layer's outputs names the layer and its output count", () => {
  const { view } = rnn(1);
  assert.throws(
    () => createDistiller(view, view, [{ op_names: ["rnn"], target_names: ["_output_3"] }]),
    (e: unknown) =>
      e instanceof DistillationError && e.path === "[0].target_names" &&
      /layer "rnn" \(LSTM\) has 3 outputs, so _output_3 does not exist/.test(e.message),
  );
});

test("_output_<key> is rejected naming the layer and the config path: tfjs outputs are positional", () => {
  const { view } = rnn(1);
  assert.throws(
    () =>
      createDistiller(view, view, [
        { op_names: ["fc"] },
        { op_names: ["rnn"], target_names: ["_output_cell"] },
      ]),
    (e: unknown) =>
      e instanceof DistillationError && e.path === "[1].target_names" &&
      e.message.startsWith('rnn._output_cell (config [1], "target_names"): layer "rnn" (LSTM)') &&
      /by position .* _output_<index>/.test(e.message),
  );
});

test("a quantizer rejects _output_<key> naming the layer and the config path", () => {
  const { view } = rnn(1);
  assert.throws(
    () =>
      createQuantizer(view, [{
        op_names: ["fc"],
        target_names: ["_output_logits"],
        quant_dtype: "int8",
      }]),
    (e: unknown) =>
      e instanceof QuantizationError && e.code === "activation" && e.path === "[0].target_names" &&
      /^fc\._output_logits \(config \[0\], "target_names"\): layer "fc" \(Dense\) .*by position .*use _output_<index>/
        .test(e.message),
  );
});
