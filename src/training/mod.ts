/**
 * Training-aware compression on TensorFlow.js: a `tf.LayersModel` seen as modules with
 * PyTorch-layout parameters (so NNI config lists select the same things as on an ONNX export),
 * and training parts — distillation from a teacher, quantization-aware training with NNI's
 * observers and a straight-through estimator, pruning with masks kept in force and NNI's
 * Linear / AGP schedules — composed by `trainStep` and `predict`; and exports of the trained
 * model: `tfToOnnx` (ONNX), `tfModelGraph` + `quantTargetParams` (for the quantized formats of
 * `src/quantization/`), `tfSafetensors` and `prunerTargetMasks` (masked weights, mask sidecar).
 *
 * Gradients of the core ops are registered by importing `@tensorflow/tfjs-layers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createTrainingPruner, describeTfModel, trainStep } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [4], name: "fc" })] });
 * const view = describeTfModel(model);
 * const pruner = createTrainingPruner(view, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], {
 *   schedule: "agp", totalTimes: 2, intervalSteps: 1,
 * });
 * const x = tf.ones([3, 4]);
 * const loss = (out: tf.Tensor | tf.Tensor[]) => tf.mean(tf.square(out as tf.Tensor)) as tf.Scalar;
 * for (let i = 0; i < 2; i++) trainStep(view, { optimizer: tf.train.sgd(0.1), x, loss, parts: [pruner] });
 * assert.equal(pruner.sparsity()["fc.weight"], 0.5);
 * ```
 *
 * @module
 */

export { describeTfModel } from "./describe_tf_model.ts";
export { readParams, writeParam } from "./tf_params.ts";
export { runWithHooks } from "./run_with_hooks.ts";
export { predict, trainStep, type TrainStepOptions } from "./train_step.ts";
export { fakeQuantizeTf } from "./fake_quantize_tf.ts";
export {
  type CalibrationEntry,
  createQuantizer,
  type Quantizer,
  type QuantizerOptions,
} from "./create_quantizer.ts";
export {
  createTrainingPruner,
  type TrainingPruner,
  type TrainingPrunerName,
  type TrainingPrunerOptions,
} from "./create_training_pruner.ts";
export { createDistiller, type Distiller, type DistillerOptions } from "./create_distiller.ts";
export { type QuantizedParam, quantizedParams } from "./quantized_params.ts";
export { agpRatio, linearRatio } from "./schedules.ts";
export type { ForwardContext, TrainingPart } from "./training_part.ts";
export type * from "./types.ts";
export { tfToOnnx, type TfToOnnxOptions } from "./tf_to_onnx.ts";
export { tfModelGraph, type TfModelGraphOptions } from "./tf_model_graph.ts";
export { tfSafetensors, type TfSafetensorsOptions } from "./tf_safetensors.ts";
export { tfjsLayersFiles, type TfjsLayersFilesOptions } from "./tfjs_layers_files.ts";
export { quantTargetParams } from "./quant_target_params.ts";
export { prunerTargetMasks } from "./pruner_target_masks.ts";
export type { ParamMasks } from "./_masked_values.ts";
export {
  type AdaptiveDistiller,
  type AdaptiveDistillerOptions,
  createAdaptiveDistiller,
  type LinearMapValues,
} from "./create_adaptive_distiller.ts";
