// `nncompress eval <model>`: a PP-OCR model on the labelled lines, or any ONNX model against a
// reference on random inputs; a TensorFlow.js model.json against its reference, run by tfjs.
import { FileError } from "../../io/file_error.ts";
import { readFile } from "../../io/fs.ts";
import { decodeOnnx } from "../../io/onnx/decode_onnx.ts";
import { readModelFile } from "../../compress/read_model_file.ts";
import { formatTable } from "../../report/format_table.ts";
import { CliError, UsageError } from "../cli_error.ts";
import {
  type CompareOptions,
  compareOutputs,
  type OutputComparison,
} from "../../compress/compare_outputs.ts";
import { parseClassAxis, parseStatePairs, positiveInteger, readInputSpecs } from "./_inputs.ts";
import type { OrtLike } from "../../io/onnx/ort.ts";
import type { OcrTask } from "../../compress/ocr_eval.ts";
import { type Command, type CommandContext, printJson } from "./_context.ts";
import { loadOrt, type OcrRunner, ocrRunner } from "./_ocr.ts";
import { readTfjsFiles } from "../../io/tfjs/save_tfjs.ts";
import { readTfjs } from "../../io/tfjs/read_tfjs.ts";
import {
  type CompareTfjsOptions,
  compareTfjsOutputs,
  NOT_RUNNABLE,
  tfjsModelInputs,
} from "../../compress/compare_tfjs.ts";
import { graphValueTypes } from "../../io/onnx/graph_value_types.ts";
import { IMAGE_FLAGS, type ImageOptions, imageOptionsOf, readImageRows } from "./_images.ts";
import { readTfjsCalibration } from "./_calibration.ts";
import { loadTfjs, moduleFunction, type TfjsBackend, tfjsSetupHint } from "./_tfjs.ts";
import {
  compareRunnerOutputs,
  tfjsRunnerWeights,
  type WeightsRunner,
} from "../../compress/compare_runner.ts";
import type { TfjsModel } from "../../io/tfjs/tfjs_types.ts";
import { latencyFlags, ocrLineInputs, sideBySide, timeModels } from "./_latency.ts";
import { ocrLines } from "../../compress/ocr_data.ts";
import type { LatencyReport } from "../../report/types.ts";

const TASKS = ["recognizer", "classifier", "compare"];

/**
 * The bytes of an ONNX model file, decoded once so a broken file gets its parse error; a model
 * with external data files comes with their tensors inline (onnxruntime runs it from memory).
 */
async function bytesOf(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw FileError.from("read", "model file", path, e);
  }
  const onnx = decodeOnnx(bytes, { file: path });
  if (onnx.tensors.some((t) => t.storage.kind === "external")) {
    return (await readModelFile(path, () => {})).bytes;
  }
  return bytes;
}

function parseShape(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const dims = value.split(",").map((d) => Number(d.trim()));
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new UsageError(
      `--shape must be positive integers like 1,3,224,224: current value is ${value}`,
      "eval",
    );
  }
  return dims;
}

/** Fewer values than this, one per input row, and an output's cosine is noted as weak. */
const SCALAR_ROWS = 8;

