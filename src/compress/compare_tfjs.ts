/**
 * `compareTfjsOutputs`: how far a compressed TensorFlow.js model's outputs are from the
 * original's on the same deterministic random inputs, both run by tfjs itself.
 *
 * @module
 */

import type * as TfCore from "@tensorflow/tfjs-core";
import type { OutputComparison } from "./compare_outputs.ts";
import { compareTensors } from "./_compare_tensors.ts";
import { matchPicks, UNALIGNED } from "./_match_picks.ts";
import type { TfjsFiles } from "../io/tfjs/write_tfjs.ts";
import type { TfjsInputSet } from "./tfjs_inputs.ts";
import { tfjsSelectionOutputs, tfjsSelectionSources } from "./selection_outputs.ts";
import type { TfjsLayerHessian } from "../quantization/gptq_tfjs.ts";
export type { TfjsInputSet, TfjsInputTensor } from "./tfjs_inputs.ts";

/** The tfjs modules that run the models (`@tensorflow/tfjs-core` with a backend set). */
export interface TfjsRuntime {
  /** `@tensorflow/tfjs-core`. */
  readonly tf: typeof TfCore;
  /**
   * `loadGraphModel` of `@tensorflow/tfjs-converter` (graph models), called with a
   * `tf.io.IOHandler` (the parameter is typed `never` so that the entry's documented types stay
   * free of tfjs-core's own).
   */
  readonly loadGraphModel?: (handler: never) => Promise<unknown>;
  /** `loadLayersModel` of `@tensorflow/tfjs-layers` (layers models), called likewise. */
  readonly loadLayersModel?: (handler: never) => Promise<unknown>;
}

/** The agreement of one output, with its cosine similarity. */
export interface TfjsOutputComparison extends OutputComparison {
  /** `a·b / (|a| |b|)` over the output's elements (1 when both are all zero). */
  readonly cosine: number;
}

