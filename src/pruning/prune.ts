/**
 * `prune`: NNI's basic pruners on a model, from a config list to masks, a report and masked
 * weights.
 *
 * @module
 */

import { DEFAULT_PRUNER, findPruner, PRUNER_TABLE } from "../config/algorithms.ts";
import { isConfigPlan } from "../config/plan.ts";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import { moduleInfos } from "../model/module_infos.ts";
import type { ExtraRegistry, ModuleInfo, ResolvedTarget, Warning } from "../config/types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { ModelGraph, SavedModel, TensorRef } from "../model/model_graph.ts";
import { storedFloat32 } from "../model/stored_float32.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { computeMetric } from "./compute_metric.ts";
import { parameterMetric } from "./parameter_metric.ts";
import { expandMask } from "./expand_mask.ts";
import { generateMasksStreaming } from "./generate_masks_streaming.ts";
import {
  isMagnitudeMetric,
  type MetricSummary,
  type MetricSummaryResult,
  summarizeMetric,
} from "./metric_summary.ts";
import { PruningError } from "./pruning_error.ts";
import { type PruningReport, pruningReport } from "./pruning_report.ts";
import type { PrunedModel, PrunerName, PruningTarget, TargetMask } from "./types.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { LazySafetensors } from "../io/safetensors/open_safetensors.ts";
import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import { prunedOnnx } from "./pruned_onnx.ts";
import { autoDependencyGroups, type AutoGroup, channelGroups } from "./channel_groups.ts";
import { prunedSafetensors } from "./pruned_safetensors.ts";
import { prunedTfjs } from "./pruned_tfjs.ts";
import { tfjsSaved } from "../io/tfjs/write_tfjs.ts";

export { parameterMetric, type ParameterMetricOptions } from "./parameter_metric.ts";

/** Options of `prune`. */
export interface PruneOptions {
  /**
   * The pruner whose metric ranks the blocks, by short name (`l1`) or NNI class name
   * (`L1NormPruner`); its default granularity applies (default `level`: element by element —
   * `PRUNER_TABLE` lists them).
   */
  readonly pruner?: PrunerName | string;
  /** Extra module-class registries for the config layer (like NNI's `register`). */
  readonly registry?: ExtraRegistry;
  /**
   * Global groups with at most this many metric entries are ranked with all members' metrics in
   * memory; larger ones in passes that hold one member at a time (default 2^26).
   */
  readonly inMemoryEntries?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * For `pruner: "wanda"`: by module name, the L2 norm of each input feature of the module over
   * calibration data (`wandaInputNorms` computes them with onnxruntime). Required for Wanda.
   */
  readonly inputNorms?: Readonly<Record<string, Float32Array>>;
  /**
   * `"auto"`: modules of an ONNX model whose output channels are coupled (`channelGroups`:
   * residual adds, squeeze-and-excitation products, depthwise convs and their parents,
   * BatchNorms and their convs) and that the config list prunes by output channel with one
   * `sparse_ratio` get a shared `dependency_group_id` (`autoDependencyGroups`), like NNI's
   * `auto_set_denpendency_group_ids`, so that `removeChannels` can remove their channels.
   * Default: none (NNI's pruners group nothing by themselves).
   */
  readonly dependencyGroups?: "auto";
  /**
   * Computes a parameter target's metric in place of this thread (for instance on worker
   * threads, from the tensor's bytes, with `parameterMetric`): it must return what
   * `parameterMetric` returns for the tensor's values. `targets` are all the targets in
   * pipeline order, for a reader that works ahead. Default: `parameterMetric` here.
   */
  readonly metricOf?: (
    target: PruningTarget,
    ref: TensorRef,
    targets: readonly PruningTarget[],
  ) => Promise<Float32Array>;
  /**
   * Computes a summary of a parameter target's metric in place of this thread (with
   * `metricOf`, for instance on worker threads: `summarizeMetric` of `parameterMetric`'s
   * metric): a large global group's selection asks for all its members' summaries at once, in
   * any order; given, it also serves global groups of 2^20 entries or more that fit
   * `inMemoryEntries`. Default: `summarizeMetric` of the metric `metricOf` (or this thread) computes,
   * or of the tensor's values for a magnitude metric (`isMagnitudeMetric`) without `metricOf`.
   */
  readonly metricSummaryOf?: (
    target: PruningTarget,
    ref: TensorRef,
    summary: MetricSummary,
  ) => Promise<MetricSummaryResult>;
}