function printComparison(
  ctx: CommandContext,
  path: string,
  ref: string,
  outputs: OutputComparison[],
  inputs = "the same random inputs",
  timed?: { bytes: number; refBytes: number; latency: LatencyReport[] },
) {
  if (ctx.json) {
    printJson(ctx, {
      ok: true,
      file: path,
      task: "compare",
      reference: ref,
      outputs,
      ...(timed === undefined
        ? {}
        : { fileBytes: timed.bytes, referenceBytes: timed.refBytes, latency: timed.latency }),
    });
    return;
  }
  const iou = outputs.some((o) => o.iou !== undefined);
  const rows = [[
    "output",
    "dims",
    "max |diff|",
    "mean |diff|",
    "relative error",
    "cosine",
    "same top-1",
    ...(iou ? ["IoU"] : []),
  ]];
  for (const o of outputs) {
    rows.push([
      o.name,
      `[${o.dims.join(", ")}]`,
      o.maxAbsDiff.toExponential(3),
      o.meanAbsDiff.toExponential(3),
      o.relativeError.toExponential(3),
      o.cosine.toFixed(6),
      o.argmax ? `${o.argmax.same}/${o.argmax.total} (axis ${o.argmax.axis})` : "-",
      ...(iou ? [o.iou === undefined ? "-" : o.iou.toFixed(4)] : []),
    ]);
  }
  const steps = outputs.find((o) => o.steps !== undefined)?.steps;
  const over = steps === undefined ? "" : `, ${steps} steps`;
  ctx.io.stdout(`${path} against ${ref} on ${inputs}${over}:\n\n${formatTable(rows)}\n`);
  // One value per input row (a presence flag, a score per image) over a few rows: the cosine of
  // so few values is 1 for any proportional pair and swings on values near zero.
  const scalars = outputs.filter((o) =>
    o.afterSelection === undefined && o.dims.slice(1).every((d) => d === 1) &&
    o.dims.reduce((p, q) => p * q, 1) < SCALAR_ROWS
  );
  if (scalars.length > 0) {
    const list = scalars.map((o) => `${o.name} [${o.dims.join(", ")}]`).join(", ");
    const one = scalars.length === 1;
    ctx.io.stdout(
      `\n${list} ${one ? "holds" : "hold"} one value per input row: a cosine over so few ` +
        "values says little (it is 1 for any two proportional lists, and swings on values near " +
        `zero); judge ${one ? "it" : "them"} by the max |diff|.\n`,
    );
  }
  const selected = outputs.filter((o) => o.afterSelection !== undefined);
  // Rows after the outputs when every output is a pick: the tensors the picks are made from.
  const sources = outputs.filter((o) => o.beforeSelection !== undefined);
  const modelOutputs = outputs.length - sources.length;
  if (selected.length > 0) {
    const ops = [...new Set(selected.map((o) => o.afterSelection))].join(", ");
    const verb = selected.length === 1 ? "comes" : "come";
    const paired = selected.some((o) => o.matched !== undefined);
    const judge = selected.length < modelOutputs
      ? `other outputs${paired ? ", or on the picks matched below" : ""}`
      : sources.length > 0
      ? `last ${sources.length === 1 ? "row" : `${sources.length} rows`}${
        paired ? ", or on the picks matched below" : ""
      }`
      : paired
      ? "picks matched below"
      : "outputs before the selection";
    ctx.io.stdout(
      `\n${selected.map((o) => o.name).join(", ")} ${verb} after a selection op (${ops}): ` +
        "the elements were picked by rank or threshold, and a change of the values before it " +
        "far below any accuracy loss can pick others or reorder them, so these measures say " +
        `little about the model; judge it on the ${judge}.\n`,
    );
    if (sources.length > 0) {
      const by = [...new Set(sources.map((o) => o.beforeSelection))];
      const op = by.length === 1 ? "op" : "ops";
      ctx.io.stdout(
        `\nThe last ${sources.length === 1 ? "row is" : `${sources.length} rows are`} no ` +
          `output: ${sources.length === 1 ? "the tensor" : "the tensors"} the selection ${op} ` +
          `(${by.join(", ")}) ${by.length === 1 ? "selects" : "select"} from, the model's raw ` +
          "scores, offsets or heatmaps, compared element by element.\n",
      );
    }
    const matched = selected.filter((o) => o.matched !== undefined);
    if (matched.length > 0) {
      const table = [[
        "output",
        "picks paired",
        "values per pick",
        "unpaired",
        "max |diff|",
        "cosine",
      ]];
      for (const o of matched) {
        const m = o.matched!;
        table.push([
          o.name,
          String(m.rows),
          String(m.record),
          String(m.unmatched),
          m.maxAbsDiff.toExponential(3),
          m.cosine.toFixed(6),
        ]);
      }
      ctx.io.stdout(
        "\nThe picks matched as sets (values in sorted order, records closest pair first; a " +
          `pick left without a partner counts as paired with zeros):\n\n${formatTable(table)}\n`,
      );
    }
  }
  if (timed !== undefined) {
    const agree = outputs.flatMap((o) =>
      o.argmax === undefined ? [] : [{
        name: `${o.name}: same top-1`,
        result: `${o.argmax.same}/${o.argmax.total}`,
      }]
    );
    ctx.io.stdout(
      `\n${
        sideBySide({
          originalBytes: timed.refBytes,
          resultBytes: timed.bytes,
          latency: timed.latency,
          fidelity: [
            ...outputs.map((o) => ({ name: `${o.name}: cosine`, result: o.cosine.toFixed(6) })),
            ...agree,
          ],
        })
      }`,
    );
  }
}