/** Options of `compareTfjsOutputs`. */
export interface CompareTfjsOptions {
  /** The first input's shape, replacing its unknown dims. */
  readonly shape?: readonly number[];
  /**
   * The size of unknown dims when no shape is given: dim 0 (batch) gets this, the height and
   * width of an image input (`[n, h, w, c]`, 1 to 4 channels) 128, others 16.
   */
  readonly batch?: number;
  /** The seed of the inputs (default 1234). */
  readonly seed?: number;
  /**
   * The range of float inputs (default `[-1, 1]`); images normalised to `[0, 1]` or
   * `[0, 255]` take their own range.
   */
  readonly range?: readonly [number, number];
  /**
   * Real inputs instead of random ones: input sets, each one tensor per model input in the
   * model's input order (photos preprocessed as the model's application feeds them, say).
   * Outputs are compared over every set at once (each output's elements of all sets
   * concatenated); `shape`, `batch`, `seed` and `range` are then unused.
   */
  readonly inputs?: readonly TfjsInputSet[];
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

/**
 * An IOHandler that loads a model from its files in memory the way tfjs's own HTTP and file
 * handlers do: `model.json` parsed by `getModelArtifactsForJSON`, each group's shards fetched
 * in `paths` order and concatenated in manifest order.
 *
 * @param tf `@tensorflow/tfjs-core`.
 * @param files Every file by name (`model.json`, then the shards as the manifest names them).
 * @returns The handler for `loadGraphModel` / `loadLayersModel`.
 * @throws {RangeError} When `files` has no `model.json`.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import { loadGraphModel } from "@tensorflow/tfjs-converter";
 * const model = await loadGraphModel(tfjsMemoryHandler(tf, files));
 * ```
 */
export function tfjsMemoryHandler(
  tf: typeof TfCore,
  files: ReadonlyMap<string, Uint8Array>,
): TfCore.io.IOHandler {
  const json = files.get("model.json");
  if (json === undefined) {
    throw new RangeError(
      `"files" must hold model.json: current names are ${JSON.stringify([...files.keys()])}`,
    );
  }
  return {
    load: () =>
      tf.io.getModelArtifactsForJSON(
        JSON.parse(new TextDecoder().decode(json)),
        (manifest) => {
          const specs = manifest.flatMap((g) => g.weights);
          const parts = manifest.flatMap((g) =>
            g.paths.map((p) => {
              const bytes = files.get(p) ?? files.get(p.slice(p.lastIndexOf("/") + 1));
              if (bytes === undefined) {
                throw new RangeError(`the weight shard "${p}" is missing from "files"`);
              }
              return bytes;
            })
          );
          const total = parts.reduce((n, p) => n + p.length, 0);
          const data = new Uint8Array(total);
          let at = 0;
          for (const p of parts) {
            data.set(p, at);
            at += p.length;
          }
          return Promise.resolve([specs, data.buffer]);
        },
      ),
  };
}

interface RunnableModel {
  readonly inputs: readonly { name: string; shape?: readonly (number | null)[]; dtype?: string }[];
  readonly outputs: readonly { name: string }[];
  predict?(x: unknown): unknown;
  execute?(x: unknown, outputs?: string[]): unknown;
  executeAsync?(x: unknown, outputs?: string[]): Promise<unknown>;
  dispose?(): void;
}

/** Why a weights manifest alone cannot be run. */
export const NOT_RUNNABLE =
  "a tfjs weights manifest alone (a list of weight groups, as face-api.js ships them) has no " +
  "topology: tfjs cannot run it, so it cannot be calibrated or measured here, nor evaluated " +
  "without a runner (the library that ships it builds the network in code); compress its " +
  "weights, then run it there";

function kindOf(files: ReadonlyMap<string, Uint8Array>): "graph-model" | "layers-model" {
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  if (Array.isArray(json)) throw new TypeError(NOT_RUNNABLE);
  if (json.format === "graph-model" || json.format === "layers-model") return json.format;
  return Array.isArray(json.modelTopology?.node) ? "graph-model" : "layers-model";
}

async function load(runtime: TfjsRuntime, files: ReadonlyMap<string, Uint8Array>) {
  const handler = tfjsMemoryHandler(runtime.tf, files);
  const kind = kindOf(files);
  const loader = kind === "graph-model" ? runtime.loadGraphModel : runtime.loadLayersModel;
  if (loader === undefined) {
    throw new TypeError(
      `running a tfjs ${kind} needs ${
        kind === "graph-model"
          ? "loadGraphModel from @tensorflow/tfjs-converter"
          : "loadLayersModel from @tensorflow/tfjs-layers"
      }: "runtime" has none`,
    );
  }
  return { kind, model: await loader(handler as never) as RunnableModel };
}

/** One input of a tfjs model as tfjs reports it. */
export interface TfjsModelInput {
  /** The name (a graph model's placeholder node, without `:0`). */
  readonly name: string;
  /** The dtype (`float32`, `int32`, ...). */
  readonly dtype: string;
  /** The dims, `-1` (or `null`) where unknown. */
  readonly shape: readonly (number | null)[];
}

/**
 * The inputs of a model in the order tfjs takes them (the order of `TfjsInputSet`): tfjs loads
 * it from the files and reports `model.inputs`.
 *
 * @param runtime tfjs-core (backend set) and `loadGraphModel` / `loadLayersModel`.
 * @param files The model's files (`model.json` and shards).
 * @returns The inputs.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { loadGraphModel } from "@tensorflow/tfjs-converter";
 * const [input] = await tfjsModelInputs({ tf, loadGraphModel }, files);
 * console.log(input.name, input.dtype, input.shape);
 * ```
 */
export async function tfjsModelInputs(
  runtime: TfjsRuntime,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<TfjsModelInput[]> {
  const { model } = await load(runtime, files);
  try {
    return model.inputs.map((x) => ({
      name: x.name,
      dtype: x.dtype ?? "float32",
      shape: [...x.shape ?? []],
    }));
  } finally {
    model.dispose?.();
  }
}

/**
 * The outputs of a model on the inputs, by name, as float32 (`dtype` as tfjs gave it), then the
 * graph model's tensors named in `extra`.
 */
async function run(
  tf: typeof TfCore,
  loaded: { kind: string; model: RunnableModel },
  inputs: TfCore.Tensor[],
  extra: readonly string[] = [],
): Promise<{ name: string; dims: number[]; data: Float32Array; dtype: string }[]> {
  const { model } = loaded;
  let out: unknown;
  if (loaded.kind === "graph-model") {
    const feed: Record<string, TfCore.Tensor> = {};
    model.inputs.forEach((x, k) => feed[x.name] = inputs[k]);
    const names = [...model.outputs.map((o) => o.name), ...extra];
    // execute() runs graphs without control flow; executeAsync() the others.
    try {
      out = model.execute!(feed, names);
    } catch {
      out = await model.executeAsync!(feed, names);
    }
  } else {
    out = model.predict!(inputs.length === 1 ? inputs[0] : inputs);
  }
  const list = (Array.isArray(out) ? out : [out]) as TfCore.Tensor[];
  const result = [];
  for (let k = 0; k < list.length; k++) {
    const t = list[k];
    const data = t.dtype === "float32"
      ? await t.data() as Float32Array
      : Float32Array.from(await t.data() as Int32Array);
    const name = k < model.outputs.length ? model.outputs[k].name : extra[k - model.outputs.length];
    result.push({ name: name ?? `output_${k}`, dims: t.shape, data, dtype: t.dtype });
    t.dispose();
  }
  tf.dispose(list);
  return result;
}

/** The measures of one output of the model (`a`) against the reference's (`b`). */
export function compareOutput(
  name: string,
  a: Float32Array,
  b: Float32Array,
  dims: readonly number[],
): TfjsOutputComparison {
  const measure = compareTensors([a], [b], [dims], {
    name,
    explicit: false,
    iou: false,
    threshold: 0.5,
  });
  return { name, dims, type: "float32", ...measure };
}

/**
 * The selection op each output of a model's files depends on (`tfjsSelectionOutputs`) and, with
 * `withSources` when every output comes after one, the tensors the selections select from
 * (`tfjsSelectionSources`; none for a layers model): else the other outputs measure the model.
 */
function selectionOf(
  files: ReadonlyMap<string, Uint8Array>,
  outputs: readonly string[],
  withSources = false,
): { selected: Map<string, string>; sources: Map<string, string> } {
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  const selected = tfjsSelectionOutputs(json, outputs);
  const allPicks = outputs.length > 0 && selected.size === outputs.length;
  return {
    selected,
    sources: withSources && allPicks ? tfjsSelectionSources(json, outputs) : new Map(),
  };
}

/** The given input sets as tensors. */
function givenInputs(tf: typeof TfCore, sets: readonly TfjsInputSet[]): TfCore.Tensor[][] {
  return sets.map((set) =>
    set.map((x) =>
      x.data instanceof Int32Array
        ? tf.tensor(x.data, [...x.dims], "int32")
        : tf.tensor(x.data, [...x.dims], "float32")
    )
  );
}

/** Arrays end to end (the one array itself when there is one). */
function joined(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return data;
}

/** Each output's data over every set, concatenated (sets share their outputs' order). */
function concatenated(runs: { name: string; dims: number[]; data: Float32Array }[][]) {
  return runs[0].map((o, k) => {
    const data = joined(runs.map((r) => r[k].data));
    return { name: o.name, dims: [data.length], data };
  });
}

/**
 * The side of an image input's unknown height and width: detectors and pose models whose input
 * size is free need a multiple of their largest stride (32 or 64; movenet-multipose's feature
 * pyramid cannot add its levels at 16).
 */
const IMAGE_SIDE = 128;

/** Whether an input is an NHWC image: four dims, the last 1 to 4 channels. */
const isImage = (shape: readonly (number | null)[]) =>
  shape.length === 4 && typeof shape[3] === "number" && shape[3] >= 1 && shape[3] <= 4;

/** Deterministic inputs for a model (see `compareTfjsOutputs`). */
function makeInputs(
  tf: typeof TfCore,
  model: RunnableModel,
  options: CompareTfjsOptions,
  seed: number,
): TfCore.Tensor[] {
  return model.inputs.map((x, k) => {
    const dims = k === 0 && options.shape !== undefined
      ? [...options.shape]
      : (x.shape ?? []).map((d, i, shape) =>
        typeof d === "number" && d > 0
          ? d
          : i === 0
          ? options.batch ?? 2
          : isImage(shape) && (i === 1 || i === 2)
          ? IMAGE_SIDE
          : 16
      );
    const n = dims.reduce((p, q) => p * q, 1);
    const values = noise(n, seed + k);
    if (options.range !== undefined) {
      const [lo, hi] = options.range;
      for (let i = 0; i < n; i++) values[i] = lo + (values[i] + 1) / 2 * (hi - lo);
    }
    return x.dtype === "int32"
      ? tf.tensor(Int32Array.from(values, (v) => Math.floor((v + 1) * 5)), dims, "int32")
      : tf.tensor(values, dims, "float32");
  });
}

/**
 * Loads both models with tfjs (`loadGraphModel` or `loadLayersModel`, from the files in memory
 * through `tfjsMemoryHandler`), runs them on the same deterministic random inputs (unknown dims
 * become `batch` for dim 0, 128 for an image's height and width, 16 elsewhere, or
 * `options.shape` for the first input; int32
 * inputs get small integers) and compares every output: cosine similarity, maximum absolute
 * difference, relative L2 error and, for `[N, C]` outputs, how many rows keep their argmax.
 * When every output of a graph model comes after a selection op, the float tensors the
 * selections select from (`tfjsSelectionSources`) follow the outputs, marked `beforeSelection`.
 *
 * @param runtime tfjs-core (backend set) and the loaders.
 * @param model The compressed model's files (`model.json` and shards).
 * @param reference The original model's files.
 * @param options The first input's shape, batch size, seed.
 * @returns One comparison per output.
 * @throws {TypeError} When the runtime has no loader for the model's kind.
 * @throws {Error} tfjs's error when a model does not run on the generated inputs.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { loadGraphModel } from "@tensorflow/tfjs-converter";
 * const [out] = await compareTfjsOutputs({ tf, loadGraphModel }, compressed.files, original.files);
 * console.log(out.cosine, out.maxAbsDiff);
 * ```
 */
export async function compareTfjsOutputs(
  runtime: TfjsRuntime,
  model: ReadonlyMap<string, Uint8Array>,
  reference: ReadonlyMap<string, Uint8Array>,
  options: CompareTfjsOptions = {},
): Promise<TfjsOutputComparison[]> {
  const { tf } = runtime;
  const a = await load(runtime, model);
  const b = await load(runtime, reference);
  const names = b.model.outputs.map((o) => o.name);
  const { selected, sources } = selectionOf(reference, names, true);
  // One output over the runs: element-wise over the runs' values end to end, its picks matched
  // run by run.
  type Out = { name: string; dims: number[]; data: Float32Array; dtype: string };
  const compare = (x: Out[], y: Out[], dims: readonly number[]): TfjsOutputComparison => {
    const name = y[0].name;
    const op = selected.get(name);
    const xs = joined(x.map((o) => o.data));
    const ys = joined(y.map((o) => o.data));
    if (op === undefined) return compareOutput(name, xs, ys, dims);
    const c = xs.length === ys.length
      ? compareOutput(name, xs, ys, dims)
      : { name, dims, type: "float32", ...UNALIGNED };
    const matched = matchPicks(
      x.map((o) => o.data),
      y.map((o) => o.data),
      x.map((o) => o.dims),
      y.map((o) => o.dims),
    );
    return { ...c, afterSelection: op, ...(matched === undefined ? {} : { matched }) };
  };
  // The outputs, then the float tensors the selections select from (of more than one value).
  const compareAll = (outA: Out[][], outB: Out[][], dimsOf: (k: number) => readonly number[]) => {
    const result: TfjsOutputComparison[] = [];
    outB[0].forEach((o, k) => {
      const x = outA.map((r) => r[k]);
      const y = outB.map((r) => r[k]);
      if (k < names.length) return result.push(compare(x, y, dimsOf(k)));
      if (y.concat(x).some((t) => t.dtype !== "float32") || o.data.length < 2) return;
      const xs = joined(x.map((t) => t.data));
      const ys = joined(y.map((t) => t.data));
      const c = xs.length === ys.length
        ? compareOutput(o.name, xs, ys, dimsOf(k))
        : { name: o.name, dims: dimsOf(k), type: "float32", ...UNALIGNED };
      result.push({ ...c, beforeSelection: sources.get(o.name)! });
    });
    return result;
  };
  const both = async (inputs: TfCore.Tensor[]) => {
    const extra = [...sources.keys()];
    if (extra.length > 0) {
      try {
        return [await run(tf, a, inputs, extra), await run(tf, b, inputs, extra)];
      } catch {
        // tfjs could not fetch one of them: the outputs alone, as below.
      }
    }
    return [await run(tf, a, inputs), await run(tf, b, inputs)];
  };
  if (options.inputs !== undefined) {
    if (options.inputs.length === 0) {
      throw new RangeError(`"inputs" must hold at least one input set: current length is 0`);
    }
    const sets = givenInputs(tf, options.inputs);
    try {
      const outA: Out[][] = [];
      const outB: Out[][] = [];
      for (const inputs of sets) {
        const [x, y] = await both(inputs);
        outA.push(x);
        outB.push(y);
      }
      // Runs that fetched the tensors before the selection for one set but not another: the
      // outputs alone.
      const n = Math.min(...outA.concat(outB).map((r) => r.length));
      const cut = (r: Out[]) => r.slice(0, n);
      return compareAll(
        outA.map(cut),
        outB.map(cut),
        (k) =>
          sets.length === 1 ? outB[0][k].dims : [outB.reduce((m, r) => m + r[k].data.length, 0)],
      );
    } finally {
      sets.forEach((inputs) => tf.dispose(inputs));
      a.model.dispose?.();
      b.model.dispose?.();
    }
  }
  const inputs = makeInputs(tf, b.model, options, options.seed ?? 1234);
  try {
    const [outA, outB] = await both(inputs);
    return compareAll([outA], [outB], (k) => outB[k].dims);
  } finally {
    tf.dispose(inputs);
    a.model.dispose?.();
    b.model.dispose?.();
  }
}

/** Options of `tfjsSensitivity`. */
export interface TfjsSensitivityOptions extends CompareTfjsOptions {
  /**
   * How many random input sets (default 2): seeds `seed`, `seed + 97`, ... (default seed 7, other inputs
   * than `compareTfjsOutputs`'s 1234, so a choice made on these is checked on others).
   */
  readonly samples?: number;
}

/**
 * A measure of how close a written model's outputs stay to a reference model's, for
 * `QuantizedTfjsOptions.measure`: tfjs runs the reference once on deterministic random inputs
 * (as `compareTfjsOutputs` makes them) and each model given on the same inputs; the result is
 * the lowest cosine over outputs and inputs (1 when identical), outputs after a selection op
 * (`TfjsOutputComparison.afterSelection`) left out unless every output is one (then
 * their picks are matched as sets: `TfjsOutputComparison.matched`). With `options.inputs` (real
 * inputs, photos for instance) it runs on those instead, and each output's cosine is taken over
 * every set at once. Call `dispose` when done.
 *
 * @param runtime tfjs-core (backend set) and the loaders.
 * @param reference The original model's files (`model.json` and shards).
 * @param options Input shape, batch, range, seed and number of input sets.
 * @returns The measure and `dispose`, which frees the inputs.
 * @throws {TypeError} When the runtime has no loader for the model's kind.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { loadGraphModel } from "@tensorflow/tfjs-converter";
 * const s = await tfjsSensitivity({ tf, loadGraphModel }, original.files);
 * const out = await quantizedTfjs(source, view, params, { headroom: 0.02, measure: s.measure });
 * s.dispose();
 * ```
 */
export async function tfjsSensitivity(
  runtime: TfjsRuntime,
  reference: ReadonlyMap<string, Uint8Array>,
  options: TfjsSensitivityOptions = {},
): Promise<{
  measure: (files: TfjsFiles | ReadonlyMap<string, Uint8Array>) => Promise<number>;
  dispose: () => void;
}> {
  const { tf } = runtime;
  const b = await load(runtime, reference);
  // Outputs after a selection op (NMS, TopK, ...) jump on changes far below any accuracy loss:
  // the lowest cosine is taken over the others, unless every output is one.
  const names = b.model.outputs.map((o) => o.name);
  const { selected } = selectionOf(reference, names);
  const allPicks = selected.size === names.length;
  const scored = (o: number) => !selected.has(names[o]);
  const seed = options.seed ?? 7;
  const sets: TfCore.Tensor[][] = [];
  const expected: { name: string; dims: number[]; data: Float32Array }[][] = [];
  try {
    if (options.inputs !== undefined) {
      if (options.inputs.length === 0) {
        throw new RangeError(`"inputs" must hold at least one input set: current length is 0`);
      }
      sets.push(...givenInputs(tf, options.inputs));
      for (const inputs of sets) expected.push(await run(tf, b, inputs));
    } else {
      for (let k = 0; k < (options.samples ?? 2); k++) {
        const inputs = makeInputs(tf, b.model, options, seed + 97 * k);
        sets.push(inputs);
        expected.push(await run(tf, b, inputs));
      }
    }
  } catch (e) {
    sets.forEach((inputs) => tf.dispose(inputs));
    throw e;
  } finally {
    b.model.dispose?.();
  }
  // Given inputs: each output over every set at once.
  const want = options.inputs === undefined ? undefined : concatenated(expected);
  return {
    measure: async (files) => {
      const map = "modelJson" in files
        ? new Map([["model.json", files.modelJson as Uint8Array], ...files.shards])
        : files as ReadonlyMap<string, Uint8Array>;
      const a = await load(runtime, map);
      let lowest = 1;
      try {
        const runs = [];
        for (let k = 0; k < sets.length; k++) runs.push(await run(tf, a, sets[k]));
        if (allPicks) {
          // Every output is a pick: their agreement as sets, run by run.
          for (let o = 0; o < runs[0].length; o++) {
            const got = runs.map((r) => r[o]);
            const ref = expected.map((r) => r[o]);
            const c = matchPicks(
              got.map((x) => x.data),
              ref.map((x) => x.data),
              got.map((x) => x.dims),
              ref.map((x) => x.dims),
            )?.cosine ?? cosine(joined(got.map((x) => x.data)), joined(ref.map((x) => x.data)));
            lowest = Math.min(lowest, Number.isFinite(c) ? c : 0);
          }
        } else if (want !== undefined) {
          const got = concatenated(runs);
          for (let o = 0; o < got.length; o++) {
            if (scored(o)) lowest = Math.min(lowest, cosine(got[o].data, want[o].data));
          }
        } else {
          for (let k = 0; k < sets.length; k++) {
            for (let o = 0; o < runs[k].length; o++) {
              if (scored(o)) {
                lowest = Math.min(lowest, cosine(runs[k][o].data, expected[k][o].data));
              }
            }
          }
        }
      } finally {
        a.model.dispose?.();
      }
      return lowest;
    },
    dispose: () => sets.forEach((inputs) => tf.dispose(inputs)),
  };
}

/** `a·b / (|a| |b|)`, 1 when both are all zero, 0 when one is; NaN counts as 0. */
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 && bb === 0) return 1;
  const c = ab / Math.sqrt(aa * bb);
  return Number.isFinite(c) ? c : 0;
}

