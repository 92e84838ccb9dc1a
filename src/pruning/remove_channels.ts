/**
 * `removeChannels`: physically removes the channels that masks have emptied from an ONNX main
 * graph while keeping the masked model's outputs.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { type Attr, editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { OnnxModel, OnnxNode, OnnxTensor } from "../io/onnx/onnx_types.ts";
import { readOnnxTensor } from "../io/onnx/read_onnx_tensor.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { toFloat32 } from "../model/to_float32.ts";
import { fromFloat32 } from "../model/from_float32.ts";
import { channelGraph } from "./channel_graph.ts";
import { intsOf } from "./_onnx_ints.ts";
import { prunedOnnx } from "./pruned_onnx.ts";
import type { PrunedModel } from "./types.ts";

/** Options of `removeChannels`. */
export interface RemoveChannelsOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Keep channel counts multiples of this (default 1: no rounding): the output channels of every
   * weighted node whose count was a multiple of it stay a multiple, by keeping some removable
   * channels (the last ones). onnxruntime's CPU convolutions use blocked layouts (NCHWc) only
   * for multiples of 8 (16 with AVX-512); other counts fall back to slower kernels.
   */
  readonly channelMultiple?: number;
  /**
   * How a padded `Conv` or a `ConvTranspose` takes the removed input channels that carried a
   * non-zero constant (their contribution depends on the position, so it is not a bias):
   * `"term"` adds the same op on a map of ones with the weight `Σ_k c_k W[:, k]` to the output;
   * `"onesChannel"` concatenates the map of ones to the input as one channel with that weight;
   * `"auto"` (default) takes `"term"` for a `Conv` (its input channel count stays a multiple
   * of 8 for onnxruntime's blocked kernels) and `"onesChannel"` for a `ConvTranspose` (one
   * more input channel costs little in its GEMM, a second `ConvTranspose` and an `Add` over
   * the upsampled output cost more).
   */
  readonly constantInputs?: "auto" | "term" | "onesChannel";
}

/** The channels removed from one weighted module's output. */
export interface RemovedChannels {
  /** The producing module (its output channels were removed). */
  readonly producer: string;
  /** The modules whose input channels shrank with them (weighted consumers). */
  readonly consumers: readonly string[];
  /** The removed output channel indices. */
  readonly removed: readonly number[];
  /** The producer's output channels before removal. */
  readonly channels: number;
}

/** The result of `removeChannels`. */
export interface RemoveChannelsResult {
  /** The new model bytes. */
  readonly bytes: Uint8Array;
  /** Per producer with at least one output channel removed, in graph order. */
  readonly producers: readonly RemovedChannels[];
  /** Channels removed over all tracked values (counted once per class of coupled channels). */
  readonly removedClasses: number;
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

/** Little-endian bytes of integers as INT64 (7), INT32 (6) or FLOAT (1). */
function intBytes(dataType: number, v: readonly number[]): Uint8Array {
  if (dataType === 7) {
    const out = new BigInt64Array(v.map((x) => BigInt(x)));
    return new Uint8Array(out.buffer);
  }
  return new Uint8Array((dataType === 1 ? Float32Array.from(v) : Int32Array.from(v)).buffer);
}

interface Dense {
  values: Float32Array;
  dims: number[];
}

/** Keeps the indices `keep` along `axis` of a dense tensor. */
function cut(t: Dense, axis: number, keep: readonly number[]): Dense {
  const dims = [...t.dims];
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = dims[axis];
  const out = new Float32Array(outer * keep.length * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (const k of keep) {
      out.set(t.values.subarray((o * n + k) * inner, (o * n + k + 1) * inner), at);
      at += inner;
    }
  }
  dims[axis] = keep.length;
  return { values: out, dims };
}

/** Two dense tensors joined along `axis` (same dims elsewhere). */
function concatAxis(a: Dense, b: Dense, axis: number): Dense {
  const outer = a.dims.slice(0, axis).reduce((x, y) => x * y, 1);
  const ia = a.values.length / outer;
  const ib = b.values.length / outer;
  const out = new Float32Array(a.values.length + b.values.length);
  for (let o = 0; o < outer; o++) {
    out.set(a.values.subarray(o * ia, (o + 1) * ia), o * (ia + ib));
    out.set(b.values.subarray(o * ib, (o + 1) * ib), o * (ia + ib) + ia);
  }
  const dims = [...a.dims];
  dims[axis] += b.dims[axis];
  return { values: out, dims };
}

/** The element-wise function of a unary node, if this module evaluates it. */
function unaryFn(
  n: OnnxNode,
  num: (name: string) => number | undefined,
): ((x: number) => number) | undefined {
  const f = (name: string, fallback: number) =>
    n.attributes.find((a) => a.name === name)?.f ?? fallback;
  switch (n.opType) {
    case "Relu":
      return (x) => Math.max(0, x);
    case "LeakyRelu": {
      const a = f("alpha", 0.01);
      return (x) => (x >= 0 ? x : a * x);
    }
    case "Clip": {
      const lo = n.inputs[1] ? num(n.inputs[1]) : f("min", -Infinity);
      const hi = n.inputs[2] ? num(n.inputs[2]) : f("max", Infinity);
      if (lo === undefined || hi === undefined) return undefined;
      return (x) => Math.min(hi, Math.max(lo, x));
    }
    case "Sigmoid":
      return (x) => 1 / (1 + Math.exp(-x));
    case "Tanh":
      return Math.tanh;
    case "HardSigmoid": {
      const a = f("alpha", 0.2);
      const b = f("beta", 0.5);
      return (x) => Math.max(0, Math.min(1, a * x + b));
    }
    case "HardSwish":
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case "Elu": {
      const a = f("alpha", 1);
      return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1));
    }
    case "Softplus":
      return (x) => Math.log1p(Math.exp(x));
    case "Exp":
      return Math.exp;
    case "Neg":
      return (x) => -x;
    case "Abs":
      return Math.abs;
    case "Sqrt":
      return Math.sqrt;
    case "Floor":
      return Math.floor;
    case "Ceil":
      return Math.ceil;
    case "Reciprocal":
      return (x) => 1 / x;
    case "Identity":
    case "Dropout":
      return (x) => x;
    case "Cast": {
      const to = n.attributes.find((a) => a.name === "to")?.i ?? 0;
      return FLOAT_TYPES.has(to) ? (x) => x : undefined;
    }
  }
  return undefined;
}

