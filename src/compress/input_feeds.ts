/**
 * Input specs and the feeds they make: one spec per model input (a shape, a fill, a constant,
 * or data), symbolic dims bound by name across inputs, values of every ONNX input type.
 *
 * @module
 */

import type { GraphValueType } from "../io/onnx/graph_value_types.ts";
import {
  type InputData,
  type InputTensor,
  ORT_ARRAYS,
  type OrtTensorType,
  tensorTypeOf,
} from "../io/onnx/ort.ts";
import { f16ToF32, f32ToF16 } from "../tensor/float16.ts";

export type { InputTensor, OrtTensorType };

/**
 * How one input is made when it is not given as data (`InputTensor`): `fill` is `"random"`
 * (deterministic noise fitting the type: floats in [-1, 1), uint8 in [0, 255], other integers
 * in [0, 9], bools), `"zeros"`, `"ones"` or a constant; `dims` its shape (default: the model's,
 * symbolic dims bound by name); `type` its element type (checked against the model's).
 */
export interface InputFill {
  /** The values (default `"random"`). */
  readonly fill?: "random" | "zeros" | "ones" | number | bigint;
  /** The shape (`[]` for a scalar). */
  readonly dims?: readonly number[];
  /** The element type. */
  readonly type?: OrtTensorType;
}

/** One input: data, or how to make it. */
export type InputSpec = InputTensor | InputFill;

/** A parsed `NAME=SPEC` whose data is in a file (read by the caller, e.g. the CLI). */
export interface InputFileSpec {
  /** The file path (`.npy` or `.safetensors`). */
  readonly file: string;
  /** The tensor of a safetensors file (`file.safetensors#name`; default the input's name). */
  readonly tensor?: string;
}

/** Options of `inputFeeds`. */
export interface InputFeedsOptions {
  /** Sizes of symbolic dims by name (e.g. `{ batch: 1 }`), before any spec binds them. */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * The batch size: unbound symbolic dims that are some input's dim 0, and unnamed dims at dim 0
   * or alone (default: dim 0 of the first input given a shape whose dim 0 is dynamic, else 8).
   */
  readonly batch?: number;
  /** The seed of random fills (default 1234; input `k` uses `seed + k`). */
  readonly seed?: number;
}

const TYPES = Object.keys(ORT_ARRAYS) as OrtTensorType[];
const FILLS = ["random", "zeros", "ones"] as const;

/**
 * Parses a command-line input spec `NAME=SPEC`. SPEC is a data file (`x.npy`,
 * `inputs.safetensors`, `inputs.safetensors#tensor`, or any path after `@`), or `:`-separated
 * parts in any order: a fill (`random`, `zeros`, `ones` or a number), a shape (`1,576`, `[8]`,
 * `[]`), an element type (`int64`, `float16`, `bool`, …).
 *
 * @param text The spec, e.g. `sr=16000:int64`, `state=zeros`, `x=1,576`, `x=@audio.npy`.
 * @returns The input name and its spec (a file spec is read by the caller).
 * @throws {RangeError} When the text has no name, an empty or unknown part, or a part twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseInputSpec } from "./input_feeds.ts";
 *
 * assert.deepEqual(parseInputSpec("sr=16000:int64"), { name: "sr", spec: { fill: 16000, type: "int64" } });
 * assert.deepEqual(parseInputSpec("x=1,576"), { name: "x", spec: { dims: [1, 576] } });
 * assert.deepEqual(parseInputSpec("state=zeros"), { name: "state", spec: { fill: "zeros" } });
 * assert.deepEqual(parseInputSpec("x=calib.safetensors#audio"), { name: "x", spec: { file: "calib.safetensors", tensor: "audio" } });
 * assert.throws(() => parseInputSpec("x=1,576:float33"), /float33/);
 * ```
 */