/** The per-channel statistics of one tensor over the input sets. */
export interface TfjsChannelStats {
  /** The mean of each channel (the last dim). */
  readonly mean: Float64Array;
  /** The largest value of each channel. */
  readonly max: Float64Array;
}

/**
 * The per-channel mean of tensors inside a model on given inputs: tfjs runs the model on each
 * input set with the named tensors as outputs (a few at a time) and averages each over all dims
 * but the last (`[N, H, W, C]` -> `C` means), weighting the sets by their elements. For bias
 * correction (`QuantizedTfjsOptions.inputMeans`, with the names of `tfjsBiasSites`). In a
 * layers model the names are layer names, each standing for the layer's input (a layer of a
 * nested model too; a layer called more than once gives the mean over its calls).
 *
 * @param runtime tfjs-core (backend set) and `loadGraphModel` / `loadLayersModel`.
 * @param files The model's files (`model.json` and shards).
 * @param inputs The input sets, one tensor per model input each.
 * @param names Tensor names as the graph names them (`node` or `node:k`; a model input too),
 * or a layers model's layer names.
 * @param chunk How many tensors one run returns (default 16).
 * @returns The means by name.
 * @throws {RangeError} When `inputs` is empty.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { loadGraphModel } from "@tensorflow/tfjs-converter";
 * const means = await tfjsInputMeans({ tf, loadGraphModel }, files, photos, ["conv1/Relu"]);
 * ```
 */
