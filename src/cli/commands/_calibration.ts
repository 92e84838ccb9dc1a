// `--calibration <file.safetensors | file.npy | images/ | ocr-lines:<n>>` with `--input`,
// `--state` and `--image-*`:
// input batches for activation targets; for TensorFlow.js models, input sets for bias
// correction, ReLU6 equalization and measured headroom.
import { readFile } from "../../io/fs.ts";
import { readNpy } from "../../io/npy/read_npy.ts";
import { type GraphValueType, graphValueTypes } from "../../io/onnx/graph_value_types.ts";
import type { OnnxModel } from "../../io/onnx/onnx_types.ts";
import { readSafetensors } from "../../io/safetensors/read_safetensors.ts";
import {
  inputFeeds,
  type InputSpec,
  type InputTensor,
  tensorValues,
} from "../../compress/input_feeds.ts";
import type { CalibrationTensor, OrtLike } from "../../quantization/calibrate_onnx.ts";
import type { TfjsModelInput } from "../../compress/compare_tfjs.ts";
import type { TfjsInputSet } from "../../compress/tfjs_inputs.ts";
import { tensorOf } from "./_inputs.ts";
import { CliError, UsageError } from "../cli_error.ts";
import type { CommandContext } from "./_context.ts";
import { loadOrt, ocrRunner } from "./_ocr.ts";
import { type ImageOptions, isImageSource, PLAIN_IMAGES, readImageRows } from "./_images.ts";

type Batch = Record<string, CalibrationTensor>;

/** Calibration batches and the onnxruntime that runs them. */
export interface Calibration {
  readonly batches: readonly Batch[];
  readonly ort: OrtLike;
  /** What was read, for messages: `8 OCR classifier lines` or `calib.safetensors: 16 rows`. */
  readonly description: string;
  /** Stateful models: output name to input name, fed back after each batch (`--state`). */
  readonly state?: Readonly<Record<string, string>>;
}

/** Per-input specs (`--input`) and state pairs (`--state`) for calibration. */
export interface CalibrationInputs {
  readonly inputs: Readonly<Record<string, InputSpec>>;
  readonly state?: Readonly<Record<string, string>>;
  /** How images become input values (`--image-*`), when `--calibration` names images. */
  readonly images?: ImageOptions;
}

/** Images (`--calibration photos/`) as the rows of the one input no `--input` spec gives. */
async function readImages(
  path: string,
  inputs: readonly { readonly name: string; readonly dims?: readonly (number | string | null)[] }[],
  specs: Readonly<Record<string, InputSpec>>,
  options: ImageOptions,
): Promise<Map<string, InputTensor>> {
  const open = inputs.filter((i) => !(i.name in specs));
  if (open.length !== 1) {
    throw new CliError(
      `the images of "${path}" feed one input, the one without an --input spec: the inputs ` +
        `without one are ${open.map((i) => i.name).join(", ") || "none"}`,
    );
  }
  const { tensor } = await readImageRows(path, open[0], options);
  return new Map([[open[0].name, tensor]]);
}

/** Rows `[at, at + n)` of a tensor along dim 0. */
function rowsOf(t: InputTensor, at: number, n: number): InputTensor {
  const row = t.data.length / t.dims[0];
  return { ...t, data: t.data.slice(at * row, (at + n) * row), dims: [n, ...t.dims.slice(1)] };
}

/**
 * Splits the row tensors (the same number of rows each, along dim 0) into batches of `size`
 * rows; every batch also gets the scalars of the file and the `--input` specs, made into
 * tensors with symbolic dims bound by name (so `state [2, batch, 128]` follows the rows).
 */
function split(
  inputs: readonly GraphValueType[],
  tensors: ReadonlyMap<string, InputTensor>,
  specs: Readonly<Record<string, InputSpec>>,
  size: number,
  path: string,
): Batch[] {
  const rowTensors = [...tensors].filter(([, t]) => t.dims.length > 0);
  const rows = rowTensors.length === 0 ? size : rowTensors[0][1].dims[0];
  const batches: Batch[] = [];
  for (let at = 0, b = 0; at < rows; at += size, b++) {
    const n = Math.min(size, rows - at);
    const batch: Record<string, InputSpec> = { ...specs };
    for (const [name, t] of tensors) batch[name] = t.dims.length === 0 ? t : rowsOf(t, at, n);
    try {
      batches.push(inputFeeds(inputs, batch, { seed: 1234 + 7919 * b }));
    } catch (e) {
      throw new CliError(`calibration batch ${b} of ${path}: ${(e as Error).message}`, {
        hint: "give the other inputs with --input NAME=SPEC, e.g. --input sr=16000:int64 " +
          "--input state=zeros",
        cause: e,
      });
    }
  }
  return batches;
}

