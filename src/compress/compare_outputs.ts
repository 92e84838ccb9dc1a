/**
 * `compareOutputs`: how far a compressed ONNX model's outputs are from the original's on the
 * same inputs (given per input, or deterministic random values that fit each input's type).
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { graphValueTypes } from "../io/onnx/graph_value_types.ts";
import { fromOrtTensor, type InputTensor, toOrtTensor } from "../io/onnx/ort.ts";
import type { OrtLike, OrtSession } from "./ocr_eval.ts";
import { inputFeeds, type InputSpec, tensorValues } from "./input_feeds.ts";
import { compareTensors } from "./_compare_tensors.ts";
import { type MatchedPicks, matchPicks, UNALIGNED } from "./_match_picks.ts";
export type { MatchedPicks } from "./_match_picks.ts";
import { onnxSelectionOutputs, onnxSelectionSources } from "./selection_outputs.ts";
import { editOnnx } from "../io/onnx/edit_onnx.ts";

/** The measures of one output. */
export interface OutputMeasures {
  /** Largest absolute difference (NaN when either output has a NaN). */
  readonly maxAbsDiff: number;
  /** Mean absolute difference. */
  readonly meanAbsDiff: number;
  /**
   * `‖a − b‖ / ‖b‖` over the whole tensor (L2; `b` the reference; 0 when both are 0, Infinity
   * when only the reference is 0): one outlier element cannot dominate it.
   */
  readonly relativeError: number;
  /** `a · b / (‖a‖ ‖b‖)` (1 when both are 0, 0 when one is). */
  readonly cosine: number;
  /**
   * Positions whose largest value along the class axis is at the same class (ties to the lower
   * class), and all positions; only for a class axis that was named or that the dims make
   * unambiguous (`[N, C]`, C > 1).
   */
  readonly argmax?: { readonly axis: number; readonly same: number; readonly total: number };
  /**
   * When asked: the mean over classes (present in either) of the IoU of the argmax label maps
   * along the class axis, or without one the IoU of the masks `value > threshold`.
   */
  readonly iou?: number;
}

/** The agreement of one output (over every step of a stateful run). */
export interface OutputComparison extends OutputMeasures {
  /** The output name. */
  readonly name: string;
  /** The output dims (of one step). */
  readonly dims: readonly number[];
  /** The output's element type. */
  readonly type: string;
  /** The number of steps compared (absent for one). */
  readonly steps?: number;
  /**
   * The selection op (`NonMaxSuppressionV5`, `TopK`, `ArgMax`, tfjs's `Where`, ...) this output
   * depends on, if any (`selectionOutputs`): its elements were picked by rank or threshold, so
   * a change of the values before the op far below any accuracy loss can pick others or reorder
   * them, and the element-wise measures of this output say little about the model. Judge the
   * outputs without it (a detector's raw boxes and scores), or match the picks.
   */
  readonly afterSelection?: string;
  /**
   * For an output after a selection op: its picks matched as a set (`MatchedPicks`: values in
   * sorted order, records closest pair first). Absent when the picks are too many to pair.
   * When the two lists differ in length, the element-wise measures are NaN.
   */
  readonly matched?: MatchedPicks;
  /**
   * Not an output: a tensor a selection op selects from (`selectionSources`: a detector's raw
   * scores and box offsets, a pose model's heatmaps), compared element-wise when every output
   * of the model comes after a selection. The selection op that reads it.
   */
  readonly beforeSelection?: string;
}

/** Options of `compareOutputs`. */
export interface CompareOptions {
  /** Per-input specs (`InputSpec`: data, a shape, a fill, a constant), by input name. */
  readonly inputs?: Readonly<Record<string, InputSpec>>;
  /** The first input's shape (kept for `--shape`; the same as `inputs: { <first>: { dims } }`). */
  readonly shape?: readonly number[];
  /** Sizes of symbolic dims by name, e.g. `{ batch: 1 }`. */
  readonly dims?: Readonly<Record<string, number>>;
  /** The size of an unbound symbolic dim that is some input's dim 0 (default 8); others 16. */
  readonly batch?: number;
  /**
   * The class axis for top-1 agreement: one axis for every output that has it, or by output
   * name. Without it, only an output of dims `[N, C]` (C > 1) gets top-1 agreement, along C.
   */
  readonly classAxis?: number | Readonly<Record<string, number>>;
  /** Also measure the IoU of masks: argmax labels along the class axis, else `value > threshold`. */
  readonly iou?: boolean;
  /** The mask threshold of `iou` for an output without a class axis (default 0.5). */
  readonly maskThreshold?: number;
  /** Runs per model (default 1); with `state`, each run feeds outputs back into inputs. */
  readonly steps?: number;
  /**
   * Stateful models: output name to input name (`{ stateN: "state" }`). After each step every
   * model gets its own output as the next step's input; the first step uses the input's spec.
   */
  readonly state?: Readonly<Record<string, string>>;
  /** The seed of random fills (default 1234). */
  readonly seed?: number;
}