export async function tfjsInputMeans(
  runtime: TfjsRuntime,
  files: ReadonlyMap<string, Uint8Array>,
  inputs: readonly TfjsInputSet[],
  names: readonly string[],
  chunk = 16,
): Promise<Map<string, Float64Array>> {
  const stats = await tfjsChannelStats(runtime, files, inputs, names, chunk);
  return new Map([...stats].map(([k, v]) => [k, v.mean]));
}

/**
 * The per-channel mean and maximum of tensors inside a model on given inputs (see
 * `tfjsInputMeans`, also for a layers model's names): the maxima tell which channels of a
 * ReLU6 output reach the clip (`EqualizeTfjsOptions.activationMax`).
 *
 * @param runtime tfjs-core (backend set) and `loadGraphModel` / `loadLayersModel`.
 * @param files The model's files (`model.json` and shards).
 * @param inputs The input sets, one tensor per model input each.
 * @param names Tensor names as the graph names them (`node` or `node:k`; a model input too),
 * or a layers model's layer names.
 * @param chunk How many tensors one run returns (default 16).
 * @returns The statistics by name.
 * @throws {RangeError} When `inputs` is empty.
 *
 * @example
 * ```ts ignore
 * const stats = await tfjsChannelStats({ tf, loadGraphModel }, files, photos, ["conv1/Relu6"]);
 * console.log(stats.get("conv1/Relu6")!.max);
 * ```
 */
