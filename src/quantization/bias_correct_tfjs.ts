/**
 * `biasCorrectTfjs`: bias correction of a quantized TensorFlow.js graph model (Nagel et al.
 * 2019, "Data-Free Quantization Through Weight Equalization and Bias Correction", the empirical
 * form): the expected shift of each layer's outputs that quantizing its kernel causes,
 * `E[(W_q - W) x] = (W_q - W) E[x]`, taken from the per-channel means of the layer's input on
 * calibration data and subtracted from the layer's bias.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { layersBiasSites, withLayersBiases } from "./_tfjs_layers_sites.ts";
import { einsumDense } from "../model/tfjs_model.ts";
import {
  attrFlag,
  attrStrings,
  dataConsumers,
  floatConst,
  graphNodes,
  newNames,
  producer,
  type TfNode,
  withGraph,
} from "./_tfjs_graph.ts";

/** One layer whose outputs a bias can correct. */
export interface TfjsBiasSite {
  /** The node name (a layers model's: the layer name). */
  readonly node: string;
  /** How the kernel maps inputs to outputs. */
  readonly kind: "conv" | "depthwise" | "matmul";
  /**
   * The kernel weight (tfjs layout: `[kh, kw, in, out]`, `[kh, kw, in, mult]`, `[in, out]`; a
   * layers model's `Conv1D`: `[k, in, out]`).
   */
  readonly kernel: string;
  /** MatMul with `transpose_b`: the kernel is `[out, in]`. */
  readonly transposeB: boolean;
  /**
   * The node's data input as the graph names it (`name` or `name:k`): its means are needed. A
   * layers model names no tensors: there it is the layer's name, standing for its input.
   */
  readonly input: string;
  /** The output channels. */
  readonly channels: number;
  /**
   * The bias weight that takes the correction: the node's fused `BiasAdd` argument, or a
   * constant vector added right after it (`BiasAdd`/`Add`/`AddV2`).
   */
  readonly bias?: string;
  /**
   * The layer subtracts `bias` instead of adding it (a layers model's `BatchNormalization`
   * moving mean after a layer without a bias): the correction is added to it.
   */
  readonly subtracted?: boolean;
  /**
   * No bias of its own, and its only consumer is a layer with one (nothing between): the shift
   * is carried through that layer's kernel into its bias.
   */
  readonly into?: string;
  /**
   * Ops fused into the node with no `BiasAdd` first (an activation): no bias can be added to
   * it, and its shift is left (named in `BiasCorrectedTfjs.skipped`).
   */
  readonly fused?: readonly string[];
  /**
   * The kernel reads `input` through this depthwise kernel (a layers model's `SeparableConv2D`:
   * its pointwise kernel): the means of its own input are those of `input` passed through the
   * float depthwise kernel, the sum of its taps per channel (padding not accounted for), and
   * no run holds that input for GPTQ rounding.
   */
  readonly through?: string;
  /**
   * An op that cannot be given a bias of its own (a jax2tf `Einsum` dense layer): without
   * `bias` or `into` its shift is left (named in `BiasCorrectedTfjs.skipped`).
   */
  readonly noNewBias?: boolean;
}

const LAYERS = new Set([
  "Conv2D",
  "_FusedConv2D",
  "DepthwiseConv2dNative",
  "FusedDepthwiseConv2dNative",
  "MatMul",
  "_FusedMatMul",
]);
const ADD = new Set(["BiasAdd", "Add", "AddV2"]);

/**
 * A two-operand `Einsum` that is a dense layer (`einsumDense`) whose input's contracted axis and
 * output's kept axis are both last, so that it reads and writes like a MatMul over the last
 * axis: which operand is the kernel and which the input, and whether the kernel is `[out, in]`.
 */
function einsumSite(
  n: TfNode,
  isKernel: (operand: number) => boolean,
): { kernel: number; input: number; transposeB: boolean } | undefined {
  if (n.input?.length !== 2) return undefined;
  const equation = attrStrings(n, "equation")[0] ?? "";
  const dense = einsumDense(equation, isKernel);
  if (dense === undefined || !dense.keptLast) return undefined;
  const ops = equation.replace(/\s+/g, "").replaceAll("...", "*").split("->")[0].split(",");
  const contracted = ops[dense.operand][dense.inOut ? 0 : 1];
  if (!ops[1 - dense.operand].endsWith(contracted)) return undefined;
  return { kernel: dense.operand, input: 1 - dense.operand, transposeB: !dense.inOut };
}

