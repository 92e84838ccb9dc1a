/**
 * `compressModel`: one config list applied to one model held in memory — the pipeline shared by
 * the CLI, the demo, the web worker and the edge handler.
 *
 * @module
 */

import { compressorFor, type PrunerName } from "../config/algorithms.ts";
import { weightOnlyOnnx } from "../quantization/weight_only_onnx.ts";
import { resolvePlan } from "../config/plan.ts";
import type { ExtraRegistry } from "../config/types.ts";
import { moveToExternalData } from "../io/onnx/move_to_external_data.ts";
import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { planQuantization } from "../quantization/plan_quantization.ts";
import { prunedOnnx } from "../pruning/pruned_onnx.ts";
import { reconstructOnnx } from "../pruning/reconstruct_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { removeChannels } from "../pruning/remove_channels.ts";
import { wandaInputNorms } from "../pruning/wanda_input_norms.ts";
import { channelRemovalScores } from "../pruning/removal_scores.ts";
import { parameterMetric, type PruneOptions } from "../pruning/prune.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { InputTensor } from "../io/onnx/ort.ts";
import { type GptqTensors, gptqTensors, type LayerInputs, sparseGptTensors } from "./_layerwise.ts";
import { qdqOnnx, qdqOnnxParts } from "../quantization/qdq_onnx.ts";
import { assembleOnnxParts, type OnnxParts } from "../io/onnx/edit_onnx.ts";
import { quantizedSafetensors } from "../quantization/quantized_safetensors.ts";
import { inPlaceSafetensorsWriter, prunedSafetensors } from "../pruning/pruned_safetensors.ts";
import type { CalibrationTensor, OrtLike } from "../quantization/calibrate_onnx.ts";
import type { QuantizeResult } from "../quantization/quantize.ts";
import {
  type CompressedTensorsConfig,
  compressedTensorsSafetensors,
  compressedTensorsScheme,
} from "../quantization/compressed_tensors.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import type { CompressionReport, LayerReport } from "../report/types.ts";
import { type LoadedModel, loadModel, modelFileBytes } from "./load_model.ts";
import { prunedTfjs } from "../pruning/pruned_tfjs.ts";
import { encodeTfjs, tfjsSaved } from "../io/tfjs/write_tfjs.ts";
import { layerReport } from "./_layer_report.ts";
import { pruneTensors } from "./_prune_tensors.ts";
import { quantizeTensors } from "./_quantize_tensors.ts";
import { NBITS_BLOCK_SIZE, weightOnlyTensors } from "./_weight_only.ts";
import { bnb4Tensors, dynamicTensors } from "./_integer_ops.ts";
import { parameterSizes, writtenParameterBytes } from "./_sizes.ts";
import { halfTensors } from "./_tfjs_half.ts";
import {
  NOT_RUNNABLE,
  tfjsChannelStats,
  tfjsInputMeans,
  type TfjsRuntime,
  tfjsSensitivity,
} from "./compare_tfjs.ts";
import type { TfjsInputSet } from "./tfjs_inputs.ts";
import { tfjsBiasSites } from "../quantization/bias_correct_tfjs.ts";
import { GPTQ_MAX_INPUTS, gptqTfjsRounding } from "./_tfjs_gptq.ts";
import { halfOnnx } from "./_onnx_half.ts";
import type { ConvertFloat16Options } from "../io/onnx/convert_float16.ts";
import { quantizedTfjs, tfjsUint8Grids } from "../quantization/quantized_tfjs.ts";
import { equalizeTfjs } from "../quantization/equalize_tfjs.ts";
import { tfjsModel } from "../model/tfjs_model.ts";
import type { Progress, TensorChange } from "./_tensor_change.ts";

export type { Progress } from "./_tensor_change.ts";

/**
 * What `compressModel` takes to run TensorFlow.js models (`tfjsRuntime`): `@tensorflow/tfjs-core`
 * with a backend set (`tf`) and the loaders of `@tensorflow/tfjs-converter` and
 * `@tensorflow/tfjs-layers` — `compareTfjsOutputs`' `TfjsRuntime`, typed loosely here so that
 * the package's declarations do not pull in tfjs-core's (which need `long`'s types).
 */
export interface TfjsRuntimeOption {
  /** `@tensorflow/tfjs-core` (the module) with a backend set. */
  readonly tf: object;
  /** `loadGraphModel` of `@tensorflow/tfjs-converter` (graph models). */
  readonly loadGraphModel?: (handler: never) => Promise<unknown>;
  /** `loadLayersModel` of `@tensorflow/tfjs-layers` (layers models). */
  readonly loadLayersModel?: (handler: never) => Promise<unknown>;
}

/** Every `CompressOptions.storage`, in the order the CLI and the edge handler list them. */
export const STORAGES = [
  "auto",
  "float",
  "int",
  "nbits",
  "float16",
  "dynamic",
  "bnb4",
  "compressed-tensors",
] as const;

/** How a quantized model is written (`CompressOptions.storage`). */
export type Storage = typeof STORAGES[number];

