// `--calibration <file.safetensors | ocr-lines:<n>>`: input batches for activation targets.
import { readFile } from "../../io/fs.ts";
import type { OnnxModel } from "../../io/onnx/onnx_types.ts";
import { readSafetensors } from "../../io/safetensors/read_safetensors.ts";
import { toFloat32 } from "../../model/to_float32.ts";
import type { CalibrationTensor, OrtLike } from "../../quantization/calibrate_onnx.ts";
import { CliError, UsageError } from "../cli_error.ts";
import type { CommandContext } from "./_context.ts";
import { loadOrt, ocrRunner } from "./_ocr.ts";

type Batch = Record<string, CalibrationTensor>;

/** Calibration batches and the onnxruntime that runs them. */
export interface Calibration {
  readonly batches: readonly Batch[];
  readonly ort: OrtLike;
  /** What was read, for messages: `8 OCR classifier lines` or `calib.safetensors: 16 rows`. */
  readonly description: string;
}

/** Splits named tensors (the same number of rows each) into batches of `size` rows. */
function split(tensors: ReadonlyMap<string, CalibrationTensor>, size: number): Batch[] {
  const rows = [...tensors.values()][0].dims[0];
  const batches: Batch[] = [];
  for (let at = 0; at < rows; at += size) {
    const n = Math.min(size, rows - at);
    const batch: Batch = {};
    for (const [name, t] of tensors) {
      const row = t.data.length / t.dims[0];
      batch[name] = { data: t.data.slice(at * row, (at + n) * row), dims: [n, ...t.dims.slice(1)] };
    }
    batches.push(batch);
  }
  return batches;
}

function graphInputs(onnx: OnnxModel): string[] {
  const stored = new Set(onnx.graph.initializers.map((t) => t.name));
  return onnx.graph.inputs.filter((i) => !stored.has(i));
}

async function fromSafetensors(
  path: string,
  onnx: OnnxModel,
): Promise<Map<string, CalibrationTensor>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new CliError(`cannot read calibration file "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const file = readSafetensors(bytes, { file: path });
  const inputs = graphInputs(onnx);
  const tensors = new Map<string, CalibrationTensor>();
  for (const t of file.tensors) {
    // One tensor for a one-input model may carry any name.
    const name = file.tensors.length === 1 && inputs.length === 1 ? inputs[0] : t.name;
    if (t.shape.length === 0) {
      throw new CliError(`calibration file "${path}": tensor "${t.name}" needs a batch dim`);
    }
    tensors.set(name, { data: toFloat32(t.data, t.dtype), dims: [...t.shape] });
  }
  const rows = new Set([...tensors.values()].map((t) => t.dims[0]));
  if (tensors.size === 0 || rows.size !== 1) {
    throw new CliError(
      `calibration file "${path}" must hold one tensor per model input (${inputs.join(", ")}) ` +
        `with the same number of rows (dim 0): current rows are ${[...rows].join(", ") || "none"}`,
    );
  }
  return tensors;
}

/**
 * Reads `--calibration`: a safetensors file with one tensor per model input (rows along dim 0,
 * fed `batchSize` rows at a time), or `ocr-lines:<n>`, the first `n` labelled fixture lines as
 * the input of a PP-OCR recognizer or classifier.
 */
export async function readCalibration(
  spec: string,
  model: { readonly bytes: Uint8Array; readonly onnx: OnnxModel },
  batchSize: number,
  ctx: CommandContext,
): Promise<Calibration> {
  const ocr = /^ocr-lines:(\d+)$/.exec(spec);
  if (ocr === null && spec.startsWith("ocr-lines")) {
    throw new UsageError(
      `--calibration ocr-lines needs a count like ocr-lines:8: current value is ${spec}`,
      "quantize",
    );
  }
  const ort = await loadOrt(ctx);
  if (ocr === null) {
    const tensors = await fromSafetensors(spec, model.onnx);
    const rows = [...tensors.values()][0].dims[0];
    return { batches: split(tensors, batchSize), ort, description: `${spec}: ${rows} rows` };
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
  const input = graphInputs(model.onnx)[0];
  const tensors = new Map([[input, {
    data: data.input.subarray(0, n * row),
    dims: [n, ...data.dims.slice(1)],
  }]]);
  return { batches: split(tensors, batchSize), ort, description: `${n} OCR ${task} lines` };
}
