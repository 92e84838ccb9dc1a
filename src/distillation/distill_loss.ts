/**
 * `distillLoss`: NNI's layer-wise distillation loss over captured hidden states.
 *
 * @module
 */

import { checkShapes, normalTarget } from "./_targets.ts";
import { DistillationError } from "./distillation_error.ts";
import { klLoss } from "./kl_loss.ts";
import { mseLoss } from "./mse_loss.ts";
import type { DistillTarget, HiddenStates } from "./types.ts";

/**
 * NNI's distillation loss (`DynamicLayerwiseDistiller.compute_distill_loss`) on plain data: for
 * every student target, `lambda * L(student state, teacher state of the link)` for each link,
 * the smallest of them; summed over targets. `L` is `mse` (mean over all elements) or `kl`
 * (`kl_div(log_softmax(s/2), softmax(t/2), batchmean) * 4`). Computed in float64 from the
 * float32 states, so it works on any two models' outputs (e.g. two ONNX models run by
 * onnxruntime, to measure how far a compressed model drifts from the original).
 *
 * Unlike NNI, which silently skips a link whose state was not captured, a missing state is an
 * error; an integer `lambda` is accepted (DESIGN.md B11).
 *
 * @param student the student's hidden states by module, then target
 * @param teacher the teacher's hidden states by module (the link), then target
 * @param targets the student's targets with `lambda`, `link`, `apply_method` (e.g.
 *   `resolveTargetSettings(modules, configList, "distillation").targets`)
 * @returns the total loss
 * @throws {DistillationError} naming the target and sub-config: negative `lambda`, a missing
 *   student or teacher state, shapes that differ (`mse`), `kl` on tensors of another width
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { distillLoss } from "./distill_loss.ts";
 *
 * const state = (...v: number[]) => ({ data: new Float32Array(v), shape: [1, v.length] });
 * const student = { fc: { _output_0: state(1, 2) } };
 * const teacher = { fc: { _output_0: state(1, 4) }, other: { _output_0: state(1, 3) } };
 * const targets = [{ module: "fc", target: "_output_0", setting: { lambda: 2, link: ["fc", "other"] } }];
 * assert.equal(distillLoss(student, teacher, targets), 1); // min(2 * 2, 2 * 0.5)
 * ```
 */
export function distillLoss(
  student: HiddenStates,
  teacher: HiddenStates,
  targets: readonly DistillTarget[],
): number {
  let loss = 0;
  for (const raw of targets) {
    const t = normalTarget(raw);
    const s = student[t.module]?.[t.target];
    if (s === undefined) {
      throw new DistillationError(
        "missing_student_state",
        `the student has no captured state for ${t.module}.${t.target}`,
        t,
      );
    }
    let best = Infinity;
    for (const link of t.links) {
      const ts = teacher[link]?.[t.target];
      if (ts === undefined) {
        throw new DistillationError(
          "missing_teacher_state",
          `the teacher has no captured state for ${link}.${t.target} (linked module ${
            JSON.stringify(link)
          })`,
          t,
        );
      }
      checkShapes(t, link, s.shape, ts.shape);
      const value = t.method === "kl" ? klLoss(s.data, ts.data, s.shape) : mseLoss(s.data, ts.data);
      best = Math.min(best, t.lambda * value);
    }
    loss += best;
  }
  return loss;
}