async function readData(
  path: string,
  inputs: readonly { readonly name: string }[],
  specs: Readonly<Record<string, InputSpec>>,
): Promise<Map<string, InputTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new CliError(`cannot read calibration file "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const names = inputs.map((i) => i.name);
  // A file with one tensor feeds the one input that no --input gives, whatever its name.
  const open = names.filter((n) => !(n in specs));
  const tensors = new Map<string, InputTensor>();
  if (!path.toLowerCase().endsWith(".safetensors")) {
    if (open.length !== 1) {
      throw new CliError(
        `calibration file "${path}" holds one tensor: it must feed the one input without an ` +
          `--input spec, and the inputs without one are ${open.join(", ") || "none"}`,
      );
    }
    tensors.set(open[0], readNpy(bytes, { file: path }));
    return tensors;
  }
  const file = readSafetensors(bytes, { file: path });
  for (const t of file.tensors) {
    const name = file.tensors.length === 1 && open.length === 1 ? open[0] : t.name;
    if (!names.includes(name)) {
      throw new CliError(
        `calibration file "${path}": tensor "${t.name}" names no input of the model: the ` +
          `inputs are ${names.join(", ")}`,
      );
    }
    tensors.set(name, tensorOf(t));
  }
  const rows = new Set(
    [...tensors.values()].filter((t) => t.dims.length > 0).map((t) => t.dims[0]),
  );
  if (tensors.size === 0 || rows.size > 1) {
    throw new CliError(
      `calibration file "${path}" must hold one tensor per model input (${names.join(", ")}) ` +
        `with the same number of rows (dim 0), or scalars: current rows are ${
          [...rows].join(", ") || "none"
        }`,
    );
  }
  return tensors;
}

/**
 * Reads `--calibration`: a safetensors file with one tensor per model input of any dtype (rows
 * along dim 0, fed `batchSize` rows at a time; scalars fed whole in every batch), a `.npy` file
 * for the one input without an `--input` spec, images for that input (a folder of .jpg/.png
 * files or one such file, resized and scaled as `given.images` says), or `ocr-lines:<n>`, the first `n` labelled
 * fixture lines as the input of a PP-OCR recognizer or classifier. `--input` specs give the other
 * inputs (their symbolic dims bound by name to the batch); `--state` makes the batches
 * consecutive steps of a stateful model.
 */
export async function readCalibration(
  spec: string,
  model: { readonly bytes: Uint8Array; readonly onnx: OnnxModel },
  batchSize: number,
  ctx: CommandContext,
  given?: CalibrationInputs,
): Promise<Calibration> {
  const ocr = /^ocr-lines:(\d+)$/.exec(spec);
  if (ocr === null && spec.startsWith("ocr-lines")) {
    throw new UsageError(
      `--calibration ocr-lines needs a count like ocr-lines:8: current value is ${spec}`,
      "quantize",
    );
  }
  const ort = await loadOrt(ctx);
  const inputs = graphValueTypes(model.onnx).inputs;
  const specs = given?.inputs ?? {};
  const state = given?.state;
  for (const [o, i] of Object.entries(state ?? {})) {
    if (!model.onnx.graph.outputs.includes(o) || !inputs.some((x) => x.name === i)) {
      throw new CliError(
        `--state ${o}=${i} must name an output and an input of the model: the outputs are ${
          model.onnx.graph.outputs.join(", ")
        }, the inputs ${inputs.map((x) => x.name).join(", ")}`,
      );
    }
  }
  if (ocr === null) {
    const images = await isImageSource(spec);
    const tensors = images
      ? await readImages(spec, inputs, specs, given?.images ?? PLAIN_IMAGES)
      : await readData(spec, inputs, specs);
    for (const input of inputs) {
      if (!tensors.has(input.name) && !(input.name in specs)) {
        throw new CliError(
          `calibration needs data for input "${input.name}": "${spec}" has no tensor of that ` +
            `name and no --input gives it`,
          {
            hint: `add it to the file, or give it: --input ${input.name}=zeros (or a value, a ` +
              `file, or random)`,
          },
        );
      }
    }
    const row = [...tensors.values()].find((t) => t.dims.length > 0);
    const rows = row?.dims[0] ?? batchSize;
    if (state !== undefined && rows % batchSize !== 0) {
      throw new UsageError(
        `--state runs the rows of "${spec}" as steps of --batch-size ${batchSize} rows: ` +
          `${rows} rows are not a multiple of it`,
        "quantize",
      );
    }
    const batches = split(inputs, tensors, specs, batchSize, spec);
    const steps = state === undefined ? "" : `, ${batches.length} steps`;
    return {
      batches,
      ort,
      description: `${spec}: ${rows} ${images ? "images" : "rows"}${steps}`,
      ...(state === undefined ? {} : { state }),
    };
  }
  const runner = await ocrRunner(ctx, ort);
  const task = await runner.detect(model.bytes);
  if (task === undefined) {
    throw new CliError(
      "--calibration ocr-lines feeds PP-OCR recognizers and classifiers; this model is neither",
      {
        hint: "pass a safetensors file of input rows: --calibration inputs.safetensors",
      },
    );
  }
  const data = task === "classifier" ? runner.data.cls : runner.data.rec;
  const total = data.dims[0];
  const n = Number(ocr[1]);
  if (n < 1 || n > total) {
    throw new UsageError(
      `--calibration ocr-lines:<n> needs 1 <= n <= ${total}: current value is ${n}`,
      "quantize",
    );
  }
  const row = data.input.length / total;
  const input = inputs[0].name;
  const tensors = new Map([[input, {
    data: data.input.subarray(0, n * row),
    dims: [n, ...data.dims.slice(1)],
  }]]);
  return {
    batches: split(inputs, tensors, specs, batchSize, spec),
    ort,
    description: `${n} OCR ${task} lines`,
  };
}

/**
 * Reads `--calibration` for a TensorFlow.js model: the same files as for ONNX (a safetensors
 * file with one tensor per model input, named as tfjs names the input, `x` or `x:0`, a `.npy`
 * file for a model with one input, or images, a folder or a .jpg/.png file, made into rows of
 * the model's one input as `images` says), split along dim 0 into input sets of `batchSize`
 * rows (of the model's own batch size when its first input fixes it), as float32 (int32 for
 * int32 inputs).
 */
export async function readTfjsCalibration(
  spec: string,
  inputs: readonly TfjsModelInput[],
  batchSize: number,
  images?: ImageOptions,
): Promise<{ readonly sets: TfjsInputSet[]; readonly description: string }> {
  if (spec.startsWith("ocr-lines")) {
    throw new UsageError(
      "--calibration ocr-lines feeds the PP-OCR ONNX models: a TensorFlow.js model takes a " +
        "safetensors or .npy file of input rows",
      "quantize",
    );
  }
  // Tensors named `x:0` feed the input `x`.
  const named = inputs.map((i) => ({ name: i.name }));
  const aliases = inputs.map((i) => ({ name: `${i.name}:0` }));
  let tensors: Map<string, InputTensor>;
  const fromImages = await isImageSource(spec);
  if (fromImages) {
    const dims = inputs.map((i) => ({ name: i.name, dims: i.shape }));
    tensors = await readImages(spec, dims, {}, images ?? PLAIN_IMAGES);
  } else {
    try {
      tensors = await readData(spec, named, {});
    } catch (e) {
      if (!spec.toLowerCase().endsWith(".safetensors")) throw e;
      const alt = await readData(spec, aliases, {}).catch(() => undefined);
      if (alt === undefined) throw e;
      tensors = new Map([...alt].map(([k, v]) => [k.slice(0, -2), v]));
    }
  }
  for (const input of inputs) {
    if (!tensors.has(input.name)) {
      throw new CliError(
        `calibration needs data for input "${input.name}": "${spec}" has no tensor of that name`,
      );
    }
  }
  const rows = [...tensors.values()].find((t) => t.dims.length > 0)?.dims[0] ?? 1;
  // A model whose batch dim is fixed (human's models take one image) takes sets of that size.
  const fixed = inputs[0]?.shape[0];
  const fixedBatch = typeof fixed === "number" && fixed > 0;
  const size = fixedBatch ? fixed : batchSize;
  if (fixedBatch && rows < size) {
    throw new CliError(
      `calibration file "${spec}" has ${rows} row(s): the model takes ${size} at a time`,
    );
  }
  const sets: TfjsInputSet[] = [];
  // Rows left over from a fixed batch are not used.
  for (let at = 0; at + (fixedBatch ? size : 1) <= rows; at += size) {
    const n = Math.min(size, rows - at);
    sets.push(inputs.map((input) => {
      const t = tensors.get(input.name)!;
      const part = t.dims.length === 0 ? t : rowsOf(t, at, n);
      const values = tensorValues(part);
      return {
        // int32 inputs (movenet's pixels) take the values rounded.
        data: input.dtype === "int32"
          ? Int32Array.from(values, (v) => Math.round(v))
          : Float32Array.from(values),
        dims: part.dims,
      };
    }));
  }
  const what = fromImages ? "images" : "rows";
  return { sets, description: `${spec}: ${rows} ${what} in ${sets.length} input set(s)` };
}