/** Options of `compressModel`. */
export interface CompressOptions {
  /** `pruning` or `quantization`. */
  readonly mode: "pruning" | "quantization";
  /**
   * The NNI config list (v3 or legacy; untrusted data). ONNX `storage: "float16"` takes
   * `undefined` for the whole model.
   */
  readonly configList: unknown;
  /**
   * The algorithm whose defaults apply, by short or NNI class name (`PRUNER_TABLE`): `level` /
   * `LevelPruner` (default for pruning), `l1`, `l2`, `fpgm`, `slim`; `PtqQuantizer` (default for
   * quantization). The report names the NNI class.
   */
  readonly algorithm?: string;
  /**
   * How quantized tensors are stored: `float` — fake-quantized values in the original dtype (the
   * file keeps its size and runs wherever the original ran); `int` — integer codes with scales
   * (ONNX: `DequantizeLinear` nodes, per-tensor or per-channel only; safetensors: codes, scales
   * and zero points, read back with `readQuantizedSafetensors`); `compressed-tensors`
   * (safetensors) — the `pack-quantized` format vLLM and transformers read, with its
   * `quantization_config` in `Compressed.quantizationConfig` (read back with
   * `readCompressedTensors`); `auto` (default) — for safetensors `compressed-tensors` when the
   * scheme fits it, else `int` with a warning saying why; for ONNX `int` when every target can
   * be stored so, else `float` with a warning;
   * `nbits` (ONNX) — MatMul
   * weights as `MatMulNBits` (`com.microsoft`, run by onnxruntime): the config list selects
   * MatMul `Linear` weights with `quant_dtype` `int4`/`int8` (symmetric) or `uint4`/`uint8`
   * (affine) and `granularity: "per_channel"`, and each output channel's row is split into
   * blocks of `blockSize` along K, the last one padded with zeros. TensorFlow.js models: `int`
   * and `auto` store each weight as tfjs `uint8`/`uint16` codes per tensor (targets tfjs cannot
   * store so are written fake-quantized as float16 or float32, with a warning), `float` keeps
   * each weight's stored type, and `float16` stores the selected weights as float16 like the
   * tfjs converter's `--quantize_float16` (the config list only selects). ONNX models:
   * `float16` converts the model's float32 computation to float16 as onnxruntime's Python
   * converter does (`convertFloat16`, options in `float16`): float32 inputs and outputs kept with
   * Casts, the block list's operators and the nodes of modules the config list does not select
   * left in float32.
   *
   * `dynamic` (ONNX) — dynamic quantization as onnxruntime's Python `quantize_dynamic` writes it
   * (transformers.js's `model_quantized`/`_int8`/`_uint8` files): MatMul and Conv weights as
   * int8 or uint8 codes, each activation quantized at run time by `DynamicQuantizeLinear`, and
   * `MatMulInteger`/`ConvInteger` with a `Cast` and `Mul`s by the scales; no calibration. The
   * config list selects the weights (`target_names: ["weight"]`) with `quant_dtype` `int8`
   * (symmetric) or `uint8` (affine), `quant_scheme` to override the symmetry, and `granularity`
   * `default` (per tensor) or `per_channel` (MatMul only); Gemm stays float (see `dynamic`).
   *
   * `bnb4` (ONNX) — MatMul weights as `MatMulBnb4` (`com.microsoft`) NF4 or FP4 codes with one
   * absmax per block of `blockSize` values (default 64), as onnxruntime's
   * `MatMulBnb4Quantizer` writes them (transformers.js's `model_bnb4`): `quant_dtype` `int4` (or
   * unset), `granularity` `default`, `per_channel` or `[1, <block>]`; the table is
   * `bnb4.quantType`.
   */
  readonly storage?: Storage;
  /**
   * For `storage: "dynamic"`. `uint8WhenConv`: store int8 weights as uint8 when the model has a
   * Conv (or onnxruntime-genai `GroupQueryAttention`/`MultiHeadAttention`) node, transformers.js's
   * rule for `model_quantized` (onnxruntime-web has no int8 `ConvInteger`), with a warning;
   * affine like onnxruntime's uint8 unless the config list sets `quant_scheme`; default `false`. `reduceRange`: 7-bit weights (int8 [-64, 64], uint8 [0, 127]),
   * onnxruntime's `reduce_range`, for CPUs without VNNI; default `false`.
   */
  readonly dynamic?: { readonly uint8WhenConv?: boolean; readonly reduceRange?: boolean };
  /** For `storage: "bnb4"`: the code table, `nf4` (default) or `fp4`. */
  readonly bnb4?: { readonly quantType?: "nf4" | "fp4" };
  /**
   * ONNX `storage: "float16"`: the block lists, I/O types and clamping of `convertFloat16`
   * (default: transformers.js's block list, float32 inputs and outputs kept).
   */
  readonly float16?: ConvertFloat16Options;
  /**
   * `storage: "nbits"`: the grid of symmetric blocks — `"nni"` (default: NNI's `int4` range
   * [-7, 7], scale `absmax / 7`) or `"onnxruntime"` (onnxruntime's `MatMul4BitsQuantizer`: the
   * value of largest magnitude maps to -8, scale `-value / 8`, codes in [-8, 7]) — and the
   * `accuracy_level` attribute (omitted by default, as onnxruntime's quantizer omits it).
   */
  readonly nbits?: { readonly grid?: "nni" | "onnxruntime"; readonly accuracyLevel?: number };
  /**
   * For `algorithm: "SparseGPT"`: prune `n` of every `m` consecutive weights along the input
   * (`{ n: 2, m: 4 }`) instead of each target's `sparse_ratio` (an algorithm option, not a config
   * key, so config lists stay NNI's).
   */
  readonly pattern?: { readonly n: number; readonly m: number };
  /**
   * For `algorithm: "GPTQ"`: `actOrder` quantizes the inputs in order of decreasing Hessian
   * diagonal (the reference's `--act-order`), `staticGroups` fixes each group's parameters
   * before that (so the groups stay consecutive inputs and every storage holds them). Without
   * `staticGroups`, grouped act-order results go to `nbits` (MatMulNBits with `g_idx`, 1-4
   * bits), to `compressed-tensors` on safetensors models (`weight_g_idx`, `actorder: "group"`;
   * also what `auto` picks there) or float (`auto` on ONNX says why; `int` refuses them).
   */
  readonly gptq?: { readonly actOrder?: boolean; readonly staticGroups?: boolean };
  /**
   * GPTQ and SparseGPT on a safetensors model: each Linear module's input rows `[rows, in]`
   * by module name (`readLayerInputs` reads a safetensors file of `<module>.input` tensors);
   * each layer is solved on its own rows (docs/quantization.md).
   */
  readonly layerInputs?: LayerInputs;
  /** TensorFlow.js: the largest weight shard in bytes (default 4 MiB, the converter's). */
  readonly shardBytes?: number;
  /**
   * TensorFlow.js, storage `int`/`auto`: the share of the source's weight bytes (default 0.02;
   * 0 turns it off) that the uint8 targets whose channels lose the most to tfjs's one grid per
   * tensor may add, stored as float16 or uint16 instead (`QuantizedTfjsOptions.headroom`); a
   * warning lists them.
   */
  readonly headroom?: number;
  /**
   * TensorFlow.js models, quantization: cross-layer equalization before quantizing
   * (`equalizeTfjs`): consecutive convolutions (in a layers model, dense layers too) with a
   * ReLU/PReLU/LeakyReLU, pooling or nothing between them get their channel ranges evened out by
   * per-channel scales that cancel, so one uint8 grid per tensor fits better; in a graph model
   * with `tfjsRuntime` and `tfjsInputs`, through a ReLU6 too where those inputs keep each
   * channel below half the clip. It changes the stored float weights
   * beyond quantization (the function only up to float rounding, float16 rounding for float16
   * weights with `equalizeFloat16`), hence off by default; a warning counts the pairs.
   */
  readonly equalize?: boolean;
  /**
   * TensorFlow.js, storage `int`/`auto` with headroom: tfjs (`@tensorflow/tfjs-core` with a
   * backend, and the loaders) runs the original and trial models so that the headroom goes to
   * the weights whose 16-bit storage raises the outputs' lowest cosine the most per byte
   * (`tfjsSensitivity`, `QuantizedTfjsOptions.measure`), instead of those with the largest
   * channel error. One tfjs run per uint8 weight: seconds on models of a few MB.
   */
  readonly tfjsRuntime?: TfjsRuntimeOption;
  /**
   * TensorFlow.js with `tfjsRuntime`: calibration inputs (each set one tensor per model input,
   * in the model's input order: photos preprocessed as the application feeds them, say) on
   * which the measured headroom is chosen, instead of random inputs in [-1, 1); with `equalize`
   * they also tell which ReLU6 channels stay below the clip (`EqualizeTfjsOptions.activationMax`:
   * pairs through a ReLU6 are rescaled too), and `biasCorrection` takes its means from them.
   */
  readonly tfjsInputs?: readonly TfjsInputSet[];
  /**
   * With `tfjsRuntime`: whether the headroom is measured by tfjs runs (default `true`); `false`
   * keeps the channel-error ranking while `tfjsRuntime` serves `biasCorrection`.
   */
  readonly measureHeadroom?: boolean;
  /**
   * With `equalize`: also rescale weights stored as float16 (stored as float16 again, so rounded
   * once more; far below uint8's rounding for the kernels quantized next). Default `false`.
   */
  readonly equalizeFloat16?: boolean;
  /**
   * TensorFlow.js models, storage `int`/`auto`: bias correction (`biasCorrectTfjs`) on
   * `tfjsInputs` run by `tfjsRuntime` (both required): each layer's expected output shift from
   * quantizing its kernel, `(W_q - W) E[x]` with `E[x]` the per-channel mean of its input on
   * those inputs, is taken out of its bias (in a graph model a layer without one passes it to
   * the layer it feeds directly, or, if it feeds none with a bias, is given a bias of its own:
   * fused with a `BiasAdd`, a new float32 weight; in a layers model it goes into the moving mean
   * of a `BatchNormalization` that follows a linear layer, or the layer gets `use_bias` and a
   * new float32 weight). It changes the biases beyond quantization, hence off by default; a
   * warning counts the layers.
   */
  readonly biasCorrection?: boolean;
  /**
   * TensorFlow.js models, storage `int`/`auto`: GPTQ rounding (`gptqTfjsKernel`) on
   * `tfjsInputs` run by `tfjsRuntime` (both required). Each per-tensor uint8 kernel of a
   * convolution, depthwise convolution or MatMul (in a layers model: `Conv2D`,
   * `DepthwiseConv2D`, `Dense`) keeps its grid (the same `min` and `scale`, so
   * the same size), but its codes are chosen column by column against the second moments of the
   * layer's input on those inputs, each column's rounding error compensated on the columns not
   * yet rounded, instead of each weight going to its nearest code. It changes the codes beyond
   * NNI's rounding, hence off by default; a warning counts the kernels.
   */
  readonly gptqRounding?: boolean;
  /**
   * TensorFlow.js models, storage `int`/`auto`: a kernel quantized per output channel
   * with one zero point (`granularity: "per_channel"` with a symmetric scheme, at most 16 bits)
   * is stored as its integer levels in tfjs `uint8` (`uint16`) codes on one grid, and its scales
   * as a `[channels]` weight that a new `Mul` node applies after the layer (graph models: the
   * layer unfused, its op, the `Mul`, then its `BiasAdd` and activation), or in a layer after it
   * that takes its bias and activation (layers models: a 1 x 1 `DepthwiseConv2D` after a 2-D
   * convolution, a `BatchNormalization` with `epsilon` 0 after a `Dense` or `Conv1D`); see
   * `QuantizedTfjsOptions.channelScales`. The file then holds NNI's per-channel values at one
   * byte per weight (plus one scale per channel) instead of fake-quantized float16/float32. It
   * changes the graph, hence off by default; a warning lists the kernels.
   */
  readonly channelScales?: boolean;
  /**
   * Weights per block along K for `storage: "nbits"` (default 32) and `storage: "bnb4"`
   * (default 64): a power of two >= 16.
   */
  readonly blockSize?: number;
  /**
   * Input batches (ONNX): for `_input_`/`_output_` quantization targets onnxruntime runs the
   * model on them and NNI's PTQ observer keeps the activation ranges; for the `wanda` pruner they
   * give each module's input-feature norms. Required in those two cases.
   */
  readonly calibration?: {
    /** Feeds by graph input name. */
    readonly batches:
      | Iterable<Record<string, CalibrationTensor>>
      | AsyncIterable<Record<string, CalibrationTensor>>;
    /** `await import("onnxruntime-node")` or `onnxruntime-web`. */
    readonly ort: OrtLike;
    /**
     * Stateful models (quantization): output name to input name; after each batch, the output
     * is the next batch's input (`calibrateOnnx`).
     */
    readonly state?: Readonly<Record<string, string>>;
  };
  /**
   * Pruning an ONNX model: after the masks are written, refit each affected Conv / Gemm /
   * MatMul layer so its outputs on these batches match the original model's
   * (`reconstructOnnx`, least squares layer by layer; masked weights stay 0). Use batches
   * disjoint from the data the result is evaluated on.
   */
  readonly reconstruct?: {
    /** Feeds by graph input name. */
    readonly batches:
      | Iterable<Record<string, CalibrationTensor>>
      | AsyncIterable<Record<string, CalibrationTensor>>;
    /** `await import("onnxruntime-node")` or `onnxruntime-web`. */
    readonly ort: OrtLike;
    /**
     * `"removal-scores"`: the weights pruned by output channel are ranked by
     * `channelRemovalScores` on these batches (the variance each channel's readers would lose)
     * instead of the pruner's metric; modules whose channels the scores cannot follow keep the
     * pruner's metric. Default `"metric"`.
     */
    readonly rankChannels?: "metric" | "removal-scores";
    /** `reconstructOnnx`'s options of the same names. */
    readonly select?: "all" | "held-out";
    readonly depthwise?: boolean;
    readonly minRowsPerColumn?: number;
  };
  /**
   * The model's bytes are the caller's to give up (default `false`): pruning a safetensors file
   * writes the masked values into them, where each tensor is stored, and returns that same
   * buffer, so the output costs no second copy of the file (the edge handler's worker owns the
   * request body and sets it). The model must not be used afterwards.
   */
  readonly inPlace?: boolean;
  /**
   * ONNX output with external data: the result's main-graph initializers of 1 KiB or more go to
   * one data file (`moveToExternalData`) when `always` is set, or when the self-contained model
   * would exceed `limit` bytes (default 2147483647, protobuf's 2 GiB limit, past which
   * onnxruntime and the ONNX tools cannot read a model file). `location` is the data file's
   * path relative to the output's folder (default: the model's file name + `.data`).
   */
  readonly externalData?: {
    readonly location?: string;
    readonly always?: boolean;
    readonly limit?: number;
  };
  /**
   * Extra default targets per mode and module class, like NNI's `ModuleSetting.register`:
   * `{ quantization: { LSTM: { weight_ih: { quant_dtype: "int8" } } } }` (checked like a
   * config list; a class given here replaces the built-in entry).
   */
  readonly registry?: ExtraRegistry;
  /**
   * Pruning an ONNX model: give coupled modules shared channel masks (`dependencyGroups:
   * "auto"` of `prune`) and remove the emptied channels from the written model
   * (`removeChannels`, on the masked model as written, so it keeps the masked model's outputs;
   * counts that were multiples of `channelMultiple` stay multiples of it). Default `false`.
   */
  readonly removeChannels?: boolean;
  /**
   * With `removeChannels`: output channel counts that were multiples of this stay multiples of
   * it, by keeping some removable channels (`removeChannels`' `channelMultiple`). Default 8:
   * onnxruntime's blocked (NCHWc) CPU convolutions need multiples of 8, and small models whose
   * time goes to per-node work run slower without them (the PP-OCR classifier at 25%: 0.85x
   * of dense with 1, 1.17x with 8). Models whose time goes to convolutions on large maps gain
   * more from exact removal (the detector at 25%: 1.38x with 1, 1.22x with 8, CPU time, one
   * thread). 1 removes every emptied channel.
   */
  readonly channelMultiple?: number;
  /** A label for the report (default: the mode). */
  readonly label?: string;
  /**
   * Return an ONNX model quantized to QDQ storage (without `fuse_names`, without external
   * data) as `parts` instead of `bytes` (default `false`): each weight's codes are made as the
   * file is written (`writeOnnxParts` to a file, `assembleOnnxParts` for bytes), so the whole
   * output is never held. Every other output comes as `bytes`.
   */
  readonly deferOnnx?: boolean;
  /** Called as work advances. */
  readonly onProgress?: Progress;
  /** A clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

/** The compressed file and its report. */
export interface Compressed {
  /** The new file, in the input's format (TensorFlow.js: `model.json`); empty with `parts`. */
  readonly bytes: Uint8Array;
  /**
   * With `options.deferOnnx`, a QDQ ONNX model as pieces (`editOnnxParts`): write them once
   * with `writeOnnxParts`, or make the bytes with `assembleOnnxParts`, before the model is
   * changed.
   */
  readonly parts?: OnnxParts;
  /**
   * ONNX with external data (`options.externalData`): the data file `bytes` refers to, by its
   * location relative to the model's folder. Write it before the model.
   */
  readonly externalData?: { readonly location: string; readonly bytes: Uint8Array };
  /** TensorFlow.js: every file by name, `model.json` first, then the shards. */
  readonly files?: ReadonlyMap<string, Uint8Array>;
  /**
   * Safetensors in the compressed-tensors format: the `quantization_config` for the model's
   * `config.json` (`writeQuantizationConfig` writes it).
   */
  readonly quantizationConfig?: CompressedTensorsConfig;
  /** What was done, per layer, with sizes. */
  readonly report: CompressionReport;
}

/**
 * A `prune` metric that ranks the weights pruned by output channel by `channelRemovalScores`
 * (computed once, at the first target, for every such module the scores can follow); other
 * targets get the pruner's metric.
 */
function removalScoresMetric(
  onnx: OnnxModel,
  graph: ModelGraph,
  batches: readonly Record<string, CalibrationTensor>[],
  ort: OrtLike,
  pruner: PrunerName,
  inputNorms: Readonly<Record<string, Float32Array>> | undefined,
  progress: Progress,
): NonNullable<PruneOptions["metricOf"]> {
  let scores: Promise<Record<string, Float32Array>> | undefined;
  return async (target, ref, targets) => {
    scores ??= (async () => {
      progress("calibrate", 0, 1);
      const modules = [
        ...new Set(
          targets.filter((t) =>
            t.kind === "parameter" && t.target === "weight" && (t.shape?.length ?? 0) >= 2
          ).map((t) => t.module),
        ),
      ];
      const got = await channelRemovalScores(onnx, batches as Record<string, InputTensor>[], {
        ort,
        model: graph,
        modules,
        skip: true,
      });
      progress("calibrate", 1, 1);
      return got;
    })();
    const metric = parameterMetric(await ref.data(), target, {
      pruner,
      inputNorm: inputNorms?.[target.module],
    });
    const own = (await scores)[target.module];
    // only where the blocks are whole output channels (rows)
    const shape = target.shape ?? [];
    const rows = shape[0] ?? 0;
    const whole = shape.reduce((a, d) => a * d, 1) > rows && metric.length === rows;
    return target.target === "weight" && own !== undefined && own.length === rows && whole
      ? own
      : metric;
  };
}

/** The masked ONNX model refit layer by layer against the original (`reconstructOnnx`). */
async function reconstructed(
  original: OnnxModel,
  masked: Uint8Array,
  cal: NonNullable<CompressOptions["reconstruct"]>,
  progress: Progress,
  warnings: string[],
): Promise<Uint8Array> {
  const batches: Record<string, CalibrationTensor>[] = [];
  for await (const b of cal.batches as AsyncIterable<Record<string, CalibrationTensor>>) {
    batches.push(b);
  }
  progress("reconstruct", 0, 1);
  const run = await reconstructOnnx(
    original,
    decodeOnnx(masked, { file: original.file }),
    batches,
    {
      ort: cal.ort,
      onLayer: (_m, i, n) => progress("reconstruct", i + 1, n),
      ...(cal.select === undefined ? {} : { select: cal.select }),
      ...(cal.depthwise === undefined ? {} : { depthwise: cal.depthwise }),
      ...(cal.minRowsPerColumn === undefined ? {} : { minRowsPerColumn: cal.minRowsPerColumn }),
    },
  );
  for (const w of run.warnings) warnings.push(`reconstruct: ${w}`);
  return run.bytes;
}

/** The names of a tfjs graph model's ReLU6 outputs: `Relu6` nodes and ops with one fused. */
function relu6Outputs(model: Extract<LoadedModel, { format: "tfjs" }>["tfjs"]): string[] {
  const nodes = (model.json.modelTopology as { node?: unknown } | undefined)?.node;
  if (!Array.isArray(nodes)) return [];
  return (nodes as { name: string; op: string; attr?: Record<string, unknown> }[]).filter((n) => {
    if (n.op === "Relu6") return true;
    const fused = (n.attr?.fused_ops as { list?: { s?: unknown[] } } | undefined)?.list?.s ?? [];
    return fused.some((f) => {
      try {
        return atob(String(f)) === "Relu6";
      } catch {
        return false;
      }
    });
  }).map((n) => n.name);
}

/** What `saveQuantized` does beyond NNI's values for a tfjs model (see `CompressOptions`). */
interface TfjsQuantizeOptions {
  readonly runtime?: TfjsRuntimeOption;
  readonly inputs?: readonly TfjsInputSet[];
  readonly biasCorrection?: boolean;
  readonly measureHeadroom?: boolean;
  readonly gptqRounding?: boolean;
  readonly channelScales?: boolean;
}

/** The quantized file in the requested storage; `auto` falls back to float with a reason. */
async function saveQuantized(
  model: LoadedModel,
  result: QuantizeResult,
  storage: "auto" | "float" | "int" | "compressed-tensors",
  shardBytes?: number,
  headroom?: number,
  defer = false,
  tfjs: TfjsQuantizeOptions = {},
): Promise<
  {
    bytes: Uint8Array;
    parts?: OnnxParts;
    files?: ReadonlyMap<string, Uint8Array>;
    storage: "float" | "qdq" | "int" | "compressed-tensors";
    reason?: string;
    warnings?: readonly string[];
    quantizationConfig?: CompressedTensorsConfig;
  }
> {
  if (model.format === "tfjs") {
    // tfjs stores uint8/uint16 codes per tensor (int) or the stored types (float); no QDQ.
    if (result.model !== model.graph) {
      throw new QuantizationError(
        "storage",
        "fuse_names needs an ONNX or safetensors source: the model is TensorFlow.js",
      );
    }
    const kind = storage === "float" ? "float" : "int";
    const { runtime: tfjsRuntime, inputs: tfjsInputs } = tfjs;
    const biasCorrection = tfjs.biasCorrection === true;
    const measureHeadroom = tfjs.measureHeadroom !== false;
    // Measured against the original files (before any equalization).
    const sensitivity =
      tfjsRuntime === undefined || kind !== "int" || headroom === 0 || !measureHeadroom ||
        model.tfjs.kind === "weights-manifest"
        ? undefined
        : await tfjsSensitivity(
          tfjsRuntime as TfjsRuntime,
          model.files,
          tfjsInputs === undefined ? {} : { inputs: tfjsInputs },
        );
    let inputMeans: Map<string, Float64Array> | undefined;
    // The model as it is quantized (equalized, if so), encoded once for the tfjs runs.
    let encoded: Map<string, Uint8Array> | undefined;
    const unquantized = () => {
      if (encoded === undefined) {
        const w = encodeTfjs(model.tfjs, new Map(), { shardBytes: Number.MAX_SAFE_INTEGER });
        encoded = new Map([["model.json", w.modelJson], ...w.shards]);
      }
      return encoded;
    };
    let rounded: Map<string, Float32Array> | undefined;
    let tooWide: string[] = [];
    if (tfjs.gptqRounding === true && kind === "int") {
      const targets = await tfjsUint8Grids(model.tfjs, model.graph, result.params, {
        channelScales: tfjs.channelScales,
        headroom: headroom ?? 0.02,
        biasCorrection,
      });
      ({ rounded, tooWide } = await gptqTfjsRounding(
        tfjsRuntime as TfjsRuntime,
        model.tfjs,
        unquantized(),
        targets,
        tfjsInputs!,
      ));
    }
    if (biasCorrection && kind === "int") {
      const names = [...new Set(tfjsBiasSites(model.tfjs).map((s) => s.input))];
      inputMeans = names.length === 0 ? new Map() : await tfjsInputMeans(
        tfjsRuntime as TfjsRuntime,
        unquantized(),
        tfjsInputs!,
        names,
      );
    }
    let out;
    try {
      out = await quantizedTfjs(model.tfjs, model.graph, result.params, {
        storage: kind,
        shardBytes,
        headroom: headroom ?? 0.02,
        ...(sensitivity === undefined ? {} : { measure: sensitivity.measure }),
        ...(inputMeans === undefined ? {} : { inputMeans }),
        ...(rounded === undefined ? {} : { rounded }),
        ...(tfjs.channelScales === true ? { channelScales: true } : {}),
      });
    } finally {
      sensitivity?.dispose();
    }
    const saved = tfjsSaved(out);
    const warnings = [...out.warnings];
    const layersModel = model.tfjs.kind === "layers-model";
    if (inputMeans !== undefined) {
      warnings.push(
        `bias correction: the expected output shift of ${out.biasCorrected.length} layer(s) ` +
          `taken out of their biases (means of ${inputMeans.size} layer input(s) on ` +
          `${tfjsInputs!.length} input set(s))` +
          (out.biasAdded.length === 0
            ? ""
            : `; ${out.biasAdded.length} of them had no bias and were given one (${
              layersModel ? "use_bias" : "fused BiasAdd"
            }): ${out.biasAdded.map((a) => a.node).join(", ")}`) +
          (out.biasSkipped.length === 0
            ? ""
            : `; ${out.biasSkipped.length} quantized layer(s) have no bias to take it: ${
              out.biasSkipped.join(", ")
            }`),
      );
    }
    if (rounded !== undefined) {
      warnings.push(
        `GPTQ rounding: ${out.gptqRounded.length} uint8 kernel(s) rounded against the second ` +
          `moments of their inputs on ${tfjsInputs!.length} input set(s) (the same grids)` +
          (tooWide.length === 0
            ? ""
            : `; ${tooWide.length} left to nearest rounding, more than ${GPTQ_MAX_INPUTS} inputs per output: ${
              tooWide.join(", ")
            }`),
      );
    }
    if (out.channelScaled.length > 0 || out.channelScalesDropped.length > 0) {
      const dropped = out.channelScalesDropped;
      warnings.push(
        `channel scales: ${out.channelScaled.length} kernel(s) quantized per channel stored as ` +
          `codes on one grid, their scales applied after the layer (${
            layersModel ? "a 1x1 DepthwiseConv2D or a BatchNormalization layer" : "a Mul node"
          }): ${
            out.channelScaled.map((c) => `${c.name} (scales ${c.storage})`).join(", ") || "none"
          }` +
          (dropped.length === 0 ? "" : `; ${dropped.length} kernel(s) whose scales did not fit ` +
            `the size budget (${((headroom ?? 0.02) * 100).toFixed(1)}% headroom; ${
              dropped.reduce((n, d) => n + d.scaleBytes, 0)
            } bytes of scales) quantized per tensor, as listed above`),
      );
    }
    if (out.upgraded.length > 0) {
      const pct = `${((headroom ?? 0.02) * 100).toFixed(1)}%`;
      const why = sensitivity === undefined
        ? "whose channels lose the most to one grid per tensor"
        : "whose 16-bit storage raised the measured output cosine the most per byte";
      warnings.push(
        `${out.upgraded.length} uint8 weight(s) ${why} ` +
          `stored at 16 bits within the ${pct} headroom: ${
            out.upgraded.map((u) => `${u.name} (${u.storage})`).join(", ")
          }`,
      );
    }
    return { bytes: saved, files: saved.files, storage: kind, warnings };
  }
  if (storage === "float") return { bytes: await result.save("float"), storage: "float" };
  if (storage === "compressed-tensors" && model.format !== "safetensors") {
    throw new QuantizationError(
      "storage",
      `storage "compressed-tensors" needs a safetensors model: the model is ${model.format}`,
    );
  }
  // Safetensors: compressed-tensors when the scheme fits it, else integer codes with scales and
  // zero points, which hold every granularity, so `auto` always shrinks the file (layouts:
  // docs/quantization.md, `streamCompressedTensors`, `quantizedSafetensors`).
  if (model.format === "safetensors") {
    const fit = storage === "int"
      ? undefined
      : compressedTensorsScheme(result.model, result.params);
    if (fit?.fits === true) {
      const { bytes, config } = await compressedTensorsSafetensors(result.model, result.params);
      return { bytes, storage: "compressed-tensors", quantizationConfig: config };
    }
    if (storage === "compressed-tensors") {
      throw new QuantizationError("storage", fit?.reason ?? "no weight is quantized");
    }
    return {
      bytes: await result.save("int"),
      storage: "int",
      ...(fit === undefined ? {} : {
        warnings: [
          `stored in nncompress's integer layout (quantized-v1), not compressed-tensors: ${fit.reason}`,
        ],
      }),
    };
  }
  try {
    if (defer && model.format === "onnx" && result.model === model.graph) {
      const parts = qdqOnnxParts(model.onnx, model.graph, result.params);
      return { bytes: new Uint8Array(0), parts, storage: "qdq" };
    }
    return { bytes: await result.save("qdq"), storage: "qdq" };
  } catch (e) {
    // Only a target QDQ cannot store (a block granularity, a shared tensor, a dtype other than
    // float32, float16 or bfloat16)
    // falls back; every other error is the caller's to see.
    if (storage === "int" || !(e instanceof QuantizationError && e.code === "storage")) throw e;
    return { bytes: await result.save("float"), storage: "float", reason: e.message };
  }
}

/**
 * GPTQ's result in an integer storage, with GPTQ's own codes, scales and zero points: ONNX
 * `int` (QDQ) or `nbits` (MatMulNBits), safetensors `int` or `compressed-tensors`; `auto` picks
 * QDQ or compressed-tensors (else integer safetensors) and falls back to float with a reason.
 * `written` is the model with the weights already on the grid (the float storage).
 */
async function savedGptq(
  written: LoadedModel,
  run: GptqTensors,
  storage: "auto" | "int" | "nbits" | "compressed-tensors",
  blockSize: number | undefined,
): Promise<{
  bytes: Uint8Array;
  storage: "float" | "qdq" | "int" | "nbits" | "compressed-tensors";
  reason?: string;
  quantizationConfig?: CompressedTensorsConfig;
}> {
  const format = written.format;
  if (format === "tfjs") throw new TypeError("GPTQ runs ONNX and safetensors models");
  if (storage === "nbits" && format !== "onnx") {
    throw new TypeError(`storage "nbits" needs an ONNX model: the model is ${format}`);
  }
  if (storage === "compressed-tensors" && format !== "safetensors") {
    throw new QuantizationError(
      "storage",
      `storage "compressed-tensors" needs a safetensors model: the model is ${format}`,
    );
  }
  if (format === "onnx" && storage === "nbits") {
    // GPTQ's grid as MatMulNBits codes: the compensated weights sit on it, so the codes are
    // GPTQ's. Act-order groups (without static groups) are not blocks along K: each input's
    // group goes in MatMulNBits' g_idx.
    const indexed = run.grids === undefined;
    const grids = run.grids ?? new Map(
      [...(run.results ?? [])].map(([module, r]) => [module, {
        scale: r.scale,
        zeroPoint: r.zeroPoint,
        qmin: 0,
        qmax: 2 ** (run.bits ?? 4) - 1,
        groupSize: run.groupSize ?? -1,
      }]),
    );
    const group = run.groupSize ?? -1;
    const bs = blockSize ?? (group === -1 ? NBITS_BLOCK_SIZE : group);
    if (indexed && (run.bits ?? 4) > 4) {
      throw new QuantizationError(
        "storage",
        `storage "nbits" holds GPTQ's act-order groups with g_idx for 4-bit codes only (onnxruntime's kernel): the result has ${run.bits} bits; store it as float, or quantize with static groups`,
      );
    }
    const { bytes } = await weightOnlyOnnx(written.onnx, written.graph, {
      bits: (run.bits ?? 4) <= 4 ? 4 : 8,
      blockSize: bs,
      scheme: "affine",
      modules: [...grids.keys()],
      grids,
      ...(indexed
        ? {
          groupIndex: new Map([...(run.results ?? [])].map(([m, r]) => [m, r.groupIndex])),
        }
        : {}),
    });
    return { bytes, storage: "nbits" };
  }
  const params = run.params;
  if (params === undefined && format === "safetensors" && run.indexed !== undefined) {
    // Act-order groups: compressed-tensors holds them with weight_g_idx (actorder "group").
    const options = { groupIndex: run.indexed.groupIndex };
    const fit = storage === "int"
      ? undefined
      : compressedTensorsScheme(written.graph, run.indexed.params, options);
    if (fit?.fits === true) {
      const { bytes, config } = await compressedTensorsSafetensors(
        written.graph,
        run.indexed.params,
        options,
      );
      return { bytes, storage: "compressed-tensors", quantizationConfig: config };
    }
    if (storage === "compressed-tensors") {
      throw new QuantizationError("storage", fit?.reason ?? "no weight is quantized");
    }
  }
  if (params === undefined) {
    const reason = run.paramsReason ?? "no grid";
    if (storage !== "auto") {
      throw new QuantizationError(
        "storage",
        `storage "${storage}" cannot hold this GPTQ result: ${reason}; store it as float${
          format === "onnx"
            ? ", as MatMulNBits (storage nbits, with g_idx)"
            : ", as compressed-tensors (with weight_g_idx)"
        }, or quantize with static groups`,
      );
    }
    return { bytes: written.bytes, storage: "float", reason };
  }
  if (format === "onnx") {
    try {
      return { bytes: await qdqOnnx(written.onnx, written.graph, params), storage: "qdq" };
    } catch (e) {
      if (storage === "int" || !(e instanceof QuantizationError && e.code === "storage")) throw e;
      return { bytes: written.bytes, storage: "float", reason: e.message };
    }
  }
  const fit = storage === "int" ? undefined : compressedTensorsScheme(written.graph, params);
  if (fit?.fits === true) {
    const { bytes, config } = await compressedTensorsSafetensors(written.graph, params);
    return { bytes, storage: "compressed-tensors", quantizationConfig: config };
  }
  if (storage === "compressed-tensors") {
    throw new QuantizationError("storage", fit?.reason ?? "no weight is quantized");
  }
  return { bytes: await quantizedSafetensors(written.graph, params), storage: "int" };
}

/**
 * Compresses a model with a config list using the project's engines — the config layer resolves
 * the targets, the pruning engine (`prune`) computes metrics and masks, or the quantization
 * engine (`quantizeWeights`) computes scales and zero points; the result is written into a file
 * of the same format. Masked weights replace the originals (ONNX: only the changed tensors are
 * re-encoded). Quantized weights are stored as `options.storage` says: integer codes with
 * `DequantizeLinear` nodes in ONNX when possible, else float values on the integer grid,
 * `(q - zero_point) * scale`, which run anywhere the original ran.
 *
 * @param model A model from `loadModel`.
 * @param options The mode, config list, algorithm and progress callback.
 * @returns The new file bytes and the report (no evaluation yet).
 * @throws {ConfigError} When the config list is invalid for the model (every issue, with paths).
 * @throws {PruningError} When a pruning setting cannot apply (names module, target and config).
 * @throws {TypeError} For an unknown algorithm.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { compressModel } from "./compress_model.ts";
 * import { loadModel } from "./load_model.ts";
 *
 * const data = new Float32Array([0.1, -4, 2, 0.3, -0.2, 1]);
 * const model = loadModel(writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data }]), "m.safetensors");
 * const { report } = await compressModel(model, {
 *   mode: "pruning",
 *   configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
 * });
 * assert.equal(report.layers[0].sparsity, 0.5);
 * ```
 */
export async function compressModel(
  model: LoadedModel,
  options: CompressOptions,
): Promise<Compressed> {
  const now = options.now ?? (() => performance.now());
  const start = now();
  const progress: Progress = options.onProgress ?? (() => {});
  if (options.mode !== "pruning" && options.mode !== "quantization") {
    throw new TypeError(
      `"mode" must be pruning or quantization: current value is ${JSON.stringify(options.mode)}`,
    );
  }
  const { algorithm, pruner, layerwise } = compressorFor(options.mode, options.algorithm);
  if (
    options.reconstruct !== undefined &&
    (options.mode !== "pruning" || model.format !== "onnx" || layerwise !== undefined)
  ) {
    throw new TypeError(
      `"reconstruct" refits ONNX models pruned with masks: the mode is ${options.mode}, the model ${model.format}, the algorithm ${algorithm}`,
    );
  }
  if (model.format === "onnx") {
    const t = model.onnx.tensors.find((t) => t.storage.kind === "external");
    if (t !== undefined && t.storage.kind === "external") {
      throw new TypeError(
        `tensor ${JSON.stringify(t.name)} is stored in the external data file ${
          JSON.stringify(t.storage.location)
        }, which was not given: load the model with its data files (loadModel(bytes, name, { externalData }))`,
      );
    }
  }
  if (model.format === "tfjs" && model.tfjs.kind === "weights-manifest") {
    // No topology: nothing to run, and no graph to rescale or to store channel scales in.
    const needs = [
      ["biasCorrection", "bias correction"],
      ["gptqRounding", "GPTQ rounding"],
      ["channelScales", "channel scales"],
      ["equalize", "equalization"],
      ["tfjsInputs", "activation calibration"],
      ["measureHeadroom", "a measured headroom"],
    ] as const;
    const asked = needs.filter(([key]) =>
      key === "tfjsInputs" ? options.tfjsInputs !== undefined : options[key] === true
    );
    if (asked.length > 0) {
      throw new TypeError(
        `${asked.map(([, what]) => what).join(", ")} needs the model's topology: ${NOT_RUNNABLE}`,
      );
    }
  }
  if (
    options.channelScales === true &&
    (model.format !== "tfjs" || options.mode !== "quantization")
  ) {
    throw new TypeError(
      `"channelScales" stores per-channel kernels of quantized TensorFlow.js models: ` +
        `the model is ${model.format}, the mode ${options.mode}`,
    );
  }
  for (const key of ["biasCorrection", "gptqRounding"] as const) {
    if (options[key] !== true) continue;
    if (model.format !== "tfjs" || options.mode !== "quantization") {
      throw new TypeError(
        `"${key}" ${
          key === "biasCorrection" ? "corrects the biases" : "rounds the kernels"
        } of quantized TensorFlow.js models: the model is ${model.format}, the mode ${options.mode}`,
      );
    }
    if (options.tfjsRuntime === undefined || options.tfjsInputs === undefined) {
      throw new TypeError(
        `"${key}" needs "tfjsRuntime" and "tfjsInputs" (calibration inputs): ${
          options.tfjsRuntime === undefined ? "tfjsRuntime" : "tfjsInputs"
        } is missing`,
      );
    }
  }
  let equalized: string | undefined;
  if (options.equalize === true) {
    if (model.format !== "tfjs" || options.mode !== "quantization") {
      throw new TypeError(
        `"equalize" rescales the weights of TensorFlow.js models before quantization: the model is ${model.format}, the mode ${options.mode}`,
      );
    }
    let activationMax: Map<string, Float64Array> | undefined;
    if (options.tfjsRuntime !== undefined && options.tfjsInputs !== undefined) {
      // ReLU6 outputs: which channels reach the clip on the calibration inputs.
      const names = relu6Outputs(model.tfjs);
      if (names.length > 0) {
        const stats = await tfjsChannelStats(
          options.tfjsRuntime as TfjsRuntime,
          model.files,
          options.tfjsInputs,
          names,
        );
        activationMax = new Map([...stats].map(([k, v]) => [k, v.max]));
      }
    }
    const eq = equalizeTfjs(model.tfjs, {
      ...(activationMax === undefined ? {} : { activationMax }),
      ...(options.equalizeFloat16 === true ? { float16: true } : {}),
    });
    model = { ...model, tfjs: eq.model, graph: tfjsModel(eq.model) };
    equalized =
      `equalize: ${eq.pairs.length} pair(s) of ${
        model.tfjs.kind === "layers-model" ? "layers" : "convolutions"
      } rescaled per channel ` +
      `before quantization (cross-layer equalization; the float function is unchanged` +
      (activationMax === undefined
        ? ")"
        : `; ${eq.relu6.pairs} pair(s) through a ReLU6, ${eq.relu6.clipped} of their ` +
          `${eq.relu6.channels} channels reach 3, half the clip, on the calibration inputs and ` +
          `keep their scale, the others stay below 3 after scaling on them)`);
  }
  // The config list is resolved once; every stage below takes this plan. SparseGPT works
  // element by element: the plan takes Level's defaults.
  const registry = options.registry === undefined ? {} : { registry: options.registry };
  // ONNX float16 without a config list converts the whole model.
  const wholeModel = options.mode === "quantization" && options.storage === "float16" &&
    model.format === "onnx" && options.configList === undefined;
  const plan = wholeModel
    ? planQuantization(model.graph, [])
    : options.mode === "pruning"
    ? resolvePlan(moduleInfos(model.graph), options.configList, "pruning", {
      algorithm: layerwise === "sparsegpt" ? "LevelPruner" : algorithm,
      ...registry,
    })
    : planQuantization(model.graph, options.configList, { algorithm, ...registry });
  let bytes: Uint8Array;
  let parts: OnnxParts | undefined;
  let files: ReadonlyMap<string, Uint8Array> | undefined;
  let storage:
    | "float"
    | "qdq"
    | "int"
    | "nbits"
    | "float16"
    | "dynamic"
    | "bnb4"
    | "compressed-tensors" = "float";
  let quantizationConfig: CompressedTensorsConfig | undefined;
  let changes: TensorChange[];
  let activations: LayerReport[] = [];
  const warnings: string[] = equalized === undefined ? [] : [equalized];
  if (layerwise !== undefined) {
    const wanted = options.storage ?? "auto";
    if (
      layerwise === "sparsegpt" ? wanted !== "auto" && wanted !== "float" : ![
        "auto",
        "float",
        "int",
        "nbits",
        "compressed-tensors",
      ].includes(wanted)
    ) {
      throw new TypeError(
        `${algorithm} writes the model with its compensated weights in their float type${
          layerwise === "gptq"
            ? ", as integer codes on its grid (storage auto, int, compressed-tensors) or as MatMulNBits (storage nbits)"
            : ""
        }: storage "${options.storage}" is not available for it`,
      );
    }
    const pattern = options.pattern;
    if (pattern !== undefined && layerwise !== "sparsegpt") {
      throw new TypeError(`an N:M pattern goes with SparseGPT: the algorithm is ${algorithm}`);
    }
    if (options.gptq !== undefined && layerwise !== "gptq") {
      throw new TypeError(`"gptq" options go with GPTQ: the algorithm is ${algorithm}`);
    }
    const cal = options.layerInputs ?? options.calibration;
    const run: GptqTensors = layerwise === "gptq"
      ? await gptqTensors(model, plan, cal, progress, options.gptq)
      : await sparseGptTensors(model, plan, cal, pattern, progress);
    ({ bytes, changes } = run);
    for (const w of plan.warnings) warnings.push(`${w.path}: ${w.message}`);
    for (const w of run.warnings) warnings.push(w);
    if (layerwise === "gptq" && changes.length > 0 && wanted !== "float") {
      const saved = await savedGptq(
        loadModel(bytes, model.name),
        run,
        wanted as "auto" | "int" | "nbits" | "compressed-tensors",
        options.blockSize,
      );
      bytes = saved.bytes;
      storage = saved.storage;
      quantizationConfig = saved.quantizationConfig;
      if (saved.reason !== undefined) {
        warnings.push(`GPTQ's weights are stored as float values on its grid: ${saved.reason}`);
      }
    }
  } else if (options.mode === "pruning") {
    let inputNorms: Record<string, Float32Array> | undefined;
    if (pruner?.name === "wanda") {
      const cal = options.calibration;
      if (cal === undefined || model.format !== "onnx") {
        throw new TypeError(
          `the wanda pruner needs an ONNX model and calibration batches (its metric is |w| times each input feature's L2 norm over them): ${
            cal === undefined ? "no calibration was given" : `the model is ${model.format}`
          }`,
        );
      }
      progress("calibrate", 0, 1);
      inputNorms = await wandaInputNorms(model.onnx, cal.batches, {
        ort: cal.ort,
        model: model.graph,
      });
      progress("calibrate", 1, 1);
    }
    // "removal-scores": channels ranked on the reconstruction batches (read once, kept for it)
    let reconstruct = options.reconstruct;
    let metricOf: PruneOptions["metricOf"];
    if (reconstruct?.rankChannels === "removal-scores" && model.format === "onnx") {
      const batches: Record<string, CalibrationTensor>[] = [];
      for await (
        const b of reconstruct.batches as AsyncIterable<Record<string, CalibrationTensor>>
      ) batches.push(b);
      reconstruct = { ...reconstruct, batches };
      metricOf = removalScoresMetric(
        model.onnx,
        model.graph,
        batches,
        reconstruct.ort,
        compressorFor("pruning", algorithm).pruner!.name,
        inputNorms,
        progress,
      );
    } else if (reconstruct?.rankChannels !== undefined && reconstruct.rankChannels !== "metric") {
      throw new TypeError(
        `"reconstruct.rankChannels" must be "metric" or "removal-scores" (ONNX models): current value is ${
          String(reconstruct.rankChannels)
        }, the model ${model.format}`,
      );
    }
    const run = await pruneTensors(
      model.graph,
      plan,
      algorithm,
      progress,
      inputNorms,
      options.inPlace === true && model.format === "safetensors"
        ? (result) => inPlaceSafetensorsWriter(model.safetensors, result)
        : undefined,
      options.removeChannels === true ? "auto" : undefined,
      metricOf,
    );
    changes = run.changes;
    for (const w of run.warnings) warnings.push(w);
    progress("write", 0, 1);
    if (model.format === "tfjs") {
      const saved = tfjsSaved(
        await prunedTfjs(model.tfjs, run.result, { shardBytes: options.shardBytes }),
      );
      bytes = saved;
      files = saved.files;
    } else if (model.format === "onnx") {
      bytes = await prunedOnnx(model.onnx, run.result);
      if (reconstruct !== undefined) {
        bytes = await reconstructed(model.onnx, bytes, reconstruct, progress, warnings);
      }
    } else if (run.writtenInPlace) {
      bytes = model.bytes;
    } else {
      bytes = await prunedSafetensors(model.safetensors, run.result);
    }
  } else if (
    options.mode === "quantization" && options.storage === "float16" && model.format === "onnx"
  ) {
    const run = await halfOnnx(
      model.onnx,
      model.graph,
      wholeModel ? undefined : plan,
      progress,
      options.float16,
    );
    ({ bytes, changes } = run);
    warnings.push(...run.warnings);
    storage = "float16";
  } else if (options.mode === "quantization" && options.storage === "float16") {
    if (model.format !== "tfjs") {
      throw new TypeError(
        `storage "float16" needs a TensorFlow.js or ONNX model: current format is ${model.format}`,
      );
    }
    const run = await halfTensors(
      model.tfjs,
      model.graph,
      options.configList,
      progress,
      options.shardBytes,
    );
    ({ bytes, files, changes } = run);
    warnings.push(...run.warnings);
    storage = "float";
  } else if (options.mode === "quantization" && options.storage === "nbits") {
    if (model.format !== "onnx") {
      throw new TypeError(`storage "nbits" needs an ONNX model: current format is ${model.format}`);
    }
    const run = await weightOnlyTensors(
      model.onnx,
      model.graph,
      plan,
      options.blockSize ?? NBITS_BLOCK_SIZE,
      progress,
      options.nbits,
    );
    ({ bytes, changes } = run);
    for (const w of run.warnings) warnings.push(w);
    storage = "nbits";
  } else if (
    options.mode === "quantization" &&
    (options.storage === "dynamic" || options.storage === "bnb4")
  ) {
    if (model.format !== "onnx") {
      throw new TypeError(
        `storage "${options.storage}" needs an ONNX model: current format is ${model.format}`,
      );
    }
    const run = options.storage === "dynamic"
      ? await dynamicTensors(model.onnx, model.graph, plan, options.dynamic ?? {}, progress)
      : await bnb4Tensors(model.onnx, model.graph, plan, {
        ...(options.bnb4?.quantType === undefined ? {} : { quantType: options.bnb4.quantType }),
        ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
      }, progress);
    ({ bytes, changes } = run);
    for (const w of run.warnings) warnings.push(w);
    storage = options.storage;
  } else if (options.mode === "quantization") {
    const cal = options.calibration;
    if (cal !== undefined && model.format !== "onnx") {
      throw new TypeError(`calibration runs ONNX models: the model is ${model.format}`);
    }
    const run = await quantizeTensors(
      model.graph,
      plan,
      algorithm,
      progress,
      cal === undefined || model.format !== "onnx" ? undefined : { ...cal, onnx: model.onnx },
    );
    changes = run.changes;
    activations = run.activations;
    for (const w of run.warnings) warnings.push(w);
    progress("write", 0, 1);
    const saved = await saveQuantized(
      model,
      run.result,
      (options.storage ?? "auto") as "auto" | "float" | "int" | "compressed-tensors",
      options.shardBytes,
      options.headroom,
      options.deferOnnx === true && options.externalData?.always !== true,
      {
        runtime: options.tfjsRuntime,
        inputs: options.tfjsInputs,
        biasCorrection: options.biasCorrection,
        measureHeadroom: options.measureHeadroom,
        gptqRounding: options.gptqRounding,
        channelScales: options.channelScales,
      },
    );
    bytes = saved.bytes;
    parts = saved.parts;
    quantizationConfig = saved.quantizationConfig;
    files = saved.files;
    storage = saved.storage;
    warnings.push(...(saved.warnings ?? []));
    if (saved.reason !== undefined) {
      warnings.push(`quantized weights are stored as float (fake-quantized): ${saved.reason}`);
    }
    if (storage === "float" && activations.length > 0) {
      warnings.push(
        `${activations.length} input/output targets have ranges in the report only: ` +
          "float storage has no place for activation quantization (use qdq storage)",
      );
    }
  } else {
    throw new TypeError(
      `"mode" must be pruning or quantization: current value is ${JSON.stringify(options.mode)}`,
    );
  }
  if (options.channelMultiple !== undefined && options.removeChannels !== true) {
    throw new TypeError(
      `"channelMultiple" goes with "removeChannels": true (current value of "removeChannels" is ${
        JSON.stringify(options.removeChannels)
      })`,
    );
  }
  if (options.removeChannels === true) {
    if (options.mode !== "pruning" || model.format !== "onnx") {
      throw new TypeError(
        `"removeChannels" goes with pruning an ONNX model: the mode is ${options.mode} and the model is ${model.format}`,
      );
    }
    // On the model as written (masked, and refit if a stage refit it): removal keeps its outputs.
    // Channel counts that were multiples of 8 stay so by default: onnxruntime's blocked (NCHWc)
    // CPU convolutions need them; the classifier at 25% runs slower than dense without (measured
    // in bench/channel_removal_bench.ts).
    bytes = (await removeChannels(decodeOnnx(bytes, { file: model.name }), undefined, {
      channelMultiple: options.channelMultiple ?? 8,
    })).bytes;
  }
  let externalData: { location: string; bytes: Uint8Array } | undefined;
  const ext = options.externalData;
  if (
    model.format === "onnx" && parts !== undefined &&
    (ext?.always === true || parts.length > (ext?.limit ?? 2_147_483_647))
  ) {
    bytes = await assembleOnnxParts(parts);
    parts = undefined;
  }
  if (
    model.format === "onnx" && parts === undefined &&
    (ext?.always === true || bytes.length > (ext?.limit ?? 2_147_483_647))
  ) {
    const location = ext?.location ?? `${model.name.split(/[\\/]/).pop()}.data`;
    const split = moveToExternalData(decodeOnnx(bytes, { file: model.name }), location);
    bytes = split.bytes;
    externalData = { location, bytes: split.data };
  }
  progress("write", 1, 1);
  const sizes = parameterSizes(model.graph);
  const unchanged = wholeModel
    ? undefined
    : plan.targets.length === 0
    ? unchangedReason(options.configList)
    : changes.length === 0 && activations.length === 0
    ? "the config list sets no sparsity or quantization for the targets it selects"
    : undefined;
  const fileBytes = files === undefined
    ? (parts?.length ?? bytes.length) + (externalData?.bytes.length ?? 0)
    : [...files.values()].reduce((n, b) => n + b.length, 0);
  return {
    bytes,
    ...(parts === undefined ? {} : { parts }),
    ...(externalData === undefined ? {} : { externalData }),
    ...(files === undefined ? {} : { files }),
    ...(quantizationConfig === undefined ? {} : { quantizationConfig }),
    report: {
      label: options.label ?? options.mode,
      model: model.name,
      format: model.format,
      mode: options.mode,
      algorithm,
      configList: options.configList,
      storage,
      before: { fileBytes: modelFileBytes(model), packedBytes: sizes.before },
      after: {
        fileBytes,
        packedBytes: writtenParameterBytes(model, sizes.before, bytes, files, parts),
      },
      parameters: sizes.parameters,
      layers: [...changes.map(layerReport), ...activations],
      warnings,
      evaluation: [],
      timeMs: now() - start,
      ...(unchanged === undefined ? {} : { unchanged }),
    },
  };
}

/** Why a run that configured no target changed nothing. */
export function unchangedReason(configList: unknown): string {
  return Array.isArray(configList) && configList.length === 0
    ? "the config list is empty"
    : "the config list selects no target of the model";
}

/**
 * The report of a model left as it is: sizes and parameter count, no layers — the baseline row
 * of a comparison.
 *
 * @param model A model from `loadModel`.
 * @param label The label (default `"original"`).
 * @returns A report with mode `none`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { describeModel } from "./compress_model.ts";
 * import { loadModel } from "./load_model.ts";
 *
 * const bytes = writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data: new Float32Array(6) }]);
 * const report = describeModel(loadModel(bytes, "m.safetensors"));
 * assert.equal(report.parameters, 6);
 * assert.equal(report.before.packedBytes, 24);
 * ```
 */
export function describeModel(model: LoadedModel, label = "original"): CompressionReport {
  const sizes = parameterSizes(model.graph);
  const size = { fileBytes: modelFileBytes(model), packedBytes: sizes.before };
  return {
    label,
    model: model.name,
    format: model.format,
    mode: "none",
    configList: [],
    before: size,
    after: size,
    parameters: sizes.parameters,
    layers: [],
    warnings: [],
    evaluation: [],
    timeMs: 0,
  };
}