export async function tfjsChannelStats(
  runtime: TfjsRuntime,
  files: ReadonlyMap<string, Uint8Array>,
  inputs: readonly TfjsInputSet[],
  names: readonly string[],
  chunk = 16,
): Promise<Map<string, TfjsChannelStats>> {
  const { tf } = runtime;
  const sums = new Map<string, Float64Array>();
  const maxima = new Map<string, Float64Array>();
  const counts = new Map<string, number>();
  await forEachTfjsTensor(runtime, files, inputs, names, chunk, async (name, t) => {
    const c = t.shape.at(-1) ?? 1;
    const n = t.size / c;
    const axes = t.shape.slice(0, -1).map((_, i) => i);
    const [sum, max] = tf.tidy(() => {
      const x = tf.cast(t, "float32");
      return [tf.sum(x, axes), tf.max(x, axes)];
    });
    const values = await sum.data() as Float32Array;
    const top = await max.data() as Float32Array;
    tf.dispose([sum, max]);
    let acc = sums.get(name);
    let hi = maxima.get(name);
    if (acc === undefined || hi === undefined) {
      acc = new Float64Array(c);
      hi = new Float64Array(c).fill(-Infinity);
      sums.set(name, acc);
      maxima.set(name, hi);
    }
    for (let i = 0; i < c; i++) {
      acc[i] += values[i];
      hi[i] = Math.max(hi[i], top[i]);
    }
    counts.set(name, (counts.get(name) ?? 0) + n);
  });
  const stats = new Map<string, TfjsChannelStats>();
  for (const [name, acc] of sums) {
    const n = counts.get(name)!;
    stats.set(name, { mean: acc.map((v) => v / n), max: maxima.get(name)! });
  }
  return stats;
}