/** With `metricSummaryOf`, global groups of this many entries or more are selected from summaries. */
const SUMMARY_GROUP_ENTRIES = 2 ** 20;

/** The file a pruned model was read from: a decoded ONNX model or a safetensors file. */
export type PruneSource = OnnxModel | SafetensorsFile | LazySafetensors;

/** The result of `prune`. */
export interface PruneResult extends PrunedModel {
  /** The model that was pruned (its tensors are read again by `apply()` and `save()`). */
  readonly model: ModelGraph;
  /** The targets, as the config layer resolved them (config order, then model order). */
  readonly targets: readonly PruningTarget[];
  /** The masks by module, then target. */
  readonly masks: Record<string, Record<string, TargetMask>>;
  /** Per-target and total sparsity, and warnings. */
  readonly report: PruningReport;
  /** The dependency groups `dependencyGroups: "auto"` set (empty without it). */
  readonly autoGroups: readonly AutoGroup[];
  /**
   * The masked values of every masked target, by tensor name, as the masked module sees them
   * (`apply_method` mul, add or bypass). Reads each tensor once more; the model is not changed.
   */
  apply(): Promise<Map<string, Float32Array>>;
  /**
   * The file the model was built from (`model.source`), with the masks applied: an ONNX model
   * gets its masked tensors replaced in place (`prunedOnnx`, activation masks as `Mul`/`Add`
   * nodes), a safetensors file keeps every tensor with the masked ones replaced
   * (`prunedSafetensors`), a TensorFlow.js model is written as `model.json` and shards
   * (`prunedTfjs`; the bytes are `model.json`'s, `files` holds every file). `savePrunedFile`
   * writes to a path atomically.
   *
   * @returns the new file bytes
   */
  save(): Promise<SavedModel>;
}

