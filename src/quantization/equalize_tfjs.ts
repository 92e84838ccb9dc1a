/**
 * `equalizeTfjs`: cross-layer equalization of a TensorFlow.js graph model (Nagel et al. 2019,
 * "Data-Free Quantization Through Weight Equalization and Bias Correction"), so that one uint8
 * grid per tensor fits every output channel.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { newPair, type Pair, type Param, Params } from "./_equalize_pair.ts";
import { layersPairs } from "./_equalize_layers.ts";
import { attrStrings, dataConsumers, producer as source, type TfNode } from "./_tfjs_graph.ts";

/** Options of `equalizeTfjs`. */
export interface EqualizeTfjsOptions {
  /** Passes over every pair (default 20); stops earlier once no scale moves by 0.1%. */
  readonly rounds?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Also rescale weights stored as `float16`, written back as `float16` (rounded again): for a
   * model whose kernels are quantized to uint8 next, this rounding is far below uint8's
   * (default `false`: float16 weights end a pair).
   */
  readonly float16?: boolean;
  /**
   * ReLU6 between two convolutions (fused into the first, or a `Relu6` node after it and its
   * bias add): the largest value of each channel of the ReLU6's output on calibration data, by
   * the name of the node whose output it is (`tfjsChannelStats` in src/compress/compare_tfjs.ts
   * computes them). `min(6, x / s) = min(6, x) / s` holds where `x <= 6` and `x / s <= 6`; other
   * data go further than the calibration data, so with `margin` (default 2) a channel whose
   * largest value `m` reached `6 / margin` keeps scale 1 and the others take scales
   * `s >= margin * m / 6` only (they stay below `6 / margin` after scaling on that data).
   * Without it a ReLU6 ends a pair.
   */
  readonly activationMax?: ReadonlyMap<string, ArrayLike<number>>;
  /** With `activationMax`: how far below the clip the channels stay (default 2, at least 1). */
  readonly margin?: number;
}

/** The equalized model and what changed. */
export interface EqualizedTfjs {
  /** The model with the rescaled weights (float32, as before). */
  readonly model: TfjsModel;
  /** The node pairs rescaled: `[producer, consumer]` node names. */
  readonly pairs: readonly (readonly [string, string])[];
  /**
   * With `activationMax`: the pairs through a ReLU6, their channels, and those that reached
   * `6 / margin` (kept at scale 1).
   */
  readonly relu6: { readonly pairs: number; readonly clipped: number; readonly channels: number };
}

const CONV = new Set([
  "Conv2D",
  "_FusedConv2D",
  "DepthwiseConv2dNative",
  "FusedDepthwiseConv2dNative",
]);
const DEPTHWISE = new Set(["DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"]);
// Activations f with f(x / s) = f(x) / s for s > 0, per channel: the scale passes through.
const HOMOGENEOUS = new Set(["Relu", "LeakyRelu", "Prelu"]);
// Nodes between producer and consumer that commute with a positive per-channel scale.
const PASS = new Set(["Relu", "LeakyRelu", "Prelu", "Identity", "MaxPool", "Pad"]);
const ADD = new Set(["BiasAdd", "Add", "AddV2"]);

