// The Adaptive1d distiller: trainable maps between states of different widths, trained with
// the student inside trainStep.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DistillationError } from "../../src/distillation/mod.ts";
import {
  createAdaptiveDistiller,
  describeTfModel,
  readParams,
  type TfModelView,
  trainStep,
  writeParam,
} from "../../src/training/mod.ts";
import { randomArray, tf, tfl } from "./_tf.ts";

function net(seed: number, hidden: number): TfModelView {
  const view = describeTfModel(tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [8], name: "fc1" }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: 5, name: "fc2" }),
    ],
  }));
  view.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    writeParam(view, p, randomArray(n, seed * 100 + i));
  });
  return view;
}

const x = tf.tensor2d(randomArray(16 * 8, 5), [16, 8]);
const noTask = () => tf.scalar(0);

test("a student 4 wide learns a teacher 12 wide through the trained map", () => {
  const student = net(1, 4);
  const teacher = net(2, 12);
  const before = readParams(teacher);
  const d = createAdaptiveDistiller(student, teacher, [{ op_names: ["fc1"] }]);
  assert.deepEqual(d.maps().fc1._output_0.shape, [12, 4]);
  const map0 = d.maps().fc1._output_0.weight;
  const optimizer = tf.train.adam(0.05);
  const losses: number[] = [];
  for (let i = 0; i < 40; i++) {
    losses.push(trainStep(student, { optimizer, x, loss: noTask, parts: [d] }));
  }
  assert.ok(losses[39] < 0.2 * losses[0], `loss ${losses[0]} -> ${losses[39]}`);
  assert.equal(d.lastLoss, losses[39]);
  assert.notDeepEqual([...d.maps().fc1._output_0.weight], [...map0]); // the map trained
  assert.deepEqual(readParams(teacher), before); // the teacher did not
  d.dispose();
  optimizer.dispose();
});

test("the adaptive distiller's loss is lambda * mse of the mapped student output", () => {
  const student = net(3, 4);
  const teacher = net(4, 6);
  const d = createAdaptiveDistiller(student, teacher, [{ op_names: ["fc1"], lambda: 0.25 }]);
  const got = trainStep(student, { optimizer: tf.train.sgd(0), x, loss: noTask, parts: [d] });
  const hidden = (v: TfModelView) =>
    tfl.model({ inputs: v.model.inputs, outputs: v.model.getLayer("fc1").output }).predict(x);
  const m = d.maps().fc1._output_0;
  const mappedS = tf.add(
    tf.matMul(hidden(student) as tf.Tensor2D, tf.tensor2d(m.weight, [6, 4]), false, true),
    tf.tensor1d(m.bias),
  );
  const want = 0.25 *
    tf.losses.meanSquaredError(hidden(teacher) as tf.Tensor, mappedS).dataSync()[0];
  assert.ok(Math.abs(got - want) <= 1e-5 * want, `${got} vs ${want}`);
  d.dispose();
});

test("states of equal width get no map", () => {
  const d = createAdaptiveDistiller(net(1, 4), net(2, 4), [{ op_names: ["fc1", "fc2"] }]);
  assert.deepEqual(d.maps(), {});
  assert.equal(d.variables().length, 0);
});

test("an adaptive distiller with two links per target names the link path", () => {
  assert.throws(
    () =>
      createAdaptiveDistiller(net(1, 4), net(2, 12), [{
        op_names: ["fc2"],
        link: ["fc1", "fc2"],
      }]),
    (e: unknown) =>
      e instanceof DistillationError && e.path === "[0].link" &&
      /fc2\._output_0 .*one link per target/.test(e.message),
  );
});