const binaryFn: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
  Pow: (a, b) => a ** b,
  Max: Math.max,
  Min: Math.min,
  PRelu: (a, b) => (a >= 0 ? a : a * b),
  Sum: (a, b) => a + b,
};

const unpadded = (n: OnnxNode) => {
  const autoPad = n.attributes.find((a) => a.name === "auto_pad")?.s ?? "NOTSET";
  const pads = n.attributes.find((a) => a.name === "pads")?.ints ?? [];
  return (autoPad === "NOTSET" || autoPad === "VALID") && pads.every((p) => p === 0);
};

/**
 * Removes the channels that masks have emptied from an ONNX main graph and keeps the masked
 * model's outputs (DESIGN.md B15, unlike NNI's ModelSpeedup). The masks are first written
 * into the model (`prunedOnnx`; pass no `pruned` to work on a model that already holds them,
 * such as one whose remaining weights were refit), then `channelGraph` finds the classes of
 * channels that are removed together, and a class that is not frozen is removed when every
 * weighted consumer (`Conv`, `ConvTranspose`, `Gemm`, `MatMul` reading it as input) can do
 * without it:
 * - its weight slice for the channel is all zero, or
 * - the channel carries a known constant — computed per channel from the masked values: an
 *   output channel whose weight slice is zero holds its bias (or 0), and the constant is
 *   followed through BatchNorm shifts (`beta + gamma (c - mean) / sqrt(var + eps)`, the shift
 *   NNI drops), activations, element-wise ops with constants, pooling, `Resize` and the
 *   channel moves — which is 0, or which the consumer takes into its bias exactly:
 *   `bias[o] += c · Σ_k W[o, ch, k]` for a `Gemm` (alpha = beta = 1), a `MatMul` followed by
 *   an `Add` of a constant bias, or an unpadded `Conv`; a bias is added when the consumer has
 *   none. A padded `Conv` sees the constant only inside the image and a `ConvTranspose`
 *   spreads it by kernel position, so there the contribution `Σ_k c_k · op(ones, W[:, k])`
 *   depends on the position: it is kept exactly, as the same op on a map of ones of the
 *   input's shape with the weight `Σ_k c_k W[:, k]` (one per consumer, whatever the number of
 *   removed channels), added to the output or concatenated to the input as one channel
 *   (`constantInputs`; needs a float32 weight, `group` 1, opset 11). A product with a channel
 *   that is exactly 0 is taken as 0 (the other factor is finite).
 *
 * The weights, biases, BatchNorm/InstanceNorm parameters and per-channel constants of
 * element-wise ops shrink, depthwise convs get their new `group`, and `Split` sizes, `Slice`
 * bounds and literal channel counts of `Reshape` targets are rewritten (a constant shared with
 * a node that keeps another channel set is copied). Every value keeps at least one channel.
 *
 * @param onnx the decoded model
 * @param pruned the model view, targets and masks (a `prune()` result) to write first; omit it
 *   when `onnx` already holds the masked values
 * @param options the kernels, the channel multiple and how constant inputs of padded convs are
 *   kept
 * @returns the new bytes and the removed channels per producer
 * @throws {RangeError} for tensors in external data files, a `channelMultiple` that is not a
 *   positive integer or an unknown `constantInputs`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { removeChannels } from "./remove_channels.ts";
 *
 * const raw = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
 * // fc1 [3 → 2] whose second output row is zero, then fc2 [2 → 1]
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   initializers: [
 *     { name: "fc1.weight", dataType: 1, dims: [3, 2], raw: raw([1, 0, 2, 0, 3, 0]) },
 *     { name: "fc2.weight", dataType: 1, dims: [2, 1], raw: raw([1, 5]) },
 *   ],
 *   nodes: [
 *     { name: "fc1", opType: "MatMul", inputs: ["x", "fc1.weight"], outputs: ["h"] },
 *     { name: "relu", opType: "Relu", inputs: ["h"], outputs: ["r"] },
 *     { name: "fc2", opType: "MatMul", inputs: ["r", "fc2.weight"], outputs: ["y"] },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 3] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 1] } }],
 * }));
 * const out = await removeChannels(onnx);
 * assert.deepEqual(out.producers.map((p) => [p.producer, p.removed]), [["fc1", [1]]]);
 * assert.deepEqual(decodeOnnx(out.bytes).tensors.map((t) => t.dims), [[3, 1], [1, 1]]);
 * ```
 */
