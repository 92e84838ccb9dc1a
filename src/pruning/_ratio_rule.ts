/**
 * Rule 4 of the sparsity pipeline: `sparse_ratio` per target.
 *
 * @module
 */

import { contextOf, need, type Pipeline, type Rule, split } from "./_pipeline.ts";
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
    p.merge(t, ratioMask(yield* need(p, t), r, { kernels: p.kernels }));
  }
  return rest;
}
