// Pruning during training: masks in force through optimizer steps, Taylor, Movement and Slim
// metrics, and NNI's Linear and AGP schedules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { prunedCount } from "../../src/pruning/pruned_count.ts";
import {
  agpRatio,
  createTrainingPruner,
  describeTfModel,
  linearRatio,
  predict,
  readParams,
  type TfModelView,
  trainStep,
  writeParam,
} from "../../src/training/mod.ts";
import { randomArray, tf, tfl } from "./_tf.ts";

function mlp(): TfModelView {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 12, inputShape: [8], name: "fc1" }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: 5, name: "fc2" }),
    ],
  });
  const view = describeTfModel(model);
  view.params.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    writeParam(view, p, randomArray(n, 11 + i));
  });
  return view;
}

const x = tf.tensor2d(randomArray(6 * 8, 21), [6, 8]);
const meanLoss = (out: tf.Tensor | tf.Tensor[]) =>
  tf.mean(tf.square(out as tf.Tensor)) as tf.Scalar;

test("masks stay in force through Adam steps: pruned weights remain zero", () => {
  const view = mlp();
  const pruner = createTrainingPruner(view, [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
  const optimizer = tf.train.adam(0.1);
  for (let i = 0; i < 5; i++) trainStep(view, { optimizer, x, loss: meanLoss, parts: [pruner] });
  const masks = pruner.masks();
  const params = readParams(view);
  for (const module of ["fc1", "fc2"]) {
    const w = params[module].weight;
    const m = masks[module].weight;
    assert.equal(m.filter((v) => v === 0).length, Math.floor(m.length * 0.5));
    m.forEach((keep, i) => keep === 0 && assert.ok(w[i] === 0, `${module}.weight[${i}]`));
  }
});

test("the masked forward pass equals the forward pass of the bare model after a step", () => {
  const view = mlp();
  const pruner = createTrainingPruner(view, [{ op_names: ["fc1"], sparse_ratio: 0.7 }]);
  trainStep(view, { optimizer: tf.train.sgd(0.05), x, loss: meanLoss, parts: [pruner] });
  const hooked = (predict(view, x, [pruner]) as tf.Tensor).dataSync();
  const bare = (predict(view, x) as tf.Tensor).dataSync();
  assert.deepEqual([...hooked], [...bare]);
});

test("agpRatio() and linearRatio() follow NNI's cubic and linear schedules", () => {
  const agp = [0, 1, 2, 3].map((t) => agpRatio(t, 3));
  [0, 1 - 8 / 27, 1 - 1 / 27, 1].forEach((want, i) => assert.ok(Math.abs(agp[i] - want) < 1e-15));
  assert.deepEqual([0, 1, 2, 4].map((t) => linearRatio(t, 4)), [0, 0.25, 0.5, 1]);
  assert.throws(() => agpRatio(1, 0), /"total" must be a positive integer/);
});

for (const schedule of ["agp", "linear"] as const) {
  test(`a ${schedule} schedule raises the sparsity every intervalSteps steps to the goal`, () => {
    const view = mlp();
    const pruner = createTrainingPruner(view, [{ op_types: ["Linear"], sparse_ratio: 0.8 }], {
      pruner: "level",
      schedule,
      totalTimes: 3,
      intervalSteps: 2,
    });
    const ratio = schedule === "agp" ? agpRatio : linearRatio;
    const optimizer = tf.train.sgd(0.01);
    const seen: number[] = [];
    for (let step = 1; step <= 8; step++) {
      trainStep(view, { optimizer, x, loss: meanLoss, parts: [pruner] });
      seen.push(pruner.sparsity()["fc1.weight"] ?? 0);
    }
    const at = (t: number) => prunedCount(96, 0.8 * ratio(t, 3)) / 96;
    assert.deepEqual(seen, [0, at(1), at(1), at(2), at(2), at(3), at(3), at(3)]);
  });
}

test("Taylor prunes the rows whose (w * grad)^2 accumulated least", () => {
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 3, inputShape: [4], name: "fc", useBias: false })],
  });
  const view = describeTfModel(model);
  writeParam(view, view.params[0], new Float32Array([1, 1, 1, 1, 5, 5, 5, 5, 1, 1, 1, 1]));
  const pruner = createTrainingPruner(view, [{ op_names: ["fc"], sparse_ratio: 0.34 }], {
    pruner: "taylor",
    intervalSteps: 2,
  });
  // d loss / d out = c: row 1 (large weights) gets no gradient, so its Taylor score is 0.
  const c = tf.tensor2d([[1, 0, 2]]);
  const loss = (out: tf.Tensor | tf.Tensor[]) => tf.sum(tf.mul(out as tf.Tensor, c)) as tf.Scalar;
  const optimizer = tf.train.sgd(0);
  trainStep(view, { optimizer, x: tf.ones([1, 4]), loss, parts: [pruner] });
  assert.deepEqual(pruner.masks(), {});
  trainStep(view, { optimizer, x: tf.ones([1, 4]), loss, parts: [pruner] });
  assert.deepEqual([...pruner.masks().fc.weight], [1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
});

