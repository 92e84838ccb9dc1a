/**
 * nncompress: model compression for JavaScript runtimes. NNI v3 compression config lists
 * (pruning, quantization, distillation) on real model files, with WebAssembly SIMD kernels and a
 * plain TypeScript reference for each of them.
 *
 * @example Resolve a config list against a model's modules, then prune with the kernels
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernels, resolveTargetSettings } from "./mod.ts";
 *
 * const modules = [
 *   { name: "fc1", type: "Linear", params: { weight: [2, 3], bias: [2] } },
 *   { name: "relu", type: "ReLU" },
 * ];
 * const { targets } = resolveTargetSettings(
 *   modules,
 *   [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
 *   "pruning",
 *   { algorithm: "LevelPruner" },
 * );
 * assert.deepEqual(targets.map((t) => `${t.module}.${t.target}`), ["fc1.weight", "fc1.bias"]);
 *
 * const weight = new Float32Array([0.3, -0.1, 2, 0.05, -4, 1]);
 * const mask = getKernels().kSmallestMask(weight.map(Math.abs), Math.floor(weight.length * 0.5));
 * assert.deepEqual([...mask], [0, 0, 1, 0, 1, 1]);
 * ```
 *
 * @module
 */

export type {
  IntCodes,
  Kernels,
  MaskMethod,
  MinMax,
  QuantParams,
  Reduction,
} from "./src/kernels/types.ts";
export { ADD_MASK_VALUE, FLOAT_TOLERANCE, REDUCTIONS } from "./src/kernels/types.ts";
export { getKernels, initKernels } from "./src/kernels/default.ts";
export { referenceKernels } from "./src/kernels/reference.ts";
export { createWasmKernels, wasmSimdSupported } from "./src/kernels/wasm.ts";

export * from "./src/config/mod.ts";

