/**
 * `pruningReport`: per-target and total sparsity of a set of masks, as data.
 *
 * @module
 */

import { keptBlocks } from "./packed_mask.ts";
import type { Granularity, PruningTarget, TargetMask } from "./types.ts";

/** The report line of one target. */
export interface TargetReport {
  /** The module name. */
  readonly module: string;
  /** The target name. */
  readonly target: string;
  /** The target's shape. */
  readonly shape: readonly number[];
  /** The granularity the target was pruned with (`null` = element-wise). */
  readonly granularity: Granularity | null;
  /** How the mask is applied (`mul`, `add` or `bypass`). */
  readonly applyMethod: string;
  /** Elements kept. */
  readonly kept: number;
  /** Elements in the target. */
  readonly total: number;
  /** `1 - kept / total`. */
  readonly sparsity: number;
  /** Whether a rule produced a mask (false: the target is kept whole). */
  readonly masked: boolean;
}

/** The report of a pruning run. */
export interface PruningReport {
  /** One line per target, in target order. */
  readonly targets: readonly TargetReport[];
  /** Totals over all targets. */
  readonly totals: { readonly kept: number; readonly total: number; readonly sparsity: number };
  /** Warnings of the config layer and the pipeline, as messages. */
  readonly warnings: readonly string[];
}

/**
 * Builds the report of masks over their targets: shape, granularity, kept/total and sparsity
 * per target, and totals. A target without a mask counts as fully kept.
 *
 * @param targets the pruned targets (with known shapes), in order
 * @param masks the masks by module, then target (from `generateMasks`)
 * @param warnings messages to carry along
 * @returns the report
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { pruningReport } from "./pruning_report.ts";
 *
 * const layout = blockLayout("out_channel", [2, 3]);
 * const masks = { fc: { weight: { module: "fc", target: "weight", layout, blocks: new Uint8Array([0, 1]), rawShape: [2, 1] } } };
 * const targets = [{ module: "fc", target: "weight", kind: "parameter" as const, shape: [2, 3], setting: { granularity: "out_channel" as const } }];
 * const report = pruningReport(targets, masks);
 * assert.equal(report.targets[0].kept, 3);
 * assert.equal(report.totals.sparsity, 0.5);
 * ```
 */
export function pruningReport(
  targets: readonly PruningTarget[],
  masks: Readonly<Record<string, Readonly<Record<string, TargetMask>>>>,
  warnings: readonly string[] = [],
): PruningReport {
  const lines: TargetReport[] = [];
  let kept = 0;
  let total = 0;
  for (const t of targets) {
    if (t.shape === null) continue;
    const mask = masks[t.module]?.[t.target];
    const n = t.shape.reduce((a, b) => a * b, 1);
    let k = n;
    if (mask) {
      k = keptBlocks(mask) * mask.layout.blockSize;
    }
    lines.push({
      module: t.module,
      target: t.target,
      shape: t.shape,
      granularity: t.setting.granularity ?? null,
      applyMethod: t.setting.apply_method || "mul",
      kept: k,
      total: n,
      sparsity: n === 0 ? 0 : 1 - k / n,
      masked: mask !== undefined,
    });
    kept += k;
    total += n;
  }
  return {
    targets: lines,
    totals: { kept, total, sparsity: total === 0 ? 0 : 1 - kept / total },
    warnings: [...warnings],
  };
}
