// The capture machinery shared by the distillers: the teacher runs in inference mode on the
// training batch, the configured student and teacher states are captured, and a loss of them is
// added to the task loss.

import * as tf from "@tensorflow/tfjs-core";
import type { ResolvedTarget } from "../config/types.ts";
import { type NormalTarget, normalTarget } from "../distillation/_targets.ts";
import { DistillationError } from "../distillation/distillation_error.ts";
import type { TensorStates } from "../distillation/distill_loss_tf.ts";
import { checkIndex, checkIoTarget } from "./_io_target.ts";
import { staticShape } from "./_static_shape.ts";
import { runWithHooks } from "./run_with_hooks.ts";
import type { TrainingPart } from "./training_part.ts";
import type { TfModelView } from "./types.ts";

type States = Record<string, Record<string, tf.Tensor>>;
type Shape = readonly number[];

/** What a distiller adds to the shared machinery. */
export interface DistillerSpec {
  readonly name: string;
  /** Checks a target before its links (e.g. one link only). */
  checkTarget?(n: NormalTarget): void;
  /** Checks a student state against a linked teacher state (static shapes, -1 = unknown). */
  checkPair(n: NormalTarget, link: string, student: Shape, teacher: Shape): void;
  /** The loss of the captured states. */
  loss(student: TensorStates, teacher: TensorStates): tf.Scalar;
}

/** A distiller as a training part. */
export interface DistillerPart extends TrainingPart {
  readonly targets: readonly ResolvedTarget[];
  readonly lastLoss: number;
}

/** Builds the training part: checks every target and link, then captures and adds the loss. */
export function distillerPart(
  student: TfModelView,
  teacher: TfModelView,
  targets: readonly ResolvedTarget[],
  spec: DistillerSpec,
): DistillerPart {
  const wanted = new Set<string>(); // "kind:module:index"
  const teacherWanted = new Set<string>();
  for (const t of targets) {
    const n = normalTarget(t);
    spec.checkTarget?.(n);
    const [kind, index] = checkIoTarget(student, t, n);
    const known = (s: (number | null)[] | undefined) => s?.map((d) => d ?? -1);
    const sShape = known(staticShape(student.layers.get(t.module)!, kind, index));
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
      checkIndex(layer, link, kind, index, n, "missing_teacher_state");
      const tShape = known(staticShape(layer, kind, index));
      if (sShape !== undefined && tShape !== undefined) spec.checkPair(n, link, sShape, tShape);
      teacherWanted.add(`${kind}:${link}:${index}`);
    }
    wanted.add(`${kind}:${t.module}:${index}`);
  }

  let studentStates: States = {};
  let teacherStates: States = {};
  let last = 0;
  const capture =
    (into: () => States, keys: Set<string>) =>
    (kind: string) =>
    (module: string, i: number, value: tf.Tensor) => {
      if (keys.has(`${kind}:${module}:${i}`)) {
        // A copy, kept: the layers engine may dispose intermediate tensors once the next layer
        // ran, and a recurrent layer (or a wrapper running one) is called inside a scope whose
        // end disposed the student's copy before the loss read it. Disposed in `afterForward`.
        const copy = tf.clone(value);
        (into()[module] ??= {})[`_${kind}_${i}`] = tf.keep(copy);
      }
      return value;
    };
  const studentHook = capture(() => studentStates, wanted);
  const teacherHook = capture(() => teacherStates, teacherWanted);
  const teacherPart: TrainingPart = {
    name: "teacher capture",
    input: teacherHook("input"),
    output: teacherHook("output"),
  };

  return {
    name: spec.name,
    targets,
    get lastLoss() {
      return last;
    },
    beforeForward(x, ctx) {
      if (!ctx.training) return;
      tf.tidy(() => {
        runWithHooks(teacher, [teacherPart], { training: false }, () => {
          return teacher.model.apply(x, { training: false });
        });
      });
    },
    input: studentHook("input"),
    output: studentHook("output"),
    loss() {
      if (Object.keys(teacherStates).length === 0) return null;
      const loss = spec.loss(studentStates, teacherStates);
      last = loss.dataSync()[0];
      return loss;
    },
    afterForward() {
      for (const states of [teacherStates, studentStates]) {
        for (const byTarget of Object.values(states)) tf.dispose(Object.values(byTarget));
      }
      teacherStates = {};
      studentStates = {};
    },
  };
}