/**
 * The layers of a graph model whose output shift can be corrected: every `Conv2D`,
 * `_FusedConv2D`, depthwise convolution and `MatMul`/`_FusedMatMul` whose kernel is a float32
 * constant, with the bias that takes its correction — its own (the fused `BiasAdd` argument,
 * or a constant vector of one value per output channel added right after it) or, when it has
 * none, that of the only layer it feeds directly (`into`); layers with neither are listed
 * without a bias (`biasCorrectTfjs` gives them one), those with an activation fused in but no
 * `BiasAdd` with `fused`. Layers whose kernel is not a stored weight have none. A layers model's
 * `Conv2D`, `DepthwiseConv2D` and `Dense` layers are named by layer, their input by the layer's
 * own name; a layer without a bias followed by a `BatchNormalization` passes its shift to that
 * layer's moving mean (`subtracted`).
 *
 * @param model A decoded tfjs model.
 * @returns The layers, in graph order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsBiasSites } from "./bias_correct_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder" },
 *     { name: "k1", op: "Const" }, { name: "k2", op: "Const" }, { name: "b2", op: "Const" },
 *     { name: "dw", op: "DepthwiseConv2dNative", input: ["x", "k1"] },
 *     { name: "pw", op: "_FusedConv2D", input: ["dw", "k2", "b2"],
 *       attr: { fused_ops: { list: { s: [btoa("BiasAdd")] } } } },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [
 *     { name: "k1", shape: [1, 1, 2, 1], dtype: "float32" },
 *     { name: "k2", shape: [1, 1, 2, 3], dtype: "float32" },
 *     { name: "b2", shape: [3], dtype: "float32" },
 *   ] }],
 * });
 * const model = readTfjs(json, new Map([["w.bin", new Uint8Array(44)]]));
 * const sites = tfjsBiasSites(model);
 * assert.deepEqual(sites.map((s) => [s.node, s.kind, s.bias, s.into]), [
 *   ["dw", "depthwise", undefined, "pw"],
 *   ["pw", "conv", "b2", undefined],
 * ]);
 * ```
 */
export function tfjsBiasSites(model: TfjsModel): TfjsBiasSite[] {
  if (model.kind === "layers-model") return layersBiasSites(model);
  const topology = model.json.modelTopology as { node?: TfNode[] } | undefined;
  if (model.kind !== "graph-model" || !Array.isArray(topology?.node)) return [];
  const nodes = new Map(topology.node.map((n) => [n.name, n]));
  const consumers = dataConsumers(topology.node);
  const weights = new Map(model.weights.map((w) => [w.spec.name, w]));
  /** A float32 weight used by this node only. */
  const own = (input: string | undefined) => {
    if (input === undefined) return undefined;
    const name = producer(input);
    const w = weights.get(name);
    if (
      w === undefined || w.spec.dtype !== "float32" || nodes.get(name)?.op !== "Const" ||
      (consumers.get(name)?.length ?? 0) !== 1
    ) {
      return undefined;
    }
    return w;
  };
  const sites: TfjsBiasSite[] = [];
  for (const n of topology.node) {
    const einsum = n.op === "Einsum"
      ? einsumSite(n, (k) => own(n.input?.[k]) !== undefined)
      : undefined;
    if (einsum === undefined && (!LAYERS.has(n.op) || (n.input?.length ?? 0) < 2)) continue;
    const kernel = own(n.input![einsum?.kernel ?? 1]);
    if (kernel === undefined) continue;
    const shape = kernel.spec.shape;
    const matmul = einsum !== undefined || n.op === "MatMul" || n.op === "_FusedMatMul";
    if (matmul ? shape.length !== 2 || attrFlag(n, "transpose_a") : shape.length !== 4) continue;
    const transposeB = einsum?.transposeB ?? (matmul && attrFlag(n, "transpose_b"));
    const kind = matmul ? "matmul" : n.op.includes("Depthwise") ? "depthwise" : "conv";
    const channels = kind === "matmul"
      ? shape[transposeB ? 0 : 1]
      : kind === "depthwise"
      ? shape[2] * shape[3]
      : shape[3];
    let bias: string | undefined;
    const fused = attrStrings(n, "fused_ops");
    if (fused[0] === "BiasAdd") {
      const b = own(n.input![2]);
      if (b !== undefined && b.spec.shape.reduce((p, q) => p * q, 1) === channels) {
        bias = b.spec.name;
      }
    } else if (fused.length === 0) {
      const next = consumers.get(n.name) ?? [];
      if (next.length === 1 && ADD.has(next[0].op) && next[0].input?.length === 2) {
        const other = next[0].input.find((i) => producer(i) !== n.name);
        const b = own(other);
        if (
          b !== undefined && b.spec.shape.reduce((p, q) => p * q, 1) === channels &&
          b.spec.shape.slice(0, -1).every((d) => d === 1)
        ) {
          bias = b.spec.name;
        }
      }
    }
    if (bias === undefined && fused[0] === "BiasAdd") continue;
    sites.push({
      node: n.name,
      kind,
      kernel: kernel.spec.name,
      transposeB,
      input: n.input![einsum?.input ?? 0].replace(/^\^/, ""),
      channels,
      ...(bias === undefined ? {} : { bias }),
      ...(bias === undefined && fused.length > 0 ? { fused } : {}),
      ...(einsum === undefined ? {} : { noNewBias: true }),
    });
  }
  // Layers without a bias (and nothing fused) feeding one layer directly: into its bias.
  const byNode = new Map(sites.map((s) => [s.node, s]));
  return sites.map((s) => {
    if (s.bias !== undefined || s.fused !== undefined) return s;
    const next = consumers.get(s.node) ?? [];
    const target = next.length === 1 ? byNode.get(next[0].name) : undefined;
    if (
      target?.bias === undefined || producer(target.input) !== s.node ||
      !inChannels(model, target, s.channels)
    ) {
      return s;
    }
    return { ...s, into: target.node };
  });
}

