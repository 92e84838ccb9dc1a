/**
 * Channel scales for TensorFlow.js models: a kernel stored as one grid of tfjs codes per
 * tensor, with one float scale per output channel applied by a `Mul` node after its layer (graph
 * models) or by a layer after it (layers models: a 1 x 1 `DepthwiseConv2D` or a
 * `BatchNormalization`, `_channel_scales_layers.ts`). tfjs
 * stores one `min` and `scale` per weight; a `Mul` by a `[channels]` constant after the
 * convolution (or MatMul) gives each output channel a scale of its own, so a kernel quantized
 * per channel (NNI `granularity: "per_channel"` with one zero point) is stored as its codes, one
 * byte each at 8 bits, plus one scale per channel, and tfjs computes exactly
 * `conv(x, codes) · scale_c`.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { einsumDense } from "../model/tfjs_model.ts";
import {
  BATCH_NORM_EXTRA_BYTES,
  layersScaleSites,
  withLayersScales,
} from "./_channel_scales_layers.ts";
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

/** A kernel that can take a scale per output channel. */
export interface TfjsChannelScaleSite {
  /** The kernel's weight name. */
  readonly kernel: string;
  /** The layers that read it (each gets the `Mul`). */
  readonly nodes: readonly string[];
  /** Its output channels: the last dim, `in · multiplier` of a depthwise kernel, `out` of a MatMul. */
  readonly channels: number;
  /**
   * Whether the output channel is the fastest-varying index of the kernel (tfjs layout); false
   * for a MatMul kernel read with `transpose_b` (`[out, in]`).
   */
  readonly channelsLast: boolean;
  /**
   * Bytes the scales' carrier adds beside the scales (a layers model's `BatchNormalization`:
   * its constant moving mean and variance); none for a `Mul` or a 1 x 1 `DepthwiseConv2D`.
   */
  readonly extraBytes?: number;
}

/** The unfused op of each layer op; activations a fused layer may end with, as tfjs names them. */
const BASE: Record<string, string> = {
  Conv2D: "Conv2D",
  _FusedConv2D: "Conv2D",
  DepthwiseConv2dNative: "DepthwiseConv2dNative",
  FusedDepthwiseConv2dNative: "DepthwiseConv2dNative",
  MatMul: "MatMul",
  _FusedMatMul: "MatMul",
  Einsum: "Einsum",
};
const ACTIVATIONS: Record<string, string> = {
  relu: "Relu",
  relu6: "Relu6",
  elu: "Elu",
  prelu: "Prelu",
  leakyrelu: "LeakyRelu",
  sigmoid: "Sigmoid",
};
/** Attributes of a fused layer that its unfused op does not take. */
const FUSED_ONLY = new Set(["fused_ops", "num_args", "epsilon", "leakyrelu_alpha"]);

/**
 * What a layer node fuses after its op: an optional `BiasAdd` then an optional activation, or
 * undefined when it fuses something else (a `FusedBatchNorm`, an unknown activation).
 */
function fusedTail(node: TfNode): { bias: boolean; activation?: string } | undefined {
  const ops = attrStrings(node, "fused_ops").map((s) => s.toLowerCase());
  const bias = ops[0] === "biasadd";
  const rest = bias ? ops.slice(1) : ops;
  if (rest.length > 1) return undefined;
  if (rest.length === 1 && ACTIVATIONS[rest[0]] === undefined) return undefined;
  return { bias, activation: rest[0] };
}

/**
 * How `node` reads weight `name` as its kernel (its input 1, read nowhere else), by where the
 * output channel is: undefined when it reads it otherwise or cannot take channel scales.
 */