/** The parts of a tfjs-layers model, or of a layer, that its layers' inputs are read through. */
interface LayersContainer {
  readonly name: string;
  readonly inboundNodes: readonly { readonly inputTensors: readonly unknown[] }[];
  readonly layers?: readonly LayersContainer[];
  readonly inputs?: readonly { readonly shape: unknown }[];
  readonly containerNodes?: ReadonlySet<string>;
  readonly model?: unknown;
  build?(shape: unknown): void;
  predict?(x: unknown): unknown;
}

/** Whether a layer is a model (a nested `Sequential` or `Functional`). */
const isContainer = (l: LayersContainer) =>
  Array.isArray(l.layers) && Array.isArray(l.inputs) && typeof l.predict === "function";

/** Whether a model holds one of the named layers, at any depth. */
const holds = (l: LayersContainer, names: ReadonlySet<string>): boolean =>
  isContainer(l) && l.layers!.some((x) => names.has(x.name) || holds(x, names));

/**
 * The class of tfjs-layers' `LayersModel` (`Sequential` derives from it): the class on the
 * model's prototype chain that defines `execute`. Found from the loaded model, so that the
 * runtime needs no more than `loadLayersModel`.
 */
function layersModelClass(model: object): new (args: { inputs: unknown; outputs: unknown }) => {
  predict(x: unknown): unknown;
} {
  for (let p = Object.getPrototypeOf(model); p !== null; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, "execute") && typeof p.constructor === "function") return p.constructor;
  }
  throw new TypeError("the loaded layers model is not a tfjs-layers LayersModel");
}