export function parseInputSpec(text: string): { name: string; spec: InputFill | InputFileSpec } {
  const eq = text.indexOf("=");
  const name = eq < 0 ? "" : text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (name === "" || value === "") {
    throw new RangeError(
      `an input spec must be NAME=SPEC, e.g. sr=16000:int64, state=zeros or x=1,576: current value is ${text}`,
    );
  }
  const file = /^@(.+)$/.exec(value) ?? /^(.+\.(?:npy|safetensors))(?:#(.+))?$/i.exec(value);
  if (file !== null) {
    const [path, tensor] = file[0].startsWith("@")
      ? file[1].split(/#(?=[^#/\\]*$)/)
      : [file[1], file[2]];
    return { name, spec: tensor === undefined ? { file: path } : { file: path, tensor } };
  }
  let fill: InputFill["fill"];
  let dims: number[] | undefined;
  let type: OrtTensorType | undefined;
  const twice = (what: string, part: string) =>
    new RangeError(`input spec "${text}" gives ${what} twice: current value is ${part}`);
  for (const part of value.split(":")) {
    if ((TYPES as string[]).includes(part)) {
      if (type !== undefined) throw twice("an element type", part);
      type = part as OrtTensorType;
    } else if (
      (FILLS as readonly string[]).includes(part) ||
      /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(part)
    ) {
      if (fill !== undefined) throw twice("the values", part);
      fill = (FILLS as readonly string[]).includes(part)
        ? part as InputFill["fill"]
        : /^[-+]?\d+$/.test(part) && !Number.isSafeInteger(Number(part))
        ? BigInt(part)
        : Number(part);
    } else if (
      /^\[\s*\]$/.test(part) || /^\[?\d+(\s*,\s*\d+)*,?\]?$/.test(part) && /[,[]/.test(part)
    ) {
      if (dims !== undefined) throw twice("a shape", part);
      dims = part.replace(/[[\]\s]/g, "").split(",").filter((d) => d !== "").map(Number);
    } else {
      throw new RangeError(
        `input spec "${text}": "${part}" is not a fill (random, zeros, ones, a number), a shape ` +
          `(1,576 or [8]) or an element type (${TYPES.join(", ")})`,
      );
    }
  }
  return {
    name,
    spec: {
      ...(fill === undefined ? {} : { fill }),
      ...(dims === undefined ? {} : { dims }),
      ...(type === undefined ? {} : { type }),
    },
  };
}

/** Deterministic values in [-1, 1) (a 32-bit LCG). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

const isInteger = (t: OrtTensorType) => /int/.test(t);
const isFloat = (t: OrtTensorType) => t.startsWith("float");

/**
 * The values of a tensor as numbers: float16 bits decoded, 64-bit integers rounded to the nearest
 * double, bools 0 or 1.
 *
 * @param t The tensor.
 * @returns Its float32 or float64 values (the data itself when it is float32 or float64).
 * @throws {TypeError} As `tensorTypeOf`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tensorValues } from "./input_feeds.ts";
 *
 * assert.deepEqual([...tensorValues({ data: Uint16Array.of(0x3c00), dims: [1], type: "float16" })], [1]);
 * assert.deepEqual([...tensorValues({ data: BigInt64Array.of(-3n), dims: [] })], [-3]);
 * ```
 */
export function tensorValues(t: InputTensor): Float64Array | Float32Array {
  const type = tensorTypeOf(t);
  if (type === "float16") return f16ToF32(t.data as Uint16Array);
  if (t.data instanceof Float32Array || t.data instanceof Float64Array) return t.data;
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) {
    return Float64Array.from(t.data, (v) => Number(v));
  }
  return Float64Array.from(t.data as ArrayLike<number>);
}

/**
 * Converts a tensor to another element type: float to float (float16 included), integer or bool
 * to any type. Float to integer is refused (rounding would invent values).
 *
 * @param t The tensor.
 * @param type The element type wanted.
 * @param label The tensor, for errors.
 * @returns `t` when it has the type already, else a converted copy.
 * @throws {TypeError} When float values would have to become integers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { castInput } from "./input_feeds.ts";
 *
 * const t = castInput({ data: Int32Array.of(8000, 16000), dims: [2] }, "int64", "sr");
 * assert.deepEqual([...t.data], [8000n, 16000n]);
 * assert.throws(() => castInput({ data: Float32Array.of(0.5), dims: [] }, "int64", "sr"), /sr/);
 * ```
 */
export function castInput(t: InputTensor, type: OrtTensorType, label: string): InputTensor {
  const from = tensorTypeOf(t);
  if (from === type) return t;
  if (isFloat(from) && !isFloat(type)) {
    throw new TypeError(`${label} must be ${type}: current value is ${from} (not converted)`);
  }
  return { data: fromNumbers(tensorValues(t), type), dims: t.dims, type };
}

function fromNumbers(values: ArrayLike<number>, type: OrtTensorType): InputData {
  if (type === "float16") return f32ToF16(Float32Array.from(values));
  if (type === "int64") return BigInt64Array.from(values as number[], (v) => BigInt(Math.round(v)));
  if (type === "uint64") {
    return BigUint64Array.from(values as number[], (v) => BigInt(Math.round(v)));
  }
  if (type === "bool") return Uint8Array.from(values as number[], (v) => (v !== 0 ? 1 : 0));
  const C = ORT_ARRAYS[type] as unknown as { from(v: ArrayLike<number>): InputData };
  return C.from(values);
}

function filled(
  fill: NonNullable<InputFill["fill"]>,
  n: number,
  type: OrtTensorType,
  seed: number,
): InputData {
  if (fill === "zeros") return new ORT_ARRAYS[type](n);
  if (typeof fill === "bigint") {
    if (type !== "int64" && type !== "uint64") return fromNumbers([Number(fill)], type);
    const C = type === "int64" ? BigInt64Array : BigUint64Array;
    return new C(n).fill(fill);
  }
  if (fill === "ones" || typeof fill === "number") {
    const v = fill === "ones" ? 1 : fill;
    if (isInteger(type) && !Number.isInteger(v)) {
      throw new RangeError(`a ${type} input takes integers: current value is ${v}`);
    }
    return fromNumbers(new Float64Array(n).fill(v), type);
  }
  const r = noise(n, seed);
  if (isFloat(type)) return fromNumbers(r, type);
  if (type === "bool") return Uint8Array.from(r, (v) => (v >= 0 ? 1 : 0));
  const span = type === "uint8" ? 256 : 10;
  return fromNumbers(Float64Array.from(r, (v) => Math.floor((v + 1) / 2 * span)), type);
}

const show = (v: unknown) => JSON.stringify(v);

/**
 * Makes one tensor per model input from the specs: data as given, else filled (`InputFill`).
 * Symbolic dims are bound by name: a spec whose shape or data gives `x` the dims `[1, 576]`
 * where the model declares `[batch, 576]` sets `batch = 1` for every input that uses `batch`
 * (`state [2, batch, 128]` becomes `[2, 1, 128]`). Unbound names take `options.dims`, else the
 * batch size when some input has them as dim 0, else 16. A dim without a name is the batch size
 * when it is dim 0 or its input's only dynamic dim (`state [2, ?, 128]`), else 16. The batch
 * size is `options.batch`, else dim 0 of the first input given a shape whose dim 0 is dynamic,
 * else 8.
 *
 * An integer input of one element (a sample rate, a count, an id) is never filled with random
 * values unless its spec says `fill: "random"`: without a spec it is an error that asks for its
 * value.
 *
 * @param inputs The model's inputs (`graphValueTypes(onnx).inputs`).
 * @param specs Specs by input name; inputs without one are random in the model's shape.
 * @param options Dim sizes by name, the default batch, the seed.
 * @returns One tensor per input, by name.
 * @throws {RangeError} When a spec names no input, a shape or data does not fit the model's
 * rank or fixed dims, two inputs bind one name to different sizes, a type differs from the
 * model's, an integer scalar has no spec, or an input has no shape or an unsupported type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inputFeeds } from "./input_feeds.ts";
 *
 * const inputs = [
 *   { name: "x", elemType: 1, type: "float32", dims: ["batch", 576] },
 *   { name: "state", elemType: 1, type: "float32", dims: [2, "batch", 128] },
 *   { name: "sr", elemType: 7, type: "int64", dims: [] },
 * ] as const;
 * const feeds = inputFeeds(inputs, { x: { dims: [1, 576] }, state: { fill: "zeros" }, sr: { fill: 16000 } });
 * assert.deepEqual(feeds.state.dims, [2, 1, 128]);
 * assert.deepEqual([...feeds.sr.data], [16000n]);
 * assert.throws(() => inputFeeds(inputs, { x: { dims: [1, 576] } }), /"sr" is an int64 scalar/);
 * ```
 */
export function inputFeeds(
  inputs: readonly GraphValueType[],
  specs: Readonly<Record<string, InputSpec>> = {},
  options: InputFeedsOptions = {},
): Record<string, InputTensor> {
  const names = inputs.map((i) => i.name);
  for (const name of Object.keys(specs)) {
    if (!names.includes(name)) {
      throw new RangeError(
        `input spec "${name}" names no input of the model: the inputs are ${names.join(", ")}`,
      );
    }
  }
  const bound = new Map<string, { size: number; from: string }>();
  for (const [k, v] of Object.entries(options.dims ?? {})) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`dim "${k}" must be a non-negative integer: current value is ${v}`);
    }
    bound.set(k, { size: v, from: "the dim sizes given" });
  }
  // 1. shapes that specs give bind the model's symbolic names
  const given = new Map<string, readonly number[]>();
  for (const input of inputs) {
    const spec = specs[input.name];
    const dims = spec === undefined ? undefined : spec.dims;
    if (dims === undefined) continue;
    if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new RangeError(
        `input "${input.name}": dims must be non-negative integers: current value is ${show(dims)}`,
      );
    }
    given.set(input.name, dims);
    const model = input.dims;
    if (model === undefined) continue;
    if (model.length !== dims.length) {
      throw new RangeError(
        `input "${input.name}" has shape ${show(model)} in the model: current value is ${
          show(dims)
        }`,
      );
    }
    model.forEach((m, i) => {
      if (typeof m === "number" && m >= 0 && m !== dims[i]) {
        throw new RangeError(
          `input "${input.name}" has shape ${show(model)} in the model, dim ${i} is fixed: ` +
            `current value is ${show(dims)}`,
        );
      }
      if (typeof m !== "string") return;
      const was = bound.get(m);
      if (was !== undefined && was.size !== dims[i]) {
        throw new RangeError(
          `dim "${m}" is ${was.size} from ${was.from} and ${dims[i]} from input "${input.name}" ` +
            `(dims ${show(dims)}): inputs that share a symbolic dim must agree`,
        );
      }
      bound.set(m, { size: dims[i], from: `input "${input.name}"` });
    });
  }
  // 2. names still unbound: the batch size where some input has them first, else 16. The
  // batch size is options.batch, else dim 0 of the first input given whose dim 0 is dynamic.
  const dynamic = (m: number | string | null) => typeof m !== "number" || m < 0;
  const first = inputs.find((i) => given.has(i.name) && i.dims !== undefined && dynamic(i.dims[0]));
  const batch = options.batch ?? (first === undefined ? 8 : given.get(first.name)![0]);
  for (const input of inputs) {
    (input.dims ?? []).forEach((m, i) => {
      if (typeof m === "string" && !bound.has(m) && i === 0) {
        bound.set(m, { size: batch, from: "the default batch" });
      }
    });
  }
  const out: Record<string, InputTensor> = {};
  inputs.forEach((input, k) => {
    const spec = specs[input.name];
    const where = `input "${input.name}"`;
    if (input.type === undefined) {
      throw new RangeError(
        `${where} has ONNX element type ${input.elemType}, which cannot be fed from JavaScript`,
      );
    }
    const type = input.type;
    if (spec !== undefined && "data" in spec) {
      const t = castInput(spec, type, where);
      const size = spec.dims.reduce((a, b) => a * b, 1);
      if (size !== spec.data.length) {
        throw new RangeError(
          `${where}: dims ${
            show(spec.dims)
          } need ${size} values: current value has ${spec.data.length}`,
        );
      }
      out[input.name] = t;
      return;
    }
    if (spec?.type !== undefined && spec.type !== type) {
      throw new RangeError(`${where} is ${type} in the model: current value is ${spec.type}`);
    }
    let dims = given.get(input.name);
    if (dims === undefined) {
      if (input.dims === undefined) {
        throw new RangeError(
          `${where} has no shape in the model: give one, e.g. "${input.name}=1,16"`,
        );
      }
      // A dim without a name is the batch at dim 0, or when it is its input's only dynamic
      // dim (silero's state [2, ?, 128]); else 16.
      const only = input.dims.filter(dynamic).length === 1;
      dims = input.dims.map((m, i) =>
        typeof m === "number" && m >= 0
          ? m
          : typeof m === "string"
          ? bound.get(m)?.size ?? 16
          : i === 0 || only
          ? batch
          : 16
      );
    }
    const n = dims.reduce((a, b) => a * b, 1);
    const fill = spec?.fill;
    if (fill === undefined && isInteger(type) && n === 1) {
      throw new RangeError(
        `${where} is an ${type} scalar (a sample rate, a count, an id): give its value, e.g. ` +
          `"${input.name}=16000:${type}", or "${input.name}=random" for random values`,
      );
    }
    out[input.name] = {
      data: filled(fill ?? "random", n, type, (options.seed ?? 1234) + k),
      dims,
      ...(type === "float16" || type === "bool" ? { type } : {}),
    };
  });
  return out;
}
