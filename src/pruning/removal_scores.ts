/**
 * `channelRemovalScores`: how much removing each output channel of a module would change the
 * layers that read it, measured on calibration data — a channel ranking for channel removal
 * with reconstruction, in place of the filters' L1 norms.
 *
 * @module
 */

import { editOnnx } from "../io/onnx/edit_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { type InputTensor, type OrtLike, toOrtTensor } from "../io/onnx/ort.ts";
import { ortFloat32 } from "../io/onnx/ort_float32.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";

/** Options of `channelRemovalScores`. */
export interface ChannelRemovalScoresOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /** The modules whose output channels are scored (main-graph Conv, Gemm or MatMul modules). */
  readonly modules: readonly string[];
  /** The module view of the model (default `onnxModel(onnx)`). */
  readonly model?: ModelGraph;
  /** Session options for `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
  /**
   * Modules whose channels cannot be followed (see `@throws`) are left out of the result
   * instead of throwing (default `false`).
   */
  readonly skip?: boolean;
}

/** Ops a channel goes through with its index unchanged (one operand tracked). */
const PASS = new Set([
  "BatchNormalization",
  "InstanceNormalization",
  "Relu",
  "LeakyRelu",
  "PRelu",
  "Clip",
  "Sigmoid",
  "HardSigmoid",
  "HardSwish",
  "Tanh",
  "Elu",
  "Selu",
  "Gelu",
  "Softplus",
  "Identity",
  "Dropout",
  "Cast",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "AveragePool",
  "MaxPool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Resize",
]);
const WEIGHTED = new Set(["Conv", "Gemm", "MatMul"]);

type Attr = { readonly name: string; readonly i?: number };

/** A weighted layer reached by a module's output channels, and the value it reads them from. */
interface Consumer {
  readonly module: string;
  readonly value: string;
  readonly lastDim: boolean;
}

/**
 * Scores each output channel of the given modules by the change its removal would make in the
 * weighted layers that read it: removal with reconstruction replaces a removed channel by a
 * constant that the reading layer's bias takes, so what is lost is the channel's variation
 * there. The score of channel c is `Σ_Q Var(x_Q,c) · Σ_o,k W_Q[o, c, k]²`, summed over the
 * weighted layers Q (group-1 Conv, Gemm, MatMul) that its channel reaches through ops that keep
 * the channel index (BatchNorm, activations, element-wise ops, pooling, `Resize`, depthwise
 * convs), with `Var(x_Q,c)` the variance of Q's input channel c over the calibration data
 * (every sample and position) in the original model — the first-order output error of Q when
 * the channel is held at its mean. A low score is a cheap channel. Pass the scores as the
 * modules' weight metrics (`prune(…, { metricOf })`) with `out_channel` granularity.
 *
 * @param onnx The decoded model.
 * @param batches Calibration feeds by graph input name.
 * @param options onnxruntime, the modules, the module view, session options.
 * @returns By module name, one score per output channel.
 * @throws {RangeError} When a module is not a main-graph Conv/Gemm/MatMul, its channels reach
 *   an op that moves or mixes them (a `Concat`, `Reshape`, …) or a graph output before a
 *   weighted layer, or no batch is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as ort from "onnxruntime-node";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { channelRemovalScores } from "./removal_scores.ts";
 *
 * // h = x · w1 (3 channels) → y = h · w2: channel 1 of h is constant over the data (its column
 * // of w1 reads only the constant input 1), channel 2 varies but w2 hardly reads it
 * const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [
 *     { name: "fc1", opType: "MatMul", inputs: ["x", "w1"], outputs: ["h"] },
 *     { name: "fc2", opType: "MatMul", inputs: ["h", "w2"], outputs: ["y"] },
 *   ],
 *   initializers: [
 *     { name: "w1", dataType: 1, dims: [2, 3], raw: f32([1, 0, 1, 0, 5, 0]) },
 *     { name: "w2", dataType: 1, dims: [3, 1], raw: f32([1, 1, 0.01]) },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 1] } }],
 * }));
 * const x = new Float32Array([0, 1, 1, 1, 2, 1, 3, 1]); // second input always 1
 * const scores = await channelRemovalScores(onnx, [{ x: { data: x, dims: [4, 2] } }], {
 *   ort, modules: ["w1"],
 * });
 * const [a, b, c] = scores.w1;
 * assert.equal(b, 0); // constant: removing it loses nothing
 * assert.ok(c > 0 && c < a / 1000);
 * ```
 */
