/**
 * Rule 1 of the sparsity pipeline: `sparse_threshold`, with min/max re-generation.
 *
 * @module
 */

import { need, type Pipeline, type Rule, split } from "./_pipeline.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every target with a `sparse_threshold`: keep `metric >= threshold` (the threshold rounded to
 * float32, ties kept); its block sparsity `sr = 1 - kept / n` (float32, compared in float32); if `sr <
 * (min_sparse_ratio || 0)` re-generate with that ratio, then if the original `sr >
 * (max_sparse_ratio || 1)` re-generate with the max ratio.
 */
export function* thresholdRule(p: Pipeline, all: readonly PruningTarget[]): Rule<void> {
  const [selected] = split(all, (t) => t.setting.sparse_threshold != null);
  for (const t of selected) {
    const s = t.setting;
    const metric = yield* need(p, t);
    let mask = p.kernels.thresholdMask(metric, Math.fround(s.sparse_threshold as number));
    let kept = 0;
    for (let i = 0; i < mask.length; i++) kept += mask[i];
    // NNI: `1.0 - mask.sum() / mask.numel()` is a float32 tensor, and comparing it with a
    // Python float happens in float32 too.
    const sr = Math.fround(1 - Math.fround(Math.fround(kept) / Math.fround(mask.length)));
    const min = s.min_sparse_ratio || 0;
    const max = s.max_sparse_ratio || 1;
    if (sr < Math.fround(min)) mask = ratioMask(metric, min, { kernels: p.kernels });
    if (sr > Math.fround(max)) mask = ratioMask(metric, max, { kernels: p.kernels });
    p.merge(t, mask);
  }
}