/** Whether a layer reads `channels` input channels. */
function inChannels(model: TfjsModel, site: TfjsBiasSite, channels: number): boolean {
  const shape = model.weights.find((w) => w.spec.name === site.kernel)!.spec.shape;
  const n = site.kind === "matmul" ? shape[site.transposeB ? 1 : 0] : shape[2];
  return n === channels;
}

/**
 * The shift of a layer's outputs, `(W_q - W) mean` per output channel, with `delta` the kernel
 * change (tfjs layout) and `mean` the input's per-channel mean.
 */
function outputShift(
  site: Pick<TfjsBiasSite, "kind" | "transposeB" | "channels">,
  shape: readonly number[],
  delta: ArrayLike<number>,
  mean: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(site.channels);
  if (site.kind === "matmul") {
    const [r, c] = shape;
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < c; j++) {
        const d = delta[i * c + j];
        if (site.transposeB) out[i] += d * mean[j];
        else out[j] += d * mean[i];
      }
    }
    return out;
  }
  // [kh, kw, in, out] (conv; [k, in, out] for a layers model's Conv1D) or [kh, kw, in, mult]
  // (depthwise: output channel in*mult + m).
  const last = shape[shape.length - 1];
  const inputs = shape[shape.length - 2];
  for (let i = 0; i < delta.length; i++) {
    const ch = Math.floor(i / last) % inputs;
    const o = i % last;
    const d = delta[i] * mean[ch];
    if (site.kind === "depthwise") out[ch * last + o] += d;
    else out[o] += d;
  }
  return out;
}

/** The corrected biases and what was left. */
export interface BiasCorrectedTfjs {
  /** New values of each corrected bias weight (tfjs layout), by weight name. */
  readonly biases: ReadonlyMap<string, Float32Array>;
  /**
   * Biases for layers that have none (nothing fused, no `into`): `-shift` per output channel,
   * by node name; `withTfjsBiases` puts them into the model. Only layers whose shift is not all
   * zeros get one.
   */
  readonly added: ReadonlyMap<string, Float32Array>;
  /** The layers whose shift went into a bias (an existing one or one in `added`). */
  readonly corrected: readonly string[];
  /**
   * The layers with a changed kernel whose shift no bias could take: no input means, or ops
   * fused into them with no `BiasAdd` (`TfjsBiasSite.fused`).
   */
  readonly skipped: readonly string[];
}

