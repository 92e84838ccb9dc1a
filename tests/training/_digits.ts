// The UCI digits data for tests: the first 1,347 rows train, the last 450 are the hold-out set.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import {
  describeTfModel,
  type TfModelView,
  type TrainingPart,
  trainStep,
} from "../../src/training/mod.ts";
import { tf, tfl } from "./_tf.ts";

/** One split: inputs scaled to [0, 1], one-hot targets, labels. */
export interface Split {
  readonly x: tf.Tensor2D;
  readonly y: tf.Tensor2D;
  readonly labels: Int32Array;
}

const FILE = fileURLToPath(new URL("../fixtures/digits.csv.gz", import.meta.url));

function split(rows: number[][]): Split {
  const x = tf.tensor2d(rows.map((r) => r.slice(0, 64).map((v) => v / 16)));
  const labels = Int32Array.from(rows.map((r) => r[64]));
  const y = tf.oneHot(tf.tensor1d(labels, "int32"), 10) as tf.Tensor2D;
  return { x, y, labels };
}

/** The train and hold-out splits. */
export function loadDigits(): { train: Split; test: Split } {
  const text = new TextDecoder().decode(gunzipSync(readFileSync(FILE)));
  const rows = text.trim().split("\n").map((line) => line.split(",").map(Number));
  return { train: split(rows.slice(0, 1347)), test: split(rows.slice(1347)) };
}

/** Accuracy in percent of logits (row-major `[n, 10]`) against labels. */
export function accuracyOf(logits: ArrayLike<number>, labels: Int32Array): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
    right += best === labels[i] ? 1 : 0;
  }
  return (100 * right) / labels.length;
}

/** Mini-batch training (batches of 32, shuffled by a seeded generator) with training parts. */
export function fit(
  view: TfModelView,
  data: Split,
  options: { epochs: number; lr: number; parts?: TrainingPart[]; seed?: number },
): void {
  const optimizer = tf.train.adam(options.lr);
  const n = data.labels.length;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let s = options.seed ?? 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
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
        loss: (out) => tf.losses.softmaxCrossEntropy(y, out as tf.Tensor) as tf.Scalar,
      });
      tf.dispose([idx, x, y]);
    }
  }
  optimizer.dispose();
}

/** A 64-32-10 MLP with layers fc1, relu1, fc2. */
export function mlp(seed: number): TfModelView {
  const init = (s: number) => tfl.initializers.glorotUniform({ seed: s });
  return describeTfModel(tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 32, inputShape: [64], name: "fc1", kernelInitializer: init(seed) }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: 10, name: "fc2", kernelInitializer: init(seed + 1) }),
    ],
  }));
}
