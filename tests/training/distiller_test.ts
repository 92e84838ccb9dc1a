// Distillation from a teacher inside a TensorFlow.js training loop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/mod.ts";
import { DistillationError, distillLoss } from "../../src/distillation/mod.ts";
import {
  createDistiller,
  createQuantizer,
  createTrainingPruner,
  describeTfModel,
  predict,
  readParams,
  type TfModelView,
  trainStep,
  writeParam,
} from "../../src/training/mod.ts";
import { randomArray, tf, tfl } from "./_tf.ts";

function net(seed: number, hidden = 12, out = 5): TfModelView {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [8], name: "fc1" }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: out, name: "fc2" }),
    ],
  });
  const view = describeTfModel(model);
  view.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    writeParam(view, p, randomArray(n, seed * 100 + i));
  });
  return view;
}

const x = tf.tensor2d(randomArray(16 * 8, 77), [16, 8]);
const noTask = () => tf.scalar(0);

test("the distiller's loss equals distillLoss() on the captured outputs", () => {
  const student = net(1);
  const teacher = net(2);
  const config = [
    { op_names: ["fc2"], apply_method: "kl", lambda: 0.5 },
    { op_names: ["fc1"], lambda: 2 },
  ];
  const d = createDistiller(student, teacher, config);
  trainStep(student, { optimizer: tf.train.sgd(0), x, loss: noTask, parts: [d] });
  const states = (view: TfModelView) => {
    const fc1 = tfl.sequential({ layers: [view.model.layers[0]] }).predict(x) as tf.Tensor;
    const fc2 = predict(view, x) as tf.Tensor;
    return {
      fc1: { _output_0: { data: fc1.dataSync() as Float32Array, shape: fc1.shape } },
      fc2: { _output_0: { data: fc2.dataSync() as Float32Array, shape: fc2.shape } },
    };
  };
  const want = distillLoss(states(student), states(teacher), d.targets);
  assert.ok(Math.abs(d.lastLoss - want) <= 1e-5 * want, `${d.lastLoss} vs ${want}`);
});

test("gradients flow to the student while the teacher stays unchanged", () => {
  const student = net(3);
  const teacher = net(4);
  const before = readParams(teacher);
  const d = createDistiller(student, teacher, [{ op_names: ["fc2"] }]);
  const optimizer = tf.train.adam(0.02);
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    losses.push(trainStep(student, { optimizer, x, loss: noTask, parts: [d] }));
  }
  assert.ok(losses[29] < 0.5 * losses[0], `${losses[0]} → ${losses[29]}`);
  assert.deepEqual(readParams(teacher), before);
});

test("a link to a module the teacher lacks names the target, the link and the config path", () => {
  assert.throws(
    () =>
      createDistiller(net(1), net(2), [{ op_names: ["fc1"] }, { op_names: ["fc2"], link: "head" }]),
    (e: unknown) => {
      assert.ok(e instanceof DistillationError);
      assert.equal(e.code, "missing_teacher_module");
      assert.equal(e.path, "[1].link");
      assert.match(
        e.message,
        /^fc2\._output_0 \(config \[1\], "link"\): the teacher has no module "head"/,
      );
      return true;
    },
  );
});

test("a linked teacher module with another output shape is rejected before training", () => {
  assert.throws(
    () => createDistiller(net(1), net(2, 16), [{ op_names: ["fc1"] }]),
    (e: unknown) => {
      assert.ok(e instanceof DistillationError);
      assert.equal(e.code, "shape_mismatch");
      assert.match(e.message, /fc1\._output_0 \(config \[0\], "link"\).*\[-1,12\].*\[-1,16\]/);
      return true;
    },
  );
});

test("kl on logits of different widths is rejected with the apply_method path", () => {
  assert.throws(
    () => createDistiller(net(1), net(2, 12, 7), [{ op_names: ["fc2"], apply_method: "kl" }]),
    (e: unknown) =>
      e instanceof DistillationError && e.code === "kl_shape" && e.path === "[0].apply_method",
  );
});

test("a negative lambda is a ConfigError at [0].lambda", () => {
  assert.throws(
    () => createDistiller(net(1), net(2), [{ op_names: ["fc2"], lambda: -1 }]),
    (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === "[0].lambda"),
  );
});

test("an _input_ target distils the layer's input (NNI's B12 case works)", () => {
  const student = net(5);
  const teacher = net(6);
  const d = createDistiller(student, teacher, [{
    op_names: ["fc2"],
    target_names: ["_input_"],
    target_settings: { _input_: { lambda: 0.5 } },
  }]);
  assert.deepEqual(d.targets.map((t) => t.target), ["_input_0"]);
  const loss = trainStep(student, { optimizer: tf.train.sgd(0), x, loss: noTask, parts: [d] });
  assert.ok(loss > 0 && loss === d.lastLoss);
});

test("training steps and inference with every part leave no tensors behind", () => {
  const student = net(7);
  const teacher = net(8);
  const parts = [
    createTrainingPruner(student, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], {
      pruner: "taylor",
      schedule: "agp",
      totalTimes: 3,
      intervalSteps: 1,
    }),
    createQuantizer(student, [{ op_types: ["Linear"], quant_dtype: "int8" }]),
    createDistiller(student, teacher, [{ op_names: ["fc2"], apply_method: "kl" }]),
  ];
  const optimizer = tf.train.adam(0.01);
  const round = () => {
    for (let i = 0; i < 3; i++) trainStep(student, { optimizer, x, loss: noTask, parts });
    tf.dispose(predict(student, x, parts));
  };
  round();
  const before = tf.memory().numTensors;
  round();
  assert.equal(tf.memory().numTensors, before);
});
