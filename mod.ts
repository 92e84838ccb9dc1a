/**
 * nncompress: model compression for JavaScript runtimes. NNI v3 compression config lists
 * (pruning, quantization, distillation) on real model files — ONNX and safetensors — with
 * WebAssembly SIMD kernels and a plain TypeScript reference for each of them.
 *
 * This entry holds what a user needs to load, inspect, explain, prune, quantize, distil and save;
 * every area has its own entry with the rest (`nncompress/config`, `nncompress/onnx`,
 * `nncompress/safetensors`, `nncompress/model`, `nncompress/pruning`,
 * `nncompress/quantization`, `nncompress/distillation`, `nncompress/kernels`,
 * `nncompress/report`, `nncompress/compress`, `nncompress/tensor`), plus `nncompress/fs` (files),
 * `nncompress/training` (TensorFlow.js) and `nncompress/cli`. Browser- and edge-safe.
 *
 * @example Load a model, see what a config list selects, prune it and get the new file
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressModel, explain, loadModel, writeSafetensors } from "./mod.ts";
 *
 * const weight = new Float32Array([0.3, -0.1, 2, 0.05, -4, 1]);
 * const file = writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data: weight }]);
 * const model = loadModel(file, "model.safetensors");
 * const configList = [{ op_types: ["Linear"], sparse_ratio: 0.5 }];
 *
 * const plan = explain(model.graph.modules.map((m) => ({ name: m.name, type: m.type })), configList, "pruning");
 * assert.equal(plan.configs[0].modules[0].name, "fc");
 *
 * const { bytes, report } = await compressModel(model, { mode: "pruning", configList });
 * assert.equal(report.layers[0].sparsity, 0.5);
 * assert.ok(bytes.length > 0);
 * ```
 *
 * @module
 */

// Kernels: the WebAssembly SIMD implementation where supported, else the TypeScript reference.
export { getKernels, initKernels } from "./src/kernels/default.ts";
export type { Kernels } from "./src/kernels/types.ts";

// Config lists.
export { ConfigError } from "./src/config/config_error.ts";
export { validateConfigList } from "./src/config/validate_config_list.ts";
export { convertLegacyConfigList } from "./src/config/convert_legacy_config_list.ts";
export { resolveTargetSettings } from "./src/config/resolve_target_settings.ts";
export { explain, type Explanation } from "./src/config/explain.ts";
export { formatExplain } from "./src/config/format_explain.ts";
export { type ConfigPlan, resolvePlan } from "./src/config/plan.ts";
export {
  type Compressor,
  compressorFor,
  inferMode,
  PRUNER_TABLE,
  type PrunerEntry,
  type PrunerName,
} from "./src/config/algorithms.ts";
export type {
  Config,
  Issue,
  Mode,
  ModuleInfo,
  ResolvedTarget,
  Warning,
} from "./src/config/types.ts";

// Model files and the module view.
export { ModelFormatError } from "./src/io/model_format_error.ts";
export { readSafetensors, type SafetensorsFile } from "./src/io/safetensors/read_safetensors.ts";
export { type LazySafetensors, openSafetensors } from "./src/io/safetensors/open_safetensors.ts";
export { writeSafetensors } from "./src/io/safetensors/write_safetensors.ts";
export { bytesSource, type RandomAccessSource } from "./src/io/random_access.ts";
export { decodeOnnx } from "./src/io/onnx/decode_onnx.ts";
export { encodeOnnx } from "./src/io/onnx/encode_onnx.ts";
export type { OnnxModel } from "./src/io/onnx/onnx_types.ts";
export type { OrtLike } from "./src/io/onnx/ort.ts";
export { onnxModel } from "./src/model/onnx_model.ts";
export { safetensorsModel } from "./src/model/safetensors_model.ts";
export { tfjsModel } from "./src/model/tfjs_model.ts";
export { readTfjs } from "./src/io/tfjs/read_tfjs.ts";
export { encodeTfjs } from "./src/io/tfjs/write_tfjs.ts";
export type { TfjsModel } from "./src/io/tfjs/tfjs_types.ts";
export { inspect, type ModelSummary } from "./src/model/inspect.ts";
export type {
  ModelGraph,
  ModelSource,
  Module,
  SavedModel,
  TensorRef,
} from "./src/model/model_graph.ts";

// Pruning.
export { prune, type PruneOptions, type PruneResult } from "./src/pruning/prune.ts";
export { PruningError } from "./src/pruning/pruning_error.ts";
export { removeChannels } from "./src/pruning/remove_channels.ts";
export { wandaInputNorms } from "./src/pruning/wanda_input_norms.ts";
export { reconstructOnnx } from "./src/pruning/reconstruct_onnx.ts";

// Quantization.
export {
  quantize,
  type QuantizedStorage,
  type QuantizeModelOptions,
  type QuantizeResult,
} from "./src/quantization/quantize.ts";
export { QuantizationError } from "./src/quantization/quantization_error.ts";
export { calibrateOnnx } from "./src/quantization/calibrate_onnx.ts";
export { readQuantizedSafetensors } from "./src/quantization/quantized_safetensors.ts";
export {
  compressedTensorsScheme,
  readCompressedTensors,
} from "./src/quantization/compressed_tensors.ts";
export { weightOnlyOnnx } from "./src/quantization/weight_only_onnx.ts";
export { dynamicOnnx } from "./src/quantization/dynamic_onnx.ts";
export { bnb4Onnx } from "./src/quantization/bnb4_onnx.ts";

// Distillation.
export { distillLoss } from "./src/distillation/distill_loss.ts";
export { DistillationError } from "./src/distillation/distillation_error.ts";

// The application layer: a config list applied to a model file, with its report.
export {
  type Compressed,
  compressModel,
  type CompressOptions,
  describeModel,
} from "./src/compress/compress_model.ts";
export { detectFormat, type LoadedModel, loadModel } from "./src/compress/load_model.ts";
export { compareOutputs } from "./src/compress/compare_outputs.ts";
export {
  compareRunnerOutputs,
  type RunnerWeight,
  tfjsRunnerWeights,
  type WeightsRunner,
} from "./src/compress/compare_runner.ts";
export { measureLatency } from "./src/compress/measure_latency.ts";
export { describeError, type ErrorDescription } from "./src/compress/describe_error.ts";

// Reports.
export { reportJson } from "./src/report/report_json.ts";
export { renderHtml } from "./src/report/render_html.ts";
export { formatRuns } from "./src/report/format_runs.ts";
export { parseReport } from "./src/report/parse_report.ts";
export type { CompressionReport, LatencyReport, ReportBundle } from "./src/report/types.ts";
