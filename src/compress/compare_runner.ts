/**
 * `compareRunnerOutputs`: how far the outputs of compressed weights are from the original's,
 * when the network that runs them is built in code (a tfjs weights manifest alone, as
 * face-api.js ships its networks): a runner, a function of the weights, runs both weight sets
 * on its own inputs, and every output it returns is compared.
 *
 * @module
 */

import { compareOutput } from "./compare_tfjs.ts";
import type { OutputComparison } from "./compare_outputs.ts";
import { tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";

/** One weight as a runner gets it: values decoded (tfjs quantization dequantized, as tfjs does). */
export interface RunnerWeight {
  /** The dtype the values have (`float32` for dequantized weights, `int32`, `bool`, ...). */
  readonly dtype: string;
  /** The dims. */
  readonly shape: readonly number[];
  /** The values, row-major. */
  readonly values: Float32Array | Int32Array | Uint8Array;
}

/**
 * A function that builds the network from the weights, runs it on inputs of its own (the same
 * on every call) and returns its outputs: one output (a typed array or number array, a
 * `{ dims, data }` or `{ shape, data }` object, or a tfjs tensor, anything with `shape` and
 * `dataSync()`), an array of them (`output_0`, ...), or an object or `Map` of them by name.
 */
export type WeightsRunner = (weights: ReadonlyMap<string, RunnerWeight>) => unknown;

/**
 * The weights of a tfjs model (a weights manifest alone, or any `model.json`) as a runner gets
 * them: by name, in manifest order, values as tfjs decodes them.
 *
 * @param model The decoded model (`readTfjs`).
 * @returns The weights by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsRunnerWeights } from "./compare_runner.ts";
 *
 * const manifest = [{ paths: ["w.bin"], weights: [{ name: "fc/w", shape: [2], dtype: "float32" }] }];
 * const shards = new Map([["w.bin", new Uint8Array(new Float32Array([1.5, -2]).buffer)]]);
 * const weights = tfjsRunnerWeights(readTfjs(JSON.stringify(manifest), shards));
 * assert.deepEqual([...weights.get("fc/w")!.values], [1.5, -2]);
 * ```
 */
export function tfjsRunnerWeights(model: TfjsModel): Map<string, RunnerWeight> {
  const out = new Map<string, RunnerWeight>();
  for (const w of model.weights) {
    const values = tfjsWeightValues(w);
    const dtype = w.spec.quantization !== undefined ? "float32" : w.spec.dtype;
    out.set(w.spec.name, { dtype, shape: [...w.spec.shape], values });
  }
  return out;
}

interface Output {
  readonly dims: number[];
  readonly data: Float32Array;
}

function isArrayLikeOfNumbers(v: unknown): v is ArrayLike<number> {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) ||
    Array.isArray(v) && v.every((x) => typeof x === "number");
}

/** One output as a runner returned it, or `undefined` for a value that is not one. */
function outputOf(v: unknown): Output | undefined {
  if (isArrayLikeOfNumbers(v)) {
    const data = toFloat32(v);
    return { dims: [data.length], data };
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as { dims?: unknown; shape?: unknown; data?: unknown; dataSync?: unknown };
  const dims = Array.isArray(o.dims) ? o.dims : Array.isArray(o.shape) ? o.shape : undefined;
  const raw = typeof o.dataSync === "function" ? (o.dataSync as () => unknown).call(v) : o.data;
  if (!isArrayLikeOfNumbers(raw)) return undefined;
  const data = toFloat32(raw);
  const d = dims === undefined ? [data.length] : dims.map(Number);
  if (d.some((x) => !Number.isSafeInteger(x) || x < 0)) return undefined;
  if (d.reduce((p, q) => p * q, 1) !== data.length) {
    throw new RangeError(
      `an output's dims [${d.join(", ")}] hold ${
        d.reduce((p, q) => p * q, 1)
      } values but it has ${data.length}`,
    );
  }
  return { dims: d, data };
}

function toFloat32(v: ArrayLike<number>): Float32Array {
  if (v instanceof Float32Array) return v.slice();
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
    return Float32Array.from(v as unknown as bigint[], Number);
  }
  return Float32Array.from(v);
}

/**
 * The outputs a runner returned, by name, in its order.
 *
 * @throws {TypeError} For a value that is no output, nor a list or record of outputs.
 */