interface Output {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type?: string;
}

function outputTensor(o: Output): InputTensor | undefined {
  return fromOrtTensor(o);
}

/** Step `s` of `steps` of a data spec: its dim 0 split into equal parts (a scalar: whole). */
function stepSpec(spec: InputSpec, s: number, steps: number, name: string): InputSpec {
  if (steps === 1 || !("data" in spec) || spec.dims.length === 0) return spec;
  const rows = spec.dims[0];
  if (spec.dims.length === 0 || rows % steps !== 0) {
    throw new RangeError(
      `input "${name}" must have a dim 0 divisible by the ${steps} steps: current dims are ${
        JSON.stringify(spec.dims)
      }`,
    );
  }
  const per = spec.data.length / steps;
  return {
    ...spec,
    data: spec.data.slice(s * per, (s + 1) * per),
    dims: [rows / steps, ...spec.dims.slice(1)],
  };
}

/**
 * Runs both models on the same inputs and compares every numeric output (per output: largest
 * and mean absolute difference, relative error `‖a − b‖ / ‖b‖` over the whole tensor with `b`
 * the reference, cosine similarity; top-1 agreement along a class axis; mask IoU when asked).
 * Inputs come from `options.inputs` (see `inputFeeds`: symbolic dims bound by name, an integer
 * scalar such as a sample rate must be given) or are deterministic random values of the model's
 * shape and type. With `steps` and `state`, a stateful model runs step by step, each model
 * feeding its own state outputs back.
 *
 * Random inputs are far from real data: a compressed model can look worse on them than on the
 * data it is meant for. Give real inputs for a faithful figure.
 *
 * @param ort The onnxruntime module.
 * @param model The compressed model bytes.
 * @param reference The original model bytes (its declared inputs decide the feeds).
 * @param options Input specs, dims, class axis, IoU, steps and state.
 * @returns One comparison per numeric output, in the reference's output order; when every
 * output comes after a selection op, then one per float value the selections select from
 * (`OutputComparison.beforeSelection`), added as an output of both models for the run.
 * @throws {RangeError} When the inputs cannot be made (see `inputFeeds`), a class axis or state
 * pair does not fit the model.
 * @throws {Error} onnxruntime's error when a model does not run on the inputs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { compareOutputs } from "./compare_outputs.ts";
 *
 * const model = (scale: number) => buildOnnx({
 *   opsets: [{ domain: "", version: 17 }],
 *   nodes: [{ name: "mul", opType: "Mul", inputs: ["x", "s"], outputs: ["y"] }],
 *   initializers: [{ name: "s", dataType: 1, dims: [], raw: new Uint8Array(Float32Array.of(scale).buffer) }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 4] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 4] } }],
 * });
 * const ort = await import("onnxruntime-node");
 * const [y] = await compareOutputs(ort, model(1.01), model(1), { inputs: { x: { dims: [3, 4] } } });
 * assert.deepEqual(y.dims, [3, 4]);
 * assert.ok(Math.abs(y.relativeError - 0.01) < 1e-6);
 * assert.deepEqual(y.argmax, { axis: 1, same: 3, total: 3 });
 * ```
 */
