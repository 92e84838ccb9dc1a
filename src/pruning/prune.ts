/**
 * `prune`: NNI's basic pruners on a model, from a config list to masks, a report and masked
 * weights.
 *
 * @module
 */

import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, ModuleInfo } from "../config/types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { computeMetric } from "./compute_metric.ts";
import { expandMask } from "./expand_mask.ts";
import { generateMasksStreaming } from "./generate_masks_streaming.ts";
import { PruningError } from "./pruning_error.ts";
import { type PruningReport, pruningReport } from "./pruning_report.ts";
import type { PrunerName, PruningTarget, TargetMask } from "./types.ts";

/** Options of `prune`. */
export interface PruneOptions {
  /** The pruner whose metric ranks the blocks (default `l1`). */
  readonly pruner?: PrunerName;
  /** Extra module-class registries for the config layer (like NNI's `register`). */
  readonly registry?: ExtraRegistry;
  /**
   * Global groups with at most this many metric entries are ranked with all members' metrics in
   * memory; larger ones in passes that hold one member at a time (default 2^26).
   */
  readonly inMemoryEntries?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** The result of `prune`. */
export interface PruneResult {
  /** The targets, as the config layer resolved them (config order, then model order). */
  readonly targets: readonly PruningTarget[];
  /** The masks by module, then target. */
  readonly masks: Record<string, Record<string, TargetMask>>;
  /** Per-target and total sparsity, and warnings. */
  readonly report: PruningReport;
  /**
   * The masked values of every masked target, by tensor name, as the masked module sees them
   * (`apply_method` mul, add or bypass). Reads each tensor once more; the model is not changed.
   */
  apply(): Promise<Map<string, Float32Array>>;
}

const ALGORITHMS: Record<PrunerName, string> = {
  level: "LevelPruner",
  l1: "L1NormPruner",
  l2: "L2NormPruner",
  fpgm: "FPGMPruner",
  slim: "SlimPruner",
};

/**
 * Prunes a model with an NNI v3 config list, like NNI's basic pruners (`LevelPruner`,
 * `L1NormPruner`, `L2NormPruner`, `FPGMPruner`, and Slim's one-shot |gamma| metric): the config
 * layer resolves the targets and settings, NNI's sparsity pipeline generates the masks from
 * metrics computed from each tensor when a rule needs them (one tensor at a time, so a lazily
 * opened safetensors model larger than memory can be pruned, global groups included), and a
 * report counts kept and pruned elements. Nothing is written to the model; `apply()` returns
 * masked values.
 *
 * @param model the model (from `safetensorsModel` or `onnxModel`)
 * @param configList the NNI config list (v3 or legacy)
 * @param options the pruner, extra registries and kernels
 * @returns the targets, masks, report and `apply()`
 * @throws {ConfigError} for an invalid config list
 * @throws {PruningError} for settings that cannot apply to a target
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { prune } from "./prune.ts";
 *
 * const bytes = writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 0.1, 0.2]) },
 *   { name: "fc.bias", dtype: "F32", shape: [2], data: new Float32Array([5, 6]) },
 * ]);
 * const model = safetensorsModel(readSafetensors(bytes));
 * const result = await prune(model, [{ op_types: ["Linear"], sparse_ratio: 0.5 }], { pruner: "l1" });
 * assert.equal(result.report.totals.kept, 3);
 * const masked = await result.apply();
 * assert.deepEqual([...masked.get("fc.weight")!], [1, 2, 0, 0]);
 * assert.deepEqual([...masked.get("fc.bias")!], [5, 0]);
 * ```
 */
export async function prune(
  model: ModelGraph,
  configList: unknown,
  options: PruneOptions = {},
): Promise<PruneResult> {
  const pruner = options.pruner ?? "l1";
  if (!(pruner in ALGORITHMS)) {
    throw new TypeError(
      `"pruner" must be one of level, l1, l2, fpgm, slim: current value is ${
        JSON.stringify(pruner)
      }`,
    );
  }
  const kernels = options.kernels ?? getKernels();
  const modules: ModuleInfo[] = model.modules.map((m) => ({
    name: m.name,
    type: m.type,
    opType: m.opType,
    params: Object.fromEntries(Object.entries(m.params).map(([k, r]) => [k, r.shape])),
  }));
  const resolved = resolveTargetSettings(modules, configList, "pruning", {
    algorithm: ALGORITHMS[pruner],
    registry: options.registry,
  });
  const targets = resolved.targets as unknown as PruningTarget[];
  const byName = new Map(model.modules.map((m) => [m.name, m]));
  const tensorOf = (t: PruningTarget) => {
    const ref = byName.get(t.module)?.params[t.target];
    if (ref === undefined) {
      throw new PruningError("activation_target", `the model has no tensor for this target`, {
        module: t.module,
        target: t.target,
        configIndex: t.configIndex,
      });
    }
    return ref;
  };
  const readMetric = async (t: PruningTarget) => {
    if (t.kind !== "parameter") computeMetric(new Float32Array(0), t, { pruner, kernels });
    return computeMetric(await tensorOf(t).data(), t, { pruner, kernels }).values;
  };
  const { masks, warnings } = await generateMasksStreaming(readMetric, targets, {
    inMemoryEntries: options.inMemoryEntries,
    kernels,
  });
  const report = pruningReport(targets, masks, [
    ...resolved.warnings.map((w) => `${w.path}: ${w.message}`),
    ...warnings.map((w) => w.message),
  ]);
  return {
    targets,
    masks,
    report,
    async apply() {
      const out = new Map<string, Float32Array>();
      for (const t of targets) {
        const mask = masks[t.module]?.[t.target];
        if (mask === undefined) continue;
        const ref = tensorOf(t);
        const values = applyTargetMask(await ref.data(), expandMask(mask, { kernels }), {
          method: t.setting.apply_method,
          kernels,
        });
        out.set(ref.name, values);
      }
      return out;
    },
  };
}