export async function removeChannels(
  onnx: OnnxModel,
  pruned?: PrunedModel,
  options: RemoveChannelsOptions = {},
): Promise<RemoveChannelsResult> {
  const kernels = options.kernels ?? getKernels();
  const model = pruned === undefined
    ? onnx
    : decodeOnnx(await prunedOnnx(onnx, pruned, { kernels }), { file: onnx.file });
  return await removeFrom(
    model,
    kernels,
    options.channelMultiple ?? 1,
    options.constantInputs ?? "auto",
  );
}

async function removeFrom(
  model: OnnxModel,
  kernels: Kernels,
  multiple: number,
  constantInputs: "auto" | "term" | "onesChannel",
): Promise<RemoveChannelsResult> {
  if (!["auto", "term", "onesChannel"].includes(constantInputs)) {
    throw new RangeError(
      `"constantInputs" must be "auto", "term" or "onesChannel": current value is ${
        JSON.stringify(constantInputs)
      }`,
    );
  }
  if (!Number.isSafeInteger(multiple) || multiple < 1) {
    throw new RangeError(
      `"channelMultiple" must be a positive integer: current value is ${multiple}`,
    );
  }
  const g = channelGraph(model);
  const nodes = model.graph.nodes;
  const tensors = new Map<string, OnnxTensor>(model.graph.initializers.map((t) => [t.name, t]));
  for (const t of model.tensors) {
    if (t.kind === "constant" && !t.path.includes(".g.") && !t.path.includes(".graphs[")) {
      tensors.set(t.name, t);
    }
  }
  const uses = new Map<string, number>();
  const consumers = new Map<string, { node: number; input: number }[]>();
  nodes.forEach((n, i) =>
    n.inputs.forEach((v, k) => {
      uses.set(v, (uses.get(v) ?? 0) + 1);
      if (!consumers.has(v)) consumers.set(v, []);
      consumers.get(v)!.push({ node: i, input: k });
    })
  );
  const dense = new Map<string, Dense>();
  for (const n of nodes) {
    for (const v of n.inputs) {
      const t = tensors.get(v);
      if (t === undefined || dense.has(v) || !t.dtype || !FLOAT_TYPES.has(t.dataType)) continue;
      if (t.storage.kind === "external") {
        throw new RangeError(
          `tensor ${
            JSON.stringify(t.name)
          } is stored in an external file: channel removal reads inline tensors only`,
        );
      }
      const values = toFloat32(await readOnnxTensor(model, t), t.dtype, kernels);
      dense.set(v, { values, dims: [...t.dims] });
    }
  }
  const num = (name: string) => {
    const d = dense.get(name);
    return d !== undefined && d.values.length === 1 ? d.values[0] : undefined;
  };
  /** The value of a constant at one channel when it is the same over the other dims. */
  const constAt = (name: string, fromEnd: number, channels: number, c: number): number => {
    const d = dense.get(name);
    if (d === undefined) return NaN;
    const ax = d.dims.length - 1 - fromEnd;
    const size = ax >= 0 ? d.dims[ax] : 1;
    const inner = ax >= 0 ? d.dims.slice(ax + 1).reduce((a, b) => a * b, 1) : d.values.length;
    const idx = size === channels ? c : 0;
    let v: number | undefined;
    for (let i = 0; i < d.values.length; i++) {
      if (Math.floor(i / inner) % size !== idx) continue;
      if (v === undefined) v = d.values[i];
      else if (d.values[i] !== v) return NaN;
    }
    return v ?? NaN;
  };
  const zeroCache = new Map<Dense, Map<number, Uint8Array>>();
  /** Whether the slice `c` of `t` along `axis` is all zero (one pass per tensor and axis). */
  const sliceZero = (t: Dense, axis: number, c: number) => {
    let byAxis = zeroCache.get(t);
    if (byAxis === undefined) zeroCache.set(t, byAxis = new Map());
    let zero = byAxis.get(axis);
    if (zero === undefined) {
      const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const n = t.dims[axis];
      zero = new Uint8Array(n).fill(1);
      for (let i = 0; i < t.values.length; i++) {
        if (t.values[i] !== 0) zero[Math.floor(i / inner) % n] = 0;
      }
      byAxis.set(axis, zero);
    }
    return zero[c] === 1;
  };
  /** Σ over the kernel of W[o, c] (in-axis c, out-axis o) for every o. */
  const columnSums = (t: Dense, inAxis: number, outAxis: number, c: number): Float64Array => {
    const sums = new Float64Array(t.dims[outAxis]);
    const stride = (a: number) => t.dims.slice(a + 1).reduce((x, y) => x * y, 1);
    const [si, so] = [stride(inAxis), stride(outAxis)];
    for (let i = 0; i < t.values.length; i++) {
      if (Math.floor(i / si) % t.dims[inAxis] !== c) continue;
      sums[Math.floor(i / so) % t.dims[outAxis]] += t.values[i];
    }
    return sums;
  };

  /** `into += scale · t[…, c, …]` (slice `c` along `axis`, in float32 like the model). */
  const addSlice = (t: Dense, axis: number, c: number, scale: number, into: Float32Array) => {
    const si = t.dims.slice(axis + 1).reduce((x, y) => x * y, 1);
    const n = t.dims[axis];
    for (let o = 0; o * si * n < t.values.length; o++) {
      const from = (o * n + c) * si;
      for (let j = 0; j < si; j++) {
        into[o * si + j] = Math.fround(into[o * si + j] + scale * t.values[from + j]);
      }
    }
  };

  // 1. the constant each channel of each tracked value carries (NaN: not a constant)
  const konst = new Map<string, Float64Array>();
  const kOf = (v: string) => konst.get(v);
  nodes.forEach((n, i) => {
    const out = g.values.get(n.outputs[0]);
    if (out === undefined) return;
    const k = new Float64Array(out.channels).fill(NaN);
    const first = Math.max(0, n.inputs.findIndex((s) => g.values.has(s)));
    const x = g.values.get(n.inputs[first]);
    const kx = kOf(n.inputs[first]);
    const w = g.weighted.get(i);
    const attrF = (name: string, d: number) => n.attributes.find((a) => a.name === name)?.f ?? d;
    if (w !== undefined) {
      const wt = dense.get(w.weight)!;
      const bias = w.bias === undefined ? undefined : dense.get(w.bias);
      const beta = n.opType === "Gemm" ? attrF("beta", 1) : 1;
      for (let c = 0; c < out.channels; c++) {
        const b = bias === undefined ? 0 : beta * bias.values[bias.values.length === 1 ? 0 : c];
        if (sliceZero(wt, w.outAxis, c)) k[c] = b;
        else if (w.depthwise && kx !== undefined && !Number.isNaN(kx[c])) {
          if (kx[c] === 0 || unpadded(n)) {
            let s = 0;
            const row = wt.values.length / wt.dims[0];
            for (let j = 0; j < row; j++) s += wt.values[c * row + j];
            k[c] = kx[c] * s + b;
          }
        }
      }
    } else if (kx !== undefined && x !== undefined) {
      const f = unaryFn(n, num);
      if (f !== undefined && g.values.get(n.outputs[0])?.elements === x.elements) {
        for (let c = 0; c < k.length; c++) k[c] = f(kx[c]);
      } else if (
        ["GlobalAveragePool", "GlobalMaxPool", "MaxPool", "Resize", "Upsample"].includes(n.opType)
      ) {
        k.set(kx);
      } else if (n.opType === "AveragePool") {
        const cip = n.attributes.find((a) => a.name === "count_include_pad")?.i ?? 0;
        for (let c = 0; c < k.length; c++) {
          if (cip === 0 || unpadded(n) || kx[c] === 0) k[c] = kx[c];
        }
      } else if (["ReduceMean", "ReduceMax", "ReduceMin"].includes(n.opType)) {
        k.set(kx);
      } else if (n.opType === "BatchNormalization") {
        const [s, b, m, v] = [1, 2, 3, 4].map((j) => dense.get(n.inputs[j])!.values);
        const eps = attrF("epsilon", 1e-5);
        for (let c = 0; c < k.length; c++) {
          k[c] = b[c] + s[c] * (kx[c] - m[c]) / Math.sqrt(v[c] + eps);
        }
      } else if (n.opType === "InstanceNormalization") {
        const b = dense.get(n.inputs[2])!.values;
        for (let c = 0; c < k.length; c++) if (!Number.isNaN(kx[c])) k[c] = b[c];
      } else if (binaryFn[n.opType] !== undefined) {
        const op = binaryFn[n.opType];
        for (let c = 0; c < k.length; c++) {
          const vals = n.inputs.map((s) => {
            const kv = kOf(s);
            return kv !== undefined && g.values.has(s)
              ? kv[c]
              : constAt(s, out.fromEnd, out.channels, c);
          });
          if (n.opType === "Mul" && vals.some((v) => v === 0)) k[c] = 0;
          else k[c] = vals.reduce((a, b) => op(a, b));
        }
      } else if (n.opType === "Concat") {
        const parts = n.inputs.map((s) => kOf(s));
        if (out.elements !== x.elements) {
          if (parts.every((p) => p !== undefined)) {
            k.set(Float64Array.from(parts.flatMap((p) => [...p!])));
          }
        } else {
          // stacked on another axis: constant only if every input is the same constant
          for (let c = 0; c < k.length; c++) {
            const vs = parts.map((p) => p?.[c] ?? NaN);
            if (vs.every((v) => v === vs[0])) k[c] = vs[0];
          }
        }
      } else if (n.opType === "Split" || n.opType === "Slice") {
        n.outputs.forEach((o) => {
          const ov = g.values.get(o);
          if (ov === undefined) return;
          const start = x.elements.indexOf(ov.elements[0]);
          const ko = new Float64Array(ov.channels).fill(NaN);
          if (ov.elements.length === x.elements.length) ko.set(kx);
          else if (start >= 0) ko.set(kx.subarray(start, start + ov.channels));
          konst.set(o, ko);
        });
        return;
      } else if (["Transpose", "Flatten", "Squeeze", "Unsqueeze", "Reshape"].includes(n.opType)) {
        k.set(kx);
      }
    }
    konst.set(n.outputs[0], k);
  });

  // 2. the classes: positions, and whether every weighted consumer can do without them
  const positions = new Map<number, { value: string; channel: number }[]>();
  for (const [name, v] of g.values) {
    v.elements.forEach((e, c) => {
      const r = g.find(e);
      if (!positions.has(r)) positions.set(r, []);
      positions.get(r)!.push({ value: name, channel: c });
    });
  }
  interface Fold {
    readonly node: number;
    readonly channel: number;
    readonly value: number;
    /** Added as a constant map (`borderTerm`) instead of into the bias. */
    readonly border?: boolean;
  }
  const folds = new Map<number, Fold[]>();
  const removable = new Set<number>();
  const biasTarget = (i: number): { name?: string; ok: boolean; outAxis: number } => {
    const w = g.weighted.get(i)!;
    const n = nodes[i];
    if (n.opType === "MatMul") {
      const next = consumers.get(n.outputs[0]) ?? [];
      const add = next.length === 1 ? nodes[next[0].node] : undefined;
      const other = add?.inputs[1 - next[0].input];
      const d = other === undefined ? undefined : dense.get(other);
      const ok = add?.opType === "Add" && d !== undefined && uses.get(other!) === 1 &&
        d.values.length === w.dims[w.outAxis] && d.dims[d.dims.length - 1] === d.values.length;
      return { name: other, ok, outAxis: d === undefined ? 0 : d.dims.length - 1 };
    }
    if (n.opType === "ConvTranspose") return { ok: false, outAxis: 0 };
    if (n.opType === "Conv" && !unpadded(n)) return { ok: false, outAxis: 0 };
    if (n.opType === "Gemm") {
      const alpha = n.attributes.find((a) => a.name === "alpha")?.f ?? 1;
      const beta = n.attributes.find((a) => a.name === "beta")?.f ?? 1;
      if (alpha !== 1 || beta !== 1) return { ok: false, outAxis: 0 };
    }
    if (w.bias === undefined) return { ok: n.inputs.length <= 2, outAxis: 0 };
    const d = dense.get(w.bias)!;
    return {
      name: w.bias,
      ok: uses.get(w.bias) === 1 && d.values.length === w.dims[w.outAxis],
      outAxis: d.dims.length - 1,
    };
  };
  const opset = model.opsets.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
  /**
   * Whether a padded `Conv`/`ConvTranspose` (group 1, float32 weight) can take constant input
   * channels as a separate term: the term depends on the position (the padding is zero, not
   * the constant), so it is computed by the same op on a map of ones.
   */
  const borderable = (i: number): boolean => {
    const n = nodes[i];
    const w = g.weighted.get(i)!;
    const group = n.attributes.find((a) => a.name === "group")?.i ?? 1;
    return (n.opType === "Conv" || n.opType === "ConvTranspose") && group === 1 &&
      !w.depthwise && tensors.get(w.weight)?.dataType === 1 && opset >= 11 &&
      g.values.get(n.inputs[0])?.rank !== undefined;
  };
  for (const [root, pos] of positions) {
    if (g.frozen(root) !== undefined) continue;
    const plan: Fold[] = [];
    let ok = true;
    for (const { value, channel } of pos) {
      for (const { node, input } of consumers.get(value) ?? []) {
        const w = g.weighted.get(node);
        if (w === undefined || w.depthwise) continue;
        if (input !== 0) {
          ok = false;
          break;
        }
        if (sliceZero(dense.get(w.weight)!, w.inAxis, channel)) continue;
        const c = kOf(value)?.[channel] ?? NaN;
        if (Number.isNaN(c) || !Number.isFinite(c)) {
          ok = false;
          break;
        }
        if (c === 0) continue;
        if (biasTarget(node).ok) plan.push({ node, channel, value: c });
        else if (borderable(node)) plan.push({ node, channel, value: c, border: true });
        else {
          ok = false;
          break;
        }
      }
      if (!ok) break;
    }
    if (!ok) continue;
    removable.add(root);
    folds.set(root, plan);
  }
  // channel counts stay multiples of `multiple` where they were
  if (multiple > 1) {
    for (let changed = true; changed;) {
      changed = false;
      for (const i of g.weighted.keys()) {
        const v = g.values.get(nodes[i].outputs[0]);
        if (v === undefined || v.channels % multiple !== 0) continue;
        const gone = v.elements.filter((e) => removable.has(g.find(e)));
        let extra = (v.channels - gone.length) % multiple;
        extra = extra === 0 ? 0 : multiple - extra;
        for (let k = gone.length - 1; k >= 0 && extra > 0; k--) {
          if (removable.delete(g.find(gone[k]))) {
            extra--;
            changed = true;
          }
        }
      }
    }
  }
  // every value keeps at least one channel
  for (let changed = true; changed;) {
    changed = false;
    for (const v of g.values.values()) {
      if (v.elements.length > 0 && v.elements.every((e) => removable.has(g.find(e)))) {
        removable.delete(g.find(v.elements[v.elements.length - 1]));
        changed = true;
      }
    }
  }
  const keepOf = (name: string): number[] | undefined => {
    const v = g.values.get(name);
    if (v === undefined) return undefined;
    const keep = v.elements.flatMap((e, c) => (removable.has(g.find(e)) ? [] : [c]));
    return keep.length === v.channels ? undefined : keep;
  };

  // 3. the new tensors: folds on the full tensors first, then the cuts
  const edits: OnnxEdit[] = [];
  /** The map of ones `[N, 1, …spatial]` of each value (by name), built once. */
  const onesMaps = new Map<string, string>();
  const i64 = (name: string, v: number[]) =>
    edits.push({
      op: "addInitializer",
      tensor: { name, dataType: 7, dims: [v.length], raw: intBytes(7, v) },
    });
  const work = new Map<string, Dense>(); // tensor name → working copy (full, then cut)
  const cuts = new Map<string, { node: number; input: number; axis: number; keep: number[] }[]>();
  const copyOf = (name: string) => {
    let t = work.get(name);
    if (t === undefined) {
      const d = dense.get(name)!;
      work.set(name, t = { values: d.values.slice(), dims: [...d.dims] });
    }
    return t;
  };
  const newBias = new Map<number, Dense>();
  /** Per node, Σ_k c_k W[:, k] over its removed constant channels (in-axis of size 1). */
  const borderW = new Map<number, Dense>();
  for (const root of removable) {
    for (const f of folds.get(root) ?? []) {
      const w = g.weighted.get(f.node)!;
      if (f.border) {
        const wt = dense.get(w.weight)!;
        let t = borderW.get(f.node);
        if (t === undefined) {
          const dims = [...wt.dims];
          dims[w.inAxis] = 1;
          t = { values: new Float32Array(wt.values.length / wt.dims[w.inAxis]), dims };
          borderW.set(f.node, t);
        }
        addSlice(wt, w.inAxis, f.channel, f.value, t.values);
        continue;
      }
      const sums = columnSums(dense.get(w.weight)!, w.inAxis, w.outAxis, f.channel);
      const target = biasTarget(f.node);
      let b: Dense;
      if (target.name === undefined) {
        b = newBias.get(f.node) ??
          { values: new Float32Array(w.dims[w.outAxis]), dims: [w.dims[w.outAxis]] };
        newBias.set(f.node, b);
      } else b = copyOf(target.name);
      for (let o = 0; o < sums.length; o++) {
        b.values[o] = Math.fround(b.values[o] + f.value * sums[o]);
      }
    }
  }
  const addCut = (node: number, input: number, axis: number, keep: number[] | undefined) => {
    if (keep === undefined) return;
    const name = nodes[node].inputs[input];
    if (!cuts.has(name)) cuts.set(name, []);
    cuts.get(name)!.push({ node, input, axis, keep });
  };
  const report: RemovedChannels[] = [];
  const moduleOf = onnxModel(model).graph?.nodes.map((n) => n.module) ?? [];
  const nameOf = (i: number) => moduleOf[i] ?? nodes[i].name ?? nodes[i].outputs[0];
  const consumersOf = new Map<number, Set<string>>();
  nodes.forEach((n, i) => {
    const outKeep = keepOf(n.outputs[0]);
    const w = g.weighted.get(i);
    if (w !== undefined) {
      const inKeep = w.depthwise ? undefined : keepOf(n.inputs[0]);
      const bw = borderW.get(i);
      const term = bw === undefined
        ? undefined
        : outKeep === undefined
        ? bw
        : cut(bw, w.outAxis, outKeep);
      if (term !== undefined && borderAsChannel(i)) {
        onesChannel(i, w, outKeep, inKeep, term);
      } else {
        addCut(i, 1, w.outAxis, outKeep);
        addCut(i, 1, w.inAxis, inKeep);
        if (term !== undefined) borderTerm(i, term);
      }
      if (w.bias !== undefined) {
        addCut(i, 2, dense.get(w.bias)!.dims.length - 1, outKeep);
      } else if (newBias.has(i)) {
        const b = newBias.get(i)!;
        const kept = outKeep === undefined ? b : cut(b, 0, outKeep);
        const name = `${n.outputs[0]}.bias`;
        edits.push({
          op: "addInitializer",
          tensor: { name, dataType: 1, dims: kept.dims, raw: new Uint8Array(kept.values.buffer) },
        });
        edits.push({ op: "rewireNode", node: i, inputs: { 2: name } });
      }
      if (w.depthwise && outKeep !== undefined) {
        edits.push({
          op: "rewireNode",
          node: i,
          attributes: [{ name: "group", i: outKeep.length }],
        });
      }
      if (outKeep !== undefined) {
        const v = g.values.get(n.outputs[0])!;
        const kept = new Set(outKeep);
        report.push({
          producer: nameOf(i),
          consumers: [],
          removed: [...Array(v.channels).keys()].filter((c) => !kept.has(c)),
          channels: v.channels,
        });
        consumersOf.set(report.length - 1, new Set());
      }
      if (inKeep !== undefined) {
        // attach to the producers whose channels reach this input
        for (let r = 0; r < report.length; r++) {
          const prod = nodes.findIndex((_, j) => nameOf(j) === report[r].producer);
          const pv = g.values.get(nodes[prod].outputs[0])!;
          const xv = g.values.get(n.inputs[0])!;
          const roots = new Set(xv.elements.map((e) => g.find(e)));
          if (pv.elements.some((e) => roots.has(g.find(e)) && removable.has(g.find(e)))) {
            consumersOf.get(r)!.add(nameOf(i));
          }
        }
      }
      return;
    }
    const x = g.values.get(n.inputs[0]);
    const keep = keepOf(n.inputs[0]);
    if (x === undefined || keep === undefined) return;
    if (n.opType === "BatchNormalization") [1, 2, 3, 4].forEach((j) => addCut(i, j, 0, keep));
    else if (n.opType === "InstanceNormalization") [1, 2].forEach((j) => addCut(i, j, 0, keep));
    else if (binaryFn[n.opType] !== undefined) {
      n.inputs.forEach((s, j) => {
        const d = dense.get(s);
        if (d === undefined || g.values.has(s)) return;
        const ax = d.dims.length - 1 - x.fromEnd;
        if (ax >= 0 && d.dims[ax] === x.channels && x.channels > 1) addCut(i, j, ax, keep);
      });
    } else if (n.opType === "Split" || n.opType === "Slice" || n.opType === "Reshape") {
      rewriteIndices(i, n, x.channels, keep);
    }
  });
  report.forEach((r, k) => Object.assign(r, { consumers: [...consumersOf.get(k)!] }));

  function onesOf(x: string, before: number): string {
    const known = onesMaps.get(x);
    if (known !== undefined) return known;
    const rank = g.values.get(x)!.rank!;
    const p = `${x}.ones${onesMaps.size}`;
    i64(`${p}.0`, [0]);
    i64(`${p}.1`, [1]);
    i64(`${p}.2`, [2]);
    i64(`${p}.rank`, [rank]);
    edits.push({
      op: "insertNodes",
      at: { before },
      nodes: [
        { name: `${p}.shape`, opType: "Shape", inputs: [x], outputs: [`${p}.shape`] },
        {
          name: `${p}.batch`,
          opType: "Slice",
          inputs: [`${p}.shape`, `${p}.0`, `${p}.1`],
          outputs: [`${p}.batch`],
        },
        {
          name: `${p}.spatial`,
          opType: "Slice",
          inputs: [`${p}.shape`, `${p}.2`, `${p}.rank`],
          outputs: [`${p}.spatial`],
        },
        {
          name: `${p}.dims`,
          opType: "Concat",
          inputs: [`${p}.batch`, `${p}.1`, `${p}.spatial`],
          outputs: [`${p}.dims`],
          attributes: [{ name: "axis", i: 0 }],
        },
        {
          name: p,
          opType: "ConstantOfShape",
          inputs: [`${p}.dims`],
          outputs: [p],
          attributes: [{
            name: "value",
            t: { name: `${p}.value`, dataType: 1, dims: [1], raw: intBytes(1, [1]) },
          }],
        },
      ],
    });
    onesMaps.set(x, p);
    return p;
  }

  /**
   * The removed constant input channels of a padded conv as a term of their own: the same op
   * (same pads, strides, dilations, kernel) on the map of ones of the input with the weight
   * `Σ_k c_k W[:, k]`, added to the conv's output. Inside the image it equals the bias fold;
   * at the borders it sees the zero padding as the masked model does.
   */
  function borderTerm(i: number, weight: Dense) {
    const n = nodes[i];
    const y = n.outputs[0];
    const p = `${y}.border`;
    edits.push({
      op: "addInitializer",
      tensor: {
        name: `${p}.weight`,
        dataType: 1,
        dims: weight.dims,
        raw: new Uint8Array(weight.values.buffer),
      },
    });
    const attributes = n.attributes.flatMap((a): Attr[] => {
      if (a.type === 1) return [{ name: a.name, f: a.f! }];
      if (a.type === 2) return [{ name: a.name, i: a.i! }];
      if (a.type === 3) return [{ name: a.name, s: a.s! }];
      if (a.type === 7) return [{ name: a.name, ints: a.ints ?? [] }];
      return [];
    });
    // the term first, so that onnxruntime can fuse the Add into the main conv as its sum input
    edits.push({
      op: "insertNodes",
      at: { before: i },
      nodes: [{
        name: p,
        opType: n.opType,
        inputs: [onesOf(n.inputs[0], i), `${p}.weight`],
        outputs: [p],
        attributes,
      }],
    });
    edits.push({ op: "rewireNode", node: i, outputs: { 0: `${y}.main` } });
    edits.push({
      op: "insertNodes",
      at: { after: i },
      nodes: [{ name: `${p}.add`, opType: "Add", inputs: [`${y}.main`, p], outputs: [y] }],
    });
  }

  function borderAsChannel(i: number): boolean {
    if (constantInputs === "term") return false;
    if (constantInputs === "onesChannel") return true;
    return nodes[i].opType === "ConvTranspose";
  }

  /**
   * The removed constant input channels of a padded conv as one input channel of ones: the map
   * of ones is concatenated to the input and the weight gets `Σ_k c_k W[:, k]` as its slice.
   */
  function onesChannel(
    i: number,
    w: { weight: string; inAxis: number; outAxis: number },
    outKeep: number[] | undefined,
    inKeep: number[] | undefined,
    term: Dense,
  ) {
    const n = nodes[i];
    const t = tensors.get(w.weight)!;
    let d = dense.get(w.weight)!;
    if (outKeep !== undefined) d = cut(d, w.outAxis, outKeep);
    if (inKeep !== undefined) d = cut(d, w.inAxis, inKeep);
    const joined = concatAxis(d, term, w.inAxis);
    const bytes = fromFloat32(joined.values, t.dtype!, kernels);
    if (uses.get(w.weight) === 1) {
      edits.push({ op: "replaceTensor", name: w.weight, bytes, dims: joined.dims });
    } else {
      const copy = `${w.weight}.node${i}`;
      edits.push({
        op: "addInitializer",
        tensor: { name: copy, dataType: t.dataType, dims: joined.dims, raw: bytes },
      });
      edits.push({ op: "rewireNode", node: i, inputs: { 1: copy } });
    }
    const x = n.inputs[0];
    const xv = g.values.get(x)!;
    const joinedX = `${n.outputs[0]}.with_ones`;
    edits.push({
      op: "insertNodes",
      at: { before: i },
      nodes: [{
        name: joinedX,
        opType: "Concat",
        inputs: [x, onesOf(x, i)],
        outputs: [joinedX],
        attributes: [{ name: "axis", i: xv.rank! - 1 - xv.fromEnd }],
      }],
    });
    edits.push({ op: "rewireNode", node: i, inputs: { 0: joinedX } });
  }

  function rewriteIndices(i: number, n: OnnxNode, channels: number, keep: number[]) {
    const before = (c: number) => keep.filter((k) => k < c).length;
    const setInts = (input: number, attrName: string, f: (v: number[]) => number[]) => {
      const name = n.inputs[input];
      const t = name ? tensors.get(name) : undefined;
      if (t !== undefined) {
        const v = intsOf(model, t)!;
        const raw = intBytes(t.dataType, f(v));
        if (uses.get(name) === 1) {
          edits.push({ op: "replaceTensor", name, bytes: raw, dims: t.dims });
        } else {
          const copy = `${name}.node${i}`;
          edits.push({
            op: "addInitializer",
            tensor: { name: copy, dataType: t.dataType, dims: [...t.dims], raw },
          });
          edits.push({ op: "rewireNode", node: i, inputs: { [input]: copy } });
        }
      } else {
        const a = n.attributes.find((x) => x.name === attrName);
        if (a?.ints) {
          edits.push({
            op: "rewireNode",
            node: i,
            attributes: [{ name: attrName, ints: f([...a.ints]) }],
          });
        }
      }
    };
    const x = g.values.get(n.inputs[0])!;
    if (n.opType === "Split") {
      const outs = n.outputs.map((o) => g.values.get(o));
      if (outs[0]?.elements.length === x.elements.length) return;
      let at = 0;
      const sizes = outs.map((o) => {
        const s = o!.channels;
        const kept = keep.filter((k) => k >= at && k < at + s).length;
        at += s;
        return kept;
      });
      setInts(1, "split", () => sizes);
    } else if (n.opType === "Slice") {
      const out = g.values.get(n.outputs[0])!;
      if (out.elements.length === x.elements.length) return;
      const s = x.elements.indexOf(out.elements[0]);
      const e = s + out.channels;
      const axes = n.inputs[3] || n.attributes.some((a) => a.name === "axes")
        ? (n.inputs[3]
          ? intsOf(model, tensors.get(n.inputs[3]))!
          : n.attributes.find((a) => a.name === "axes")!.ints!)
        : undefined;
      const rank = x.rank;
      const k = axes === undefined ? rank! - 1 - x.fromEnd : axes.findIndex((
        a: number,
      ) => (a < 0 ? -a - 1 === x.fromEnd : a === rank! - 1 - x.fromEnd));
      setInts(1, "starts", (v) => v.map((y, j) => (j === k ? before(s) : y)));
      setInts(2, "ends", (v) => v.map((y, j) => (j === k ? (y >= channels ? y : before(e)) : y)));
    } else if (n.opType === "Reshape") {
      const lit = g.literals.get(i);
      if (lit === undefined) return;
      const t = tensors.get(lit.tensor)!;
      const v = intsOf(model, t)!;
      v[lit.index] = keep.length;
      edits.push({
        op: "replaceTensor",
        name: lit.tensor,
        bytes: intBytes(t.dataType, v),
        dims: t.dims,
      });
    }
  }

  for (const [name, list] of cuts) {
    const t = tensors.get(name)!;
    // the cuts of each use (node, input), and whether every use wants the same ones
    const byUse = new Map<string, { axis: number; keep: number[] }[]>();
    for (const c of list) {
      const key = `${c.node}:${c.input}`;
      const mine = byUse.get(key) ?? [];
      if (!mine.some((m) => m.axis === c.axis)) mine.push({ axis: c.axis, keep: c.keep });
      byUse.set(key, mine);
    }
    const sig = (cs: { axis: number; keep: number[] }[]) =>
      cs.map((c) => `${c.axis}:${c.keep}`).sort().join("|");
    const sigs = new Set([...byUse.values()].map(sig));
    const inPlace = sigs.size === 1 && byUse.size === (uses.get(name) ?? 0);
    const cutOf = (cs: { axis: number; keep: number[] }[]) => {
      let d = work.get(name) ?? dense.get(name)!;
      for (const c of cs) d = cut(d, c.axis, c.keep);
      return { d, bytes: fromFloat32(d.values, t.dtype!, kernels) };
    };
    if (inPlace) {
      const { d, bytes } = cutOf([...byUse.values()][0]);
      edits.push({ op: "replaceTensor", name, bytes, dims: d.dims });
    } else {
      for (const [key, cs] of byUse) {
        const [node, input] = key.split(":").map(Number);
        const { d, bytes } = cutOf(cs);
        const copy = `${name}.node${node}`;
        edits.push({
          op: "addInitializer",
          tensor: { name: copy, dataType: t.dataType, dims: d.dims, raw: bytes },
        });
        edits.push({ op: "rewireNode", node, inputs: { [input]: copy } });
      }
    }
    work.delete(name);
  }
  // folded biases that were not cut
  for (const [name, d] of work) {
    const t = tensors.get(name)!;
    edits.push({
      op: "replaceTensor",
      name,
      bytes: fromFloat32(d.values, t.dtype!, kernels),
      dims: d.dims,
    });
  }
  const { bytes } = editOnnx(model, edits);
  return { bytes, producers: report, removedClasses: removable.size };
}