test("Movement scores -grad * w and keeps the pruned weights' values so they can return", () => {
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 2, inputShape: [2], name: "fc", useBias: false })],
  });
  const view = describeTfModel(model);
  writeParam(view, view.params[0], new Float32Array([1, 1, 1, 1]));
  const pruner = createTrainingPruner(view, [{ op_names: ["fc"], sparse_ratio: 0.5 }], {
    pruner: "movement",
    intervalSteps: 1,
  });
  // gradient +1 on output 0 (moving its weights towards 0), -1 on output 1 (away from 0)
  const c = tf.tensor2d([[1, -1]]);
  const loss = (out: tf.Tensor | tf.Tensor[]) => tf.sum(tf.mul(out as tf.Tensor, c)) as tf.Scalar;
  trainStep(view, { optimizer: tf.train.sgd(0), x: tf.ones([1, 2]), loss, parts: [pruner] });
  assert.deepEqual([...pruner.masks().fc.weight], [0, 0, 1, 1]);
  assert.deepEqual([...readParams(view).fc.weight], [1, 1, 1, 1]);
});

test("Slim adds an L1 penalty on BatchNorm gammas and prunes the smallest ones", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 4, inputShape: [3], name: "fc" }),
      tfl.layers.batchNormalization({ name: "bn" }),
    ],
  });
  const view = describeTfModel(model);
  const gamma = view.params.find((p) => p.module === "bn" && p.name === "weight")!;
  writeParam(view, gamma, new Float32Array([1, -0.2, 0.5, 2]));
  const pruner = createTrainingPruner(view, [{
    op_names: ["bn"],
    target_names: ["weight"],
    sparse_ratio: 0.5,
  }], {
    pruner: "slim",
    regularScale: 1,
    intervalSteps: 1,
  });
  const zero = () => tf.scalar(0);
  trainStep(view, {
    optimizer: tf.train.sgd(0.1),
    x: tf.ones([2, 3]),
    loss: zero,
    parts: [pruner],
  });
  // one step of the L1 penalty: gamma -= 0.1 * sign(gamma); then the two smallest |gamma| go
  assert.deepEqual([...pruner.masks().bn.weight], [1, 0, 0, 1]);
  const after = readParams(view).bn.weight;
  assert.ok(Math.abs(after[0] - 0.9) < 1e-6 && Math.abs(after[3] - 1.9) < 1e-6);
  assert.ok(after[1] === 0);
});

test("an activation target is rejected with its config path", () => {
  assert.throws(
    () =>
      createTrainingPruner(mlp(), [{
        op_names: ["fc1"],
        target_names: ["_output_"],
        sparse_ratio: 0.5,
      }], {
        pruner: "taylor",
      }),
    /\[0\]\.target_names\[0\]: "fc1" \(Linear\) has no default pruning setting for "_output_"/,
  );
});
