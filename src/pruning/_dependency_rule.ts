/**
 * Rule 2 of the sparsity pipeline: `dependency_group_id` (one mask for a group of targets).
 *
 * @module
 */

import { contextOf, groupBy, need, type Pipeline, type Rule, split } from "./_pipeline.ts";
import { PruningError } from "./pruning_error.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every group of targets sharing a `dependency_group_id` (taken from ALL targets): the members'
 * metrics are fused by their mean (float32), split into `lcm(internal_metric_block…)` equal
 * chunks, each chunk loses `int(n // chunks * ratio)` entries, and every member gets the mask.
 * `min/max_sparse_ratio` are not applied (like NNI).
 *
 * @returns the targets outside any dependency group (the pool of the global rule)
 */
export function* dependencyRule(
  p: Pipeline,
  all: readonly PruningTarget[],
): Rule<PruningTarget[]> {
  const [selected, rest] = split(all, (t) => t.setting.dependency_group_id != null);
  for (const group of groupBy(selected, (t) => t.setting.dependency_group_id)) {
    const id = JSON.stringify(group[0].setting.dependency_group_id);
    const ratio = groupRatio(group, "dependency_group", `dependency group ${id}`);
    let chunks = 1;
    for (const t of group) {
      const b = t.setting.internal_metric_block || 1;
      if (!Number.isSafeInteger(b) || b < 1) {
        throw new PruningError(
          "dependency_group",
          `"internal_metric_block" must be a positive integer: current value is ${b}`,
          contextOf(t),
        );
      }
      chunks = lcm(chunks, b);
    }
    const first = group[0];
    const firstGrid = squeezed(p.layoutOf(first).grid);
    for (const t of group.slice(1)) {
      if (squeezed(p.layoutOf(t).grid) !== firstGrid) {
        throw new PruningError(
          "dependency_group",
          `dependency group ${id}: the metric grid ${
            JSON.stringify(p.layoutOf(t).grid)
          } does not match ${
            JSON.stringify(p.layoutOf(first).grid)
          } of ${first.module}.${first.target} (members must have the same channel counts)`,
          contextOf(t),
        );
      }
    }
    const fused = new Float32Array(yield* need(p, first));
    for (const t of group.slice(1)) {
      const m = yield* need(p, t);
      for (let i = 0; i < fused.length; i++) fused[i] += m[i];
    }
    const n = Math.fround(group.length);
    for (let i = 0; i < fused.length; i++) fused[i] /= n;
    if (!(ratio >= 0 && ratio <= 1)) {
      throw new PruningError(
        "ratio",
        `"sparse_ratio" of dependency group ${id} must be within [0, 1]: current value is ${ratio}`,
        contextOf(first),
      );
    }
    if (fused.length % chunks !== 0) {
      throw new PruningError(
        "dependency_group",
        `dependency group ${id}: internal_metric_block lcm ${chunks} does not divide the ${fused.length} metric values`,
        contextOf(first),
      );
    }
    const mask = ratioMask(fused, ratio, { chunks, kernels: p.kernels });
    for (const t of group) p.merge(t, mask.slice());
  }
  return rest;
}

/**
 * The common `sparse_ratio` of a group: members that set one must agree, and at least one must.
 */
export function groupRatio(
  group: readonly PruningTarget[],
  code: "dependency_group" | "global_group",
  name: string,
): number {
  let ratio: number | undefined;
  let owner: PruningTarget | undefined;
  for (const t of group) {
    const r = t.setting.sparse_ratio;
    if (r == null) continue;
    if (ratio !== undefined && r !== ratio) {
      throw new PruningError(
        code,
        `${name}: members must share one sparse_ratio: ${r} differs from ${ratio} of ${
          owner!.module
        }.${owner!.target}`,
        contextOf(t),
      );
    }
    ratio = r;
    owner = t;
  }
  if (ratio === undefined) {
    const t = group[0];
    const thr = t.setting.sparse_threshold != null;
    throw new PruningError(
      thr ? "threshold_in_group" : code,
      thr
        ? `${name} needs a sparse_ratio; a sparse_threshold cannot drive a group`
        : `${name} needs a sparse_ratio on at least one member`,
      contextOf(t),
    );
  }
  return ratio;
}

function lcm(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return (a / x) * b;
}

function squeezed(grid: readonly number[]): string {
  return grid.filter((g) => g !== 1).join("x");
}