/** The comparison options of `eval` and `--eval` from the command line. */
export async function compareOptionsOf(
  args: Parameters<Command>[0],
  command: string,
): Promise<CompareOptions> {
  const v = args.values;
  const shape = parseShape(v.shape as string | undefined);
  const inputs = await readInputSpecs(v.input as string[] | undefined, command);
  const classAxis = parseClassAxis(v["class-axis"] as string[] | undefined, command);
  const state = parseStatePairs(v.state as string[] | undefined, command);
  const steps = positiveInteger(v.steps, "steps", command);
  const t = v["mask-threshold"];
  const threshold = t === undefined ? undefined : Number(t);
  if (threshold !== undefined && (!Number.isFinite(threshold) || v.iou !== true)) {
    throw new UsageError(
      `--mask-threshold takes a number and goes with --iou: current value is ${t}`,
      command,
    );
  }
  // prune/quantize use --state for calibration too; eval needs the number of steps to run
  if (state !== undefined && steps === undefined && command === "eval") {
    throw new UsageError("--state goes with --steps <n> (the runs per model)", command);
  }
  return {
    inputs,
    ...(shape === undefined ? {} : { shape }),
    ...(classAxis === undefined ? {} : { classAxis }),
    ...(v.iou === true ? { iou: true } : {}),
    ...(threshold === undefined ? {} : { maskThreshold: threshold }),
    ...(steps === undefined ? {} : { steps }),
    ...(state === undefined || steps === undefined ? {} : { state }),
  };
}

/** Runs `compareOutputs` with the CLI's errors: a bad input spec is the user's, exit 1. */
export async function compareWithReference(
  ort: OrtLike,
  model: Uint8Array,
  reference: Uint8Array,
  options: CompareOptions,
): Promise<OutputComparison[]> {
  return await compareOutputs(ort, model, reference, options).catch((e) => {
    if (e instanceof RangeError || e instanceof TypeError) {
      // input specs and dims get a hint; class axes and state pairs say what fits already
      const inputs = /^(input|dim) /.test(e.message);
      throw new CliError(e.message, {
        ...(inputs
          ? {
            hint: "give inputs with --input NAME=SPEC, e.g. --input sr=16000:int64, " +
              "--input state=zeros, --input x=1,576 or --input x=x.npy",
          }
          : {}),
        cause: e,
      });
    }
    throw new CliError(`onnxruntime could not run the models: ${(e as Error).message}`, {
      hint: "give each input's shape or data with --input NAME=SPEC, e.g. --input x=1,3,224,224 " +
        "or --input state=zeros:2,1,128 (the dims fed are listed above)",
      cause: e,
    });
  });
}

/** The files of a tfjs model and the model, decoded once so a broken model gets its error. */
async function tfjsOf(path: string): Promise<{ files: Map<string, Uint8Array>; model: TfjsModel }> {
  const { modelJson, shards } = await readTfjsFiles(path);
  const model = readTfjs(modelJson, shards, { file: path });
  return { files: new Map([["model.json", modelJson], ...shards]), model };
}

/** The files of a tfjs model tfjs can run (a weights manifest alone is refused). */
async function tfjsFilesOf(path: string): Promise<Map<string, Uint8Array>> {
  const { files, model } = await tfjsOf(path);
  if (model.kind === "weights-manifest") {
    throw new CliError(`cannot evaluate ${path}: ${NOT_RUNNABLE}`, {
      hint: "give --runner <module.js>, a module that builds the network from the weights and " +
        "runs it (see nncompress eval --help)",
    });
  }
  return files;
}