/**
 * Rescales output channel `i` of a convolution by `1 / s_i` and input channel `i` of the
 * convolution that consumes it by `s_i`, `s_i = sqrt(r1_i / r2_i)` with `r1_i`, `r2_i` the
 * largest |weight| of the two channels (Nagel et al. 2019), repeated over every pair until the
 * scales settle; the function is unchanged (up to float rounding) because what lies between is
 * positively homogeneous per channel. Pairs: a `Conv2D`/`_FusedConv2D`/depthwise node whose
 * only consumer — directly or through `Relu`, `LeakyRelu`, `Prelu`, `Identity`, `MaxPool`, `Pad`
 * and adds of a constant channel vector, each with one consumer — is another such node; its
 * fused ops must be none, `BiasAdd`, or `BiasAdd` with `Relu`/`LeakyRelu`/`Prelu` (`Relu6`,
 * hard-swish and clips are not homogeneous: `min(6, x / s) != min(6, x) / s`; with
 * `options.activationMax` a ReLU6 is passed where calibration data shows each channel below the
 * clip before and after scaling, see there). Only weights stored as float32 (with
 * `options.float16`, float16 too) and used by one node are rescaled (float16 ones are rounded
 * again, which is not function-preserving enough unless they are quantized next: see the
 * comment in the code). In a layers model the pairs are layers (`_equalize_layers.ts`: `Conv2D`,
 * `DepthwiseConv2D`, `SeparableConv2D` and `Dense` layers through activations, pooling and
 * dropout), and the two kernels inside each `SeparableConv2D`. Per-tensor
 * ranges even out, so tfjs's one uint8 grid per tensor loses less.
 *
 * @param model A decoded tfjs model (`readTfjs`).
 * @param options Rounds, kernels, float16 weights, ReLU6 maxima.
 * @returns The equalized model (`model` itself when nothing pairs up; rescaled weights stored
 * as they were, float32 or float16), the pairs, and the ReLU6 pairs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs, tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
 * import { equalizeTfjs } from "./equalize_tfjs.ts";
 *
 * // conv a (1x1, 1 -> 2 channels, ReLU) feeding conv b (1x1, 2 -> 1): a's channels span
 * // 100 and 0.01, b's inputs 1 and 1.
 * const b64 = (s: string) => btoa(s);
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [
 *     { name: "x", op: "Placeholder" },
 *     { name: "ka", op: "Const" }, { name: "ba", op: "Const" }, { name: "kb", op: "Const" },
 *     { name: "a", op: "_FusedConv2D", input: ["x", "ka", "ba"],
 *       attr: { fused_ops: { list: { s: [b64("BiasAdd"), b64("Relu")] } } } },
 *     { name: "b", op: "Conv2D", input: ["a", "kb"] },
 *   ] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [
 *     { name: "ka", shape: [1, 1, 1, 2], dtype: "float32" },
 *     { name: "ba", shape: [2], dtype: "float32" },
 *     { name: "kb", shape: [1, 1, 2, 1], dtype: "float32" },
 *   ] }],
 * });
 * const bytes = new Uint8Array(Float32Array.of(100, 0.01, 1, 1, 1, 1).buffer);
 * const { model, pairs } = equalizeTfjs(readTfjs(json, new Map([["w.bin", bytes]])));
 * assert.deepEqual(pairs, [["a", "b"]]);
 * const [ka, ba, kb] = model.weights.map((w) => [...tfjsWeightValues(w)]);
 * // Each channel's range is now sqrt(r1 * r2): 10 and 0.1 on both sides.
 * assert.ok(Math.abs(ka[0] - 10) < 1e-4 && Math.abs(kb[0] - 10) < 1e-4);
 * assert.ok(Math.abs(ka[1] - 0.1) < 1e-6 && Math.abs(kb[1] - 0.1) < 1e-6);
 * // The product along each path, and so the output, is unchanged.
 * assert.ok(Math.abs(ka[0] * kb[0] - 100) < 1e-3 && Math.abs(ba[1] * kb[1] - 1) < 1e-6);
 * ```
 */
