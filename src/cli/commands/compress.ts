// `nncompress prune|quantize <model> --config <c> -o <out>`.
import { FileError } from "../../io/file_error.ts";
import { readFile, writeFileAtomic } from "../../io/fs.ts";
import { type OnnxParts, writeOnnxParts } from "../../io/onnx/edit_onnx.ts";
import { saveTfjsFiles } from "../../io/tfjs/save_tfjs.ts";
import { loadTfjs } from "./_tfjs.ts";
import { formatLayers } from "../../report/format_runs.ts";
import type { CompressionReport, EvaluationResult, LatencyReport } from "../../report/types.ts";
import { writeReport } from "../../report/write_report.ts";
import { CliError, UsageError, withConfigSource } from "../cli_error.ts";
import { compressModel, type CompressOptions, STORAGES } from "../../compress/compress_model.ts";
import { pruneSafetensorsFile } from "../../compress/prune_safetensors_file.ts";
import { quantizeSafetensorsFile } from "../../compress/quantize_safetensors_file.ts";
import {
  quantizationConfigPath,
  writeQuantizationConfig,
} from "../../compress/quantization_config_file.ts";
import {
  readShardedModel,
  splitIntoShards,
  writeShardedFiles,
} from "../../compress/sharded_checkpoint.ts";
import { isShardIndexPath } from "../../io/safetensors/shard_index.ts";
import { readConfigList } from "../../compress/read_config_list.ts";
import { type Compressor, compressorFor } from "../../config/algorithms.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import {
  QuantizationError,
  type QuantizationErrorCode,
} from "../../quantization/quantization_error.ts";
import { type Command, type CommandContext, printJson } from "./_context.ts";
import { loadOrt, ocrRunner } from "./_ocr.ts";
import { readCalibration, readTfjsCalibration } from "./_calibration.ts";
import { IMAGE_FLAGS, imageOptionsOf } from "./_images.ts";
import { tfjsModelInputs } from "../../compress/compare_tfjs.ts";
import { readLayerInputs } from "../../compress/layer_inputs.ts";
import { availableThreads } from "../../compress/available_threads.ts";
import { parseShardSize } from "../../compress/parse_shard_size.ts";
import { latencyFlags, ocrLineInputs, sideBySide, timeModels } from "./_latency.ts";
import { ocrLines } from "../../compress/ocr_data.ts";
import { parseStatePairs, positiveInteger, readInputSpecs } from "./_inputs.ts";
import { compareOptionsOf, compareWithReference } from "./eval.ts";
import type { OutputComparison } from "../../compress/compare_outputs.ts";
import { formatTable } from "../../report/format_table.ts";
import { readRegistry } from "./_registry.ts";
import { fileIdentity, isFolder, makeDir, openFile } from "../../io/fs.ts";
import { decodeOnnx } from "../../io/onnx/decode_onnx.ts";
import { inlineExternalData } from "../../io/onnx/inline_external_data.ts";
import { DEFAULT_FLOAT16_OP_BLOCK_LIST } from "../../io/onnx/convert_float16.ts";
import { groupWarnings } from "../group_warnings.ts";

/** The exit code of a run that changed nothing (an empty list, or no target selected). */
export const EXIT_UNCHANGED = 3; // EXIT.unchanged in main.ts

const EXTENSION = {
  onnx: ".onnx",
  safetensors: ".safetensors",
  tfjs: ".json",
  sharded: ".safetensors.index.json",
} as const;