/** `eval <manifest> --reference <manifest> --runner <m.js>`: both weight sets through the runner. */
async function compareWithRunner(
  ctx: CommandContext,
  path: string,
  refPath: string,
  runnerPath: string,
): Promise<number> {
  const model = await tfjsOf(path);
  const ref = await tfjsOf(refPath);
  for (const [p, m] of [[path, model], [refPath, ref]] as const) {
    if (m.model.kind !== "weights-manifest") {
      throw new UsageError(
        `--runner runs a weights manifest alone; ${p} is a tfjs ${m.model.kind}, which tfjs ` +
          "runs itself: leave out --runner",
        "eval",
      );
    }
  }
  // Its default export or its `run` export, a function of the weights.
  const run = await moduleFunction(
    "runner",
    runnerPath,
    (mod) => [mod.default, mod.run],
    "export default (weights) => outputs (or run)",
  ) as WeightsRunner;
  const bar = ctx.progress(`eval ${path}`);
  bar.update("compare (runner)", 0, 1);
  const outputs = await compareRunnerOutputs(
    run,
    tfjsRunnerWeights(model.model),
    tfjsRunnerWeights(ref.model),
  ).catch((e) => {
    throw new CliError(`--runner ${runnerPath}: ${(e as Error).message}`, { cause: e });
  });
  bar.done();
  printComparison(ctx, path, refPath, outputs, `the inputs of --runner ${runnerPath}`);
  return 0;
}

/** The tfjs backends of `--backend` for model.json files: cpu (default), wasm or both. */
function tfjsBackends(value: string | undefined): TfjsBackend[] {
  // node/web name onnxruntime's builds for ONNX models; for tfjs they stand for cpu/wasm.
  const b = value === undefined
    ? "cpu"
    : value === "node"
    ? "cpu"
    : value === "web"
    ? "wasm"
    : value;
  if (b === "both") return ["cpu", "wasm"];
  if (b !== "cpu" && b !== "wasm") {
    throw new UsageError(
      `--backend must be cpu, wasm or both for a TensorFlow.js model: current value is ${value}`,
      "eval",
    );
  }
  return [b];
}

/** `eval --images`: the photos and how they become values. */
interface EvalImages {
  readonly path: string;
  readonly options: ImageOptions;
}

async function compareTfjs(
  ctx: CommandContext,
  path: string,
  refPath: string,
  shape: number[] | undefined,
  backends: readonly TfjsBackend[],
  setup: string | undefined,
  images: EvalImages | undefined,
): Promise<number> {
  const model = await tfjsFilesOf(path);
  const ref = await tfjsFilesOf(refPath);
  const bar = ctx.progress(`eval ${path}`);
  const runs: { backend: TfjsBackend; outputs: OutputComparison[] }[] = [];
  let inputsLabel = "the same random inputs";
  let options: CompareTfjsOptions = shape ? { shape } : {};
  for (const backend of backends) {
    bar.update(`compare (tfjs ${backend})`, 0, 1);
    const runtime = await loadTfjs(backend, setup);
    if (images !== undefined && options.inputs === undefined) {
      // Decoded once for every backend: sets of the model's fixed batch (one image for most),
      // else of 8 images.
      const read = await readTfjsCalibration(
        images.path,
        await tfjsModelInputs(runtime, ref),
        8,
        images.options,
      );
      options = { inputs: read.sets };
      inputsLabel = `the same images (${read.description})`;
    }
    const outputs: OutputComparison[] = await compareTfjsOutputs(
      runtime,
      model,
      ref,
      options,
    ).catch(
      (e) => {
        throw new CliError(
          `TensorFlow.js (${backend} backend) could not run the models: ${(e as Error).message}`,
          {
            hint: tfjsSetupHint((e as Error).message) ??
              "give the first input's shape with --shape, e.g. --shape 1,224,224,3",
            cause: e,
          },
        );
      },
    );
    runs.push({ backend, outputs });
  }
  bar.done();
  if (ctx.json) {
    printJson(ctx, {
      ok: true,
      file: path,
      task: "compare",
      reference: refPath,
      outputs: runs[0].outputs,
      backends: runs.map((r) => ({ backend: `tfjs-${r.backend}`, outputs: r.outputs })),
    });
    return 0;
  }
  runs.forEach((r, i) => {
    if (i > 0) ctx.io.stdout("\n");
    printComparison(ctx, path, refPath, r.outputs, `${inputsLabel} (tfjs ${r.backend})`);
  });
  return 0;
}