export function equalizeTfjs(model: TfjsModel, options: EqualizeTfjsOptions = {}): EqualizedTfjs {
  const kernels = options.kernels ?? getKernels();
  const topology = model.json.modelTopology as { node?: TfNode[] } | undefined;
  const none = { pairs: 0, clipped: 0, channels: 0 };
  const rounds = options.rounds ?? 20;
  if (model.kind === "layers-model") {
    const params = new Params();
    const pairs = layersPairs(model, params, options.float16 === true);
    if (pairs.length === 0) return { model, pairs: [], relu6: none };
    return {
      model: params.apply(model, pairs, rounds, kernels),
      pairs: pairs.map((p) => [p.producer, p.consumer] as const),
      relu6: none,
    };
  }
  if (model.kind !== "graph-model" || !Array.isArray(topology?.node)) {
    return { model, pairs: [], relu6: none };
  }
  const maxima = options.activationMax;
  const margin = options.margin ?? 2;
  if (!(margin >= 1)) {
    throw new RangeError(`"margin" must be at least 1: current value is ${margin}`);
  }
  const bound = 6 / margin;
  const nodes = new Map(topology.node.map((n) => [n.name, n]));
  const consumers = dataConsumers(topology.node);
  const weights = new Map(model.weights.map((w) => [w.spec.name, w]));
  const params = new Params();
  /** A float weight used by this node only, as a rescalable parameter. */
  const param = (input: string | undefined): Param | undefined => {
    if (input === undefined) return undefined;
    const name = source(input);
    const w = weights.get(name);
    const q = w?.spec.quantization?.dtype;
    // Only float32 storage: rescaled float16 weights would be rounded again, and a float16
    // MobileNetV3 (human's centernet) has an output that this rounding alone takes to cosine
    // 0.70 on random inputs (0.99999 when the rescaled weights stay float32).
    if (
      w === undefined || w.spec.dtype !== "float32" ||
      (q !== undefined && !(q === "float16" && options.float16 === true)) ||
      nodes.get(name)?.op !== "Const" || (consumers.get(name)?.length ?? 0) !== 1
    ) {
      return undefined;
    }
    return params.of(w, q === "float16");
  };
  const nhwc = (n: TfNode) => {
    const f = attrStrings(n, "data_format");
    return f.length === 0 || f[0] === "NHWC";
  };

  const pairs: Pair[] = [];
  for (const producer of topology.node) {
    if (!CONV.has(producer.op) || !nhwc(producer)) continue;
    const fused = attrStrings(producer, "fused_ops");
    const fusedRelu6 = fused.length === 2 && fused[0] === "BiasAdd" && fused[1] === "Relu6" &&
      maxima?.has(producer.name) === true;
    if (
      fused.length > 0 && !fusedRelu6 &&
      !(fused[0] === "BiasAdd" && fused.slice(1).every((f) => HOMOGENEOUS.has(f)) &&
        fused.length <= 2)
    ) {
      continue;
    }
    let clip = fusedRelu6 ? maxima!.get(producer.name) : undefined;
    const kernel = param(producer.input?.[1]);
    if (kernel === undefined || kernel.weight.spec.shape.length !== 4) continue;
    const shape = kernel.weight.spec.shape;
    const channels = DEPTHWISE.has(producer.op) ? shape[2] * shape[3] : shape[3];
    const vectors: Param[] = [];
    if (fused[0] === "BiasAdd") {
      const bias = param(producer.input?.[2]);
      if (bias === undefined || bias.values.length !== channels) continue;
      vectors.push(bias);
    }
    // Follow the single path to the next convolution.
    let at = producer;
    let consumer: TfNode | undefined;
    let ok = true;
    for (let step = 0; step < 16 && ok; step++) {
      const next = consumers.get(at.name) ?? [];
      if (next.length !== 1) {
        ok = false;
        break;
      }
      const n = next[0];
      if (CONV.has(n.op) && source(n.input?.[0] ?? "") === at.name) {
        consumer = n;
        break;
      }
      if (PASS.has(n.op) && source(n.input?.[0] ?? "") === at.name && nhwc(n)) {
        at = n;
        continue;
      }
      if (
        n.op === "Relu6" && clip === undefined && maxima?.has(n.name) === true &&
        source(n.input?.[0] ?? "") === at.name
      ) {
        clip = maxima.get(n.name);
        at = n;
        continue;
      }
      if (ADD.has(n.op) && (n.input?.length ?? 0) === 2) {
        const other = (n.input ?? []).map(source).find((i) => i !== at.name);
        const vector = param(other);
        if (
          vector !== undefined && vector.values.length === channels &&
          vector.weight.spec.shape.slice(0, -1).every((d) => d === 1)
        ) {
          vectors.push(vector);
          at = n;
          continue;
        }
      }
      ok = false;
    }
    if (!ok || consumer === undefined || !nhwc(consumer)) continue;
    const next = param(consumer.input?.[1]);
    if (next === undefined || next.weight.spec.shape.length !== 4) continue;
    if (next.weight.spec.shape[2] !== channels || next === kernel) continue;
    if (clip !== undefined && clip.length !== channels) continue;
    pairs.push(newPair({
      producer: producer.name,
      consumer: consumer.name,
      kernel,
      vectors,
      next,
      channels,
      ...(clip === undefined ? {} : { clip }),
      bound,
    }));
  }
  if (pairs.length === 0) return { model, pairs: [], relu6: none };
  const through = pairs.filter((p) => p.clip !== undefined);
  return {
    model: params.apply(model, pairs, rounds, kernels),
    pairs: pairs.map((p) => [p.producer, p.consumer] as const),
    relu6: {
      pairs: through.length,
      clipped: through.reduce(
        (n, p) => n + Array.from(p.clip!).filter((m) => m >= p.bound * (1 - 1e-6)).length,
        0,
      ),
      channels: through.reduce((n, p) => n + p.channels, 0),
    },
  };
}
