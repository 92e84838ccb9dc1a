/**
 * The state shared by the rules of the sparsity pipeline: layouts, metrics and merged masks.
 *
 * @module
 */

import type { Kernels } from "../kernels/types.ts";
import { blockLayout } from "./block_layout.ts";
import { packBits, unpackBits } from "./_mask_bits.ts";
import type { MetricSummary, MetricSummaryResult } from "./metric_summary.ts";
import { maskBits, PACKED_MASK_BLOCKS, packedMask } from "./packed_mask.ts";
import { preselection } from "./preselected_metric.ts";
import { PruningError } from "./pruning_error.ts";
import type { BlockLayout, PruningTarget, TargetMask } from "./types.ts";

/** A warning of the pipeline (a setting that had no effect, a deviation that applied). */
export interface PruningWarning {
  /** A stable code. */
  readonly code: "align_source_missing";
  /** The module of the target. */
  readonly module: string;
  /** The target. */
  readonly target: string;
  /** What happened. */
  readonly message: string;
}

/** The key of a (module, target) pair in maps. */
export function keyOf(module: string, target: string): string {
  return `${module}\u0000${target}`;
}

/** The error context of a target. */
export function contextOf(
  t: PruningTarget,
): { module: string; target: string; configIndex?: number } {
  return { module: t.module, target: t.target, configIndex: t.configIndex };
}

/**
 * Summaries of several targets' metrics (`summarizeMetric`), which the driver may compute where
 * the metrics are (worker threads) and in any order: `accept(i, result)` is called once for
 * each target `targets[i]` before the rule goes on.
 */
export interface SummaryBatch {
  readonly targets: readonly PruningTarget[];
  readonly summary: MetricSummary;
  readonly accept: (i: number, result: MetricSummaryResult) => void;
}

/** What a rule asks its driver for: a target's metric, or summaries of several. */
export type Step = PruningTarget | SummaryBatch;

/**
 * A rule step that needs metrics: it yields a target and receives that target's metric, or a
 * batch of summaries (and receives nothing: the batch's `accept` got them). The driver
 * (`generateMasks` from memory, `generateMasksStreaming` by reading) supplies them.
 */
export type Rule<T> = Generator<Step, T, Float32Array | undefined>;

/** Asks the driver for the metric of an active target, checked against its layout. */
export function* need(p: Pipeline, t: PruningTarget): Rule<Float32Array> {
  const metric = p.checkMetric(t, yield t);
  if (preselection(metric) !== undefined) {
    throw new PruningError(
      "metric",
      "the metric was given as the ratio rule's selection (preselectedMetric), but another rule reads its values",
      contextOf(t),
    );
  }
  return metric;
}

/** Asks the driver for summaries of the targets' metrics (nothing when there are none). */
export function* summarize(
  targets: readonly PruningTarget[],
  summary: MetricSummary,
  accept: (i: number, result: MetricSummaryResult) => void,
): Rule<void> {
  if (targets.length > 0) yield { targets, summary, accept };
}

/** Whether a step is a batch of summaries. */
export function isSummaryBatch(step: Step): step is SummaryBatch {
  return "summary" in step;
}

/** Layouts and merged masks of one pipeline run. */
export class Pipeline {
  readonly kernels: Kernels;
  /** Largest global group (metric entries) whose metrics are held in memory at once. */
  readonly inMemoryEntries: number;
  /**
   * Global groups of equal grains with at least this many metric entries are selected from
   * summaries even when they fit `inMemoryEntries` (when the driver makes summaries elsewhere,
   * so that no metric comes to this thread).
   */
  readonly summaryEntries: number;
  readonly warnings: PruningWarning[] = [];
  readonly masks = new Map<string, TargetMask>();
  readonly #layouts = new Map<string, BlockLayout>();

  constructor(kernels: Kernels, inMemoryEntries: number, summaryEntries = Infinity) {
    this.kernels = kernels;
    this.inMemoryEntries = inMemoryEntries;
    this.summaryEntries = summaryEntries;
  }

  /** The block layout of a target (its granularity on its shape). */
  layoutOf(t: PruningTarget): BlockLayout {
    const key = keyOf(t.module, t.target);
    let layout = this.#layouts.get(key);
    if (layout === undefined) {
      if (t.shape === null) {
        throw new PruningError(
          "activation_target",
          `the ${t.kind} target has no known shape`,
          contextOf(t),
        );
      }
      layout = blockLayout(t.setting.granularity, t.shape, { ...contextOf(t), kind: t.kind });
      this.#layouts.set(key, layout);
    }
    return layout;
  }

  /** Checks a metric against the target's layout. */
  checkMetric(t: PruningTarget, metric: Float32Array | undefined): Float32Array {
    if (metric === undefined) {
      throw new PruningError("metric", "no metric was given for this active target", contextOf(t));
    }
    const layout = this.layoutOf(t);
    if (metric.length !== layout.gridSize) {
      throw new PruningError(
        "metric",
        `the metric has ${metric.length} values but the granularity gives ${layout.gridSize} blocks (grid ${
          JSON.stringify(layout.grid)
        })`,
        contextOf(t),
      );
    }
    return metric;
  }

