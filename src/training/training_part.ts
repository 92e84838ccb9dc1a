/**
 * `TrainingPart`: one compression technique plugged into a TensorFlow.js training loop
 * (distillation, quantization-aware training, pruning with masks and schedules).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { TfParam } from "./types.ts";

/** Whether a forward pass trains (dropout, batch statistics, observers) or evaluates. */
export interface ForwardContext {
  /** True in a training step. */
  readonly training: boolean;
}

/**
 * A compression technique as a set of optional hooks, called by `trainStep` and `predict` in
 * this order: `beforeForward`, then during the forward pass `param` (every time a layer reads a
 * parameter, tf layout), `input` and `output` (each layer's inputs and outputs), then `loss`
 * (added to the task loss inside the gradient computation), `gradients` (raw gradients of the
 * parameters, tf layout), the optimizer update, `afterStep`, and finally `afterForward`.
 * Parts are applied in array order; the value a hook returns replaces the tensor.
 */
export interface TrainingPart {
  /** A name for messages. */
  readonly name: string;
  /**
   * Extra trainable variables the part owns (e.g. a distiller's mapping layers): `trainStep`
   * differentiates and updates them with the model's own.
   */
  variables?(): readonly tf.Variable[];
  /** Before the forward pass, with the batch input. */
  beforeForward?(x: tf.Tensor | tf.Tensor[], ctx: ForwardContext): void;
  /** A parameter as a layer reads it (tf layout); returns the value the layer uses. */
  param?(p: TfParam, value: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Input `index` of a module's layer; returns the value the layer uses. */
  input?(module: string, index: number, value: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Output `index` of a module's layer; returns the value the next layers see. */
  output?(module: string, index: number, value: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** An extra loss term (inside the gradient computation), or `null`. */
  loss?(): tf.Scalar | null;
  /** The gradient of every trainable mapped parameter (tf layout), after the backward pass. */
  gradients?(grads: ReadonlyMap<TfParam, tf.Tensor>): void;
  /** After the optimizer update of a training step. */
  afterStep?(): void;
  /** After every forward pass (training or not): release captured tensors. */
  afterForward?(): void;
}
