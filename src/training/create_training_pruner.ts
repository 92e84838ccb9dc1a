/**
 * `createTrainingPruner`: pruning while a TensorFlow.js model trains — masks kept in force,
 * gradient-based pruners, and NNI's Linear and AGP schedules.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, PruningSetting, ResolvedTarget } from "../config/types.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { generateMasks } from "../pruning/generate_masks.ts";
import type { PruningTarget } from "../pruning/types.ts";
import { ALGORITHM, trainingMetric, type TrainingPrunerName } from "./_prune_metrics.ts";
import { agpRatio, linearRatio } from "./schedules.ts";
import type { TrainingPart } from "./training_part.ts";
import type { TfModelView, TfParam } from "./types.ts";

export type { TrainingPrunerName } from "./_prune_metrics.ts";

/** Options of `createTrainingPruner`. */
export interface TrainingPrunerOptions {
  /** The metric: `level` (default), `l1`, `l2`, `fpgm`, `slim`, `taylor`, `movement`. */
  readonly pruner?: TrainingPrunerName;
  /**
   * `once` (default): one mask update — at the first training step for weight-based pruners (or
   * when `updateMasks()` is called), after `intervalSteps` steps for slim/taylor/movement;
   * `linear` / `agp`: `totalTimes` updates, one every `intervalSteps` steps, at `t / T` or
   * `1 - (1 - t / T)^3` of the configured goals (NNI's LinearPruner / AGPPruner).
   */
  readonly schedule?: "once" | "linear" | "agp";
  /** Optimizer steps between mask updates (default 1). */
  readonly intervalSteps?: number;
  /** Number of mask updates of a schedule (default 1). */
  readonly totalTimes?: number;
  /**
   * Slim: the weight of the L1 penalty on the targets (BatchNorm gammas), averaged over targets
   * like NNI's `regular_scale` (default 1e-4: the penalty acts on the gammas themselves, trained
   * by the task's optimizer, where NNI's default 1 acts on extra factors with their own Adam).
   */
  readonly regularScale?: number;
  /** Movement: the step size of the score update `score -= lr * grad * w` (default 0.01). */
  readonly movementLr?: number;
  /** Extra default-target registries. */
  readonly registry?: ExtraRegistry;
}

/** A pruner plugged into training (see `TrainingPart`). */
export interface TrainingPruner extends TrainingPart {
  /** The configured targets. */
  readonly targets: readonly ResolvedTarget[];
  /** Mask updates done. */
  readonly times: number;
  /** Generates masks now, at `fraction` of the configured goals (default 1), and applies them. */
  updateMasks(fraction?: number): void;
  /** The masks in PyTorch layout (1 keeps), by module, then target. */
  masks(): Record<string, Record<string, Uint8Array>>;
  /** The fraction of pruned elements of every masked target, by `module.target`. */
  sparsity(): Record<string, number>;
  /** Releases the tensors held by the pruner. */
  dispose(): void;
}

const SCALED = [
  "sparse_ratio",
  "sparse_threshold",
  "max_sparse_ratio",
  "min_sparse_ratio",
] as const;

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(`"${name}" must be a positive integer: current value is ${v}`);
  }
  return v;
}

/**
 * Prunes a TensorFlow.js model while it trains. Masks are applied to the parameters in every
 * forward pass and, for all pruners but movement, pruned weights are also set to zero after each
 * optimizer step, so they stay pruned through the optimizer's updates and the bare model computes
 * the pruned network. Masks come from NNI's sparsity pipeline (`generateMasks`) on the pruner's
 * metric; a schedule scales `sparse_ratio`, `sparse_threshold` and `min/max_sparse_ratio` like
 * NNI's LinearPruner and AGPPruner. Slim adds `regularScale * sum(|gamma|) / targets` to the
 * loss; Taylor accumulates `(w * grad)^2`; Movement accumulates `-lr * grad * w` and may revive
 * weights at each update.
 *
 * @param view the model view from `describeTfModel`
 * @param configList a pruning config list
 * @param options the pruner, the schedule and its steps
 * @returns the pruner, a training part for `trainStep` / `predict`
 * @throws {ConfigError} for an invalid config list
 * @throws {RangeError} for bad step counts
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createTrainingPruner, describeTfModel } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [5], name: "fc" })] });
 * const pruner = createTrainingPruner(describeTfModel(model), [{ op_names: ["fc"], sparse_ratio: 0.5 }]);
 * pruner.updateMasks();
 * assert.equal(pruner.sparsity()["fc.weight"], 0.5);
 * ```
 */
