/**
 * `createDistiller`: NNI's layer-wise distillation from a teacher as a training part for
 * TensorFlow.js models.
 *
 * @module
 */

import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, ResolvedTarget } from "../config/types.ts";
import { checkShapes } from "../distillation/_targets.ts";
import { distillLossTf } from "../distillation/distill_loss_tf.ts";
import { distillerPart } from "./_distiller_part.ts";
import type { TrainingPart } from "./training_part.ts";
import type { TfModelView } from "./types.ts";

/** Options of `createDistiller`. */
export interface DistillerOptions {
  /** Extra default-target registries (e.g. an `_input_` default for `Linear`). */
  readonly registry?: ExtraRegistry;
}

/** A distiller plugged into training (see `TrainingPart`). */
export interface Distiller extends TrainingPart {
  /** The student's distillation targets. */
  readonly targets: readonly ResolvedTarget[];
  /** The distillation loss of the last training forward pass (0 before any). */
  readonly lastLoss: number;
}

/**
 * Distils a teacher into the student while it trains, like NNI's `DynamicLayerwiseDistiller`:
 * each training step runs the teacher in inference mode on the same batch (outside the gradient
 * computation, so the teacher never changes), captures the configured student and teacher
 * states (`_output_<n>`, `_input_<n>`; `link` names teacher layers) and adds `distillLossTf`
 * (`lambda`, min over links, `mse` / `kl`, summed over targets) to the task loss — scale the
 * task loss yourself for NNI's `origin_loss_lambda`.
 *
 * @param student the student view from `describeTfModel`
 * @param teacher the teacher view
 * @param configList a distillation config list
 * @param options extra registries
 * @returns the distiller, a training part for `trainStep`
 * @throws {ConfigError} for an invalid config list (e.g. `lambda` < 0, with its path)
 * @throws {DistillationError} for a link to a teacher layer that is missing or whose state has
 *   another shape, or `kl` on states of different widths — naming the target and config
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createDistiller, describeTfModel } from "./mod.ts";
 *
 * const net = (units: number) => tfl.sequential({ layers: [tfl.layers.dense({ units, inputShape: [4], name: "out" })] });
 * assert.throws(
 *   () => createDistiller(describeTfModel(net(3)), describeTfModel(net(5)), [{ op_names: ["out"], apply_method: "kl" }]),
 *   /out\._output_0 \(config \[0\], "apply_method"\)/,
 * );
 * ```
 */
export function createDistiller(
  student: TfModelView,
  teacher: TfModelView,
  configList: unknown,
  options: DistillerOptions = {},
): Distiller {
  const { targets } = resolveTargetSettings(student.modules, configList, "distillation", {
    algorithm: "DynamicLayerwiseDistiller",
    registry: options.registry,
  });
  return distillerPart(student, teacher, targets, {
    name: "DynamicLayerwiseDistiller",
    checkPair: checkShapes,
    loss: (s, t) => distillLossTf(s, t, targets),
  });
}