function runnerOutputs(value: unknown, label: string): Map<string, Output> {
  const out = new Map<string, Output>();
  const one = (name: string, v: unknown) => {
    let o: Output | undefined;
    try {
      o = outputOf(v);
    } catch (e) {
      throw new RangeError(`output "${name}" of ${label}: ${(e as Error).message}`);
    }
    if (o === undefined) {
      throw new TypeError(
        `output "${name}" of ${label} is not an array of numbers, a { dims, data } object or a ` +
          "tensor with dataSync()",
      );
    }
    out.set(name, o);
  };
  const whole = (() => {
    try {
      return outputOf(value);
    } catch (e) {
      throw new RangeError(`the output of ${label}: ${(e as Error).message}`);
    }
  })();
  if (whole !== undefined) out.set("output", whole);
  else if (Array.isArray(value)) value.forEach((v, k) => one(`output_${k}`, v));
  else if (value instanceof Map) { for (const [k, v] of value) one(String(k), v); }
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) one(k, v);
  } else {
    throw new TypeError(
      `${label} returned ${value === null ? "null" : typeof value}: return its outputs (an array ` +
        "of numbers, a { dims, data } object or a tensor; a list of them; or an object of them " +
        "by name)",
    );
  }
  if (out.size === 0) throw new TypeError(`${label} returned no outputs`);
  return out;
}

/**
 * Runs `run` on the compressed weights and on the original ones and compares every output it
 * returns (the same measures as `compareOutputs`: max and mean |diff|, relative error, cosine,
 * and for `[N, C]` outputs the rows that keep their argmax). The runner must feed both weight
 * sets the same inputs: its outputs are compared element by element, by name.
 *
 * @param run The runner (`WeightsRunner`).
 * @param weights The compressed weights (`tfjsRunnerWeights`).
 * @param reference The original weights.
 * @returns One comparison per output, in the order of the reference run's outputs.
 * @throws {Error} The runner's error, naming which weights it ran.
 * @throws {TypeError} When a run returns no outputs or something that is not one.
 * @throws {RangeError} When the two runs differ in their outputs' names or sizes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareRunnerOutputs, type RunnerWeight } from "./compare_runner.ts";
 *
 * const weightsOf = (w: number[]) =>
 *   new Map<string, RunnerWeight>([["w", { dtype: "float32", shape: [2], values: new Float32Array(w) }]]);
 * // y = w · x on two fixed inputs.
 * const run = (weights: ReadonlyMap<string, RunnerWeight>) => {
 *   const w = weights.get("w")!.values;
 *   return { y: [[1, 2], [3, -1]].map(([a, b]) => w[0] * a + w[1] * b) };
 * };
 * const [y] = await compareRunnerOutputs(run, weightsOf([0.5, 1]), weightsOf([0.5, 1.01]));
 * assert.equal(y.name, "y");
 * assert.ok(y.cosine > 0.999 && y.maxAbsDiff < 0.03);
 * ```
 */
export async function compareRunnerOutputs(
  run: WeightsRunner,
  weights: ReadonlyMap<string, RunnerWeight>,
  reference: ReadonlyMap<string, RunnerWeight>,
): Promise<OutputComparison[]> {
  const call = async (w: ReadonlyMap<string, RunnerWeight>, label: string) => {
    let value: unknown;
    try {
      value = await run(w);
    } catch (e) {
      throw new Error(`the runner failed on ${label}: ${(e as Error)?.message ?? e}`, {
        cause: e,
      });
    }
    return runnerOutputs(value, `the runner on ${label}`);
  };
  const b = await call(reference, "the original weights");
  const a = await call(weights, "the compressed weights");
  const missing = [...b.keys()].filter((k) => !a.has(k));
  const extra = [...a.keys()].filter((k) => !b.has(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new RangeError(
      `the runner returned other outputs on the compressed weights (${
        [...a.keys()].join(", ")
      }) than on the original ones (${[...b.keys()].join(", ")})`,
    );
  }
  return [...b].map(([name, y]) => {
    const x = a.get(name)!;
    if (x.data.length !== y.data.length) {
      throw new RangeError(
        `output "${name}" has ${x.data.length} values on the compressed weights and ${y.data.length} on the original ones: the runner must give both the same inputs`,
      );
    }
    return compareOutput(name, x.data, y.data, y.dims);
  });
}
