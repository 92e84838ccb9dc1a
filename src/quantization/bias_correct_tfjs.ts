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

interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Record<string, unknown>;
}

/** One layer whose outputs a bias can correct. */
export interface TfjsBiasSite {
  /** The node name. */
  readonly node: string;
  /** How the kernel maps inputs to outputs. */
  readonly kind: "conv" | "depthwise" | "matmul";
  /** The kernel weight (tfjs layout: `[kh, kw, in, out]`, `[kh, kw, in, mult]`, `[in, out]`). */
  readonly kernel: string;
  /** MatMul with `transpose_b`: the kernel is `[out, in]`. */
  readonly transposeB: boolean;
  /** The node's data input as the graph names it (`name` or `name:k`): its means are needed. */
  readonly input: string;
  /** The output channels. */
  readonly channels: number;
  /**
   * The bias weight that takes the correction: the node's fused `BiasAdd` argument, or a
   * constant vector added right after it (`BiasAdd`/`Add`/`AddV2`).
   */
  readonly bias?: string;
  /**
   * No bias of its own, and its only consumer is a layer with one (nothing between): the shift
   * is carried through that layer's kernel into its bias.
   */
  readonly into?: string;
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

const sourceOf = (input: string) => input.replace(/^\^/, "").replace(/:\d+$/, "");

function fusedOps(node: TfNode): string[] {
  const a = node.attr?.fused_ops as { list?: { s?: unknown[] } } | undefined;
  return (a?.list?.s ?? []).map((s) => {
    try {
      return atob(String(s));
    } catch {
      return String(s);
    }
  });
}

function flag(node: TfNode, key: string): boolean {
  const a = node.attr?.[key] as { b?: unknown } | undefined;
  return a?.b === true || a?.b === "true";
}

/**
 * The layers of a graph model whose output shift can be corrected: every `Conv2D`,
 * `_FusedConv2D`, depthwise convolution and `MatMul`/`_FusedMatMul` whose kernel is a float32
 * constant, with the bias that takes its correction — its own (the fused `BiasAdd` argument,
 * or a constant vector of one value per output channel added right after it) or, when it has
 * none, that of the only layer it feeds directly. Layers models have none (their topology holds
 * no tensor names), nor do layers whose kernel is not a stored weight.
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
  const topology = model.json.modelTopology as { node?: TfNode[] } | undefined;
  if (model.kind !== "graph-model" || !Array.isArray(topology?.node)) return [];
  const nodes = new Map(topology.node.map((n) => [n.name, n]));
  const consumers = new Map<string, TfNode[]>();
  for (const n of topology.node) {
    for (const i of n.input ?? []) {
      const from = sourceOf(i);
      consumers.set(from, [...consumers.get(from) ?? [], n]);
    }
  }
  const weights = new Map(model.weights.map((w) => [w.spec.name, w]));
  /** A float32 weight used by this node only. */
  const own = (input: string | undefined) => {
    if (input === undefined) return undefined;
    const name = sourceOf(input);
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
    if (!LAYERS.has(n.op) || (n.input?.length ?? 0) < 2) continue;
    const kernel = own(n.input![1]);
    if (kernel === undefined) continue;
    const shape = kernel.spec.shape;
    const matmul = n.op === "MatMul" || n.op === "_FusedMatMul";
    if (matmul ? shape.length !== 2 || flag(n, "transpose_a") : shape.length !== 4) continue;
    const transposeB = matmul && flag(n, "transpose_b");
    const kind = matmul ? "matmul" : n.op.includes("Depthwise") ? "depthwise" : "conv";
    const channels = kind === "matmul"
      ? shape[transposeB ? 0 : 1]
      : kind === "depthwise"
      ? shape[2] * shape[3]
      : shape[3];
    let bias: string | undefined;
    const fused = fusedOps(n);
    if (fused[0] === "BiasAdd") {
      const b = own(n.input![2]);
      if (b !== undefined && b.spec.shape.reduce((p, q) => p * q, 1) === channels) {
        bias = b.spec.name;
      }
    } else if (fused.length === 0) {
      const next = consumers.get(n.name) ?? [];
      if (next.length === 1 && ADD.has(next[0].op) && next[0].input?.length === 2) {
        const other = next[0].input.find((i) => sourceOf(i) !== n.name);
        const b = own(other);
        if (
          b !== undefined && b.spec.shape.reduce((p, q) => p * q, 1) === channels &&
          b.spec.shape.slice(0, -1).every((d) => d === 1)
        ) {
          bias = b.spec.name;
        }
      }
    }
    if (bias === undefined && fused.length > 0) continue;
    sites.push({
      node: n.name,
      kind,
      kernel: kernel.spec.name,
      transposeB,
      input: n.input![0].replace(/^\^/, ""),
      channels,
      ...(bias === undefined ? {} : { bias }),
    });
  }
  // Layers without a bias (and nothing fused) feeding one layer directly: into its bias.
  const byNode = new Map(sites.map((s) => [s.node, s]));
  return sites.map((s) => {
    if (s.bias !== undefined) return s;
    const next = consumers.get(s.node) ?? [];
    const target = next.length === 1 ? byNode.get(next[0].name) : undefined;
    if (
      target?.bias === undefined || sourceOf(target.input) !== s.node ||
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
  // [kh, kw, in, out] (conv) or [kh, kw, in, mult] (depthwise: output channel in*mult + m).
  const last = shape[3];
  const inputs = shape[2];
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
  /** The layers whose shift went into a bias. */
  readonly corrected: readonly string[];
  /** The layers with a changed kernel whose shift no bias could take. */
  readonly skipped: readonly string[];
}

/**
 * Bias correction: for every layer (`tfjsBiasSites`) whose kernel changed, the shift of its
 * outputs `(W_q - W) E[x]` — `E[x]` the per-channel mean of the layer's input on calibration
 * data — is subtracted from its bias; a layer without one carries its shift through the layer
 * it feeds (`into`: that layer's bias loses `W_q' shift`). The means are those of the float
 * model, as in Nagel et al. 2019; convolution padding is not accounted for (the border values
 * see zeros where the mean assumes `E[x]`).
 *
 * @param sites The layers (`tfjsBiasSites`).
 * @param source The kernels before quantization (tfjs layout), by weight name: every site's.
 * @param quantized The kernel values as written (what tfjs decodes), by weight name, tfjs
 * layout; kernels not given are unchanged.
 * @param means The per-channel mean of each layer's input, by the input's name
 * (`TfjsBiasSite.input`).
 * @param biases The current values of the bias weights (tfjs layout), by weight name.
 * @returns The corrected biases and the layers corrected or skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { biasCorrectTfjs } from "./bias_correct_tfjs.ts";
 *
 * // A 1x1 conv, 2 -> 1 channels, kernel [1, 2] rounded to [1.25, 2]; inputs average [4, 1].
 * const site = { node: "c", kind: "conv" as const, kernel: "k", transposeB: false, input: "x", channels: 1, bias: "b" };
 * const out = biasCorrectTfjs(
 *   [site],
 *   new Map([["k", { shape: [1, 1, 2, 1], values: Float32Array.of(1, 2) }]]),
 *   new Map([["k", Float32Array.of(1.25, 2)]]),
 *   new Map([["x", Float64Array.of(4, 1)]]),
 *   new Map([["b", Float32Array.of(0.5)]]),
 * );
 * // The output moved by 0.25 * 4 = 1 on average: the bias takes it back.
 * assert.deepEqual([...out.biases.get("b")!], [-0.5]);
 * assert.deepEqual(out.corrected, ["c"]);
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
    const mean = means.get(s.input);
    const target = s.bias !== undefined ? s : s.into !== undefined ? byNode.get(s.into) : undefined;
    if (mean === undefined || target?.bias === undefined) {
      skipped.push(s.node);
      continue;
    }
    const delta = new Float64Array(q.length);
    for (let i = 0; i < q.length; i++) delta[i] = q[i] - w.values[i];
    let shift = outputShift(s, w.shape, delta, mean);
    if (target !== s) {
      // Through the next layer: its output moves by W_q' shift (its kernel as written).
      const next = source.get(target.kernel)!;
      const kernel = quantized.get(target.kernel) ?? next.values;
      shift = outputShift(target, next.shape, kernel, shift);
    }
    const b = biasOf(target.bias);
    if (b === undefined || b.length !== shift.length) {
      skipped.push(s.node);
      continue;
    }
    for (let i = 0; i < b.length; i++) b[i] = b[i] - shift[i];
    corrected.push(s.node);
  }
  return { biases: out, corrected, skipped };
}
