/**
 * `generateMasks`: NNI's sparsity pipeline over plain data.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { isSummaryBatch, Pipeline, type PruningWarning } from "./_pipeline.ts";
import { runRules } from "./_run_rules.ts";
import { summarizeMetric } from "./metric_summary.ts";
import type { Metrics, PruningTarget, TargetMask } from "./types.ts";

export type { PruningWarning } from "./_pipeline.ts";

/** Options of `generateMasks`. */
export interface GenerateMasksOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** The masks of a pipeline run. */
export interface GeneratedMasks {
  /** One mask per target that a rule touched, by module then target (first-touch order). */
  readonly masks: Record<string, Record<string, TargetMask>>;
  /** Settings that had no effect, and deviations from NNI that applied. */
  readonly warnings: readonly PruningWarning[];
}

/**
 * Runs NNI's sparsity pipeline (`generate_sparsity`) on metrics: the rules in NNI's order —
 * 1. `sparse_threshold` on all targets (min/max re-generation on the original ratio);
 * 2. `dependency_group_id` on all targets (mean-fused metric, lcm of `internal_metric_block`);
 * 3. `global_group_id` on the targets outside dependency groups (NNI's branches and threshold);
 * 4. `sparse_ratio` on the rest (clamped by min/max; `int(n * r)` pruned, ties: lower index);
 * 5. `align` on the rest (bias follows its weight's dim 0).
 * A target touched by several rules gets the AND of their masks. Targets no rule touched get no
 * mask (all kept). Group order is the order of `targets`; DESIGN.md B7 fixes it as config order,
 * then model order, which is the order of the config layer's `resolveTargetSettings`.
 *
 * @param metrics the metric of every active target (`sparse_ratio` or `sparse_threshold` set),
 *   one value per block of the target's granularity, by module then target
 * @param targets the targets with their resolved settings and shapes, in order
 * @param options the kernels
 * @returns the block masks and warnings
 * @throws {PruningError} for settings that cannot apply (names module, target and config):
 *   missing or mis-sized metrics, blocks that do not divide, groups with different ratios or
 *   channel counts, a threshold driving a group, ratios outside [0, 1] in a dependency group
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateMasks } from "./generate_masks.ts";
 *
 * const targets = [
 *   { module: "fc", target: "weight", kind: "parameter" as const, shape: [3, 2],
 *     setting: { sparse_ratio: 0.5, granularity: "out_channel" as const } },
 *   { module: "fc", target: "bias", kind: "parameter" as const, shape: [3],
 *     setting: { align: { module_name: null, target_name: "weight", dims: [0] } } },
 * ];
 * const metrics = { fc: { weight: new Float32Array([3, 1, 2]) } };
 * const { masks } = generateMasks(metrics, targets);
 * assert.deepEqual([...masks.fc.weight.blocks], [1, 0, 1]); // int(3 * 0.5) = 1 row pruned
 * assert.deepEqual([...masks.fc.bias.blocks], [1, 0, 1]);
 * ```
 */
export function generateMasks(
  metrics: Metrics,
  targets: readonly PruningTarget[],
  options: GenerateMasksOptions = {},
): GeneratedMasks {
  const p = new Pipeline(options.kernels ?? getKernels(), Infinity);
  const steps = runRules(p, targets);
  for (let step = steps.next(); !step.done;) {
    const s = step.value;
    if (isSummaryBatch(s)) {
      for (const [i, t] of s.targets.entries()) {
        const metric = p.checkMetric(t, metrics[t.module]?.[t.target]);
        s.accept(i, summarizeMetric(metric, s.summary, { kernels: p.kernels })!);
      }
      step = steps.next(undefined);
    } else step = steps.next(metrics[s.module]?.[s.target] as Float32Array);
  }
  return p.result();
}