/**
 * The symbolic inputs of a layer inside `container`, one per call of the layer in the
 * container's graph (tfjs keys those `<layer>_ib-<k>`), or that of its only call; none for a
 * call with several inputs.
 */
function layerInputs(container: LayersContainer, layer: LayersContainer): unknown[] {
  const nodes = layer.inboundNodes.filter((_, k) =>
    container.containerNodes?.has(`${layer.name}_ib-${k}`)
  );
  const calls = nodes.length === 0 && layer.inboundNodes.length === 1
    ? [layer.inboundNodes[0]]
    : nodes;
  return calls.flatMap((node) => node.inputTensors.length === 1 ? [node.inputTensors[0]] : []);
}

/**
 * Runs a layers model on one input set and hands the input of each named layer to `visit`
 * before it is disposed. tfjs-layers names no tensors a caller can ask for (`execute` takes
 * symbolic tensor names, but asks every layer for its `output`, which throws for a layer called
 * twice), so the model is given a model of its own class whose outputs are those layers' inputs
 * (`chunk` at a time);
 * a nested model's layers are read the same way from the nested model, run on its own input.
 * A layer called more than once is read at each call (its statistics are over all of them).
 */
async function tapLayers(
  tf: typeof TfCore,
  container: LayersContainer,
  feed: readonly TfCore.Tensor[],
  names: ReadonlySet<string>,
  chunk: number,
  visit: (name: string, tensor: TfCore.Tensor) => Promise<void>,
): Promise<void> {
  const inputs = container.inputs ?? [];
  // A Sequential model builds its graph (and its call keys) on first use.
  if (
    (container.containerNodes?.size ?? 0) === 0 && container.model == null &&
    inputs.length === 1 && typeof container.build === "function"
  ) {
    container.build(inputs[0].shape);
  }
  const Model = layersModelClass(container);
  const wanted: { layer: LayersContainer; input: unknown; nested: boolean }[] = [];
  for (const layer of container.layers ?? []) {
    const nested = holds(layer, names);
    if (!names.has(layer.name) && !nested) continue;
    for (const input of layerInputs(container, layer)) wanted.push({ layer, input, nested });
  }
  for (let at = 0; at < wanted.length; at += chunk) {
    const part = wanted.slice(at, at + chunk);
    const fetch = [...new Set(part.map((w) => w.input))].filter((t) =>
      !inputs.includes(t as never)
    );
    let values: TfCore.Tensor[] = [];
    if (fetch.length > 0) {
      const sub = new Model({ inputs, outputs: fetch });
      const out = sub.predict(feed.length === 1 ? feed[0] : [...feed]);
      values = (Array.isArray(out) ? out : [out]) as TfCore.Tensor[];
    }
    try {
      for (const { layer, input, nested } of part) {
        const k = inputs.indexOf(input as never);
        const value = k >= 0 ? feed[k] : values[fetch.indexOf(input)];
        if (names.has(layer.name)) await visit(layer.name, value);
        if (nested) await tapLayers(tf, layer, [value], names, chunk, visit);
      }
    } finally {
      tf.dispose(values);
    }
  }
}

