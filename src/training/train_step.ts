/**
 * `trainStep` and `predict`: a training step and a forward pass with training parts.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { runWithHooks } from "./run_with_hooks.ts";
import type { TrainingPart } from "./training_part.ts";
import type { TfModelView, TfParam } from "./types.ts";

/** What a training step needs besides the model. */
export interface TrainStepOptions {
  /** The optimizer (e.g. `tf.train.adam(1e-3)`). */
  readonly optimizer: tf.Optimizer;
  /** The batch input. */
  readonly x: tf.Tensor | tf.Tensor[];
  /** The task loss of the model's outputs (the parts' losses are added to it). */
  readonly loss: (outputs: tf.Tensor | tf.Tensor[]) => tf.Scalar;
  /** The training parts, in order (default none). */
  readonly parts?: readonly TrainingPart[];
}

/**
 * One optimizer step with training parts: the forward pass in training mode with the parts'
 * hooks, the task loss plus the parts' losses, gradients of the model's trainable variables and
 * the parts' own `variables()` only (a teacher's variables are never updated), then the parts'
 * `gradients` and `afterStep` hooks.
 * Gradients of the core ops must be registered, which importing `@tensorflow/tfjs-layers` does.
 *
 * @param view the model view from `describeTfModel`
 * @param options the optimizer, the batch, the task loss and the parts
 * @returns the total loss of the step (before the update)
 * @throws {Error} when the loss is not a scalar
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 * import { trainStep } from "./train_step.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
 * const view = describeTfModel(model);
 * const x = tf.tensor2d([[1], [2]]);
 * const y = tf.tensor2d([[2], [4]]);
 * const loss = (out: tf.Tensor | tf.Tensor[]) => tf.losses.meanSquaredError(y, out as tf.Tensor) as tf.Scalar;
 * const optimizer = tf.train.sgd(0.05);
 * const first = trainStep(view, { optimizer, x, loss });
 * let last = first;
 * for (let i = 0; i < 20; i++) last = trainStep(view, { optimizer, x, loss });
 * assert.ok(last < first);
 * ```
 */
export function trainStep(view: TfModelView, options: TrainStepOptions): number {
  const parts = options.parts ?? [];
  const ctx = { training: true };
  const trainable = view.params.filter((p) => p.variable.trainable);
  const vars = [
    ...trainable.map((p) => view.value(p)),
    ...parts.flatMap((part) => part.variables?.() ?? []),
  ];
  for (const part of parts) part.beforeForward?.(options.x, ctx);
  try {
    const { value, grads } = tf.variableGrads(() =>
      runWithHooks(view, parts, ctx, () => {
        const out = view.model.apply(options.x, { training: true }) as tf.Tensor | tf.Tensor[];
        let total = options.loss(out);
        for (const part of parts) {
          const extra = part.loss?.();
          if (extra) total = tf.add(total, extra);
        }
        return total;
      }), vars);
    const byParam = new Map<TfParam, tf.Tensor>();
    trainable.forEach((p, i) => {
      const g = grads[vars[i].name];
      if (g !== undefined) byParam.set(p, g);
    });
    for (const part of parts) part.gradients?.(byParam);
    options.optimizer.applyGradients(grads);
    tf.dispose(grads);
    const loss = value.dataSync()[0];
    value.dispose();
    for (const part of parts) part.afterStep?.();
    return loss;
  } finally {
    for (const part of parts) part.afterForward?.();
  }
}

/**
 * A forward pass in inference mode with the parts' hooks (fake quantization, masks, captures),
 * the way the compressed model computes.
 *
 * @param view the model view from `describeTfModel`
 * @param x the input
 * @param parts the training parts, in order (default none)
 * @returns the model's outputs (the caller disposes them)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 * import { predict } from "./train_step.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
 * const y = predict(describeTfModel(model), tf.ones([4, 3])) as tf.Tensor;
 * assert.deepEqual(y.shape, [4, 2]);
 * ```
 */
export function predict(
  view: TfModelView,
  x: tf.Tensor | tf.Tensor[],
  parts: readonly TrainingPart[] = [],
): tf.Tensor | tf.Tensor[] {
  const ctx = { training: false };
  for (const part of parts) part.beforeForward?.(x, ctx);
  try {
    return tf.tidy(() =>
      runWithHooks(
        view,
        parts,
        ctx,
        () => view.model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[],
      )
    );
  } finally {
    for (const part of parts) part.afterForward?.();
  }
}