/**
 * Bias correction: for every layer (`tfjsBiasSites`) whose kernel changed, the shift of its
 * outputs `(W_q - W) E[x]` — `E[x]` the per-channel mean of the layer's input on calibration
 * data — is subtracted from its bias; a layer without one carries its shift through the layer
 * it feeds (`into`: that layer's bias loses `W_q' shift`), and a layer with neither gets a new
 * bias, `-shift` (`added`; `withTfjsBiases` adds it to the graph). The means are those of the
 * float model, as in Nagel et al. 2019; convolution padding is not accounted for (the border
 * values see zeros where the mean assumes `E[x]`).
 *
 * @param sites The layers (`tfjsBiasSites`).
 * @param source The kernels before quantization (tfjs layout), by weight name: every site's.
 * @param quantized The kernel values as written (what tfjs decodes), by weight name, tfjs
 * layout; kernels not given are unchanged.
 * @param means The per-channel mean of each layer's input, by the input's name
 * (`TfjsBiasSite.input`).
 * @param biases The current values of the bias weights (tfjs layout), by weight name.
 * @returns The corrected biases, the new ones and the layers corrected or skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { biasCorrectTfjs } from "./bias_correct_tfjs.ts";
 *
 * // A 1x1 conv, 2 -> 1 channels, kernel [1, 2] rounded to [1.25, 2]; inputs average [4, 1].
 * const site = { node: "c", kind: "conv" as const, kernel: "k", transposeB: false, input: "x", channels: 1, bias: "b" };
 * const kernels = new Map([["k", { shape: [1, 1, 2, 1], values: Float32Array.of(1, 2) }]]);
 * const out = biasCorrectTfjs(
 *   [site],
 *   kernels,
 *   new Map([["k", Float32Array.of(1.25, 2)]]),
 *   new Map([["x", Float64Array.of(4, 1)]]),
 *   new Map([["b", Float32Array.of(0.5)]]),
 * );
 * // The output moved by 0.25 * 4 = 1 on average: the bias takes it back.
 * assert.deepEqual([...out.biases.get("b")!], [-0.5]);
 * assert.deepEqual(out.corrected, ["c"]);
 * // Without a bias of its own: a new one.
 * const { bias: _, ...bare } = site;
 * const added = biasCorrectTfjs(
 *   [bare],
 *   kernels,
 *   new Map([["k", Float32Array.of(1.25, 2)]]),
 *   new Map([["x", Float64Array.of(4, 1)]]),
 *   new Map(),
 * );
 * assert.deepEqual([...added.added.get("c")!], [-1]);
 * ```
 */
export function biasCorrectTfjs(
  sites: readonly TfjsBiasSite[],
  source: ReadonlyMap<string, { shape: readonly number[]; values: ArrayLike<number> }>,
  quantized: ReadonlyMap<string, ArrayLike<number>>,
  means: ReadonlyMap<string, ArrayLike<number>>,
  biases: ReadonlyMap<string, Float32Array>,
): BiasCorrectedTfjs {
  const byNode = new Map(sites.map((s) => [s.node, s]));
  const out = new Map<string, Float32Array>();
  const added = new Map<string, Float32Array>();
  const corrected: string[] = [];
  const skipped: string[] = [];
  const biasOf = (name: string) => {
    let b = out.get(name);
    if (b === undefined) {
      const cur = biases.get(name);
      if (cur === undefined) return undefined;
      b = Float32Array.from(cur);
      out.set(name, b);
    }
    return b;
  };
  for (const s of sites) {
    const q = quantized.get(s.kernel);
    const w = source.get(s.kernel);
    if (q === undefined || w === undefined) continue;
    let mean: ArrayLike<number> | undefined = means.get(s.input);
    if (s.through !== undefined && mean !== undefined) {
      const dw = source.get(s.through);
      mean = dw === undefined ? undefined : outputShift(
        { kind: "depthwise", transposeB: false, channels: dw.shape[2] * dw.shape[3] },
        dw.shape,
        dw.values,
        mean,
      );
    }
    let target = s.bias !== undefined ? s : s.into !== undefined ? byNode.get(s.into) : undefined;
    if (target?.bias === undefined) target = undefined;
    if (
      mean === undefined ||
      (target === undefined && (s.fused !== undefined || s.noNewBias === true))
    ) {
      skipped.push(s.node);
      continue;
    }
    const delta = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) delta[i] = q[i] - w.values[i];
    let shift = outputShift(s, w.shape, delta, mean);
    if (target === undefined) {
      // No bias to take it: a new one, when there is something to take.
      if (shift.some((v) => v !== 0)) {
        added.set(s.node, Float32Array.from(shift, (v) => -v));
        corrected.push(s.node);
      }
      continue;
    }
    if (target !== s) {
      // Through the next layer: its output moves by W_q' shift (its kernel as written).
      const next = source.get(target.kernel)!;
      const kernel = quantized.get(target.kernel) ?? next.values;
      shift = outputShift(target, next.shape, kernel, shift);
    }
    const b = biasOf(target.bias!);
    if (b === undefined || b.length !== shift.length) {
      skipped.push(s.node);
      continue;
    }
    const sign = target.subtracted === true ? 1 : -1;
    for (let i = 0; i < b.length; i++) b[i] = b[i] + sign * shift[i];
    corrected.push(s.node);
  }
  return { biases: out, added, corrected, skipped };
}

/** The fused form of each unfused layer op, and whether it takes `epsilon` (the converter's). */
const FUSED: Record<string, { op: string; epsilon: boolean }> = {
  Conv2D: { op: "_FusedConv2D", epsilon: true },
  DepthwiseConv2dNative: { op: "FusedDepthwiseConv2dNative", epsilon: false },
  MatMul: { op: "_FusedMatMul", epsilon: true },
};

