// Metrics of the pruners that run during training, on PyTorch-layout data.

import { getKernels } from "../kernels/default.ts";
import { computeMetric } from "../pruning/compute_metric.ts";
import type { PruningTarget } from "../pruning/types.ts";

/** Pruners that can run during training. */
export type TrainingPrunerName = "level" | "l1" | "l2" | "fpgm" | "slim" | "taylor" | "movement";

/** NNI's class name of each pruner (for default granularities). */
export const ALGORITHM: Readonly<Record<TrainingPrunerName, string>> = {
  level: "LevelPruner",
  l1: "L1NormPruner",
  l2: "L2NormPruner",
  fpgm: "FPGMPruner",
  slim: "SlimPruner",
  taylor: "TaylorPruner",
  movement: "MovementPruner",
};

/**
 * The metric of one target: weight-based pruners use the weight; Taylor the L1 norm by block of
 * the accumulated `(w * grad)^2 / steps`; Movement the sum by block of the score (through a
 * sigmoid when the target uses `sparse_threshold`).
 */
export function trainingMetric(
  pruner: TrainingPrunerName,
  target: PruningTarget,
  data: Float32Array,
): Float32Array {
  if (pruner === "taylor") return computeMetric(data, target, { pruner: "l1" }).values;
  if (pruner !== "movement") return computeMetric(data, target, { pruner }).values;
  const { layout } = computeMetric(data, target, { pruner: "l1" });
  const sums = layout.blockSize === 1
    ? Float32Array.from(data)
    : getKernels().blockReduce(data, layout.shape, layout.kernel, "sum");
  if (target.setting.sparse_threshold !== null && target.setting.sparse_threshold !== undefined) {
    return sums.map((v) => 1 / (1 + Math.exp(-v)));
  }
  return sums;
}