/**
 * Runs a model on each input set with the named tensors as outputs (`chunk` at a time) and
 * hands each tensor to `visit` before it is disposed. A layers model's names are layer names,
 * each standing for that layer's input (`tapLayers`).
 */
async function forEachTfjsTensor(
  runtime: TfjsRuntime,
  files: ReadonlyMap<string, Uint8Array>,
  inputs: readonly TfjsInputSet[],
  names: readonly string[],
  chunk: number,
  visit: (name: string, tensor: TfCore.Tensor) => Promise<void>,
): Promise<void> {
  const { tf } = runtime;
  if (inputs.length === 0) {
    throw new RangeError(`"inputs" must hold at least one input set: current length is 0`);
  }
  const loaded = await load(runtime, files);
  const model = loaded.model;
  const sets = givenInputs(tf, inputs);
  try {
    if (loaded.kind === "layers-model") {
      const wanted = new Set(names);
      for (const set of sets) {
        await tapLayers(tf, model as unknown as LayersContainer, set, wanted, chunk, visit);
      }
      return;
    }
    for (const set of sets) {
      const feed: Record<string, TfCore.Tensor> = {};
      model.inputs.forEach((x, k) => feed[x.name] = set[k]);
      for (let at = 0; at < names.length; at += chunk) {
        const part = [...names.slice(at, at + chunk)];
        let out: unknown;
        try {
          out = model.execute!(feed, part);
        } catch {
          out = await model.executeAsync!(feed, part);
        }
        const list = (Array.isArray(out) ? out : [out]) as TfCore.Tensor[];
        try {
          for (let k = 0; k < part.length; k++) await visit(part[k], list[k]);
        } finally {
          // A model input returned as an output is the feed itself: not disposed here.
          tf.dispose(list.filter((t) => !set.includes(t)));
        }
      }
    }
  } finally {
    sets.forEach((set) => tf.dispose(set));
    model.dispose?.();
  }
}

/**
 * Accumulates the input second moments of a model's layers on given inputs (for GPTQ rounding,
 * `gptqTfjsKernel`): tfjs runs the model on each input set with the layers' inputs as outputs (a
 * few at a time), and each layer's `TfjsLayerHessian` adds its input (graph and layers models).
 *
 * @param runtime tfjs-core (backend set) and `loadGraphModel` / `loadLayersModel`.
 * @param files The model's files (`model.json` and shards).
 * @param inputs The input sets, one tensor per model input each.
 * @param hessians One accumulator per layer (`TfjsLayerHessian`); updated in place.
 * @param chunk How many tensors one run returns (default 16).
 * @throws {RangeError} When `inputs` is empty, or a layer's input does not fit its kernel.
 *
 * @example
 * ```ts ignore
 * const h = new TfjsLayerHessian(site, shape, tfjsConvGeometry(model, site));
 * await tfjsLayerHessians({ tf, loadGraphModel }, files, photos, [h]);
 * ```
 */
export async function tfjsLayerHessians(
  runtime: TfjsRuntime,
  files: ReadonlyMap<string, Uint8Array>,
  inputs: readonly TfjsInputSet[],
  hessians: readonly TfjsLayerHessian[],
  chunk = 16,
): Promise<void> {
  const names = [...new Set(hessians.map((h) => h.site.input))];
  const { tf } = runtime;
  await forEachTfjsTensor(runtime, files, inputs, names, chunk, async (name, t) => {
    const values = t.dtype === "float32"
      ? await t.data() as Float32Array
      : Float32Array.from(await t.data() as ArrayLike<number>);
    for (const h of hessians) {
      if (h.site.input !== name) continue;
      if (h.through === undefined) {
        h.add(values, t.shape);
        continue;
      }
      // The input through the depthwise kernel first, as the layer computes it.
      const { kernel, shape, geometry: g } = h.through;
      const y = tf.tidy(() => {
        const x = tf.tensor(values, t.shape, "float32");
        const k = tf.tensor(kernel, [...shape], "float32");
        const pad = g.padding === "EXPLICIT"
          ? [[0, 0], [g.explicit![0], g.explicit![1]], [g.explicit![2], g.explicit![3]], [0, 0]]
          : g.padding === "SAME"
          ? "same"
          : "valid";
        return tf.depthwiseConv2d(
          (x.rank === 3 ? tf.expandDims(x, 0) : x) as TfCore.Tensor4D,
          k as TfCore.Tensor4D,
          [...g.strides] as [number, number],
          pad as "same",
          "NHWC",
          [...g.dilations] as [number, number],
        );
      });
      try {
        h.add(await y.data() as Float32Array, y.shape);
      } finally {
        y.dispose();
      }
    }
  });
}
