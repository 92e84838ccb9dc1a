/**
 * Rule 4 of the sparsity pipeline: `sparse_ratio` per target.
 *
 * @module
 */

import { contextOf, type Pipeline, type Rule, split } from "./_pipeline.ts";
import { preselection } from "./preselected_metric.ts";
import { prunedCount } from "./pruned_count.ts";
import { PruningError } from "./pruning_error.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every target with a `sparse_ratio` outside groups: the ratio clamped to
 * `[min_sparse_ratio || 0, max_sparse_ratio || 1]`, then `ratioMask`.
 *
 * @returns the targets without a ratio (the pool of the align rule)
 */
export function* ratioRule(p: Pipeline, pool: readonly PruningTarget[]): Rule<PruningTarget[]> {
  const [selected, rest] = split(pool, (t) => t.setting.sparse_ratio != null);
  for (const t of selected) {
    const s = t.setting;
    const r = Math.min(
      s.max_sparse_ratio || 1,
      Math.max(s.min_sparse_ratio || 0, s.sparse_ratio as number),
    );
    if (Number.isNaN(r)) {
      throw new PruningError(
        "ratio",
        `"sparse_ratio" must be a number: current value is ${s.sparse_ratio}`,
        contextOf(t),
      );
    }
    const metric = p.checkMetric(t, yield t);
    const pre = preselection(metric);
    if (pre === undefined || !(r >= 0 && r <= 1)) {
      // (A ratio outside [0, 1] fails in `ratioMask`, before any value is read.)
      p.merge(t, ratioMask(metric, r, { kernels: p.kernels }));
      continue;
    }
    // Selected where the tensor was read (`preselectedMetric`): the same `kSmallestMask`.
    const k = r === 0 ? 0 : r === 1 ? metric.length : prunedCount(metric.length, r);
    if (pre.k !== k) {
      throw new PruningError(
        "metric",
        `the metric was given as the selection of its ${pre.k} smallest entries, but the ratio rule prunes ${k}`,
        contextOf(t),
      );
    }
    p.mergeBits(t, pre.bits);
  }
  return rest;
}