/** Prints correct/total (PP-OCR), or output agreement with a reference model. */
export const evalCommand: Command = async (args, ctx) => {
  const [path, ...rest] = args.positionals;
  if (path === undefined) throw new UsageError("eval needs a model file", "eval");
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "eval");
  // Photos are inputs of a comparison: a PP-OCR model given --images is compared, not scored.
  const task = (args.values.task ?? (args.values.images === undefined ? undefined : "compare")) as
    | string
    | undefined;
  if (task !== undefined && !TASKS.includes(task)) {
    throw new UsageError(
      `--task must be one of ${TASKS.join(", ")}: current value is ${task}`,
      "eval",
    );
  }
  const refPath = args.values.reference as string | undefined;
  if (task === "compare" && refPath === undefined && args.values.images === undefined) {
    throw new UsageError("--task compare needs --reference <original model>", "eval");
  }
  const shape = parseShape(args.values.shape as string | undefined);
  const imagesPath = args.values.images as string | undefined;
  const imageFlag = IMAGE_FLAGS.find((f) => args.values[f] !== undefined);
  if (imagesPath === undefined && imageFlag !== undefined) {
    throw new UsageError(`--${imageFlag} goes with --images <folder or image>`, "eval");
  }
  if (imagesPath !== undefined && (refPath === undefined || shape !== undefined)) {
    throw new UsageError(
      refPath === undefined
        ? "--images are the inputs of a comparison: eval <model> --reference <original> --images <photos>"
        : "--images sets the input's shape from the model and --image-size: leave out --shape",
      "eval",
    );
  }
  const images = imagesPath === undefined
    ? undefined
    : { path: imagesPath, options: imageOptionsOf(args.values, "eval") };
  if (path.toLowerCase().endsWith(".safetensors")) {
    throw new CliError("eval runs ONNX models; a safetensors file holds weights without a graph");
  }
  if (args.values["tfjs-setup"] !== undefined && !path.toLowerCase().endsWith(".json")) {
    throw new UsageError("--tfjs-setup goes with a TensorFlow.js model.json", "eval");
  }
  const runnerPath = args.values.runner as string | undefined;
  if (runnerPath !== undefined) {
    if (!path.toLowerCase().endsWith(".json") || refPath === undefined) {
      throw new UsageError(
        "--runner compares a TensorFlow.js weights manifest with its original: eval " +
          "<weights_manifest.json> --reference <original weights_manifest.json> --runner <m.js>",
        "eval",
      );
    }
    // The runner feeds the network and returns its outputs: none of these apply.
    const other = [
      "task",
      "shape",
      "images",
      ...IMAGE_FLAGS,
      "tfjs-setup",
      "input",
      "class-axis",
      "iou",
      "mask-threshold",
      "steps",
      "state",
      "runs",
      "backend",
      "threads",
    ].find((f) => args.values[f] !== undefined && !(f === "task" && task === "compare"));
    if (other !== undefined) {
      throw new UsageError(
        `--${other} does not go with --runner: the runner feeds the network itself and returns ` +
          "its outputs",
        "eval",
      );
    }
    return await compareWithRunner(ctx, path, refPath, runnerPath);
  }
  if (path.toLowerCase().endsWith(".json")) {
    if (refPath === undefined || task !== undefined && task !== "compare") {
      throw new UsageError(
        "a TensorFlow.js model.json is evaluated against its original: eval <model.json> --reference <original model.json>",
        "eval",
      );
    }
    const backends = tfjsBackends(args.values.backend as string | undefined);
    const setup = args.values["tfjs-setup"] as string | undefined;
    return await compareTfjs(ctx, path, refPath, shape, backends, setup, images);
  }
  const timing = latencyFlags(args, "eval");
  const bytes = await bytesOf(path);
  const ref = refPath === undefined ? undefined : await bytesOf(refPath);
  const ort = await loadOrt(ctx);
  // Comparing with a reference needs no fixture lines (an installed package has none).
  let runner: OcrRunner | undefined;
  if (task !== "compare") {
    runner = await ocrRunner(ctx, ort).catch((e) => {
      if (task === undefined && ref !== undefined) return undefined;
      throw e;
    });
  }
  const bar = ctx.progress(`eval ${path}`);
  try {
    bar.update("detect", 0, 1);
    const t = runner === undefined
      ? undefined
      : (task as OcrTask | undefined) ?? await runner.detect(bytes);
    if (t === undefined) {
      if (ref === undefined) {
        throw new CliError("this model is not a PP-OCR recognizer or classifier", {
          hint:
            "compare it with the original instead: nncompress eval <model> --reference <original>",
        });
      }
      bar.update("compare", 0, 1);
      let options = await compareOptionsOf(args, "eval");
      let imageCount = 0;
      if (images !== undefined) {
        const given = options.inputs ?? {};
        const open = graphValueTypes(decodeOnnx(ref)).inputs.filter((i) => !(i.name in given));
        if (open.length !== 1) {
          throw new CliError(
            `--images feed one input, the one without an --input spec: the inputs without one ` +
              `are ${open.map((i) => i.name).join(", ") || "none"}`,
          );
        }
        const read = await readImageRows(images.path, open[0], images.options);
        imageCount = read.count;
        options = { ...options, inputs: { ...given, [open[0].name]: read.tensor } };
      }
      const outputs = await compareWithReference(ort, bytes, ref, options);
      const latency = await timeModels(ctx, timing, bytes, ref, {
        ...(options.inputs === undefined ? {} : { inputs: options.inputs }),
        ...(options.shape === undefined ? {} : { shape: options.shape }),
      }, (b) => bar.update(`latency ${b}`, 0, 1));
      bar.done();
      const given = Object.keys(options.inputs ?? {});
      printComparison(
        ctx,
        path,
        refPath!,
        outputs,
        imageCount > 0
          ? `the same inputs (${imageCount} image(s) of ${images!.path}${
            given.length > 1 ? ", the others as given" : ""
          })`
          : given.length === 0
          ? "the same random inputs"
          : `the same inputs (${given.join(", ")} as given, others random)`,
        { bytes: bytes.length, refBytes: ref.length, latency },
      );
      return 0;
    }
    bar.update(t, 0, 1);
    const result = await runner!.evaluate(bytes, t);
    const agreement = ref === undefined ? undefined : await runner!.evaluate(ref, t).then((r) => ({
      correct: r.correct,
      same: result.predictions.filter((p, i) => p === r.predictions[i]).length,
    }));
    const line = ocrLines(t === "recognizer" ? runner!.data.rec : runner!.data.cls, 0, 1);
    const latency = await timeModels(
      ctx,
      timing,
      bytes,
      ref,
      ocrLineInputs(bytes, line),
      (b) => bar.update(`latency ${b}`, 0, 1),
    );
    bar.done();
    if (ctx.json) {
      printJson(ctx, {
        ok: true,
        file: path,
        task: t,
        name: result.name,
        correct: result.correct,
        total: result.total,
        predictions: result.predictions,
        fileBytes: bytes.length,
        latency,
        ...(agreement === undefined ? {} : {
          reference: refPath,
          agreement: agreement.same,
          referenceCorrect: agreement.correct,
          referenceBytes: ref!.length,
        }),
      });
    } else {
      ctx.io.stdout(`${path}: ${t}, ${result.name} ${result.correct}/${result.total}\n`);
      if (agreement !== undefined) {
        ctx.io.stdout(
          `same prediction as ${refPath} on ${agreement.same}/${result.total} lines\n`,
        );
      }
      if (latency.length > 0 || ref !== undefined) {
        ctx.io.stdout(
          `\n${
            sideBySide({
              ...(ref === undefined ? {} : { originalBytes: ref.length }),
              resultBytes: bytes.length,
              latency,
              fidelity: [{
                name: result.name,
                ...(agreement === undefined
                  ? {}
                  : { original: `${agreement.correct}/${result.total}` }),
                result: `${result.correct}/${result.total}`,
              }],
            })
          }`,
        );
      }
    }
    return 0;
  } finally {
    bar.done();
  }
};
