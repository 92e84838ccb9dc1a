/**
 * The application layer (subpath `nncompress/compress`): load a model file of any supported
 * format, run a config list in a mode, get the new file and its report, evaluate it. The CLI,
 * the web page, the edge handler and the demo all run through it. Browser- and edge-safe (file
 * reading lives in `nncompress/fs`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../../mod.ts";
 * import { compressModel, loadModel } from "./mod.ts";
 *
 * const data = new Float32Array([0.1, -4, 2, 0.3, -0.2, 1]);
 * const model = loadModel(writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data }]), "m.safetensors");
 * const { report } = await compressModel(model, { mode: "pruning", configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }] });
 * assert.equal(report.layers[0].sparsity, 0.5);
 * ```
 *
 * @module
 */

export {
  type Compressed,
  compressModel,
  type CompressOptions,
  describeModel,
  type Progress,
  type Storage,
  STORAGES,
  type TfjsRuntimeOption,
} from "./compress_model.ts";
export type { TfjsInputSet, TfjsInputTensor } from "./tfjs_inputs.ts";
export { detectFormat, type LoadedModel, loadModel, type LoadModelOptions } from "./load_model.ts";
export { type LayerBatch, type LayerInputs, readLayerInputs } from "./layer_inputs.ts";
export {
  type CompareOptions,
  compareOutputs,
  type MatchedPicks,
  type OutputComparison,
  type OutputMeasures,
} from "./compare_outputs.ts";
export {
  compareRunnerOutputs,
  type RunnerWeight,
  tfjsRunnerWeights,
  type WeightsRunner,
} from "./compare_runner.ts";
export {
  LATENCY_RUNS,
  LATENCY_WARMUP,
  type LatencyOptions,
  measureLatency,
} from "./measure_latency.ts";
export {
  castInput,
  inputFeeds,
  type InputFeedsOptions,
  type InputFileSpec,
  type InputFill,
  type InputSpec,
  parseInputSpec,
  tensorValues,
} from "./input_feeds.ts";
export { readNpy, type ReadNpyOptions } from "../io/npy/read_npy.ts";
export {
  ctcDecode,
  evaluateOcr,
  type OcrEvaluation,
  type OcrTask,
  type OrtLike,
  type OrtSession,
  runOrt,
} from "./ocr_eval.ts";
export { describeError, type ErrorCategory, type ErrorDescription } from "./describe_error.ts";
export type { OcrData, OcrLabels } from "./ocr_data.ts";

export {
  compressVariants,
  type Variant,
  VARIANT_MODES,
  type VariantEvent,
  variantFileName,
  type VariantMode,
  type VariantsOptions,
  type VariantsResult,
} from "./variants.ts";