function kernelKind(
  node: TfNode,
  name: string,
): "depthwise" | "conv" | "inOut" | "outIn" | undefined {
  const inputs = (node.input ?? []).filter((i) => !i.startsWith("^"));
  if (inputs.length < 2 || !scalable(node)) return undefined;
  if (inputs.filter((i) => producer(i) === name).length !== 1) return undefined;
  if (node.op === "Einsum") {
    // A dense layer (jax2tf), the kernel either operand, the kept axis ending the output.
    const dense = einsumDense(
      attrStrings(node, "equation")[0] ?? "",
      (i) => producer(inputs[i]) === name,
    );
    if (inputs.length !== 2 || dense === undefined || !dense.keptLast) return undefined;
    return dense.inOut ? "inOut" : "outIn";
  }
  if (producer(inputs[1]) !== name) return undefined;
  if (node.op.includes("Depthwise")) return "depthwise";
  if (!node.op.includes("MatMul")) return "conv";
  return attrFlag(node, "transpose_b") ? "outIn" : "inOut";
}

/** Whether `node` is a layer whose kernel (input 1) can take a scale per output channel. */
function scalable(node: TfNode): boolean {
  if (BASE[node.op] === undefined) return false;
  const format = attrStrings(node, "data_format");
  if (format.length > 0 && format[0] !== "NHWC") return false;
  if (node.op.includes("MatMul") && attrFlag(node, "transpose_a")) return false;
  return fusedTail(node) !== undefined;
}

/**
 * The kernels of a graph model that can take a scale per output channel: weights read only as
 * input 1 (the filter; control inputs aside) of `Conv2D`, `DepthwiseConv2dNative` and `MatMul`
 * nodes, the kernel of an `Einsum` that is a dense layer with the kept axis last
 * (`abcg,gf->abcf`, `fg,abcg->abcf`), or input 1 of the fused forms (`_FusedConv2D`, `FusedDepthwiseConv2dNative`, `_FusedMatMul` fusing a `BiasAdd` and/or
 * a `Relu`, `Relu6`, `Elu`, `Prelu`, `LeakyRelu` or `Sigmoid`), NHWC, no `transpose_a`. In a
 * layers model: the kernels of `Conv2D`, `DepthwiseConv2D`, `SeparableConv2D` (pointwise),
 * `Conv1D` and `Dense` layers of a `Sequential` or Keras 2 `Functional` topology or a model
 * nested in it, channels last (or first for the 2-D convolutions: their scale layer reads
 * channels first too); the site's node is the layer.
 *
 * @param model A decoded model.
 * @returns The sites by kernel weight name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsChannelScaleSites } from "./channel_scales_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder" },
 *     { name: "k", op: "Const" },
 *     { name: "c", op: "DepthwiseConv2dNative", input: ["x", "k"] },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "k", shape: [3, 3, 4, 2], dtype: "float32" }] }],
 * });
 * const sites = tfjsChannelScaleSites(readTfjs(json, new Map([["w.bin", new Uint8Array(288)]])));
 * assert.deepEqual(sites.get("k"), { kernel: "k", nodes: ["c"], channels: 8, channelsLast: true });
 * ```
 */
export function tfjsChannelScaleSites(model: TfjsModel): Map<string, TfjsChannelScaleSite> {
  const out = new Map<string, TfjsChannelScaleSite>();
  if (model.kind === "layers-model") {
    for (const [kernel, site] of layersScaleSites(model)) {
      out.set(kernel, {
        kernel,
        nodes: [site.layer],
        channels: site.channels,
        channelsLast: true,
        ...(site.carrier === "BatchNormalization"
          ? { extraBytes: BATCH_NORM_EXTRA_BYTES * site.channels }
          : {}),
      });
    }
    return out;
  }
  const consumers = dataConsumers(graphNodes(model));
  for (const { spec } of model.weights) {
    const readers = consumers.get(spec.name) ?? [];
    if (readers.length === 0 || spec.dtype !== "float32") continue;
    // Every reader reads it as its kernel, and they agree on which dim is the output channel.
    const kinds = new Set(readers.map((n) => kernelKind(n, spec.name)));
    const [kind] = kinds;
    if (kinds.size !== 1 || kind === undefined) continue;
    const s = spec.shape;
    let channels: number | undefined;
    if (kind === "depthwise" && s.length === 4) channels = s[2] * s[3];
    else if (kind === "conv" && s.length === 4) channels = s[3];
    else if (kind === "inOut" && s.length === 2) channels = s[1];
    else if (kind === "outIn" && s.length === 2) channels = s[0];
    if (channels === undefined || channels === 0) continue;
    const nodes = readers.map((n) => n.name);
    out.set(spec.name, { kernel: spec.name, nodes, channels, channelsLast: kind !== "outIn" });
  }
  return out;
}

