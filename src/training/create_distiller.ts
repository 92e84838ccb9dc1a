/**
 * `createDistiller`: NNI's layer-wise distillation from a teacher as a training part for
 * TensorFlow.js models.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, ResolvedTarget } from "../config/types.ts";
import { checkShapes, normalTarget } from "../distillation/_targets.ts";
import { DistillationError } from "../distillation/distillation_error.ts";
import { distillLossTf } from "../distillation/distill_loss_tf.ts";
import { runWithHooks } from "./run_with_hooks.ts";
import type { TrainingPart } from "./training_part.ts";
import type { TfLayer, TfModelView } from "./types.ts";

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

const IO = /^_(input|output)_(\d+)$/;
type States = Record<string, Record<string, tf.Tensor>>;

/** The static shape of a layer's input or output `index` (batch dim `null`), if known. */
function staticShape(layer: TfLayer, kind: string, index: number): (number | null)[] | undefined {
  try {
    const l = layer as unknown as { inputShape: unknown; outputShape: unknown };
    const s = (kind === "input" ? l.inputShape : l.outputShape) as
      | (number | null)[]
      | (number | null)[][];
    const list = Array.isArray(s[0]) || s.length === 0 ? s as (number | null)[][] : [s];
    return list[index] as (number | null)[] | undefined;
  } catch {
    return undefined;
  }
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
  const wanted = new Map<string, Set<string>>(); // student "kind:module:index" and teacher ones
  const teacherWanted = new Set<string>();
  for (const t of targets) {
    const n = normalTarget(t);
    const m = IO.exec(t.target);
    if (m === null) {
      throw new DistillationError(
        "missing_student_state",
        `TensorFlow.js layers take and return tensors by position; use _${t.kind}_<index>`,
        n,
      );
    }
    const [, kind, index] = m;
    const sShape = staticShape(student.layers.get(t.module)!, kind, Number(index));
    for (const link of n.links) {
      const layer = teacher.layers.get(link);
      if (layer === undefined) {
        throw new DistillationError(
          "missing_teacher_module",
          `the teacher has no module ${JSON.stringify(link)} (its modules: ${
            [...teacher.layers.keys()].join(", ")
          })`,
          n,
        );
      }
      const tShape = staticShape(layer, kind, Number(index));
      if (sShape !== undefined && tShape !== undefined) {
        const known = (s: (number | null)[]) => s.map((d) => d ?? -1);
        checkShapes(n, link, known(sShape), known(tShape));
      }
      teacherWanted.add(`${kind}:${link}:${index}`);
    }
    wanted.set(`${kind}:${t.module}:${index}`, new Set([t.target]));
  }

  let studentStates: States = {};
  let teacherStates: States = {};
  let last = 0;
  const capture =
    (into: () => States, keys: (k: string) => boolean, keep: boolean) =>
    (kind: string) =>
    (module: string, i: number, value: tf.Tensor) => {
      if (keys(`${kind}:${module}:${i}`)) {
        // a copy: the layers engine may dispose intermediate tensors once the next layer ran
        const copy = tf.clone(value);
        (into()[module] ??= {})[`_${kind}_${i}`] = keep ? tf.keep(copy) : copy;
      }
      return value;
    };
  const studentHook = capture(() => studentStates, (k) => wanted.has(k), false);
  const teacherHook = capture(() => teacherStates, (k) => teacherWanted.has(k), true);
  const teacherPart: TrainingPart = {
    name: "teacher capture",
    input: teacherHook("input"),
    output: teacherHook("output"),
  };

  return {
    name: "DynamicLayerwiseDistiller",
    targets,
    get lastLoss() {
      return last;
    },
    beforeForward(x, ctx) {
      if (!ctx.training) return;
      const ctxEval = { training: false };
      tf.tidy(() => {
        runWithHooks(teacher, [teacherPart], ctxEval, () => {
          return teacher.model.apply(x, { training: false });
        });
      });
    },
    input: studentHook("input"),
    output: studentHook("output"),
    loss() {
      if (Object.keys(teacherStates).length === 0) return null;
      const loss = distillLossTf(studentStates, teacherStates, targets);
      last = loss.dataSync()[0];
      return loss;
    },
    afterForward() {
      for (const byTarget of Object.values(teacherStates)) tf.dispose(Object.values(byTarget));
      teacherStates = {};
      studentStates = {};
    },
  };
}
