/**
 * Distillation with NNI's semantics: `lambda`, `link` (min over links), `mse` / `kl` losses
 * summed over targets — on plain float32 data, and as TensorFlow.js ops for training
 * (`distill_loss_tf.ts`, imported separately so the plain part needs no training engine).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { distillLoss } from "./mod.ts";
 *
 * const s = { fc: { _output_0: { data: new Float32Array([0, 0]), shape: [1, 2] } } };
 * const t = { fc: { _output_0: { data: new Float32Array([0, 2]), shape: [1, 2] } } };
 * assert.equal(distillLoss(s, t, [{ module: "fc", target: "_output_0", setting: {} }]), 2);
 * ```
 *
 * @module
 */

export { distillLoss } from "./distill_loss.ts";
export { KL_TEMPERATURE, klLoss } from "./kl_loss.ts";
export { mseLoss } from "./mse_loss.ts";
export {
  DistillationError,
  type DistillationErrorCode,
  type DistillationErrorContext,
} from "./distillation_error.ts";
export type * from "./types.ts";
