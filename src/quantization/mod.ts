/**
 * Quantization (subpath `nncompress/quantization`): NNI's PTQ parameters bit for bit, observers
 * (min/max, percentile, MSE, entropy) over onnxruntime calibration, fake quantization, BatchNorm
 * folding, and the storages — QDQ and MatMulNBits ONNX, integer safetensors, fake-quantized floats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors, writeSafetensors } from "../io/safetensors/mod.ts";
 * import { safetensorsModel } from "../model/mod.ts";
 * import { quantize } from "./mod.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, -0.5, 0.25, 2]) },
 * ]));
 * const result = await quantize(safetensorsModel(file), [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" },
 * ]);
 * assert.equal(result.report.targets.length, 1);
 * ```
 *
 * @module
 */

export {
  calibrateOnnx,
  type CalibrateOnnxOptions,
  type CalibrationTensor,
  type OrtLike,
  type OrtSession,
} from "./calibrate_onnx.ts";
export {
  computeQuantParams,
  type ComputeQuantParamsOptions,
  FLOAT32_EPS,
  type QuantScheme,
  type ScaleZeroPoint,
} from "./compute_quant_params.ts";
export {
  computeTargetQuantParams,
  targetKey,
  type TargetQuantParams,
} from "./compute_target_quant_params.ts";
export { emaUpdate } from "./ema_update.ts";
export { fakeQuantize } from "./fake_quantize.ts";
export { fakeQuantizedTensors } from "./fake_quantized_tensors.ts";
export { granularityKernel } from "./granularity_kernel.ts";
export { qdqOnnx, type QdqOnnxOptions, qdqOnnxParts } from "./qdq_onnx.ts";
export {
  QuantizationError,
  type QuantizationErrorCode,
  type QuantizationErrorContext,
} from "./quantization_error.ts";
export {
  QUANT_BITS_MAX,
  QUANT_BITS_MIN,
  quantDtypeRange,
  type QuantRange,
} from "./quant_dtype_range.ts";
export {
  type QuantizationReport,
  quantize,
  type QuantizeCalibration,
  type QuantizedStorage,
  type QuantizedTargetReport,
  type QuantizeModelOptions,
  type QuantizeResult,
} from "./quantize.ts";
export {
  codeArrayFor,
  dequantizeTensor,
  type QuantizeOptions,
  quantizeTensor,
} from "./quantize_tensor.ts";
export {
  type QuantizedWeights,
  quantizeWeights,
  type QuantizeWeightsOptions,
} from "./quantize_weights.ts";
export {
  quantizedSafetensors,
  type QuantizedTensor,
  type QuantizedTensorInfo,
  readQuantizedSafetensors,
  type StreamQuantizedOptions,
  streamQuantizedSafetensors,
} from "./quantized_safetensors.ts";
export { rewriteSafetensors } from "./rewrite_safetensors.ts";
export {
  type CompressedTensor,
  compressedTensorBytes,
  compressedTensorNames,
  type CompressedTensorsConfig,
  type CompressedTensorsFit,
  type CompressedTensorsGroup,
  compressedTensorsSafetensors,
  compressedTensorsScheme,
  type CompressedTensorsSchemeOptions,
  type CompressedTensorsWeights,
  readCompressedTensors,
  streamCompressedTensors,
  type StreamCompressedTensorsOptions,
} from "./compressed_tensors.ts";
export { type FloatTensor, trackParameterRanges } from "./track_parameter_ranges.ts";
export { mergeTrackedRange, type TrackedRange, trackedRange } from "./tracked_range.ts";
export {
  dynamicCodes,
  type DynamicLayer,
  dynamicOnnx,
  type DynamicOnnxOptions,
  dynamicWeightParams,
  type DynamicWeightType,
} from "./dynamic_onnx.ts";
export {
  bnb4Decode,
  bnb4Encode,
  type Bnb4Layer,
  bnb4Onnx,
  type Bnb4OnnxOptions,
  type Bnb4Type,
  FP4_TABLE,
  NF4_TABLE,
} from "./bnb4_onnx.ts";
export {
  type WeightGrid,
  type WeightOnlyLayer,
  weightOnlyOnnx,
  type WeightOnlyOnnxOptions,
} from "./weight_only_onnx.ts";
export {
  DEFAULT_HISTOGRAM_BINS,
  observeHistogram,
  type ObserveHistogramOptions,
  type StreamingHistogram,
} from "./streaming_histogram.ts";
export {
  checkObserver,
  type ObserverName,
  observerRange,
  type ObserverRangeOptions,
  OBSERVERS,
} from "./observer_range.ts";
export {
  DEFAULT_PERCENTILE,
  percentileRange,
  type PercentileRangeOptions,
} from "./percentile_range.ts";
export { type ClipTarget, mseRange } from "./mse_range.ts";
export { entropyRange } from "./entropy_range.ts";
export { type BatchNormParams, foldBatchNorm, type FoldedParams } from "./fold_batch_norm.ts";
export { type FusionGroup, fusionGroups } from "./fusion_groups.ts";
export {
  type FoldedTensor,
  type FusedModel,
  fuseModel,
  type FuseModelOptions,
} from "./fuse_model.ts";
export { checkOnnxFusion, fusedOnnx, onnxBatchNormEpsilon } from "./fused_onnx.ts";
export { FUSED_METADATA_KEY, fusedMetadata, fusedSafetensors } from "./fused_safetensors.ts";
export { fusableGroups } from "./fusable_groups.ts";
export type { FusedGroupReport } from "./quantize.ts";
export type { QuantizedSafetensorsOptions } from "./quantized_safetensors.ts";
export { planQuantization, type PlanQuantizationOptions } from "./plan_quantization.ts";
export { gptq, type GptqOptions, type GptqResult } from "./gptq.ts";
export { gptqCode, type GptqParams, gptqParams } from "./gptq_quantizer.ts";
export {
  type GptqLayer,
  gptqOnnx,
  type GptqOnnxOptions,
  type GptqOnnxResult,
} from "./gptq_model.ts";
export {
  type InverseHessian,
  inverseHessian,
  type InverseHessianOptions,
  type LayerHessian,
  layerHessian,
  type LayerHessianOptions,
} from "./layer_hessian.ts";
export {
  type LayerwiseLayer,
  layerwiseOnnx,
  type LayerwiseOnnxOptions,
  type LayerwiseOnnxResult,
} from "./layerwise_onnx.ts";
export type { SavedModel } from "../model/model_graph.ts";
export { type EqualizedTfjs, equalizeTfjs, type EqualizeTfjsOptions } from "./equalize_tfjs.ts";
export {
  type BiasCorrectedTfjs,
  biasCorrectTfjs,
  type TfjsBiasSite,
  tfjsBiasSites,
  type TfjsWithBiases,
  withTfjsBiases,
} from "./bias_correct_tfjs.ts";
export {
  gptqTfjsKernel,
  type TfjsConvGeometry,
  tfjsConvGeometry,
  type TfjsDepthwise,
  type TfjsGrid,
  TfjsLayerHessian,
} from "./gptq_tfjs.ts";
export {
  type TfjsChannelScaleSite,
  tfjsChannelScaleSites,
  type TfjsWithChannelScales,
  withTfjsChannelScales,
} from "./channel_scales_tfjs.ts";