export async function channelRemovalScores(
  onnx: OnnxModel,
  batches: readonly Record<string, InputTensor>[],
  options: ChannelRemovalScoresOptions,
): Promise<Record<string, Float32Array>> {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new RangeError(`"batches" must hold at least one calibration batch: none was given`);
  }
  const model = options.model ?? onnxModel(onnx);
  const moduleNodes = model.graph?.nodes ?? [];
  const nodes = onnx.graph.nodes;
  const consumersOf = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const v of n.inputs) consumersOf.set(v, [...(consumersOf.get(v) ?? []), i]);
  });
  const constants = new Set(onnx.tensors.map((t) => t.name));
  const outputs = new Set(onnx.graph.outputs);
  const byName = new Map(model.modules.map((m) => [m.name, m]));
  const group = (i: number) =>
    (nodes[i].attributes as readonly Attr[]).find((a) => a.name === "group")?.i ?? 1;
  const reached = new Map<string, Consumer[]>();
  const follow = (name: string): Consumer[] => {
    const own = moduleNodes.flatMap((n, i) => (n.module === name ? [i] : []));
    const module = byName.get(name);
    if (own.length === 0 || module === undefined || !WEIGHTED.has(nodes[own[0]].opType)) {
      throw new RangeError(
        `"modules": ${JSON.stringify(name)} is not a Conv, Gemm or MatMul module of the main graph`,
      );
    }
    const found: Consumer[] = [];
    const seen = new Set<string>();
    const queue = [nodes[own[own.length - 1]].outputs[0]];
    while (queue.length > 0) {
      const v = queue.shift()!;
      if (seen.has(v)) continue;
      seen.add(v);
      if (outputs.has(v)) {
        throw new RangeError(
          `${name}: its channels reach the graph output "${v}" before a weighted layer`,
        );
      }
      for (const i of consumersOf.get(v) ?? []) {
        const node = nodes[i];
        const reader = moduleNodes[i]?.module ?? "";
        if (WEIGHTED.has(node.opType) && node.inputs[0] === v) {
          const w = byName.get(reader)?.params.weight;
          const depthwise = node.opType === "Conv" && group(i) > 1 && w !== undefined &&
            w.shape[1] === 1 && w.shape[0] === group(i);
          if (depthwise) {
            queue.push(node.outputs[0]);
          } else if (node.opType === "Conv" && group(i) > 1) {
            throw new RangeError(
              `${name}: its channels reach the grouped Conv node "${node.name}" (group ${
                group(i)
              })`,
            );
          } else if (w === undefined || constants.has(v)) {
            throw new RangeError(`${name}: the layer "${reader}" that reads it has no weight`);
          } else {
            found.push({ module: reader, value: v, lastDim: node.opType !== "Conv" });
          }
          continue;
        }
        if (!PASS.has(node.opType)) {
          throw new RangeError(
            `${name}: its channels reach the ${node.opType} node "${node.name}", which the scores do not follow`,
          );
        }
        queue.push(...node.outputs.filter((o) => o !== ""));
      }
    }
    if (found.length === 0) {
      throw new RangeError(`${name}: its channels reach no weighted layer`);
    }
    return found;
  };
  for (const name of options.modules) {
    try {
      reached.set(name, follow(name));
    } catch (e) {
      if (options.skip !== true || !(e instanceof RangeError) || !byName.has(name)) throw e;
    }
  }
  if (reached.size === 0) return {};
  // the original model once per batch, every reading layer's input visible
  const values = [...new Set([...reached.values()].flat().map((c) => c.value))];
  const inputs = new Set(onnx.graph.inputs);
  const { bytes } = editOnnx(
    onnx,
    values.filter((v) => !outputs.has(v) && !inputs.has(v)).map((name) => ({
      op: "addGraphOutput" as const,
      name,
    })),
  );
  const { ort } = options;
  const session = await ort.InferenceSession.create(
    bytes,
    options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 },
  ) as unknown as {
    run(feeds: Record<string, unknown>): Promise<Record<string, InputTensor>>;
    release?(): Promise<void>;
  };
  const moments = new Map<string, { sum: Float64Array; sq: Float64Array; count: number }>();
  try {
    for (const batch of batches) {
      const feeds: Record<string, unknown> = {};
      for (const [k, t] of Object.entries(batch)) feeds[k] = toOrtTensor(ort, t as InputTensor);
      const out = await session.run(feeds);
      for (const v of values) {
        const t = out[v] ?? batch[v];
        const data = ortFloat32(t);
        if (data === undefined) throw new RangeError(`the value "${v}" is not a float tensor`);
        const lastDim = [...reached.values()].flat().find((c) => c.value === v)!.lastDim;
        const dims = t.dims;
        const channels = lastDim ? dims[dims.length - 1] : dims[1];
        const inner = lastDim ? 1 : dims.slice(2).reduce((a, b) => a * b, 1);
        let m = moments.get(v);
        if (m === undefined) {
          m = { sum: new Float64Array(channels), sq: new Float64Array(channels), count: 0 };
          moments.set(v, m);
        }
        // plane by plane: one channel's run of `inner` values at a time
        for (let at = 0, c = 0; at < data.length; at += inner, c = c + 1 === channels ? 0 : c + 1) {
          let sum = 0;
          let sq = 0;
          for (let k = at; k < at + inner; k++) {
            const v = data[k];
            sum += v;
            sq += v * v;
          }
          m.sum[c] += sum;
          m.sq[c] += sq;
        }
        m.count += data.length / channels;
      }
    }
  } finally {
    await session.release?.();
  }
  const scores: Record<string, Float32Array> = {};
  for (const [name, found] of reached) {
    const out = byName.get(name)!.params.weight!.shape[0];
    const score = new Float64Array(out);
    for (const c of found) {
      const w = byName.get(c.module)!.params.weight!;
      const data = await w.data();
      const m = moments.get(c.value)!;
      const [rows, cols] = [w.shape[0], w.shape[1]];
      if (cols !== out) {
        throw new RangeError(
          `${name}: the layer "${c.module}" reads ${cols} channels where ${name} has ${out}`,
        );
      }
      const taps = data.length / (rows * cols);
      for (let ch = 0; ch < out; ch++) {
        const mean = m.sum[ch] / m.count;
        const variance = Math.max(0, m.sq[ch] / m.count - mean * mean);
        let norm = 0;
        for (let o = 0; o < rows; o++) {
          for (let k = 0; k < taps; k++) norm += data[(o * cols + ch) * taps + k] ** 2;
        }
        score[ch] += variance * norm;
      }
    }
    scores[name] = Float32Array.from(score);
  }
  return scores;
}
