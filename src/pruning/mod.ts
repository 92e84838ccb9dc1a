/**
 * Pruning (subpath `nncompress/pruning`): NNI's basic pruners on a model — metrics (`l1`, `l2`,
 * FPGM, Slim, Wanda), the sparsity pipeline bit-exact with NNI (threshold, dependency, global,
 * ratio and align rules), masks, masked and pruned model files, channel removal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, safetensorsModel, writeSafetensors } from "../../mod.ts";
 * import { prune } from "./mod.ts";
 *
 * const bytes = writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 0.1, 0.2]) },
 * ]);
 * const result = await prune(safetensorsModel(readSafetensors(bytes)), [
 *   { op_types: ["Linear"], sparse_ratio: 0.5 },
 * ]);
 * assert.equal(result.report.totals.kept, 2);
 * ```
 *
 * @module
 */

export { applyTargetMask, type ApplyTargetMaskOptions } from "./apply_target_mask.ts";
export { blockLayout } from "./block_layout.ts";
export { computeMetric, type ComputeMetricOptions, type TargetMetric } from "./compute_metric.ts";
export { expandMask, type ExpandMaskOptions } from "./expand_mask.ts";
export { formatPruningReport } from "./format_pruning_report.ts";
export { fpgmMetric } from "./fpgm_metric.ts";
export { type GeneratedMasks, generateMasks, type GenerateMasksOptions } from "./generate_masks.ts";
export {
  generateMasksStreaming,
  type GenerateMasksStreamingOptions,
} from "./generate_masks_streaming.ts";
export {
  type GlobalMember,
  globalThreshold,
  type GlobalThresholdOptions,
} from "./global_threshold.ts";
export {
  globalThresholdStreaming,
  type GlobalThresholdStreamingOptions,
  type StreamingMember,
} from "./global_threshold_streaming.ts";
export { loadMasks, type LoadMasksOptions } from "./load_masks.ts";
export { normMetric, type NormMetricOptions } from "./norm_metric.ts";
export {
  parameterMetric,
  type ParameterMetricOptions,
  prune,
  type PruneOptions,
  type PruneResult,
} from "./prune.ts";
export { prunedCount } from "./pruned_count.ts";
export { PruningError, type PruningErrorCode, type PruningErrorContext } from "./pruning_error.ts";
export { type PruningReport, pruningReport, type TargetReport } from "./pruning_report.ts";
export { ratioMask, type RatioMaskOptions } from "./ratio_mask.ts";
export { MASKS_METADATA_KEY, saveMasks, type SaveMasksOptions } from "./save_masks.ts";
export { type Scaling, scalingOf } from "./scaling_of.ts";
export {
  type BlockLayout,
  type Metrics,
  type PrunerName,
  PRUNERS,
  type PruningTarget,
  type TargetMask,
} from "./types.ts";
export {
  prunedOnnx,
  type PrunedOnnxOptions,
  type PrunedOnnxParts,
  prunedOnnxParts,
} from "./pruned_onnx.ts";
export {
  prunedSafetensors,
  type PrunedSafetensorsOptions,
  streamPrunedSafetensors,
} from "./pruned_safetensors.ts";
export {
  removeChannels,
  type RemoveChannelsOptions,
  type RemoveChannelsResult,
  type RemovedChannels,
} from "./remove_channels.ts";
export {
  type ChannelGraph,
  channelGraph,
  type ChannelValue,
  type WeightedNode,
} from "./channel_graph.ts";
export {
  autoDependencyGroups,
  type AutoGroup,
  type ChannelGroup,
  channelGroups,
} from "./channel_groups.ts";
export { wandaMetric } from "./wanda_metric.ts";
export {
  type CalibrationInput,
  wandaInputNorms,
  type WandaInputNormsOptions,
} from "./wanda_input_norms.ts";
export type { PrunedModel } from "./types.ts";
export type { PruneSource } from "./prune.ts";
export type { PruningWarning } from "./generate_masks.ts";
export { sparseGpt, type SparseGptOptions, type SparseGptResult } from "./sparse_gpt.ts";
export { sparseGptOnnx, type SparseGptOnnxOptions } from "./sparse_gpt_model.ts";
export {
  type LeftLayer,
  type ReconstructedLayer,
  reconstructModules,
  reconstructOnnx,
  type ReconstructOnnxOptions,
  type ReconstructOnnxResult,
} from "./reconstruct_onnx.ts";
export { type RidgeSolution, ridgeSolve, type RidgeSolveOptions } from "./ridge_solve.ts";
export { channelRemovalScores, type ChannelRemovalScoresOptions } from "./removal_scores.ts";
export type { SavedModel } from "../model/model_graph.ts";
export type { MetricSummary, MetricSummaryResult } from "./metric_summary.ts";
