/**
 * `generateMasksStreaming`: NNI's sparsity pipeline with metrics read on demand.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { isSummaryBatch, Pipeline, type SummaryBatch } from "./_pipeline.ts";
import { runRules } from "./_run_rules.ts";
import type { GeneratedMasks } from "./generate_masks.ts";
import { type MetricSummary, type MetricSummaryResult, summarizeMetric } from "./metric_summary.ts";
import type { PruningTarget } from "./types.ts";

/** Options of `generateMasksStreaming`. */
export interface GenerateMasksStreamingOptions {
  /**
   * Global groups with at most this many metric entries are ranked in memory (all members'
   * metrics at once, linear-time selection); larger ones in passes over their members, with
   * memory bounded by one member. Default 2^26 (256 MB of float32 metrics).
   */
  readonly inMemoryEntries?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Global groups of equal grains with at least this many metric entries are selected from
   * summaries (`summarize`) even when they fit `inMemoryEntries`: for a `summarize` that runs
   * elsewhere (worker threads), so that no member's metric comes to this thread. Default: only
   * groups larger than `inMemoryEntries`.
   */
  readonly summaryEntries?: number;
  /**
   * Computes a summary of an active target's metric in place of this thread (for instance on
   * worker threads, next to the tensor): it must return what `summarizeMetric` returns for the
   * metric `readMetric` gives. A large global group's selection asks for the summaries of all
   * its members at once and takes them in any order. Default: `summarizeMetric` of
   * `readMetric`'s metric, one member at a time.
   */
  readonly summarize?: (
    target: PruningTarget,
    summary: MetricSummary,
  ) => Promise<MetricSummaryResult>;
}

/**
 * Runs the same pipeline as `generateMasks`, but asks `readMetric` for a target's metric each
 * time a rule needs it and keeps no metric after its use: memory is the masks (one byte per
 * block) plus the metrics of one rule step — one target, a dependency group's fused metric, or
 * (for large global groups) one member's summary and the group's masks. Global groups larger
 * than `inMemoryEntries` read each member twice (two selection passes that give the masks too;
 * a third time for a member whose threshold bin holds many values, and with unequal grains),
 * other targets once per rule that touches them.
 *
 * @param readMetric returns the metric of an active target (one float32 value per block of its
 *   granularity), e.g. by loading its tensor and calling `computeMetric`
 * @param targets the targets with resolved settings and shapes, in order
 * @param options the in-memory limit for global groups and the kernels
 * @returns the block masks and warnings, as `generateMasks` gives them
 * @throws {PruningError} like `generateMasks`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateMasksStreaming } from "./generate_masks_streaming.ts";
 *
 * const targets = ["a", "b"].map((module) => ({
 *   module, target: "weight", kind: "parameter" as const, shape: [4],
 *   setting: { sparse_ratio: 0.5, global_group_id: 0 },
 * }));
 * const values: Record<string, number[]> = { a: [1, 2, 3, 4], b: [0.5, 8, 9, 1.5] };
 * const read = (t: { module: string }) => Promise.resolve(new Float32Array(values[t.module]));
 * const { masks } = await generateMasksStreaming(read, targets, { inMemoryEntries: 0 });
 * assert.deepEqual([...masks.a.weight.blocks], [0, 0, 1, 1]);
 * assert.deepEqual([...masks.b.weight.blocks], [0, 1, 1, 0]);
 * ```
 */
export async function generateMasksStreaming(
  readMetric: (target: PruningTarget) => Float32Array | Promise<Float32Array>,
  targets: readonly PruningTarget[],
  options: GenerateMasksStreamingOptions = {},
): Promise<GeneratedMasks> {
  const p = new Pipeline(
    options.kernels ?? getKernels(),
    options.inMemoryEntries ?? 2 ** 26,
    options.summaryEntries,
  );
  const steps = runRules(p, targets);
  const batch = async (b: SummaryBatch) => {
    const summarize = options.summarize;
    if (summarize !== undefined) {
      await Promise.all(
        b.targets.map((t, i) => summarize(t, b.summary).then((r) => b.accept(i, r))),
      );
      return;
    }
    for (const [i, t] of b.targets.entries()) {
      const metric = p.checkMetric(t, await readMetric(t));
      b.accept(i, summarizeMetric(metric, b.summary, { kernels: p.kernels })!);
    }
  };
  for (let step = steps.next(); !step.done;) {
    const s = step.value;
    if (isSummaryBatch(s)) {
      await batch(s);
      step = steps.next(undefined);
    } else step = steps.next(await readMetric(s));
  }
  return p.result();
}
