/**
 * Rule 3 of the sparsity pipeline: `global_group_id` (one threshold across members).
 *
 * @module
 */

import { groupRatio } from "./_dependency_rule.ts";
import { groupBy, need, numel, type Pipeline, type Rule, split } from "./_pipeline.ts";
import { RadixSelect } from "./_radix_select.ts";
import { ThresholdBuffer } from "./_threshold_buffer.ts";
import { globalThreshold } from "./global_threshold.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every group of targets sharing a `global_group_id` (among targets outside dependency groups),
 * in the order given: with `n` the elements of each member, `low = Σ int(n * min)`, `high = Σ
 * int(n * max)` (n without a max), `S = int(Σn * ratio)`. `S <= low`: each member at its min
 * ratio; `S >= high`: each member at its max ratio, 1.0 without one (DESIGN B8; NNI uses 0.0);
 * else one threshold from NNI's buffer algorithm and `metric >= threshold` (per-member min/max
 * are not enforced there, like NNI). A group with more metric entries than the pipeline holds
 * in memory is selected in passes over its members (two radix passes with equal grains, NNI's
 * buffer in one pass otherwise), then masked in one more pass.
 *
 * @returns the targets outside any global group (the pool of the ratio rule)
 */
export function* globalRule(p: Pipeline, pool: readonly PruningTarget[]): Rule<PruningTarget[]> {
  const [selected, rest] = split(pool, (t) => t.setting.global_group_id != null);
  for (const group of groupBy(selected, (t) => t.setting.global_group_id)) {
    const name = `global group ${JSON.stringify(group[0].setting.global_group_id)}`;
    const ratio = groupRatio(group, "global_group", name);
    let low = 0;
    let high = 0;
    let total = 0;
    let entries = 0;
    for (const t of group) {
      const n = numel(p.layoutOf(t).shape);
      const s = t.setting;
      total += n;
      entries += p.layoutOf(t).gridSize;
      low += s.min_sparse_ratio ? Math.trunc(n * s.min_sparse_ratio) : 0;
      high += s.max_sparse_ratio ? Math.trunc(n * s.max_sparse_ratio) : n;
    }
    const sparseNumber = Math.trunc(total * ratio);
    if (sparseNumber <= low || sparseNumber >= high) {
      for (const t of group) {
        const s = t.setting;
        const r = sparseNumber <= low ? s.min_sparse_ratio || 0 : s.max_sparse_ratio || 1;
        p.merge(t, ratioMask(yield* need(p, t), r, { kernels: p.kernels }));
      }
      continue;
    }
    const grains = group.map((t) => {
      const layout = p.layoutOf(t);
      return Math.floor(numel(layout.shape) / layout.gridSize);
    });
    let threshold: number;
    if (entries <= p.inMemoryEntries) {
      const metrics: Float32Array[] = [];
      for (const t of group) metrics.push(yield* need(p, t));
      threshold = globalThreshold(
        metrics.map((metric, i) => ({ metric, grain: grains[i] })),
        sparseNumber,
        { kernels: p.kernels },
      );
      for (const [i, t] of group.entries()) {
        p.merge(t, p.kernels.thresholdMask(metrics[i], threshold));
      }
      continue;
    }
    if (grains.every((g) => g === grains[0])) {
      const select = new RadixSelect(Math.min(Math.floor(sparseNumber / grains[0]), entries - 1));
      for (const t of group) select.addHigh(yield* need(p, t));
      select.chooseHigh();
      for (const t of group) select.addLow(yield* need(p, t));
      threshold = select.value();
    } else {
      const buffer = new ThresholdBuffer(sparseNumber);
      for (const [i, t] of group.entries()) buffer.push(yield* need(p, t), grains[i]);
      threshold = buffer.threshold();
    }
    for (const t of group) p.merge(t, p.kernels.thresholdMask(yield* need(p, t), threshold));
  }
  return rest;
}
