/**
 * Training-aware compression on TensorFlow.js (a separate entry, so tfjs stays out of the core
 * and the browser bundle): a `tf.LayersModel` seen as modules in PyTorch layout, distillation
 * losses as tfjs ops with gradients, quantization-aware training with a straight-through
 * estimator, and pruners that need gradients or schedules (Taylor, Movement, Slim, AGP, linear).
 *
 * See `docs/training.md` and `examples/digits/main.ts` for a complete run.
 *
 * @module
 */

export * from "./src/training/mod.ts";
export { tfjsMemoryHandler } from "./src/compress/compare_tfjs.ts";
export {
  distillLossTf,
  klLossTf,
  mseLossTf,
  type TensorStates,
} from "./src/distillation/distill_loss_tf.ts";
export {
  adaptiveDistillLossTf,
  type LastDimMap,
  type LastDimMaps,
  mapLastDim,
} from "./src/distillation/adaptive_distill_loss_tf.ts";