/** The bytes of a `--calibration` file, or a CLI error naming it. */
async function readCalibrationFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new CliError(`cannot read calibration file "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The codes of a config list that `--storage nbits` cannot store. */
const NBITS_CODES: ReadonlySet<QuantizationErrorCode> = new Set([
  "storage",
  "quant_dtype",
  "quant_scheme",
  "granularity",
]);

function checkOutput(
  output: string,
  format: keyof typeof EXTENSION,
  command: string,
): void {
  if (output.toLowerCase().endsWith(EXTENSION[format])) return;
  throw new UsageError(
    `--output must be a ${format === "sharded" ? "shard index" : `${format} file`} (${
      EXTENSION[format]
    }) like the input: current value is ${output}`,
    command,
  );
}

/** Whether a config list folds modules (`fuse_names`), which needs the model in memory. */
function hasFuseNames(configList: unknown): boolean {
  const list = Array.isArray(configList)
    ? configList
    : (configList as { config_list?: unknown[] } | null)?.config_list ?? [];
  return Array.isArray(list) &&
    list.some((c) => typeof c === "object" && c !== null && "fuse_names" in c);
}

function required(args: Parameters<Command>[0], name: string, command: string): string {
  const v = args.values[name];
  if (typeof v !== "string") throw new UsageError(`${command} needs --${name}`, command);
  return v;
}

/**
 * `--eval`: a PP-OCR model on the labelled lines; any other model against the original with
 * `compareOutputs` (its outputs are returned for the summary; each output with a class axis
 * becomes an evaluation row of top-1 agreement with the original).
 */
async function evaluate(
  ctx: CommandContext,
  args: Parameters<Command>[0],
  command: string,
  original: Uint8Array,
  compressed: Uint8Array,
): Promise<
  { results: EvaluationResult[]; outputs?: OutputComparison[]; latency: LatencyReport[] }
> {
  const ort = await loadOrt(ctx);
  const timing = latencyFlags(args, command);
  const runner = await ocrRunner(ctx, ort).catch(() => undefined);
  const task = await runner?.detect(original);
  if (runner === undefined || task === undefined) {
    const options = await compareOptionsOf(args, command);
    const outputs = await compareWithReference(ort, compressed, original, options);
    const latency = await timeModels(ctx, timing, compressed, original, {
      ...(options.inputs === undefined ? {} : { inputs: options.inputs }),
      ...(options.shape === undefined ? {} : { shape: options.shape }),
    });
    const results = outputs.flatMap((o) =>
      o.argmax === undefined ? [] : [{
        name: `${o.name}: same top-1 as the original (axis ${o.argmax.axis})`,
        correct: o.argmax.same,
        total: o.argmax.total,
        baseline: o.argmax.total,
      }]
    );
    return { results, outputs, latency };
  }
  const before = await runner.evaluate(original, task);
  const after = await runner.evaluate(compressed, task);
  const line = ocrLines(task === "recognizer" ? runner.data.rec : runner.data.cls, 0, 1);
  return {
    latency: await timeModels(
      ctx,
      timing,
      compressed,
      original,
      ocrLineInputs(original, line),
    ),
    results: [{
      name: after.name,
      correct: after.correct,
      total: after.total,
      baseline: before.correct,
    }],
  };
}

function blockSizeOf(value: unknown, storage: string | undefined, command: string) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (storage !== "nbits" && storage !== "bnb4") {
    throw new UsageError("--block-size goes with --storage nbits or bnb4", command);
  }
  if (!Number.isInteger(n) || n < 16 || (n & (n - 1)) !== 0) {
    throw new UsageError(
      `--block-size must be a power of two >= 16: current value is ${value}`,
      command,
    );
  }
  return n;
}

/** `--uint8-when-conv` and `--reduce-range`, which go with `--storage dynamic`. */
function dynamicOptionsOf(
  args: Parameters<Command>[0],
  storage: string | undefined,
  command: string,
): CompressOptions["dynamic"] {
  const uint8WhenConv = args.values["uint8-when-conv"] === true;
  const reduceRange = args.values["reduce-range"] === true;
  if (!uint8WhenConv && !reduceRange) return undefined;
  if (storage !== "dynamic") {
    throw new UsageError(
      `--${uint8WhenConv ? "uint8-when-conv" : "reduce-range"} goes with --storage dynamic`,
      command,
    );
  }
  return { uint8WhenConv, reduceRange };
}

function batchSizeOf(value: unknown, calibration: string | undefined, command: string): number {
  if (value === undefined) return 8;
  const n = Number(value);
  if (calibration === undefined) {
    throw new UsageError("--batch-size goes with --calibration", command);
  }
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(
      `--batch-size must be a positive integer: current value is ${value}`,
      command,
    );
  }
  return n;
}

/**
 * `--block-ops Resize,TopK`: the operators float16 conversion leaves in float32, replacing the
 * default list; `default` in the list stands for that list (`--block-ops default,Erf`).
 */
export function parseBlockOps(value: string): string[] {
  const ops = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  return [...new Set(ops.flatMap((o) => o === "default" ? DEFAULT_FLOAT16_OP_BLOCK_LIST : [o]))];
}

/** The folder part of a path, with its trailing separator (`""` for a bare file name). */
function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
}

/** The `prune` or `quantize` command. */
export function compressCommand(mode: "pruning" | "quantization"): Command {
  const command = mode === "pruning" ? "prune" : "quantize";
  return async (args, ctx) => {
    const [path, ...rest] = args.positionals;
    if (path === undefined) throw new UsageError(`${command} needs a model file`, command);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, command);
    const config = required(args, "config", command);
    const output = required(args, "output", command);
    const reports = (args.values.report ?? []) as string[];
    for (const r of reports) {
      if (!/\.(html?|json)$/i.test(r)) {
        throw new UsageError(`--report must end in .html or .json: current value is ${r}`, command);
      }
    }
    const storage = args.values.storage as string | undefined;
    const storages: readonly string[] = STORAGES;
    if (storage !== undefined && !storages.includes(storage)) {
      throw new UsageError(
        `--storage must be auto, float, int, nbits, float16, dynamic, bnb4 or compressed-tensors: current value is ${storage}`,
        command,
      );
    }
    const dynamic = dynamicOptionsOf(args, storage, command);
    const bnb4Type = args.values["bnb4-type"] as string | undefined;
    if (bnb4Type !== undefined && storage !== "bnb4") {
      throw new UsageError("--bnb4-type goes with --storage bnb4", command);
    }
    if (bnb4Type !== undefined && bnb4Type !== "nf4" && bnb4Type !== "fp4") {
      throw new UsageError(`--bnb4-type must be nf4 or fp4: current value is ${bnb4Type}`, command);
    }
    const shardValue = args.values["shard-bytes"];
    const shardBytes = shardValue === undefined ? undefined : Number(shardValue);
    if (shardBytes !== undefined && !(Number.isSafeInteger(shardBytes) && shardBytes > 0)) {
      throw new UsageError(
        `--shard-bytes must be a positive integer: current value is ${shardValue}`,
        command,
      );
    }
    const headroomValue = args.values.headroom as string | undefined;
    const headroom = headroomValue === undefined ? undefined : Number(headroomValue);
    if (headroom !== undefined && !(headroom >= 0 && headroom <= 1)) {
      throw new UsageError(
        `--headroom must be a number from 0 to 1: current value is ${headroomValue}`,
        command,
      );
    }
    const blockSize = blockSizeOf(args.values["block-size"], storage, command);
    const blockOps = args.values["block-ops"] as string | undefined;
    if (blockOps !== undefined && storage !== "float16") {
      throw new UsageError("--block-ops goes with --storage float16 (ONNX)", command);
    }
    const calibration = args.values.calibration as string | undefined;
    const biasCorrection = args.values["bias-correction"] === true;
    if (biasCorrection && mode !== "quantization") {
      throw new UsageError("--bias-correction goes with quantize", command);
    }
    if (biasCorrection && calibration === undefined) {
      throw new UsageError(
        "--bias-correction needs --calibration <inputs.safetensors or .npy>: the shift it takes " +
          "out of each bias is measured on calibration inputs (rows of the model's input)",
        command,
      );
    }
    const gptqRounding = args.values["gptq-rounding"] === true;
    if (gptqRounding && mode !== "quantization") {
      throw new UsageError("--gptq-rounding goes with quantize", command);
    }
    if (gptqRounding && calibration === undefined) {
      throw new UsageError(
        "--gptq-rounding needs --calibration <inputs.safetensors or .npy>: the codes are chosen " +
          "against each layer's inputs on calibration inputs (rows of the model's input)",
        command,
      );
    }
    const channelScales = args.values["channel-scales"] === true;
    if (channelScales && mode !== "quantization") {
      throw new UsageError("--channel-scales goes with quantize", command);
    }
    if (args.values["equalize-float16"] === true && args.values.equalize !== true) {
      throw new UsageError("--equalize-float16 goes with --equalize", command);
    }
    const reconstruct = args.values.reconstruct as string | undefined;
    if (reconstruct !== undefined && mode !== "pruning") {
      throw new UsageError("--reconstruct goes with prune", command);
    }
    const rankChannels = args.values["rank-channels"] as string | undefined;
    if (rankChannels !== undefined && reconstruct === undefined) {
      throw new UsageError("--rank-channels goes with --reconstruct", command);
    }
    if (
      rankChannels !== undefined && rankChannels !== "metric" && rankChannels !== "removal-scores"
    ) {
      throw new UsageError(
        `--rank-channels must be metric or removal-scores: current value is ${rankChannels}`,
        command,
      );
    }
    const skipDepthwise = args.values["skip-depthwise"] === true;
    const minRowsValue = args.values["min-rows-per-column"] as string | undefined;
    for (
      const [flag, given] of [["skip-depthwise", skipDepthwise], [
        "min-rows-per-column",
        minRowsValue !== undefined,
      ]] as const
    ) {
      if (given && reconstruct === undefined) {
        throw new UsageError(`--${flag} goes with --reconstruct`, command);
      }
    }
    const minRowsPerColumn = minRowsValue === undefined ? undefined : Number(minRowsValue);
    if (
      minRowsPerColumn !== undefined &&
      !(minRowsPerColumn >= 0 && Number.isFinite(minRowsPerColumn))
    ) {
      throw new UsageError(
        `--min-rows-per-column must be a number >= 0: current value is ${minRowsValue}`,
        command,
      );
    }
    const batchSize = batchSizeOf(
      args.values["batch-size"],
      calibration ?? reconstruct,
      command,
    );
    const algorithm = args.values.algorithm as string | undefined;
    let compressor: Compressor;
    try {
      compressor = compressorFor(mode, algorithm);
    } catch (e) {
      throw new UsageError(`--algorithm: ${(e as Error).message}`, command);
    }
    const wanda = compressor.pruner?.name === "wanda";
    if (reconstruct !== undefined && compressor.layerwise !== undefined) {
      throw new UsageError(
        `--reconstruct refits masked models; ${compressor.algorithm} compensates its own error layer by layer`,
        command,
      );
    }
    if (calibration !== undefined && mode === "pruning" && !wanda && !compressor.layerwise) {
      throw new UsageError(
        "--calibration goes with quantize and with prune -a wanda or -a SparseGPT",
        command,
      );
    }
    if (compressor.layerwise !== undefined && calibration === undefined) {
      throw new UsageError(
        `${compressor.algorithm} needs --calibration <inputs.safetensors> (or ocr-lines:<n>): it compensates each layer's error on its calibration inputs`,
        command,
      );
    }
    const patternValue = args.values.pattern as string | undefined;
    let pattern: { n: number; m: number } | undefined;
    if (patternValue !== undefined) {
      const m = /^(\d+):(\d+)$/.exec(patternValue);
      if (m === null || compressor.layerwise !== "sparsegpt" || !(+m[1] > 0 && +m[1] < +m[2])) {
        throw new UsageError(
          `--pattern takes n:m with 0 < n < m (e.g. 2:4) and goes with prune -a SparseGPT: current value is ${patternValue}`,
          command,
        );
      }
      pattern = { n: +m[1], m: +m[2] };
    }
    if (wanda && calibration === undefined) {
      throw new UsageError(
        "prune -a wanda needs --calibration <inputs.safetensors> (or ocr-lines:<n>): its metric is |w| times each input feature's L2 norm over calibration data",
        command,
      );
    }
    const actOrder = args.values["act-order"] === true;
    const staticGroups = args.values["static-groups"] === true;
    if ((actOrder || staticGroups) && compressor.layerwise !== "gptq") {
      throw new UsageError(
        `--${actOrder ? "act-order" : "static-groups"} goes with quantize -a GPTQ`,
        command,
      );
    }
    if (staticGroups && !actOrder) {
      throw new UsageError("--static-groups goes with --act-order", command);
    }
    const gptqOptions = actOrder ? { actOrder, staticGroups } : undefined;
    const state = parseStatePairs(args.values.state as string[] | undefined, command);
    if (state !== undefined && calibration !== undefined && mode === "pruning") {
      throw new UsageError(
        "--state runs stateful calibration for quantize; wanda and SparseGPT take independent batches",
        command,
      );
    }
    if (state !== undefined && compressor.layerwise !== undefined) {
      throw new UsageError(
        `--state runs stateful calibration for PtqQuantizer; ${compressor.algorithm} takes independent batches`,
        command,
      );
    }
    const evalFlags = [
      "class-axis",
      "iou",
      "mask-threshold",
      "steps",
      "runs",
      "backend",
    ];
    const stray = evalFlags.find((f) => args.values[f] !== undefined);
    if (args.values.eval !== true && stray !== undefined) {
      throw new UsageError(`--${stray} goes with --eval`, command);
    }
    for (const f of ["input", "state"]) {
      if (
        args.values[f] !== undefined && args.values.eval !== true && calibration === undefined &&
        reconstruct === undefined
      ) {
        throw new UsageError(`--${f} goes with --calibration or --eval`, command);
      }
    }
    const imageFlag = IMAGE_FLAGS.find((f) => args.values[f] !== undefined);
    if (imageFlag !== undefined && calibration === undefined && reconstruct === undefined) {
      throw new UsageError(
        `--${imageFlag} goes with --calibration <images> (a folder of .jpg/.png files or one)`,
        command,
      );
    }
    const images = imageOptionsOf(args.values, command);
    // parsed here so that a bad flag stops the run before the compression
    if (args.values.eval === true) {
      await compareOptionsOf(args, command);
      latencyFlags(args, command);
    }
    const inputSpecs = await readInputSpecs(args.values.input as string[] | undefined, command);
    const { configList, source } = await readConfigList(config);
    const registry = await readRegistry(args.values.registry, mode, command);
    const externalValue = args.values["external-data"] as string | undefined;
    if (externalValue !== undefined && !output.toLowerCase().endsWith(".onnx")) {
      throw new UsageError(
        `--external-data goes with an ONNX output: current output is ${output}`,
        command,
      );
    }
    const dataLocation = externalValue === undefined || externalValue === ""
      ? `${output.split(/[\\/]/).pop()}.data`
      : externalValue;
    if (
      dataLocation === "" || /^([\\/]|[A-Za-z]:)/.test(dataLocation) ||
      dataLocation.split(/[\\/]/).includes("..")
    ) {
      throw new UsageError(
        `--external-data must be a file name or a relative path inside the output's folder: current value is ${dataLocation}`,
        command,
      );
    }
    const removeChannels = args.values["remove-channels"] === true;
    if (removeChannels && mode !== "pruning") {
      throw new UsageError("--remove-channels goes with prune", command);
    }
    if (removeChannels && !output.toLowerCase().endsWith(".onnx")) {
      throw new UsageError(
        `--remove-channels writes ONNX models: current output is ${output}`,
        command,
      );
    }
    const channelMultiple = positiveInteger(
      args.values["channel-multiple"],
      "channel-multiple",
      command,
    );
    if (channelMultiple !== undefined && !removeChannels) {
      throw new UsageError("--channel-multiple goes with --remove-channels", command);
    }
    const allowUnchanged = args.values["allow-unchanged"] === true;
    // Worker threads of the streamed safetensors path (with --eval also onnxruntime's). By
    // default all cores, but one for a file under 64 MiB: starting workers (about 0.5 s) would
    // cost more than they save.
    const threads = args.values.threads !== undefined
      ? latencyFlags(args, command).threads
      : await smallFile(path)
      ? 1
      : await availableThreads();
    const label = `${command} ${path.split(/[\\/]/).pop()}`;
    const bar = ctx.progress(`${command} ${path}`);
    let report: CompressionReport;
    let original: Uint8Array | undefined;
    let compressed: Uint8Array | undefined;
    // A QDQ ONNX output as pieces, streamed to the file (never assembled) when nothing else
    // needs its bytes.
    let compressedParts: OnnxParts | undefined;
    let compressedFiles: ReadonlyMap<string, Uint8Array> | undefined;
    let shardedFiles: ReadonlyMap<string, Uint8Array> | undefined;
    let externalData: { location: string; bytes: Uint8Array } | undefined;
    let quantizationConfig: object | undefined;
    let sourceData: readonly string[] = [];
    // The streaming safetensors path writes the model as it goes; every other path writes it
    // last, after the reports, so a report that cannot be written leaves no model behind.
    let modelWritten = false;
    let format: string | undefined;
    try {
      const safetensors = path.toLowerCase().endsWith(".safetensors") || isShardIndexPath(path);
      // Pruning, and integer codes (safetensors' default storage), stream a safetensors file
      // tensor by tensor, whatever its size.
      const streamed = safetensors &&
        ((mode === "pruning" && compressor.layerwise === undefined) || (
          (storage === undefined || storage === "auto" || storage === "int" ||
            storage === "compressed-tensors") &&
          calibration === undefined && compressor.layerwise === undefined &&
          !hasFuseNames(configList)
        ));
      if (streamed && reconstruct !== undefined) {
        throw new UsageError("--reconstruct runs ONNX models: the model is safetensors", command);
      }
      const shardSize = args.values["max-shard-size"] as string | undefined;
      const maxShardSize = shardSize === undefined ? undefined : parseShardSize(shardSize);
      if (shardSize !== undefined && maxShardSize === undefined) {
        throw new UsageError(
          `--max-shard-size must be a size in bytes, or with a unit (500MB, 5GB, 2GiB): current value is ${shardSize}`,
          command,
        );
      }
      if (maxShardSize !== undefined && !streamed) {
        throw new UsageError(
          "--max-shard-size writes safetensors outputs of prune, and of quantize with integer storage",
          command,
        );
      }
      // Before the work: a missing folder would only fail the final write.
      if (!(await isFolder(folderOf(output) || "."))) {
        throw FileError.from("write", "output", output, "not_found");
      }
      if (streamed) {
        checkOutput(
          output,
          isShardIndexPath(path) || maxShardSize !== undefined ? "sharded" : "safetensors",
          command,
        );
        report = await (mode === "pruning" ? pruneSafetensorsFile : quantizeSafetensorsFile)(
          path,
          output,
          {
            configList,
            label,
            onProgress: bar.update,
            writeUnchanged: allowUnchanged,
            threads,
            ...(maxShardSize === undefined ? {} : { maxShardSize }),
            ...(mode === "quantization" && storage !== undefined
              ? { storage: storage as "auto" | "int" | "compressed-tensors" }
              : {}),
            ...(algorithm === undefined ? {} : { algorithm }),
            ...(registry === undefined ? {} : { registry }),
          },
        );
        modelWritten = report.unchanged === undefined || allowUnchanged;
      } else {
        const shards = isShardIndexPath(path)
          ? await readShardedModel(path, bar.update)
          : undefined;
        const model = shards?.model ?? await readModelFile(path, bar.update);
        checkOutput(output, shards === undefined ? model.format : "sharded", command);
        format = model.format;
        const layerInputs = compressor.layerwise !== undefined && model.format === "safetensors";
        // TensorFlow.js: the calibration inputs are input sets run by tfjs (bias correction,
        // ReLU6 equalization, measured headroom), not activation ranges.
        const tfjsCalibration = calibration !== undefined && model.format === "tfjs" &&
          mode === "quantization";
        if (
          calibration !== undefined && model.format !== "onnx" && !layerInputs && !tfjsCalibration
        ) {
          throw new UsageError(
            `--calibration runs ONNX models${
              compressor.layerwise === undefined
                ? ""
                : ` (and safetensors models with ${compressor.algorithm})`
            }${
              mode === "quantization" ? " and TensorFlow.js models" : ""
            }: the model is ${model.format}`,
            command,
          );
        }
        if (biasCorrection && model.format !== "tfjs") {
          throw new UsageError(
            `--bias-correction corrects the biases of TensorFlow.js models: the model is ${model.format}`,
            command,
          );
        }
        if (args.values["tfjs-setup"] !== undefined && model.format !== "tfjs") {
          throw new UsageError(
            `--tfjs-setup registers custom layers of TensorFlow.js models: the model is ${model.format}`,
            command,
          );
        }
        if (channelScales && model.format !== "tfjs") {
          throw new UsageError(
            `--channel-scales stores per-channel kernels of TensorFlow.js models: the model is ${model.format}`,
            command,
          );
        }
        if (gptqRounding && model.format !== "tfjs") {
          throw new UsageError(
            `--gptq-rounding rounds the kernels of TensorFlow.js models: the model is ${model.format} (GPTQ itself: -a GPTQ)`,
            command,
          );
        }
        const specGiven = Object.keys(inputSpecs).length > 0;
        if (tfjsCalibration && (specGiven || state !== undefined)) {
          throw new UsageError(
            `--${
              specGiven ? "input" : "state"
            } goes with ONNX calibration: a TensorFlow.js model takes every input from the --calibration file`,
            command,
          );
        }
        if (reconstruct !== undefined && model.format !== "onnx") {
          throw new UsageError(
            `--reconstruct runs ONNX models: the model is ${model.format}`,
            command,
          );
        }
        const reconstruction = reconstruct === undefined || model.format !== "onnx"
          ? undefined
          : await readCalibration(reconstruct, model, batchSize, ctx, {
            inputs: inputSpecs,
            images,
          });
        if (layerInputs && calibration?.startsWith("ocr-lines") === true) {
          throw new UsageError(
            `${compressor.algorithm} on a safetensors model takes each Linear module's input rows: --calibration <layers.safetensors> with <module>.input [rows, in] tensors (ocr-lines feeds the PP-OCR ONNX models)`,
            command,
          );
        }
        // GPTQ / SparseGPT on safetensors: each Linear module's input rows, `<module>.input`.
        const perLayer = layerInputs && calibration !== undefined
          ? readLayerInputs(await readCalibrationFile(calibration), calibration)
          : undefined;
        const cal = calibration === undefined || model.format !== "onnx"
          ? undefined
          : await readCalibration(calibration, model, batchSize, ctx, {
            inputs: inputSpecs,
            images,
            ...(state === undefined ? {} : { state }),
          });
        const tfjsRuntime = model.format === "tfjs" &&
            (tfjsCalibration || args.values["measure-headroom"] === true)
          ? await loadTfjs("cpu", args.values["tfjs-setup"] as string | undefined)
          : undefined;
        const tfjsInputs = tfjsCalibration && model.format === "tfjs"
          ? (await readTfjsCalibration(
            calibration!,
            await tfjsModelInputs(tfjsRuntime!, model.files),
            batchSize,
            images,
          )).sets
          : undefined;
        const result = await compressModel(model, {
          mode,
          configList,
          label,
          onProgress: bar.update,
          ...(algorithm === undefined ? {} : { algorithm }),
          ...(storage === undefined ? {} : { storage: storage as CompressOptions["storage"] }),
          ...(pattern === undefined ? {} : { pattern }),
          ...(blockSize === undefined ? {} : { blockSize }),
          ...(blockOps === undefined ? {} : { float16: { opBlockList: parseBlockOps(blockOps) } }),
          ...(dynamic === undefined ? {} : { dynamic }),
          ...(bnb4Type === undefined ? {} : { bnb4: { quantType: bnb4Type as "nf4" | "fp4" } }),
          ...(shardBytes === undefined ? {} : { shardBytes }),
          ...(headroom === undefined ? {} : { headroom }),
          ...(args.values.equalize === true ? { equalize: true } : {}),
          ...(args.values["equalize-float16"] === true ? { equalizeFloat16: true } : {}),
          ...(tfjsRuntime === undefined ? {} : {
            tfjsRuntime,
            measureHeadroom: args.values["measure-headroom"] === true,
          }),
          ...(tfjsInputs === undefined ? {} : { tfjsInputs }),
          ...(biasCorrection ? { biasCorrection } : {}),
          ...(gptqRounding ? { gptqRounding } : {}),
          ...(channelScales ? { channelScales } : {}),
          ...(cal === undefined ? {} : { calibration: cal }),
          ...(perLayer === undefined ? {} : { layerInputs: perLayer }),
          ...(gptqOptions === undefined ? {} : { gptq: gptqOptions }),
          ...(reconstruction === undefined ? {} : {
            reconstruct: {
              ...reconstruction,
              ...(rankChannels === undefined
                ? {}
                : { rankChannels: rankChannels as "metric" | "removal-scores" }),
              ...(skipDepthwise ? { depthwise: false } : {}),
              ...(minRowsPerColumn === undefined ? {} : { minRowsPerColumn }),
            },
          }),
          ...(registry === undefined ? {} : { registry }),
          ...(removeChannels ? { removeChannels } : {}),
          ...(channelMultiple === undefined ? {} : { channelMultiple }),
          externalData: { location: dataLocation, always: externalValue !== undefined },
          deferOnnx: args.values.eval !== true && shards === undefined,
        });
        report = result.report;
        externalData = result.externalData;
        quantizationConfig = result.quantizationConfig;
        if (model.format === "onnx" && model.external !== undefined) {
          sourceData = [...model.external.files.keys()].map((l) => folderOf(path) + l);
        }
        original = model.bytes;
        compressed = result.bytes;
        compressedParts = result.parts;
        compressedFiles = result.files;
        if (shards !== undefined) {
          // The input's shard layout: each shard beside --output, named after it.
          shardedFiles = splitIntoShards(result.bytes, shards.index, output);
          compressed = undefined;
          report = {
            ...report,
            after: {
              ...report.after,
              fileBytes: [...shardedFiles.values()].reduce((n, b) => n + b.length, 0),
            },
          };
        }
      }
    } catch (e) {
      // Only an ONNX graph can be calibrated: a file without one gets the error as it is.
      if (
        calibration === undefined && format === "onnx" && e instanceof QuantizationError &&
        e.code === "uncalibrated"
      ) {
        throw new CliError(e.message, {
          hint: "input and output targets need calibration data: --calibration " +
            "<inputs.safetensors> (or ocr-lines:<n> for the PP-OCR models)",
          cause: e,
        });
      }
      if (storage === "dynamic" && e instanceof QuantizationError && NBITS_CODES.has(e.code)) {
        throw new CliError(e.message, {
          hint:
            'dynamic storage takes MatMul and Conv weights as `{"op_types":["Linear","Conv2d"],' +
            '"target_names":["weight"],"quant_dtype":"int8"}` (uint8 for onnxruntime-web with Conv)',
          cause: e,
        });
      }
      if (storage === "bnb4" && e instanceof QuantizationError && NBITS_CODES.has(e.code)) {
        throw new CliError(e.message, {
          hint: 'MatMulBnb4 stores MatMul weights as `{"op_types":["Linear"],"target_names":' +
            '["weight"],"quant_dtype":"int4"}`; the block is --block-size, the table --bnb4-type',
          cause: e,
        });
      }
      if (storage === "nbits" && e instanceof QuantizationError && NBITS_CODES.has(e.code)) {
        throw new CliError(e.message, {
          hint: 'MatMulNBits stores MatMul weights as `{"target_names":["weight"],"quant_dtype":' +
            '"int4","granularity":"per_channel"}`; the block along K is --block-size',
          cause: e,
        });
      }
      withConfigSource(e, source);
    } finally {
      bar.done();
    }
    if (report.unchanged !== undefined && !allowUnchanged) {
      for (const w of groupWarnings(report.warnings)) ctx.io.stderr(`warning: ${w}\n`);
      const message = `${report.unchanged}: nothing to ${command}, so "${output}" was not written`;
      if (ctx.json) printJson(ctx, { ok: false, unchanged: report.unchanged, report });
      ctx.io.stderr(
        `warning: ${message}\nhint: check the list with "nncompress explain", or pass --allow-unchanged to write the copy\n`,
      );
      return EXIT_UNCHANGED;
    }
    let run: CompressionReport = report;
    let comparison: OutputComparison[] | undefined;
    if (args.values.eval === true) {
      if (report.format !== "onnx" || !original || !compressed) {
        throw new CliError("--eval runs ONNX models only");
      }
      // onnxruntime runs the result from memory: with its tensors inline, not in a data file.
      const inline = externalData === undefined ? compressed : inlineExternalData(
        decodeOnnx(compressed, { file: output }),
        new Map([[externalData.location, externalData.bytes]]),
      ).bytes;
      const evaluated = await evaluate(ctx, args, command, original, inline);
      comparison = evaluated.outputs;
      run = { ...report, evaluation: evaluated.results, latency: evaluated.latency };
    }
    const bundle = {
      title: `nncompress ${command} ${report.model}`,
      generator: "nncompress cli",
      createdAt: new Date().toISOString(),
      runs: [run],
    };
    for (const r of reports) {
      try {
        await writeReport(r, bundle);
      } catch (e) {
        const state = modelWritten
          ? `the model was written to "${output}"`
          : `the model was not written`;
        const why = e instanceof FileError
          ? e.message
          : `cannot write report file "${r}": ${(e as Error).message}`;
        throw new CliError(`${why}; ${state}`, { cause: e });
      }
    }
    if (!modelWritten && quantizationConfig !== undefined) {
      await writeQuantizationConfig(path, output, quantizationConfig);
    }
    if (!modelWritten && shardedFiles !== undefined) {
      await writeShardedFiles(output, shardedFiles);
    } else if (!modelWritten && compressedFiles !== undefined) {
      // TensorFlow.js: model.json at --output, its shards beside it.
      await saveTfjsFiles(output, compressedFiles);
    } else if (!modelWritten && compressed !== undefined) {
      if (externalData !== undefined) {
        // The data file first, so the model never refers to a file not yet written; never over
        // a data file of the source model (unless the source model itself is overwritten).
        const to = folderOf(output) + externalData.location;
        const target = await fileIdentity(to);
        const overwritesSource = (await fileIdentity(output)) !== undefined &&
          (await fileIdentity(output)) === (await fileIdentity(path));
        for (const from of sourceData) {
          if (target !== undefined && target === (await fileIdentity(from)) && !overwritesSource) {
            throw new CliError(
              `the external data file "${to}" is a data file of "${path}": writing it would change the original model`,
              { hint: "choose another name with --external-data=<file>, or another output folder" },
            );
          }
        }
        if (folderOf(externalData.location) !== "") {
          await makeDir(folderOf(to).replace(/[\\/]$/, ""));
        }
        await writeFileAtomic(to, externalData.bytes);
      }
      const parts = compressedParts;
      await writeFileAtomic(
        output,
        parts === undefined ? compressed : (sink) => writeOnnxParts(parts, sink),
      );
    }
    const configFile = run.storage === "compressed-tensors"
      ? (await quantizationConfigPath(path, output)).path
      : undefined;
    if (ctx.json) {
      printJson(ctx, {
        ok: true,
        output,
        ...(configFile === undefined ? {} : { quantizationConfig: configFile }),
        ...(externalData === undefined
          ? {}
          : { externalData: folderOf(output) + externalData.location }),
        reports,
        report: run,
        ...(comparison === undefined ? {} : { comparison }),
      });
      return 0;
    }
    ctx.io.stdout(`${formatLayers(run)}\n\n`);
    for (const w of groupWarnings(run.warnings)) ctx.io.stdout(`warning: ${w}\n`);
    const mb = (b: number) =>
      b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;
    if (externalData !== undefined) {
      ctx.io.stdout(
        `external data: ${folderOf(output) + externalData.location} (${
          mb(externalData.bytes.length)
        }; the model file refers to it)\n`,
      );
    }
    ctx.io.stdout(
      `wrote ${output} (${mb(run.after.fileBytes)}; parameters packed ${
        mb(run.before.packedBytes)
      } → ${mb(run.after.packedBytes)}) in ${(run.timeMs / 1000).toFixed(2)} s\n`,
    );
    if (comparison !== undefined) {
      const rows = [["output", "dims", "max |diff|", "relative error", "cosine", "same top-1"]];
      for (const o of comparison) {
        rows.push([
          o.name,
          `[${o.dims.join(", ")}]`,
          o.maxAbsDiff.toExponential(3),
          o.relativeError.toExponential(3),
          o.cosine.toFixed(6),
          o.argmax ? `${o.argmax.same}/${o.argmax.total}` : "-",
        ]);
      }
      const steps = comparison.find((o) => o.steps !== undefined)?.steps;
      const over = steps === undefined ? "" : ` over ${steps} steps`;
      ctx.io.stdout(`against the original${over}:\n${formatTable(rows)}\n`);
    } else {
      for (const e of run.evaluation) {
        ctx.io.stdout(`${e.name}: ${e.correct}/${e.total} (original ${e.baseline}/${e.total})\n`);
      }
    }
    if (args.values.eval === true) {
      ctx.io.stdout(
        `\n${
          sideBySide({
            originalBytes: run.before.fileBytes,
            resultBytes: run.after.fileBytes,
            latency: run.latency ?? [],
            fidelity: run.evaluation.map((e) => ({
              name: e.name,
              ...(e.baseline === undefined ? {} : { original: `${e.baseline}/${e.total}` }),
              result: `${e.correct}/${e.total}`,
            })),
          })
        }`,
      );
    }
    if (configFile !== undefined) {
      ctx.io.stdout(`quantization_config (compressed-tensors): ${configFile}\n`);
    }
    for (const r of reports) ctx.io.stdout(`report: ${r}\n`);
    return 0;
  };
}

/** Whether `path` is a file under 64 MiB (a shard index counts as large: its shards are). */
async function smallFile(path: string): Promise<boolean> {
  if (isShardIndexPath(path)) return false;
  try {
    const f = await openFile(path);
    const small = f.size < 2 ** 26;
    await f.close();
    return small;
  } catch {
    return false;
  }
}
