// The 64-32-10 MLP, a training loop over training parts, and accuracy.
import {
  describeTfModel,
  predict,
  type TfModelView,
  type TrainingPart,
  trainStep,
} from "../../src/training/mod.ts";
import type { Split } from "./data.ts";
import { tf, tfl } from "./tf.ts";

/** A 64-32-10 MLP with layers named like the PyTorch modules fc1, relu1, fc2. */
export function mlp(seed: number): TfModelView {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 32, inputShape: [64], name: "fc1", kernelInitializer: init(seed) }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: 10, name: "fc2", kernelInitializer: init(seed + 1) }),
    ],
  });
  return describeTfModel(model);
}

/** A copy of a model's weights in a fresh model of the same architecture. */
export function copyOf(view: TfModelView, seed: number): TfModelView {
  const copy = mlp(seed);
  copy.model.setWeights(view.model.getWeights());
  return copy;
}

/** Mini-batch training for `epochs` over the split, with the parts; `onEpoch` after each. */
export function fit(
  view: TfModelView,
  data: Split,
  options: {
    epochs: number;
    lr: number;
    parts?: TrainingPart[];
    seed?: number;
    taskWeight?: number;
  },
): void {
  const optimizer = tf.train.adam(options.lr);
  const n = data.labels.length;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let s = options.seed ?? 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const w = options.taskWeight ?? 1;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let b = 0; b < n; b += 32) {
      const idx = tf.tensor1d(order.slice(b, Math.min(n, b + 32)), "int32");
      const x = tf.gather(data.x, idx);
      const y = tf.gather(data.y, idx);
      trainStep(view, {
        optimizer,
        x,
        parts: options.parts,
        loss: (out) => tf.mul(tf.losses.softmaxCrossEntropy(y, out as tf.Tensor), w) as tf.Scalar,
      });
      tf.dispose([idx, x, y]);
    }
  }
  optimizer.dispose();
}

/** Accuracy in percent on a split, computed through the parts (masks, fake quantization). */
export function accuracy(view: TfModelView, data: Split, parts: TrainingPart[] = []): number {
  const out = predict(view, data.x, parts) as tf.Tensor;
  const pred = tf.argMax(out, 1).dataSync();
  out.dispose();
  let right = 0;
  for (let i = 0; i < pred.length; i++) right += pred[i] === data.labels[i] ? 1 : 0;
  return (100 * right) / pred.length;
}