export async function compareOutputs(
  ort: OrtLike,
  model: Uint8Array,
  reference: Uint8Array,
  options: CompareOptions = {},
): Promise<OutputComparison[]> {
  const decoded = decodeOnnx(reference);
  const { inputs: declared, outputs: declaredOutputs } = graphValueTypes(decoded);
  const selected = onnxSelectionOutputs(decoded.graph, declaredOutputs.map((o) => o.name));
  // Every output a pick: the values the selections select from become outputs of both models.
  const exposed = selected.size > 0 && selected.size === declaredOutputs.length
    ? exposeSources(model, decoded, declaredOutputs.map((o) => o.name), declared)
    : undefined;
  if (exposed !== undefined) {
    model = exposed.model;
    reference = exposed.reference;
  }
  const steps = options.steps ?? 1;
  if (!Number.isSafeInteger(steps) || steps < 1) {
    throw new RangeError(`"steps" must be a positive integer: current value is ${steps}`);
  }
  const state = Object.entries(options.state ?? {});
  for (const [out, inp] of state) {
    if (!declaredOutputs.some((o) => o.name === out)) {
      throw new RangeError(
        `state pair ${out}=${inp}: "${out}" is not an output of the model: the outputs are ${
          declaredOutputs.map((o) => o.name).join(", ")
        }`,
      );
    }
    if (!declared.some((i) => i.name === inp)) {
      throw new RangeError(
        `state pair ${out}=${inp}: "${inp}" is not an input of the model: the inputs are ${
          declared.map((i) => i.name).join(", ")
        }`,
      );
    }
  }
  const specs: Record<string, InputSpec> = { ...options.inputs };
  if (options.shape !== undefined && declared.length > 0) {
    const first = specs[declared[0].name];
    if (first !== undefined && "data" in first) {
      throw new RangeError(
        `input "${
          declared[0].name
        }" is given as data and a shape: current shape is [${options.shape}]`,
      );
    }
    specs[declared[0].name] = { ...first, dims: options.shape };
  }
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 };
  const a = await ort.InferenceSession.create(model, opts);
  let b: OrtSession | undefined;
  try {
    b = await ort.InferenceSession.create(reference, opts);
    const collected = new Map<string, { a: Output[]; b: Output[] }>();
    let carryA: Record<string, InputTensor> = {};
    let carryB: Record<string, InputTensor> = {};
    for (let s = 0; s < steps; s++) {
      const stepSpecs: Record<string, InputSpec> = {};
      for (const [name, spec] of Object.entries(specs)) {
        stepSpecs[name] = stepSpec(spec, s, steps, name);
      }
      const feeds = inputFeeds(declared, stepSpecs, {
        ...(options.dims === undefined ? {} : { dims: options.dims }),
        ...(options.batch === undefined ? {} : { batch: options.batch }),
        seed: (options.seed ?? 1234) + 7919 * s,
      });
      const run = async (session: OrtSession, carry: Record<string, InputTensor>) => {
        const ortFeeds: Record<string, unknown> = {};
        for (const [name, t] of Object.entries({ ...feeds, ...carry })) {
          ortFeeds[name] = toOrtTensor(ort, t);
        }
        try {
          return await session.run(ortFeeds) as Record<string, Output>;
        } catch (e) {
          const fed = Object.entries({ ...feeds, ...carry }).map(([n, t]) =>
            `${n} [${t.dims.join(", ")}]`
          );
          throw new Error(`${(e as Error).message} (inputs fed: ${fed.join(", ")})`, { cause: e });
        }
      };
      const outA = await run(a, carryA);
      const outB = await run(b, carryB);
      for (const name of b.outputNames) {
        const entry = collected.get(name) ?? { a: [], b: [] };
        entry.a.push(outA[name]);
        entry.b.push(outB[name]);
        collected.set(name, entry);
      }
      const next = (out: Record<string, Output>) => {
        const carry: Record<string, InputTensor> = {};
        for (const [o, i] of state) {
          const t = outputTensor(out[o]);
          if (t !== undefined) carry[i] = t;
        }
        return carry;
      };
      carryA = next(outA);
      carryB = next(outB);
    }
    const axis = options.classAxis;
    if (axis !== undefined && typeof axis !== "number") {
      for (const name of Object.keys(axis)) {
        if (!b.outputNames.includes(name) || exposed?.sources.has(name)) {
          throw new RangeError(
            `the class axis names output "${name}", which the model lacks: the outputs are ${
              declaredOutputs.map((o) => o.name).join(", ")
            }`,
          );
        }
      }
    }
    const result: OutputComparison[] = [];
    for (const name of b.outputNames) {
      const { a: listA, b: listB } = collected.get(name)!;
      const tA = listA.map((o) => o === undefined ? undefined : outputTensor(o));
      const tB = listB.map(outputTensor);
      if (tA.some((t) => t === undefined) || tB.some((t) => t === undefined)) continue;
      const source = exposed?.sources.get(name);
      if (source !== undefined) {
        // A value a selection selects from: floats of more than one value, element-wise.
        const float = (o: Output | undefined) => FLOAT_TYPES.has(o?.type ?? "");
        if (!listA.every(float) || !listB.every(float) || tB.every((t) => t!.data.length < 2)) {
          continue;
        }
        const valuesA = tA.map((t) => tensorValues(t!));
        const valuesB = tB.map((t) => tensorValues(t!));
        const measure = valuesA.some((v, s) => v.length !== valuesB[s].length)
          ? UNALIGNED
          : compareTensors(valuesA, valuesB, tB.map((t) => t!.dims), {
            name,
            explicit: true,
            iou: false,
            threshold: 0.5,
          });
        result.push({
          name,
          dims: [...listB[listB.length - 1].dims],
          type: listB[0].type ?? "float32",
          ...measure,
          ...(steps > 1 ? { steps } : {}),
          beforeSelection: source,
        });
        continue;
      }
      const dims = [...listB[listB.length - 1].dims];
      const classAxis = typeof options.classAxis === "number"
        ? options.classAxis
        : options.classAxis?.[name];
      const valuesA = tA.map((t) => tensorValues(t!));
      const valuesB = tB.map((t) => tensorValues(t!));
      const op = selected.get(name);
      // Picks (after a selection op) may differ in number: then only the matched measures hold.
      const measure = op !== undefined && valuesA.some((v, s) => v.length !== valuesB[s].length)
        ? UNALIGNED
        : compareTensors(valuesA, valuesB, tB.map((t) => t!.dims), {
          name,
          ...(classAxis === undefined ? {} : { classAxis }),
          explicit: typeof options.classAxis !== "number",
          iou: options.iou === true,
          threshold: options.maskThreshold ?? 0.5,
        });
      const matched = op === undefined
        ? undefined
        : matchPicks(valuesA, valuesB, tA.map((t) => t!.dims), tB.map((t) => t!.dims));
      result.push({
        name,
        dims,
        type: listB[0].type ?? "float32",
        ...measure,
        ...(steps > 1 ? { steps } : {}),
        ...(op === undefined ? {} : { afterSelection: op }),
        ...(matched === undefined ? {} : { matched }),
      });
    }
    if (typeof axis === "number" && !result.some((r) => r.argmax?.axis !== undefined)) {
      throw new RangeError(
        `class axis ${axis} fits no output (a dim of more than one class): the outputs are ${
          result.map((r) => `${r.name} [${r.dims.join(", ")}]`).join(", ")
        }`,
      );
    }
    return result;
  } finally {
    await a.release?.();
    await b?.release?.();
  }
}