/** A model with channel scales, and the weight name of each kernel's scales. */
export interface TfjsWithChannelScales {
  /**
   * The model. A graph model: each layer unfused, a `Mul` by its scales, then its bias and
   * activation. A layers model: each layer without its bias and activation, then a layer that
   * holds the scales and takes the bias and activation (a 1 x 1 `DepthwiseConv2D`, or a
   * `BatchNormalization` and an `Activation` after a `Dense` or `Conv1D`).
   */
  readonly model: TfjsModel;
  /** The new scale weight, by kernel weight name. */
  readonly weights: ReadonlyMap<string, string>;
  /** Weights of the source under a new name (a layers model's biases): old name -> new name. */
  readonly renamed: ReadonlyMap<string, string>;
}

/**
 * Gives kernels a scale per output channel. Each layer `L` that reads a kernel of `scales`
 * becomes: `L/unscaled`, its unfused op (`Conv2D`, `DepthwiseConv2dNative`, `MatMul`) on the
 * input and the kernel; `L/channel_scale`, a `Mul` by a new `Const` of the scales (named
 * `<kernel>/channel_scale`, or with a number if that is taken; a new float32 weight at the end of
 * the manifest); then the layer's own `BiasAdd` and activation as nodes of their own, the last
 * one named `L`, so every reader of `L` reads the scaled outputs. The layer computes
 * `act(op(x, kernel) · scale + bias)`: the kernel's values must be divided by the scales
 * (per output channel) for the same function.
 *
 * In a layers model, layer `L` loses its bias and activation (`use_bias: false`, `linear`) and
 * is followed by `L_channel_scale`: a 1 x 1 `DepthwiseConv2D` (depth multiplier 1) whose kernel
 * `[1, 1, channels, 1]` is the scales and which takes `L`'s bias (renamed
 * `L_channel_scale/bias`) and activation, or, after a `Dense` or `Conv1D`, a
 * `BatchNormalization` with `epsilon` 0 whose `gamma` is the scales and `beta` the bias, then an
 * `Activation` when `L` had one; the layers that read `L` read the last of them instead.
 *
 * @param model A decoded model.
 * @param scales The scales (one per output channel, tfjs output-channel order) by kernel weight
 * name; each must be a site of `tfjsChannelScaleSites`.
 * @returns The new model (the source is unchanged), the scale weight names and the weights
 * renamed.
 * @throws {RangeError} A kernel that is not a site, or scales of the wrong length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { withTfjsChannelScales } from "./channel_scales_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder" },
 *     { name: "k", op: "Const" },
 *     { name: "b", op: "Const" },
 *     { name: "c", op: "_FusedConv2D", input: ["x", "k", "b"],
 *       attr: { fused_ops: { list: { s: [btoa("BiasAdd"), btoa("Relu6")] } }, num_args: { i: "1" } } },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [
 *     { name: "k", shape: [1, 1, 2, 3], dtype: "float32" }, { name: "b", shape: [3], dtype: "float32" },
 *   ] }],
 * });
 * const model = readTfjs(json, new Map([["w.bin", new Uint8Array(36)]]));
 * const out = withTfjsChannelScales(model, new Map([["k", Float32Array.of(1, 2, 3)]]));
 * const nodes = (out.model.json.modelTopology as { node: { name: string; op: string; input?: string[] }[] }).node;
 * assert.deepEqual(nodes.slice(3).map((n) => [n.name, n.op, n.input]), [
 *   ["k/channel_scale", "Const", undefined],
 *   ["c/unscaled", "Conv2D", ["x", "k"]],
 *   ["c/channel_scale", "Mul", ["c/unscaled", "k/channel_scale"]],
 *   ["c/bias_add", "BiasAdd", ["c/channel_scale", "b"]],
 *   ["c", "Relu6", ["c/bias_add"]],
 * ]);
 * assert.deepEqual(out.model.weights.at(-1)!.spec, { name: "k/channel_scale", shape: [3], dtype: "float32" });
 * ```
 */
