// `--input NAME=SPEC`, `--state OUT=IN` and `--class-axis`: per-input specs for eval and
// calibration, with the data files (.npy, safetensors) they name read here.
import { readFile } from "../../io/fs.ts";
import { readNpy } from "../../io/npy/read_npy.ts";
import { ORT_ARRAYS, type OrtTensorType } from "../../io/onnx/ort.ts";
import { readSafetensors, type SafetensorsTensor } from "../../io/safetensors/read_safetensors.ts";
import { toFloat32 } from "../../model/to_float32.ts";
import { type InputSpec, type InputTensor, parseInputSpec } from "../../compress/input_feeds.ts";
import { CliError, UsageError } from "../cli_error.ts";

const TYPES: Partial<Record<SafetensorsTensor["dtype"], OrtTensorType>> = {
  F32: "float32",
  F64: "float64",
  F16: "float16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U64: "uint64",
  U32: "uint32",
  U16: "uint16",
  U8: "uint8",
  BOOL: "bool",
};

/** A safetensors tensor as an input tensor (bfloat16 and float8 widened to float32). */
export function tensorOf(t: SafetensorsTensor): InputTensor {
  const type = TYPES[t.dtype];
  if (type === undefined) return { data: toFloat32(t.data, t.dtype), dims: [...t.shape] };
  const C = ORT_ARRAYS[type] as unknown as new (b: ArrayBuffer) => InputTensor["data"];
  const data = new C(t.data.slice().buffer);
  return { data, dims: [...t.shape], ...(type === "float16" || type === "bool" ? { type } : {}) };
}

async function bytesOf(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new CliError(`cannot read ${what} "${path}": ${(e as Error).message}`, { cause: e });
  }
}

/** The tensor of an input read from a data file (`.npy`, or a safetensors tensor). */
export async function readInputFile(
  path: string,
  input: string,
  tensor?: string,
): Promise<InputTensor> {
  const bytes = await bytesOf(path, `the data file of input "${input}"`);
  if (!path.toLowerCase().endsWith(".safetensors")) return readNpy(bytes, { file: path });
  const { tensors } = readSafetensors(bytes, { file: path });
  const found = tensors.find((t) => t.name === (tensor ?? input)) ??
    (tensor === undefined && tensors.length === 1 ? tensors[0] : undefined);
  if (found === undefined) {
    throw new CliError(
      `"${path}" has no tensor "${tensor ?? input}" for input "${input}": its tensors are ${
        tensors.map((t) => t.name).join(", ") || "none"
      }`,
      { hint: `name the tensor: --input ${input}=${path}#<tensor>` },
    );
  }
  return tensorOf(found);
}

/** Parses and reads every `--input NAME=SPEC`. */
export async function readInputSpecs(
  values: readonly string[] | undefined,
  command: string,
): Promise<Record<string, InputSpec>> {
  const specs: Record<string, InputSpec> = {};
  for (const text of values ?? []) {
    let parsed;
    try {
      parsed = parseInputSpec(text);
    } catch (e) {
      throw new UsageError(`--input: ${(e as Error).message}`, command);
    }
    const { name, spec } = parsed;
    if (name in specs) {
      throw new UsageError(`--input gives "${name}" twice: current value is ${text}`, command);
    }
    specs[name] = "file" in spec ? await readInputFile(spec.file, name, spec.tensor) : spec;
  }
  return specs;
}

/** Parses `--state OUT=IN` pairs (an output fed back as an input at the next step). */
export function parseStatePairs(
  values: readonly string[] | undefined,
  command: string,
): Record<string, string> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const pairs: Record<string, string> = {};
  for (const v of values) {
    const m = /^([^=]+)=([^=]+)$/.exec(v);
    if (m === null) {
      throw new UsageError(
        `--state takes OUTPUT=INPUT, e.g. --state stateN=state: current value is ${v}`,
        command,
      );
    }
    pairs[m[1]] = m[2];
  }
  return pairs;
}

/** Parses `--class-axis N` (every output with that axis) or `--class-axis NAME=N` (repeatable). */
export function parseClassAxis(
  values: readonly string[] | undefined,
  command: string,
): number | Record<string, number> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const named: Record<string, number> = {};
  for (const v of values) {
    const m = /^(?:(.+)=)?(-?\d+)$/.exec(v);
    if (m === null || (m[1] === undefined && values.length > 1)) {
      throw new UsageError(
        `--class-axis takes an axis (1) or OUTPUT=AXIS per output (logits=1): current value is ${v}`,
        command,
      );
    }
    if (m[1] === undefined) return Number(m[2]);
    named[m[1]] = Number(m[2]);
  }
  return named;
}

/** Parses a positive integer option. */
export function positiveInteger(
  value: unknown,
  flag: string,
  command: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `--${flag} must be a positive integer: current value is ${value}`,
      command,
    );
  }
  return n;
}