/** onnxruntime's float tensor types. */
const FLOAT_TYPES = new Set(["float32", "float16", "float64", "bfloat16"]);

/**
 * Both models (the compressed one's bytes, the reference decoded) with the values their
 * selections select from (`onnxSelectionSources`) added as graph outputs, those the compressed
 * model computes too; nothing when there are none or the models cannot be edited (the outputs
 * alone are compared then).
 */
function exposeSources(
  model: Uint8Array,
  decoded: OnnxModel,
  outputs: readonly string[],
  inputs: readonly { name: string }[],
): { model: Uint8Array; reference: Uint8Array; sources: Map<string, string> } | undefined {
  try {
    const found = onnxSelectionSources(decoded.graph, outputs, inputs.map((i) => i.name));
    if (found.size === 0) return undefined;
    const compressed = decodeOnnx(model);
    const computed = new Set(compressed.graph.nodes.flatMap((n) => n.outputs));
    const sources = new Map([...found].filter(([v]) => computed.has(v)));
    if (sources.size === 0) return undefined;
    const edits = [...sources.keys()].map((name) => ({ op: "addGraphOutput" as const, name }));
    return {
      model: editOnnx(compressed, edits).bytes,
      reference: editOnnx(decoded, edits).bytes,
      sources,
    };
  } catch {
    return undefined;
  }
}