export function withTfjsChannelScales(
  model: TfjsModel,
  scales: ReadonlyMap<string, Float32Array>,
): TfjsWithChannelScales {
  if (model.kind === "layers-model") return withLayersScales(model, scales);
  const sites = tfjsChannelScaleSites(model);
  const nodes = graphNodes(model);
  const unique = newNames(model);
  const names = new Map<string, string>();
  const byNode = new Map<string, string>();
  const added: { name: string; values: Float32Array }[] = [];
  const constants: TfNode[] = [];
  for (const [kernel, values] of scales) {
    const site = sites.get(kernel);
    if (site === undefined) {
      throw new RangeError(
        `weight ${JSON.stringify(kernel)} takes no channel scales: it must be the kernel of ` +
          `Conv2D, DepthwiseConv2dNative or MatMul layers only (or their fused forms)`,
      );
    }
    if (values.length !== site.channels) {
      throw new RangeError(
        `the channel scales of ${JSON.stringify(kernel)} must have ${site.channels} values, ` +
          `one per output channel: current value is ${values.length}`,
      );
    }
    const name = unique(`${kernel}/channel_scale`);
    names.set(kernel, name);
    for (const n of site.nodes) byNode.set(n, name);
    constants.push(floatConst(name, values.length));
    added.push({ name, values });
  }
  const float = { T: { type: "DT_FLOAT" } };
  const out: TfNode[] = [];
  for (const n of nodes) {
    const scale = byNode.get(n.name);
    if (scale === undefined) {
      out.push(n);
      continue;
    }
    const inputs = n.input ?? [];
    const data = inputs.filter((i) => !i.startsWith("^"));
    const control = inputs.filter((i) => i.startsWith("^"));
    const tail = fusedTail(n)!;
    const attr = Object.fromEntries(
      Object.entries(n.attr ?? {}).filter(([k]) => !FUSED_ONLY.has(k)),
    );
    const steps: { op: string; input: string[]; attr: Record<string, unknown> }[] = [];
    const layer = unique(`${n.name}/unscaled`);
    out.push({ ...n, name: layer, op: BASE[n.op], input: [data[0], data[1], ...control], attr });
    steps.push({ op: "Mul", input: [scale], attr: float });
    let arg = 2;
    if (tail.bias) {
      steps.push({
        op: "BiasAdd",
        input: [data[arg++]],
        attr: { ...float, data_format: { s: btoa("NHWC") } },
      });
    }
    if (tail.activation !== undefined) {
      const op = ACTIVATIONS[tail.activation];
      const alpha = n.attr?.leakyrelu_alpha as { f?: unknown } | undefined;
      steps.push({
        op,
        input: op === "Prelu" ? [data[arg++]] : [],
        attr: op === "LeakyRelu" ? { ...float, alpha: { f: Number(alpha?.f ?? 0.2) } } : float,
      });
    }
    const stepNames = steps.map((s, k) =>
      k === steps.length - 1
        ? n.name
        : unique(`${n.name}/${s.op === "Mul" ? "channel_scale" : "bias_add"}`)
    );
    let previous = layer;
    steps.forEach((s, k) => {
      out.push({ name: stepNames[k], op: s.op, input: [previous, ...s.input], attr: s.attr });
      previous = stepNames[k];
    });
  }
  // The scale constants first, where a reader of the graph meets them before their `Mul`.
  const firstLayer = out.findIndex((n) => n.op !== "Const" && n.op !== "Placeholder");
  const at = firstLayer < 0 ? out.length : firstLayer;
  out.splice(at, 0, ...constants);
  return { model: withGraph(model, out, added), weights: names, renamed: new Map() };
}