/** A graph model with new biases, and the weight name of each. */
export interface TfjsWithBiases {
  /** The model: the layers fused with a `BiasAdd`, a `Const` node and a weight per bias. */
  readonly model: TfjsModel;
  /** The new bias weight, by node name. */
  readonly weights: ReadonlyMap<string, string>;
}

/**
 * Gives layers without a bias one (`BiasCorrectedTfjs.added`): in a graph model a `Conv2D`
 * becomes a `_FusedConv2D`, a `DepthwiseConv2dNative` a `FusedDepthwiseConv2dNative`, a `MatMul` a
 * `_FusedMatMul`, each with `fused_ops: ["BiasAdd"]` (base64, as the converter writes
 * strings), `num_args: 1` (and `epsilon: 0` where the converter writes it) and the bias as a
 * third input: a new float32 `Const` node (named `<node>/bias`, or with a number if that is
 * taken) and a new weight at the end of the manifest, stored as float32. tfjs-converter runs
 * these fused ops as `tf.fused.conv2d` / `depthwiseConv2d` / `matMul` with a bias and no
 * activation. In a layers model the layer's config takes `use_bias: true` and a float32 weight
 * `<layer>/bias` (`withLayersBiases`).
 *
 * @param model A decoded graph or layers model.
 * @param biases The values (one per output channel) by node name; every node must be an
 * unfused `Conv2D`, `DepthwiseConv2dNative` or `MatMul` (a layers model: a `Conv2D`,
 * `DepthwiseConv2D` or `Dense` layer without a bias, as `tfjsBiasSites` lists it).
 * @returns The new model (the source is unchanged) and the weight names.
 * @throws {RangeError} A node that is not such a layer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { withTfjsBiases } from "./bias_correct_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder" },
 *     { name: "k", op: "Const" },
 *     { name: "c", op: "Conv2D", input: ["x", "k"] },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [
 *     { name: "k", shape: [1, 1, 2, 3], dtype: "float32" },
 *   ] }],
 * });
 * const model = readTfjs(json, new Map([["w.bin", new Uint8Array(24)]]));
 * const out = withTfjsBiases(model, new Map([["c", Float32Array.of(1, 2, 3)]]));
 * assert.equal(out.weights.get("c"), "c/bias");
 * const node = (out.model.json.modelTopology as { node: { name: string; op: string; input?: string[] }[] })
 *   .node.find((n) => n.name === "c")!;
 * assert.equal(node.op, "_FusedConv2D");
 * assert.deepEqual(node.input, ["x", "k", "c/bias"]);
 * assert.deepEqual(out.model.weights.at(-1)!.spec, { name: "c/bias", shape: [3], dtype: "float32" });
 * ```
 */
export function withTfjsBiases(
  model: TfjsModel,
  biases: ReadonlyMap<string, Float32Array>,
): TfjsWithBiases {
  if (model.kind === "layers-model") return withLayersBiases(model, biases);
  const newName = newNames(model);
  const names = new Map<string, string>();
  const out: TfNode[] = [];
  const added: { name: string; values: Float32Array }[] = [];
  for (const n of graphNodes(model)) {
    const values = biases.get(n.name);
    if (values === undefined) {
      out.push(n);
      continue;
    }
    const fused = FUSED[n.op];
    const inputs = n.input ?? [];
    if (fused === undefined || attrStrings(n, "fused_ops").length > 0 || inputs.length < 2) {
      throw new RangeError(
        `node ${JSON.stringify(n.name)} takes no new bias: only unfused Conv2D, ` +
          `DepthwiseConv2dNative and MatMul nodes do, it is ${n.op}`,
      );
    }
    const name = newName(`${n.name}/bias`);
    names.set(n.name, name);
    out.push(floatConst(name, values.length));
    out.push({
      ...n,
      op: fused.op,
      // The data inputs, the bias, then any control inputs.
      input: [inputs[0], inputs[1], name, ...inputs.slice(2)],
      attr: {
        ...n.attr,
        num_args: { i: "1" },
        fused_ops: { list: { s: [btoa("BiasAdd")] } },
        ...(fused.epsilon ? { epsilon: { f: 0 } } : {}),
      },
    });
    added.push({ name, values });
  }
  for (const node of biases.keys()) {
    if (!names.has(node)) {
      throw new RangeError(`the model has no node ${JSON.stringify(node)} to give a bias`);
    }
  }
  return { model: withGraph(model, out, added), weights: names };
}