export { ModelFormatError, type ModelFormatErrorOptions } from "./src/io/model_format_error.ts";
export { bytesSource, type RandomAccessSource } from "./src/io/random_access.ts";
export {
  MAX_HEADER_BYTES,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./src/io/safetensors/parse_header.ts";
export {
  readSafetensors,
  type ReadSafetensorsOptions,
  type SafetensorsFile,
  type SafetensorsTensor,
} from "./src/io/safetensors/read_safetensors.ts";
export {
  type LazySafetensors,
  openSafetensors,
  type OpenSafetensorsOptions,
} from "./src/io/safetensors/open_safetensors.ts";
export {
  type ByteSink,
  type SafetensorsInput,
  type SafetensorsStreamInput,
  streamSafetensors,
  writeSafetensors,
  type WriteSafetensorsOptions,
} from "./src/io/safetensors/write_safetensors.ts";
export { decodeOnnx, type DecodeOnnxOptions } from "./src/io/onnx/decode_onnx.ts";
export { readOnnxTensor, type ReadOnnxTensorOptions } from "./src/io/onnx/read_onnx_tensor.ts";
export {
  type EncodedOnnx,
  encodeOnnx,
  encodeOnnxWithExternal,
  type ExternalPatch,
  type OnnxReplacement,
} from "./src/io/onnx/encode_onnx.ts";
export { decodeTensorProto } from "./src/io/onnx/decode_tensor_proto.ts";
export { onnxDataType } from "./src/io/onnx/onnx_dtype.ts";
export type {
  OnnxAttribute,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  TensorStorage,
} from "./src/io/onnx/onnx_types.ts";
export type {
  Graph,
  GraphNode,
  ModelGraph,
  Module,
  ModuleType,
  TensorRef,
} from "./src/model/model_graph.ts";
export { type DType, DTYPE_BYTES } from "./src/model/dtype.ts";
export { onnxModel, type OnnxModelOptions } from "./src/model/onnx_model.ts";
export { safetensorsModel, type SafetensorsModelOptions } from "./src/model/safetensors_model.ts";
export { tfjsModel } from "./src/model/tfjs_model.ts";
export { readTfjs, tfjsWeightValues } from "./src/io/tfjs/read_tfjs.ts";
export {
  encodeTfjs,
  type TfjsFiles,
  tfjsSaved,
  type TfjsStorage,
} from "./src/io/tfjs/write_tfjs.ts";
export type { TfjsModel, TfjsWeight, TfjsWeightSpec } from "./src/io/tfjs/tfjs_types.ts";
export { inferModuleType, type ModuleTypeOverrides } from "./src/model/infer_module_type.ts";
export { onnxModuleName } from "./src/model/onnx_module_name.ts";
export { inspect, type ModelSummary, type ModuleSummary } from "./src/model/inspect.ts";
export { toFloat32 } from "./src/model/to_float32.ts";
export { fromFloat32, toFileBytes } from "./src/model/from_float32.ts";
export { permute } from "./src/model/permute.ts";

export { applyTargetMask, type ApplyTargetMaskOptions } from "./src/pruning/apply_target_mask.ts";
export { blockLayout } from "./src/pruning/block_layout.ts";
export {
  computeMetric,
  type ComputeMetricOptions,
  type TargetMetric,
} from "./src/pruning/compute_metric.ts";
export { expandMask, type ExpandMaskOptions } from "./src/pruning/expand_mask.ts";
export { formatPruningReport } from "./src/pruning/format_pruning_report.ts";
export { fpgmMetric } from "./src/pruning/fpgm_metric.ts";
export {
  type GeneratedMasks,
  generateMasks,
  type GenerateMasksOptions,
} from "./src/pruning/generate_masks.ts";
export {
  generateMasksStreaming,
  type GenerateMasksStreamingOptions,
} from "./src/pruning/generate_masks_streaming.ts";
export {
  type GlobalMember,
  globalThreshold,
  type GlobalThresholdOptions,
} from "./src/pruning/global_threshold.ts";
export {
  globalThresholdStreaming,
  type GlobalThresholdStreamingOptions,
  type StreamingMember,
} from "./src/pruning/global_threshold_streaming.ts";
export { loadMasks, type LoadMasksOptions } from "./src/pruning/load_masks.ts";
export { normMetric, type NormMetricOptions } from "./src/pruning/norm_metric.ts";
export { prune, type PruneOptions, type PruneResult } from "./src/pruning/prune.ts";
export { prunedCount } from "./src/pruning/pruned_count.ts";
export {
  PruningError,
  type PruningErrorCode,
  type PruningErrorContext,
} from "./src/pruning/pruning_error.ts";
export {
  type PruningReport,
  pruningReport,
  type TargetReport,
} from "./src/pruning/pruning_report.ts";
export { ratioMask, type RatioMaskOptions } from "./src/pruning/ratio_mask.ts";
export { MASKS_METADATA_KEY, saveMasks, type SaveMasksOptions } from "./src/pruning/save_masks.ts";
export { type Scaling, scalingOf } from "./src/pruning/scaling_of.ts";
export {
  type BlockLayout,
  type Metrics,
  type PrunerName,
  PRUNERS,
  type PruningTarget,
  type TargetMask,
} from "./src/pruning/types.ts";
export * from "./src/distillation/mod.ts";

export {
  calibrateOnnx,
  type CalibrateOnnxOptions,
  type CalibrationTensor,
  type OrtLike,
  type OrtSession,
} from "./src/quantization/calibrate_onnx.ts";
export {
  computeQuantParams,
  type ComputeQuantParamsOptions,
  FLOAT32_EPS,
  type QuantScheme,
  type ScaleZeroPoint,
} from "./src/quantization/compute_quant_params.ts";
export {
  computeTargetQuantParams,
  targetKey,
  type TargetQuantParams,
} from "./src/quantization/compute_target_quant_params.ts";
export { emaUpdate } from "./src/quantization/ema_update.ts";
export { fakeQuantize } from "./src/quantization/fake_quantize.ts";
export { fakeQuantizedTensors } from "./src/quantization/fake_quantized_tensors.ts";
export { granularityKernel } from "./src/quantization/granularity_kernel.ts";
export { qdqOnnx, type QdqOnnxOptions } from "./src/quantization/qdq_onnx.ts";
export {
  QuantizationError,
  type QuantizationErrorCode,
  type QuantizationErrorContext,
} from "./src/quantization/quantization_error.ts";
export {
  QUANT_BITS_MAX,
  QUANT_BITS_MIN,
  quantDtypeRange,
  type QuantRange,
} from "./src/quantization/quant_dtype_range.ts";
export {
  type QuantizationReport,
  quantize,
  type QuantizeCalibration,
  type QuantizedStorage,
  type QuantizedTargetReport,
  type QuantizeModelOptions,
  type QuantizeResult,
} from "./src/quantization/quantize.ts";
export {
  codeArrayFor,
  dequantizeTensor,
  type QuantizeOptions,
  quantizeTensor,
} from "./src/quantization/quantize_tensor.ts";
export {
  type QuantizedWeights,
  quantizeWeights,
  type QuantizeWeightsOptions,
} from "./src/quantization/quantize_weights.ts";
export {
  quantizedSafetensors,
  type QuantizedTensor,
  type QuantizedTensorInfo,
  readQuantizedSafetensors,
} from "./src/quantization/quantized_safetensors.ts";
export { rewriteSafetensors } from "./src/quantization/rewrite_safetensors.ts";
export {
  type FloatTensor,
  trackParameterRanges,
} from "./src/quantization/track_parameter_ranges.ts";
export {
  mergeTrackedRange,
  type TrackedRange,
  trackedRange,
} from "./src/quantization/tracked_range.ts";
export {
  type WeightOnlyLayer,
  weightOnlyOnnx,
  type WeightOnlyOnnxOptions,
} from "./src/quantization/weight_only_onnx.ts";

export * from "./src/report/mod.ts";
export {
  type Compressed,
  compressModel,
  type CompressOptions,
  describeModel,
} from "./src/compress/compress_model.ts";
export { detectFormat, type LoadedModel, loadModel } from "./src/compress/load_model.ts";
export { moduleInfos } from "./src/model/module_infos.ts";
export {
  prunedOnnx,
  type PrunedOnnxOptions,
  type PrunedOnnxParts,
  prunedOnnxParts,
} from "./src/pruning/pruned_onnx.ts";
export {
  prunedSafetensors,
  type PrunedSafetensorsOptions,
  streamPrunedSafetensors,
} from "./src/pruning/pruned_safetensors.ts";
export {
  removeChannels,
  type RemoveChannelsOptions,
  type RemoveChannelsResult,
  type RemovedChannels,
} from "./src/pruning/remove_channels.ts";
export { wandaMetric } from "./src/pruning/wanda_metric.ts";
export {
  type CalibrationInput,
  wandaInputNorms,
  type WandaInputNormsOptions,
} from "./src/pruning/wanda_input_norms.ts";
export type { PrunedModel } from "./src/pruning/types.ts";
export type { PruneSource } from "./src/pruning/prune.ts";
export type { ArenaOptions } from "./src/kernels/arena.ts";
export type { Field, Span } from "./src/io/onnx/onnx_types.ts";
export type { OnnxTensorFile } from "./src/io/onnx/decode_tensor_proto.ts";
export type { OnnxBytes } from "./src/io/onnx/read_onnx_tensor.ts";
export type { HalfKernels } from "./src/model/to_float32.ts";
export type { HalfEncoders } from "./src/model/from_float32.ts";
export type { ParamSummary } from "./src/model/inspect.ts";
export type { PruningWarning } from "./src/pruning/generate_masks.ts";
export type { Progress } from "./src/compress/compress_model.ts";
export {
  DEFAULT_HISTOGRAM_BINS,
  observeHistogram,
  type ObserveHistogramOptions,
  type StreamingHistogram,
} from "./src/quantization/streaming_histogram.ts";
export {
  checkObserver,
  type ObserverName,
  observerRange,
  type ObserverRangeOptions,
  OBSERVERS,
} from "./src/quantization/observer_range.ts";
export {
  DEFAULT_PERCENTILE,
  percentileRange,
  type PercentileRangeOptions,
} from "./src/quantization/percentile_range.ts";
export { type ClipTarget, mseRange } from "./src/quantization/mse_range.ts";
export { entropyRange } from "./src/quantization/entropy_range.ts";
export { readOnnxValues, type ReadOnnxValuesOptions } from "./src/io/onnx/read_onnx_values.ts";
export { onnxStoredBytes } from "./src/io/onnx/onnx_dtype.ts";
export { type EncodeOnnxOptions, EXTERNAL_ALIGNMENT } from "./src/io/onnx/encode_onnx.ts";
export {
  type RecurrentType,
  reorderGates,
  TORCH_GATE_FROM_ONNX,
} from "./src/model/recurrent_gates.ts";

export {
  type BatchNormParams,
  foldBatchNorm,
  type FoldedParams,
} from "./src/quantization/fold_batch_norm.ts";
export { type FusionGroup, fusionGroups } from "./src/quantization/fusion_groups.ts";
export {
  type FoldedTensor,
  type FusedModel,
  fuseModel,
  type FuseModelOptions,
} from "./src/quantization/fuse_model.ts";
export { checkOnnxFusion, fusedOnnx, onnxBatchNormEpsilon } from "./src/quantization/fused_onnx.ts";
export {
  FUSED_METADATA_KEY,
  fusedMetadata,
  fusedSafetensors,
} from "./src/quantization/fused_safetensors.ts";
export { fusableGroups } from "./src/quantization/fusable_groups.ts";
export type { FusedGroupReport } from "./src/quantization/quantize.ts";
export type { QuantizedSafetensorsOptions } from "./src/quantization/quantized_safetensors.ts";
