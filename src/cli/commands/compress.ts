// `nncompress prune|quantize <model> --config <c> -o <out>`.
import { FileError } from "../../io/file_error.ts";
import { writeFileAtomic } from "../../io/fs.ts";
import { saveTfjsFiles } from "../../io/tfjs/save_tfjs.ts";
import { formatLayers } from "../../report/format_runs.ts";
import type { CompressionReport, EvaluationResult } from "../../report/types.ts";
import { writeReport } from "../../report/write_report.ts";
import { CliError, UsageError, withConfigSource } from "../cli_error.ts";
import { compressModel, type CompressOptions } from "../../compress/compress_model.ts";
import { pruneSafetensorsFile } from "../../compress/prune_safetensors_file.ts";
import { readConfigList } from "../../compress/read_config_list.ts";
import { type Compressor, compressorFor } from "../../config/algorithms.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import {
  QuantizationError,
  type QuantizationErrorCode,
} from "../../quantization/quantization_error.ts";
import { type Command, type CommandContext, printJson } from "./_context.ts";
import { ocrRunner } from "./_ocr.ts";
import { readCalibration } from "./_calibration.ts";

/** The exit code of a run that changed nothing (an empty list, or no target selected). */
export const EXIT_UNCHANGED = 3; // EXIT.unchanged in main.ts

const EXTENSION = { onnx: ".onnx", safetensors: ".safetensors", tfjs: ".json" } as const;

/** The codes of a config list that `--storage nbits` cannot store. */
const NBITS_CODES: ReadonlySet<QuantizationErrorCode> = new Set([
  "storage",
  "quant_dtype",
  "quant_scheme",
  "granularity",
]);

function checkOutput(
  output: string,
  format: "onnx" | "safetensors" | "tfjs",
  command: string,
): void {
  if (output.toLowerCase().endsWith(EXTENSION[format])) return;
  throw new UsageError(
    `--output must be a ${format} file (${
      EXTENSION[format]
    }) like the input: current value is ${output}`,
    command,
  );
}

function required(args: Parameters<Command>[0], name: string, command: string): string {
  const v = args.values[name];
  if (typeof v !== "string") throw new UsageError(`${command} needs --${name}`, command);
  return v;
}

async function evaluate(
  ctx: CommandContext,
  original: Uint8Array,
  compressed: Uint8Array,
): Promise<EvaluationResult[]> {
  const runner = await ocrRunner(ctx);
  const task = await runner.detect(original);
  if (task === undefined) {
    throw new CliError("--eval runs PP-OCR recognizers and classifiers; this model is neither", {
      hint:
        "compare the result with the original instead: nncompress eval <out> --reference <model>",
    });
  }
  const before = await runner.evaluate(original, task);
  const after = await runner.evaluate(compressed, task);
  return [{
    name: after.name,
    correct: after.correct,
    total: after.total,
    baseline: before.correct,
  }];
}