/**
 * Prunes a model with an NNI v3 config list, like NNI's basic pruners (`LevelPruner`,
 * `L1NormPruner`, `L2NormPruner`, `FPGMPruner`, Slim's one-shot |gamma| metric, and Wanda's
 * |w| times input-feature norm, element-wise by default like Level): the config
 * layer resolves the targets and settings, NNI's sparsity pipeline generates the masks from
 * metrics computed from each tensor when a rule needs them (one tensor at a time, so a lazily
 * opened safetensors model larger than memory can be pruned, global groups included), and a
 * report counts kept and pruned elements. Nothing is written to the model; `apply()` returns
 * masked values.
 *
 * @param model the model (from `safetensorsModel` or `onnxModel`)
 * @param configList the NNI config list (v3 or legacy), or its plan (`resolvePlan` in pruning
 * mode with the pruner's algorithm), used without resolving again
 * @param options the pruner, extra registries, kernels and Wanda's input-feature norms
 * @returns the targets, masks, report and `apply()`
 * @throws {ConfigError} for an invalid config list
 * @throws {PruningError} for settings that cannot apply to a target
 * @throws {TypeError} for an unknown pruner, or `wanda` without `inputNorms`
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
  const entry = options.pruner === undefined ? DEFAULT_PRUNER : findPruner(options.pruner);
  if (entry === undefined) {
    throw new TypeError(
      `"pruner" must be one of ${
        PRUNER_TABLE.map((p) => `${p.name} (${p.algorithm})`).join(", ")
      }: current value is ${JSON.stringify(options.pruner)}`,
    );
  }
  const pruner = entry.name;
  if (pruner === "wanda" && options.inputNorms === undefined) {
    throw new TypeError(
      `"inputNorms" must be given for the wanda pruner: Wanda needs calibration data, the L2 norm of each module's input features (compute them with wandaInputNorms() and onnxruntime, or bring your own)`,
    );
  }
  const kernels = options.kernels ?? getKernels();
  // The config layer's view, pre-quantized modules marked (they are never pruned).
  const modules: ModuleInfo[] = moduleInfos(model);
  let resolved: { targets: readonly ResolvedTarget[]; warnings: readonly Warning[] };
  if (isConfigPlan(configList)) {
    if (configList.mode !== "pruning") {
      throw new TypeError(`prune() needs a pruning plan: this one is for ${configList.mode}`);
    }
    resolved = configList;
  } else {
    resolved = resolveTargetSettings(modules, configList, "pruning", {
      algorithm: entry.algorithm,
      registry: options.registry,
    });
  }
  let targets = resolved.targets as unknown as PruningTarget[];
  let autoGroups: AutoGroup[] = [];
  if (options.dependencyGroups === "auto" && model.source?.format === "onnx") {
    const onnx = model.source.onnx;
    const auto = autoDependencyGroups(targets, channelGroups(onnx, model));
    targets = auto.targets;
    autoGroups = auto.groups;
  }
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
    const ref = tensorOf(t);
    if (options.metricOf !== undefined) return await options.metricOf(t, ref, targets);
    const inputNorm = options.inputNorms?.[t.module];
    // Metrics only read the values: an F32 tensor in PyTorch layout is read where it is stored,
    // without the copy `data()` makes (a tensor-sized temporary per target otherwise).
    const data = await storedFloat32(ref) ?? await ref.data();
    return parameterMetric(data, t, { pruner, kernels, inputNorm });
  };
  const summaryOf = options.metricSummaryOf;
  const here = async (t: PruningTarget, summary: MetricSummary) => {
    const ref = tensorOf(t);
    if (options.metricOf === undefined && isMagnitudeMetric(t, pruner)) {
      // The keys of |v| from the stored values: no metric the size of the tensor.
      const data = await storedFloat32(ref) ?? await ref.data();
      const r = summarizeMetric(data, summary, { kernels, magnitude: true });
      if (r !== undefined) return r;
    }
    // Values that are not all finite get the metric's own error.
    return summarizeMetric(await readMetric(t), summary, { kernels })!;
  };
  // The pipeline asks for a whole group's summaries at once: here they are made one at a time
  // (one tensor in memory), and none after one failed.
  let queue: Promise<unknown> = Promise.resolve();
  const summarize = (t: PruningTarget, summary: MetricSummary) => {
    if (t.kind !== "parameter") computeMetric(new Float32Array(0), t, { pruner, kernels });
    if (summaryOf !== undefined) return summaryOf(t, tensorOf(t), summary);
    const r = queue.then(() => here(t, summary));
    queue = r;
    return r;
  };
  const { masks, warnings } = await generateMasksStreaming(readMetric, targets, {
    inMemoryEntries: options.inMemoryEntries,
    kernels,
    summarize,
    // Summaries made elsewhere: a global group of 2^20 entries or more never brings its
    // members' metrics to this thread (the same threshold and masks as in memory).
    ...(summaryOf === undefined ? {} : { summaryEntries: SUMMARY_GROUP_ENTRIES }),
  });
  const report = pruningReport(targets, masks, [
    ...resolved.warnings.map((w) => `${w.path}: ${w.message}`),

    ...warnings.map((w) => w.message),
  ]);
  return {
    model,
    targets,
    masks,
    report,
    autoGroups,
    async save() {
      const pruned = { model, targets, masks };
      const source = model.source;
      if (source === undefined) {
        throw new TypeError(
          "the model has no source file to write into: build it with onnxModel() or safetensorsModel()",
        );
      }
      if (source.format === "tfjs") {
        return tfjsSaved(await prunedTfjs(source.tfjs, pruned, { kernels }));
      }
      return source.format === "onnx"
        ? await prunedOnnx(source.onnx, pruned, { kernels })
        : await prunedSafetensors(source.file, pruned, { kernels });
    },
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
