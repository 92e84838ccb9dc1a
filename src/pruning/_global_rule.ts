/**
 * Rule 3 of the sparsity pipeline: `global_group_id` (one threshold across members).
 *
 * @module
 */

import { groupRatio } from "./_dependency_rule.ts";
import {
  contextOf,
  groupBy,
  need,
  numel,
  type Pipeline,
  type Rule,
  split,
  summarize,
} from "./_pipeline.ts";
import { RadixSelect } from "./_radix_select.ts";
import { ThresholdBuffer } from "./_threshold_buffer.ts";
import { globalThreshold } from "./global_threshold.ts";
import { finishSummaryMask, type MetricSummaryResult } from "./metric_summary.ts";
import { PruningError } from "./pruning_error.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every group of targets sharing a `global_group_id` (among targets outside dependency groups),
 * in the order given: with `n` the elements of each member, `low = Σ int(n * min)`, `high = Σ
 * int(n * max)` (n without a max), `S = int(Σn * ratio)`. `S <= low`: each member at its min
 * ratio; `S >= high`: each member at its max ratio, 1.0 without one (DESIGN B8; NNI uses 0.0);
 * else one threshold from NNI's buffer algorithm and `metric >= threshold` (per-member min/max
 * are not enforced there, like NNI). A group with more metric entries than the pipeline holds
 * in memory (or, with equal grains, `summaryEntries` or more) is selected in passes over its
 * members: with equal grains two radix passes over summaries of the members' metrics, which the
 * driver may compute where the metrics are and which give the masks too (`radixGroup`); else
 * NNI's buffer in one pass, then the masks in one more.
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
    const equal = grains.every((g) => g === grains[0]);
    if (entries <= p.inMemoryEntries && !(equal && entries >= p.summaryEntries)) {
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
    if (equal) {
      yield* radixGroup(p, group, Math.min(Math.floor(sparseNumber / grains[0]), entries - 1));
      continue;
    }
    const buffer = new ThresholdBuffer(sparseNumber);
    for (const [i, t] of group.entries()) buffer.push(yield* need(p, t), grains[i]);
    threshold = buffer.threshold();
    for (const t of group) p.merge(t, p.kernels.thresholdMask(yield* need(p, t), threshold));
  }
  return rest;
}

/**
 * A global group of equal grains too large to hold, selected in two radix passes over
 * summaries of its members' metrics (`metric_summary.ts`), which the driver may compute on
 * worker threads: pass 1 counts the high 16 key bits, pass 2 the low 16 bits within the chosen
 * high bin and returns each member's mask decided but for the entries of that bin, which it
 * lists when they are few; the masks are finished here once the threshold is known. A member
 * whose bin held too many entries gets its mask from a third pass (`thresholdMask`).
 */
function* radixGroup(p: Pipeline, group: readonly PruningTarget[], rank: number): Rule<void> {
  const sizes = group.map((t) => p.layoutOf(t).gridSize);
  const select = new RadixSelect(rank);
  yield* summarize(group, { kind: "high" }, (i, r) => {
    const counted = r.histogram?.reduce((a, b) => a + b, 0);
    if (counted !== sizes[i]) {
      throw new PruningError(
        "metric",
        `the metric's summary counts ${counted} values but the granularity gives ${
          sizes[i]
        } blocks`,
        contextOf(group[i]),
      );
    }
    select.addHighCounts(r.histogram!);
  });
  const bin = select.chooseHigh();
  const partial: (MetricSummaryResult | undefined)[] = group.map(() => undefined);
  yield* summarize(group, { kind: "low", bin }, (i, r) => {
    select.addLowCounts(r.histogram!);
    if (r.mask !== undefined) partial[i] = r;
  });
  const threshold = select.value();
  const masks: (Uint8Array | undefined)[] = group.map((_, i) => {
    const r = partial[i];
    partial[i] = undefined;
    // A NaN threshold keeps nothing, NaN entries included: left to `thresholdMask`.
    return r === undefined || Number.isNaN(threshold)
      ? undefined
      : finishSummaryMask(r, select.lowBin(), sizes[i]);
  });
  const missing = group.flatMap((_, i) => masks[i] === undefined ? [i] : []);
  yield* summarize(missing.map((i) => group[i]), { kind: "mask", threshold }, (j, r) => {
    masks[missing[j]] = r.mask;
  });
  for (const [i, t] of group.entries()) p.mergeSummaryMask(t, masks[i]!);
}