function blockSizeOf(value: unknown, storage: string | undefined, command: string) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (storage !== "nbits") {
    throw new UsageError("--block-size goes with --storage nbits", command);
  }
  if (!Number.isInteger(n) || n < 16 || (n & (n - 1)) !== 0) {
    throw new UsageError(
      `--block-size must be a power of two >= 16: current value is ${value}`,
      command,
    );
  }
  return n;
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
    if (storage !== undefined && !["auto", "float", "int", "nbits", "float16"].includes(storage)) {
      throw new UsageError(
        `--storage must be auto, float, int, nbits or float16: current value is ${storage}`,
        command,
      );
    }
    const shardValue = args.values["shard-bytes"];
    const shardBytes = shardValue === undefined ? undefined : Number(shardValue);
    if (shardBytes !== undefined && !(Number.isSafeInteger(shardBytes) && shardBytes > 0)) {
      throw new UsageError(
        `--shard-bytes must be a positive integer: current value is ${shardValue}`,
        command,
      );
    }
    const blockSize = blockSizeOf(args.values["block-size"], storage, command);
    const calibration = args.values.calibration as string | undefined;
    const batchSize = batchSizeOf(args.values["batch-size"], calibration, command);
    const algorithm = args.values.algorithm as string | undefined;
    let compressor: Compressor;
    try {
      compressor = compressorFor(mode, algorithm);
    } catch (e) {
      throw new UsageError(`--algorithm: ${(e as Error).message}`, command);
    }
    const wanda = compressor.pruner?.name === "wanda";
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
    const { configList, source } = await readConfigList(config);
    const allowUnchanged = args.values["allow-unchanged"] === true;
    const label = `${command} ${path.split(/[\\/]/).pop()}`;
    const bar = ctx.progress(`${command} ${path}`);
    let report: CompressionReport;
    let original: Uint8Array | undefined;
    let compressed: Uint8Array | undefined;
    let compressedFiles: ReadonlyMap<string, Uint8Array> | undefined;
    // The streaming safetensors path writes the model as it goes; every other path writes it
    // last, after the reports, so a report that cannot be written leaves no model behind.
    let modelWritten = false;
    let format: string | undefined;
    try {
      if (mode === "pruning" && path.toLowerCase().endsWith(".safetensors")) {
        checkOutput(output, "safetensors", command);
        report = await pruneSafetensorsFile(path, output, {
          configList,
          label,
          onProgress: bar.update,
          writeUnchanged: allowUnchanged,
          ...(algorithm === undefined ? {} : { algorithm }),
        });
        modelWritten = report.unchanged === undefined || allowUnchanged;
      } else {
        const model = await readModelFile(path, bar.update);
        format = model.format;
        checkOutput(output, model.format, command);
        if (calibration !== undefined && model.format !== "onnx") {
          throw new UsageError(
            `--calibration runs ONNX models: the model is ${model.format}`,
            command,
          );
        }
        const cal = calibration === undefined || model.format !== "onnx"
          ? undefined
          : await readCalibration(calibration, model, batchSize, ctx);
        const result = await compressModel(model, {
          mode,
          configList,
          label,
          onProgress: bar.update,
          ...(algorithm === undefined ? {} : { algorithm }),
          ...(storage === undefined ? {} : { storage: storage as CompressOptions["storage"] }),
          ...(pattern === undefined ? {} : { pattern }),
          ...(blockSize === undefined ? {} : { blockSize }),
          ...(shardBytes === undefined ? {} : { shardBytes }),
          ...(cal === undefined ? {} : { calibration: cal }),
        });
        report = result.report;
        original = model.bytes;
        compressed = result.bytes;
        compressedFiles = result.files;
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
      for (const w of report.warnings) ctx.io.stderr(`warning: ${w}\n`);
      const message = `${report.unchanged}: nothing to ${command}, so "${output}" was not written`;
      if (ctx.json) printJson(ctx, { ok: false, unchanged: report.unchanged, report });
      ctx.io.stderr(
        `warning: ${message}\nhint: check the list with "nncompress explain", or pass --allow-unchanged to write the copy\n`,
      );
      return EXIT_UNCHANGED;
    }
    let run: CompressionReport = report;
    if (args.values.eval === true) {
      if (report.format !== "onnx" || !original || !compressed) {
        throw new CliError("--eval runs ONNX models only");
      }
      run = { ...report, evaluation: await evaluate(ctx, original, compressed) };
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
    if (!modelWritten && compressedFiles !== undefined) {
      // TensorFlow.js: model.json at --output, its shards beside it.
      await saveTfjsFiles(output, compressedFiles);
    } else if (!modelWritten && compressed !== undefined) await writeFileAtomic(output, compressed);
    if (ctx.json) {
      printJson(ctx, { ok: true, output, reports, report: run });
      return 0;
    }
    ctx.io.stdout(`${formatLayers(run)}\n\n`);
    for (const w of run.warnings) ctx.io.stdout(`warning: ${w}\n`);
    const mb = (b: number) =>
      b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} kB`;
    ctx.io.stdout(
      `wrote ${output} (${mb(run.after.fileBytes)}; parameters packed ${
        mb(run.before.packedBytes)
      } → ${mb(run.after.packedBytes)}) in ${(run.timeMs / 1000).toFixed(2)} s\n`,
    );
    for (const e of run.evaluation) {
      ctx.io.stdout(`${e.name}: ${e.correct}/${e.total} (original ${e.baseline}/${e.total})\n`);
    }
    for (const r of reports) ctx.io.stdout(`report: ${r}\n`);
    return 0;
  };
}