export function createTrainingPruner(
  view: TfModelView,
  configList: unknown,
  options: TrainingPrunerOptions = {},
): TrainingPruner {
  const pruner = options.pruner ?? "level";
  if (!Object.hasOwn(ALGORITHM, pruner)) {
    throw new TypeError(
      `"pruner" must be one of ${Object.keys(ALGORITHM).join(", ")}: current value is ${
        JSON.stringify(pruner)
      }`,
    );
  }
  const schedule = options.schedule ?? "once";
  const interval = positiveInt("intervalSteps", options.intervalSteps ?? 1);
  const total = schedule === "once" ? 1 : positiveInt("totalTimes", options.totalTimes ?? 1);
  const regularScale = options.regularScale ?? 1e-4;
  const lr = options.movementLr ?? 0.01;
  const resolved = resolveTargetSettings(view.modules, configList, "pruning", {
    algorithm: ALGORITHM[pruner],
    registry: options.registry,
  });
  const paramOf = (t: ResolvedTarget) =>
    view.params.find((p) => p.module === t.module && p.name === t.target);
  const isActive = (s: PruningSetting | object) =>
    ((s as PruningSetting).sparse_ratio ?? null) !== null ||
    ((s as PruningSetting).sparse_threshold ?? null) !== null;
  const active = resolved.targets.filter((t) => t.kind === "parameter" && isActive(t.setting));
  for (const t of resolved.targets) {
    if (t.kind !== "parameter" && isActive(t.setting)) {
      throw new RangeError(
        `${t.module}.${t.target} (config [${t.configIndex}], "target_names"): pruning during training masks parameters only`,
      );
    }
  }
  const accumulated = new Map<TfParam, tf.Tensor>();
  let accumulatedSteps = 0;
  const masks = new Map<TfParam, { torch: Uint8Array; tensor: tf.Tensor }>();
  let step = 0;
  let times = 0;
  const dataDriven = pruner === "taylor" || pruner === "movement" || pruner === "slim";

  const ratioAt = (t: number) =>
    schedule === "agp" ? agpRatio(t, total) : schedule === "linear" ? linearRatio(t, total) : 1;

  function updateMasks(fraction = 1): void {
    const targets: PruningTarget[] = resolved.targets.map((t) => {
      const setting = { ...t.setting } as Record<string, unknown>;
      for (const k of SCALED) {
        if (typeof setting[k] === "number") setting[k] = (setting[k] as number) * fraction;
      }
      return { ...t, setting: setting as PruningSetting };
    });
    const metrics: Record<string, Record<string, Float32Array>> = {};
    for (
      const t of targets.filter((x) =>
        active.some((a) => a.module === x.module && a.target === x.target)
      )
    ) {
      const p = paramOf(t as ResolvedTarget);
      if (p === undefined) continue;
      const acc = accumulated.get(p);
      let data: Float32Array;
      if ((pruner === "taylor" || pruner === "movement") && acc !== undefined) {
        const raw = acc.dataSync() as Float32Array;
        const div = pruner === "taylor" ? Math.max(1, accumulatedSteps) : 1;
        data = p.toTorch(raw.map((v) => v / div));
      } else data = p.toTorch(view.value(p).dataSync() as Float32Array);
      (metrics[t.module] ??= {})[t.target] = trainingMetric(pruner, t, data);
    }
    const { masks: generated } = generateMasks(metrics, targets);
    for (const [module, byTarget] of Object.entries(generated)) {
      for (const [target, mask] of Object.entries(byTarget)) {
        const p = view.params.find((q) => q.module === module && q.name === target);
        if (p === undefined) continue;
        const torch = expandMask(mask);
        masks.get(p)?.tensor.dispose();
        const tensor = tf.keep(tf.tensor(p.fromTorch(Float32Array.from(torch)), [...p.tfShape]));
        masks.set(p, { torch, tensor });
      }
    }
    if (pruner === "taylor") {
      tf.dispose([...accumulated.values()]);
      accumulated.clear();
      accumulatedSteps = 0;
    }
    zeroPruned();
  }

  function zeroPruned(): void {
    if (pruner === "movement") return;
    for (const [p, m] of masks) {
      const v = view.value(p);
      tf.tidy(() => v.assign(tf.mul(v, m.tensor)));
    }
  }

  const part: TrainingPruner = {
    name: `${ALGORITHM[pruner]}${schedule === "once" ? "" : ` (${schedule})`}`,
    targets: resolved.targets,
    get times() {
      return times;
    },
    beforeForward(_x, ctx) {
      if (ctx.training && schedule === "once" && !dataDriven && times === 0) {
        updateMasks(1);
        times = 1;
      }
    },
    param(p, value) {
      const m = masks.get(p);
      return m === undefined ? value : tf.mul(value, m.tensor);
    },
    loss() {
      if (pruner !== "slim") return null;
      let sum: tf.Scalar = tf.scalar(0);
      let count = 0;
      for (const t of active) {
        const p = paramOf(t);
        if (p === undefined) continue;
        sum = tf.add(sum, tf.sum(tf.abs(view.value(p))));
        count++;
      }
      return tf.mul(sum, regularScale / Math.max(1, count));
    },
    gradients(grads) {
      if (pruner !== "taylor" && pruner !== "movement") return;
      if (pruner === "taylor" && times >= total) return; // no mask update left to feed
      for (const t of active) {
        const p = paramOf(t);
        const g = p && grads.get(p);
        if (p === undefined || g === undefined) continue;
        const before = accumulated.get(p);
        const next = tf.tidy(() => {
          const w = view.value(p);
          const term = pruner === "taylor" ? tf.square(tf.mul(w, g)) : tf.mul(tf.mul(g, w), -lr);
          return before === undefined ? term : tf.add(before, term);
        });
        before?.dispose();
        accumulated.set(p, tf.keep(next));
      }
      accumulatedSteps++;
    },
    afterStep() {
      step++;
      if (times < total && step % interval === 0 && (schedule !== "once" || dataDriven)) {
        times++;
        updateMasks(ratioAt(times));
      } else if (pruner === "movement" && times > 0) updateMasks(ratioAt(times));
      else zeroPruned();
    },
    updateMasks(fraction = 1) {
      updateMasks(fraction);
      times = Math.max(times, 1);
    },
    masks() {
      const out: Record<string, Record<string, Uint8Array>> = {};
      for (const [p, m] of masks) (out[p.module] ??= {})[p.name] = m.torch.slice();
      return out;
    },
    sparsity() {
      const out: Record<string, number> = {};
      for (const [p, m] of masks) {
        let zeros = 0;
        for (const v of m.torch) zeros += v === 0 ? 1 : 0;
        out[`${p.module}.${p.name}`] = zeros / m.torch.length;
      }
      return out;
    },
    dispose() {
      tf.dispose([...accumulated.values(), ...[...masks.values()].map((m) => m.tensor)]);
      accumulated.clear();
      masks.clear();
    },
  };
  return part;
}