  /** The masks by module, then target (first-touch order), and the warnings. */
  result(): {
    masks: Record<string, Record<string, TargetMask>>;
    warnings: readonly PruningWarning[];
  } {
    const masks: Record<string, Record<string, TargetMask>> = {};
    for (const m of this.masks.values()) (masks[m.module] ??= {})[m.target] = m;
    return { masks, warnings: this.warnings };
  }

  /**
   * `merge` of a mask as a summary gives it: bits when the target has `PACKED_MASK_BLOCKS`
   * blocks or more (kept as they are when the target has no mask yet), else one byte per block.
   */
  mergeSummaryMask(t: PruningTarget, mask: Uint8Array): void {
    const layout = this.layoutOf(t);
    const n = layout.gridSize;
    const packed = n >= PACKED_MASK_BLOCKS;
    if (mask.length !== (packed ? (n + 7) >> 3 : n)) {
      throw new PruningError(
        "metric",
        `the summary's mask has ${mask.length} bytes but the granularity gives ${n} blocks`,
        contextOf(t),
      );
    }
    const key = keyOf(t.module, t.target);
    if (packed && !this.masks.has(key)) {
      const fields = { module: t.module, target: t.target, layout, rawShape: layout.raw };
      this.masks.set(key, packedMask({ ...fields, bits: mask }));
      return;
    }
    this.merge(t, packed ? unpackBits(mask, n) : mask);
  }

  /**
   * AND-merges a block mask of a target into the result (NNI's multiply update); `rawShape` is
   * NNI's compact shape of the new mask (default: the layout's).
   */
  merge(t: PruningTarget, blocks: Uint8Array, rawShape?: readonly number[]): void {
    const key = keyOf(t.module, t.target);
    const layout = this.layoutOf(t);
    const raw = rawShape ?? layout.raw;
    const old = this.masks.get(key);
    if (old === undefined) {
      const mask = { module: t.module, target: t.target, layout, blocks, rawShape: raw };
      // Large masks are held as bits (a global group over a large model holds every mask).
      this.masks.set(key, layout.gridSize >= PACKED_MASK_BLOCKS ? packedMask(mask) : mask);
      return;
    }
    const merged = broadcastShape(old.rawShape, raw);
    const bits = maskBits(old);
    if (bits !== undefined) {
      const add = packBits(blocks);
      for (let i = 0; i < bits.length; i++) bits[i] &= add[i];
      this.masks.set(key, packedMask({ ...fieldsOf(old), rawShape: merged, bits }));
      return;
    }
    const kept = old.blocks;
    for (let i = 0; i < kept.length; i++) kept[i] = kept[i] & blocks[i];
    this.masks.set(key, { ...old, rawShape: merged });
  }

  /**
   * `merge` with the block mask given as bits (bit `i % 8` of byte `i >> 3`): a first mask of
   * 2^20 blocks or more is held as these bits, without unpacking them.
   */
  mergeBits(t: PruningTarget, bits: Uint8Array): void {
    const layout = this.layoutOf(t);
    const key = keyOf(t.module, t.target);
    if (this.masks.get(key) === undefined && layout.gridSize >= PACKED_MASK_BLOCKS) {
      const fields = { module: t.module, target: t.target, layout, rawShape: layout.raw };
      this.masks.set(key, packedMask({ ...fields, bits }));
      return;
    }
    this.merge(t, unpackBits(bits, layout.gridSize));
  }
}

/** A mask's fields other than its blocks (read without unpacking a packed mask). */
function fieldsOf(m: TargetMask): Omit<TargetMask, "blocks"> {
  return { module: m.module, target: m.target, layout: m.layout, rawShape: m.rawShape };
}

/**
 * Splits targets into those meeting a condition and the rest, keeping order (NNI's
 * `target_spaces_filter`).
 */
export function split(
  pool: readonly PruningTarget[],
  cond: (t: PruningTarget) => boolean,
): [PruningTarget[], PruningTarget[]] {
  const selected: PruningTarget[] = [];
  const rest: PruningTarget[] = [];
  for (const t of pool) (cond(t) ? selected : rest).push(t);
  return [selected, rest];
}

/** Groups targets by a group id, in order of first appearance. */
export function groupBy(
  members: readonly PruningTarget[],
  id: (t: PruningTarget) => unknown,
): PruningTarget[][] {
  const groups = new Map<unknown, PruningTarget[]>();
  for (const t of members) {
    const key = id(t);
    const list = groups.get(key) ?? [];
    list.push(t);
    groups.set(key, list);
  }
  return [...groups.values()];
}

/** The number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** The numpy broadcast of two shapes (both broadcast onto one target shape, so compatible). */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}
