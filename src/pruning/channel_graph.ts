/**
 * `channelGraph`: the channel dependencies of an ONNX main graph, from the graph alone — which
 * channels of which values must be removed together, and which cannot be removed at all (with
 * the reason).
 *
 * @module
 */

import type { OnnxAttribute, OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import { intsOf } from "./_onnx_ints.ts";

/** The channel axis of a value and the channel elements it carries. */
export interface ChannelValue {
  /** The number of channels. */
  readonly channels: number;
  /** The channel axis counted from the last dim (0 = last; NCHW: 2). */
  readonly fromEnd: number;
  /** The rank, when known. */
  readonly rank?: number;
  /**
   * The element id of each channel: values that share an element hold the same channel (a
   * pass-through op), and `ChannelGraph.find` joins elements that must be removed together.
   */
  readonly elements: readonly number[];
  /** Whether every dim after the channel axis is known to be 1 (after a global pool). */
  readonly trailingOnes: boolean;
}

/** How a node with constant weights meets the channels. */
export interface WeightedNode {
  /** The node index in the main graph. */
  readonly node: number;
  /** `Conv`, `ConvTranspose`, `Gemm` or `MatMul`. */
  readonly opType: string;
  /** The weight initializer or `Constant` output. */
  readonly weight: string;
  /** The weight's dims as stored. */
  readonly dims: readonly number[];
  /** The weight axis of the output channels (stored layout). */
  readonly outAxis: number;
  /** The weight axis of the input channels (stored layout); -1 for a depthwise conv. */
  readonly inAxis: number;
  /** The bias (Conv/ConvTranspose/Gemm input 2), if any. */
  readonly bias?: string;
  /** A depthwise conv (`group` = input channels = output channels): input channel i is output channel i. */
  readonly depthwise: boolean;
}

/** The result of `channelGraph`. */
export interface ChannelGraph {
  /** The tracked values by name. */
  readonly values: ReadonlyMap<string, ChannelValue>;
  /** The nodes with constant weights that produce or consume tracked channels, by node index. */
  readonly weighted: ReadonlyMap<number, WeightedNode>;
  /**
   * `Reshape` nodes whose target holds the channel count as a literal, by node index: the
   * constant and the index of the entry to rewrite when channels are removed.
   */
  readonly literals: ReadonlyMap<number, { readonly tensor: string; readonly index: number }>;
  /** The representative of an element's class (elements removed together). */
  find(element: number): number;
  /** Why an element's class cannot be removed, or `undefined` when it can be. */
  frozen(element: number): string | undefined;
  /** Why two classes were joined, by class representative. */
  reasons(element: number): readonly string[];
  /** The number of elements. */
  readonly size: number;
}

const attr = (n: OnnxNode, name: string): OnnxAttribute | undefined =>
  n.attributes.find((a) => a.name === name);

/** Element-wise ops with one tensor input that keep channels where they are. */
const UNARY_OPS: ReadonlySet<string> = new Set([
  "Relu",
  "LeakyRelu",
  "Clip",
  "Sigmoid",
  "Tanh",
  "HardSigmoid",
  "HardSwish",
  "Elu",
  "Selu",
  "Softplus",
  "Softsign",
  "Exp",
  "Neg",
  "Abs",
  "Sqrt",
  "Erf",
  "Gelu",
  "Mish",
  "Identity",
  "Dropout",
  "Cast",
  "Floor",
  "Ceil",
  "Round",
  "Reciprocal",
  "ThresholdedRelu",
  "Sign",
]);

/** Spatial ops on NCHW values (channel axis 1) that keep channels where they are. */
const SPATIAL_OPS = new Set([
  "GlobalAveragePool",
  "GlobalMaxPool",
  "MaxPool",
  "AveragePool",
  "LpPool",
  "GlobalLpPool",
  "Resize",
  "Upsample",
]);

const BINARY_OPS = new Set(["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Sum"]);
const REDUCE_OPS = new Set(["ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd"]);
const SHAPE_OPS = new Set(["Cast", "Slice", "Concat", "Gather", "Unsqueeze", "Squeeze"]);

/** One entry of a shape vector computed in the graph: a number, a copied dim, or unknown. */
type ShapeEntry =
  | number
  | { readonly of: string; readonly dim: number }
  | { readonly lit: number; readonly src: string; readonly idx: number }
  | null;

const litOf = (e: ShapeEntry) =>
  typeof e === "number" ? e : e !== null && "lit" in e ? e.lit : undefined;

class UnionFind {
  parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r];
    while (this.parent[x] !== r) [x, this.parent[x]] = [this.parent[x], r];
    return r;
  }
  union(a: number, b: number): number {
    const [x, y] = [this.find(a), this.find(b)];
    if (x !== y) this.parent[Math.max(x, y)] = Math.min(x, y);
    return Math.min(x, y);
  }
}

/**
 * Builds the channel-dependency graph of an ONNX model's main graph. Every value with a channel
 * axis the analysis can follow gets one element per channel; ops that make two channels one
 * (`Add`/`Sub`/`Mul`/`Div`/`Pow`/`Max`/`Min` of two tracked values — with a constant operand
 * broadcast on the channel axis it is sliced along —, `Concat` on another axis, a depthwise
 * `Conv`) join their elements, ops that move channels (`Concat`/`Split`/`Slice` on the channel
 * axis, `Transpose`, `Squeeze`/`Unsqueeze`, `Flatten` and `Reshape` that keep the channel
 * axis whole) carry them to new positions, and pass-through ops (activations, `Clip`,
 * `HardSigmoid`, `BatchNormalization`, `InstanceNormalization`, `LayerNormalization` over
 * other axes, pooling, `Resize`, reductions over other axes) keep them. `Conv` (group 1),
 * `ConvTranspose` (group 1), `Gemm` and `MatMul` with constant weights start new channels and
 * take their inputs' channels into their weights.
 *
 * A class of elements is frozen, with the reason, when removing it could change the graph's
 * meaning or shapes the analysis does not update: it reaches a graph output, an op the analysis
 * does not know, a normalization or reduction over the channel axis, a grouped conv that is not
 * depthwise, a broadcast it cannot align, or a `Shape` whose channel dim is used otherwise than
 * to build a `Reshape` target.
 *
 * @param onnx the decoded model
 * @returns the graph: tracked values, weighted nodes and the element classes
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { channelGraph } from "./channel_graph.ts";
 *
 * const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer);
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   initializers: [
 *     { name: "w1", dataType: 1, dims: [4, 3, 1, 1], raw: f32(12) },
 *     { name: "w2", dataType: 1, dims: [4, 3, 1, 1], raw: f32(12) },
 *     { name: "w3", dataType: 1, dims: [2, 4, 1, 1], raw: f32(8) },
 *   ],
 *   nodes: [
 *     { name: "c1", opType: "Conv", inputs: ["x", "w1"], outputs: ["a"] },
 *     { name: "c2", opType: "Conv", inputs: ["x", "w2"], outputs: ["b"] },
 *     { name: "add", opType: "Add", inputs: ["a", "b"], outputs: ["s"] },
 *     { name: "c3", opType: "Conv", inputs: ["s", "w3"], outputs: ["y"] },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 3, 4, 4] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 2, 4, 4] } }],
 * }));
 * const g = channelGraph(onnx);
 * const [a, b] = [g.values.get("a")!, g.values.get("b")!];
 * assert.equal(g.find(a.elements[1]), g.find(b.elements[1])); // the residual Add couples them
 * assert.equal(g.frozen(a.elements[1]), undefined);
 * assert.match(g.frozen(g.values.get("y")!.elements[0])!, /graph output/);
 * ```
 */
export function channelGraph(onnx: OnnxModel): ChannelGraph {
  const uf = new UnionFind();
  const frozenBy = new Map<number, string>();
  const reasonsBy = new Map<number, string[]>();
  const values = new Map<string, ChannelValue>();
  const weighted = new Map<number, WeightedNode>();
  const tensors = new Map(onnx.graph.initializers.map((t) => [t.name, t]));
  for (const t of onnx.tensors) {
    if (t.kind === "constant" && !t.path.includes(".g.") && !t.path.includes(".graphs[")) {
      tensors.set(t.name, t);
    }
  }
  const ranks = new Map<string, number>();
  const shapes = new Map<string, ShapeEntry[]>();
  const nodes = onnx.graph.nodes;
  const literals = new Map<number, { tensor: string; index: number }>();
  const uses = new Map<string, number>();
  for (const n of nodes) for (const v of n.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
  const opset = onnx.opsets.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 1;

  const fresh = (n: number) => Array.from({ length: n }, () => uf.add());
  const freeze = (v: ChannelValue | undefined, why: string) => {
    for (const e of v?.elements ?? []) if (!frozenBy.has(e)) frozenBy.set(e, why);
  };
  const join = (a: number, b: number, why: string) => {
    const [x, y] = [uf.find(a), uf.find(b)];
    if (a === b && !why.includes("depthwise")) return;
    if (x === y) {
      const rs = reasonsBy.get(x) ?? [];
      if (!rs.includes(why)) reasonsBy.set(x, [...rs, why]);
      return;
    }
    const r = uf.union(x, y);
    const rs = [...(reasonsBy.get(x) ?? []), ...(reasonsBy.get(y) ?? [])];
    if (!rs.includes(why)) rs.push(why);
    reasonsBy.set(r, rs);
  };
  const set = (name: string, v: ChannelValue) => {
    values.set(name, v);
    if (v.rank !== undefined) ranks.set(name, v.rank);
  };
  const label = (n: OnnxNode, i: number) => `${n.opType} node ${JSON.stringify(n.name || `#${i}`)}`;
  const intsIn = (n: OnnxNode, input: number, attrName: string): number[] | undefined => {
    if (opset >= 10 && n.inputs[input]) return intsOf(onnx, tensors.get(n.inputs[input]));
    if (opset < 10 || !n.inputs[input]) return attr(n, attrName)?.ints?.slice();
    return undefined;
  };

  nodes.forEach((n, i) => {
    const where = label(n, i);
    const tracked = n.inputs.map((x) => values.get(x));
    const x = tracked[0];
    const axisOf = (v: ChannelValue) => v.rank === undefined ? undefined : v.rank - 1 - v.fromEnd;
    const freezeInputs = (why: string) => tracked.forEach((v) => freeze(v, why));
    const passOn = (v: ChannelValue, out = 0, patch: Partial<ChannelValue> = {}) =>
      set(n.outputs[out], { ...v, ...patch });
    // shape vectors: Shape and the ops that compute Reshape targets
    if (n.opType === "Shape") {
      const rank = ranks.get(n.inputs[0]);
      if (rank !== undefined && attr(n, "start") === undefined && attr(n, "end") === undefined) {
        shapes.set(
          n.outputs[0],
          Array.from({ length: rank }, (_, d) => ({ of: n.inputs[0], dim: d })),
        );
      }
      return;
    }
    const small = tensors.get(n.inputs[0]);
    if (
      (n.opType === "Cast" || n.opType === "Unsqueeze" || n.opType === "Squeeze") &&
      small !== undefined && small.dims.length <= 1
    ) {
      const v = intsOf(onnx, small);
      if (v !== undefined && v.length <= 8) {
        shapes.set(n.outputs[0], v.map((lit, idx) => ({ lit, src: n.inputs[0], idx })));
      }
    }
    const shapeIn = n.inputs.map((s) => shapes.get(s));
    if (shapeIn.some((s) => s !== undefined) && SHAPE_OPS.has(n.opType)) {
      const sv = shapeVector(n, shapeIn);
      if (sv !== undefined) shapes.set(n.outputs[0], sv);
      else taint(shapeIn, where);
      return;
    }
    if (
      shapeIn.some((s) => s !== undefined) && !(n.opType === "Reshape" && shapeIn[0] === undefined)
    ) {
      taint(shapeIn, where);
    }
    if (n.opType === "Constant") return;

    const w = tensors.get(n.inputs[1]);
    if ((n.opType === "Conv" || n.opType === "ConvTranspose") && w !== undefined) {
      const group = attr(n, "group")?.i ?? 1;
      const transposed = n.opType === "ConvTranspose";
      const outCh = transposed ? w.dims[1] * group : w.dims[0];
      const inCh = transposed ? w.dims[0] : w.dims[1] * group;
      const rank = w.dims.length;
      const bias = n.inputs[2] && tensors.has(n.inputs[2]) ? n.inputs[2] : undefined;
      if (n.inputs[2] && bias === undefined) freezeInputs(`${where}: its bias is not a constant`);
      const depthwise = !transposed && group > 1 && group === inCh && outCh === group;
      if (x !== undefined && (x.channels !== inCh || x.fromEnd !== rank - 2)) {
        freeze(x, `${where}: takes ${inCh} channels on axis 1, the input has ${x.channels}`);
      }
      let elements: number[];
      if (depthwise && x !== undefined && x.channels === inCh) {
        elements = [...x.elements];
        for (let c = 0; c < outCh; c++) {
          join(x.elements[c], elements[c], `${where} is depthwise (group ${group})`);
        }
      } else {
        elements = fresh(outCh);
        if (group > 1 && !depthwise) {
          const why =
            `${where} has group ${group}: removing channels would need the same count removed from every group`;
          freeze(x, why);
          freeze({ elements } as unknown as ChannelValue, why);
        }
        if (transposed && group > 1) freeze(x, `${where} is a grouped ConvTranspose`);
      }
      weighted.set(i, {
        node: i,
        opType: n.opType,
        weight: n.inputs[1],
        dims: w.dims,
        outAxis: transposed ? 1 : 0,
        inAxis: depthwise ? -1 : transposed ? 0 : 1,
        ...(bias === undefined ? {} : { bias }),
        depthwise,
      });
      set(n.outputs[0], {
        channels: outCh,
        fromEnd: rank - 2,
        rank,
        elements,
        trailingOnes: false,
      });
      return;
    }
    if ((n.opType === "Gemm" || n.opType === "MatMul") && w !== undefined && w.dims.length === 2) {
      const transB = n.opType === "Gemm" && (attr(n, "transB")?.i ?? 0) === 1;
      const transA = n.opType === "Gemm" && (attr(n, "transA")?.i ?? 0) === 1;
      const [inAxis, outAxis] = transB ? [1, 0] : [0, 1];
      if (transA) freeze(x, `${where} has transA`);
      if (x !== undefined && (x.fromEnd !== 0 || x.channels !== w.dims[inAxis])) {
        freeze(x, `${where}: its input's channel axis is not the last one (or has another size)`);
      }
      const bias = n.opType === "Gemm" && n.inputs[2] && tensors.has(n.inputs[2])
        ? n.inputs[2]
        : undefined;
      if (n.opType === "Gemm" && n.inputs[2] && bias === undefined) {
        freezeInputs(`${where}: its bias is not a constant`);
      }
      weighted.set(i, {
        node: i,
        opType: n.opType,
        weight: n.inputs[1],
        dims: w.dims,
        outAxis,
        inAxis,
        ...(bias === undefined ? {} : { bias }),
        depthwise: false,
      });
      const rank = n.opType === "Gemm" ? 2 : x?.rank ?? ranks.get(n.inputs[0]);
      set(n.outputs[0], {
        channels: w.dims[outAxis],
        fromEnd: 0,
        ...(rank === undefined ? {} : { rank }),
        elements: fresh(w.dims[outAxis]),
        trailingOnes: true,
      });
      return;
    }
    if (tracked.every((v) => v === undefined)) {
      // untracked values: keep the ranks the Reshape rule needs
      if (UNARY_OPS.has(n.opType) && ranks.has(n.inputs[0])) {
        ranks.set(n.outputs[0], ranks.get(n.inputs[0])!);
      }
      return;
    }
    const others = tracked.slice(1).some((v) => v !== undefined);
    if (UNARY_OPS.has(n.opType) || n.opType === "Softmax" || n.opType === "LogSoftmax") {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      if (n.opType === "Softmax" || n.opType === "LogSoftmax") {
        const a = attr(n, "axis")?.i ?? (opset >= 13 ? -1 : 1);
        const ax = axisOf(x!);
        const covers = opset >= 13
          ? (a < 0 ? -a - 1 === x!.fromEnd : a === ax)
          : ax === undefined || ax >= a;
        if (covers || (a >= 0 && ax === undefined)) {
          return freeze(x, `${where} normalizes over the channel axis`);
        }
      }
      return passOn(x!);
    }
    if (SPATIAL_OPS.has(n.opType)) {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      if (axisOf(x!) !== 1) {
        return freeze(x, `${where} works on NCHW but the channel axis is elsewhere`);
      }
      if ((n.opType === "Resize" || n.opType === "Upsample") && n.inputs[3]) {
        return freeze(x, `${where} takes output sizes (the channel entry would change)`);
      }
      return passOn(x!, 0, { trailingOnes: n.opType.startsWith("Global") || x!.trailingOnes });
    }
    if (n.opType === "BatchNormalization" || n.opType === "InstanceNormalization") {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      if (axisOf(x!) !== 1) {
        return freeze(x, `${where} normalizes axis 1, the channels are elsewhere`);
      }
      const need = n.opType === "BatchNormalization" ? [1, 2, 3, 4] : [1, 2];
      if (need.some((k) => tensors.get(n.inputs[k])?.dims[0] !== x!.channels)) {
        return freeze(x, `${where}: its parameters are not constants of the channel count`);
      }
      return passOn(x!);
    }
    if (n.opType === "LayerNormalization") {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      const a = attr(n, "axis")?.i ?? -1;
      const rank = x!.rank;
      const first = a < 0 ? -a - 1 : rank === undefined ? undefined : rank - 1 - a;
      if (first === undefined || x!.fromEnd <= first) {
        return freeze(x, `${where} normalizes over the channel axis`);
      }
      return passOn(x!);
    }
    if (REDUCE_OPS.has(n.opType)) {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      const axes = intsIn(n, 1, "axes") ?? (opset >= 18 ? undefined : attr(n, "axes")?.ints);
      const keep = (attr(n, "keepdims")?.i ?? 1) === 1;
      const ax = axisOf(x!);
      if (axes === undefined || !keep) {
        return freeze(x, `${where} reduces over all axes or drops them`);
      }
      const hits = axes.some((a) => (a < 0 ? -a - 1 === x!.fromEnd : a === ax || ax === undefined));
      if (hits) return freeze(x, `${where} reduces over the channel axis`);
      return passOn(x!);
    }
    if (BINARY_OPS.has(n.opType)) {
      const t = tracked.filter((v) => v !== undefined) as ChannelValue[];
      const first = t[0];
      for (let k = 0; k < n.inputs.length; k++) {
        const v = tracked[k];
        if (v !== undefined) {
          if (v.channels !== first.channels || v.fromEnd !== first.fromEnd) {
            return freezeInputs(`${where}: its operands' channels do not line up`);
          }
          continue;
        }
        const c = tensors.get(n.inputs[k]);
        if (c === undefined) {
          return freezeInputs(`${where}: meets a value whose shape the analysis does not know`);
        }
        const d = c.dims.length - 1 - first.fromEnd;
        const size = d >= 0 ? c.dims[d] : 1;
        if (size !== 1 && size !== first.channels) {
          return freezeInputs(
            `${where}: a constant of dims [${c.dims}] does not broadcast on the channels`,
          );
        }
      }
      for (const v of t.slice(1)) {
        v.elements.forEach((e, c) =>
          join(first.elements[c], e, `${where} combines them element-wise`)
        );
      }
      const rank = Math.max(
        ...n.inputs.map((s, k) => tracked[k]?.rank ?? tensors.get(s)?.dims.length ?? 0),
      );
      const known = t.every((v) => v.rank !== undefined);
      return passOn(first, 0, {
        ...(known ? { rank } : { rank: undefined }),
        trailingOnes: t.every((v) => v.trailingOnes) && n.inputs.every((s, k) => {
          const dims = tracked[k] === undefined ? tensors.get(s)?.dims ?? [] : [];
          return first.fromEnd === 0 || dims.slice(-first.fromEnd).every((d) => d === 1);
        }),
      });
    }
    if (n.opType === "Concat") {
      const a = attr(n, "axis")?.i ?? 1;
      const t = tracked.filter((v) => v !== undefined) as ChannelValue[];
      const fromEndOf = (v: ChannelValue) =>
        a < 0 ? -a - 1 : v.rank === undefined ? undefined : v.rank - 1 - a;
      if (t.length !== n.inputs.length) {
        return freezeInputs(`${where}: joins channels with untracked values`);
      }
      if (t.some((v) => v.fromEnd !== t[0].fromEnd || v.rank !== t[0].rank)) {
        return freezeInputs(`${where}: its inputs' channel axes differ`);
      }
      const along = fromEndOf(t[0]);
      if (along === undefined) return freezeInputs(`${where}: the concatenation axis is unknown`);
      if (along === t[0].fromEnd) {
        const elements = t.flatMap((v) => v.elements);
        return passOn(t[0], 0, {
          channels: elements.length,
          elements,
          trailingOnes: t.every((v) => v.trailingOnes),
        });
      }
      if (t.some((v) => v.channels !== t[0].channels)) {
        return freezeInputs(`${where}: channel counts differ`);
      }
      for (const v of t.slice(1)) {
        v.elements.forEach((e, c) =>
          join(t[0].elements[c], e, `${where} stacks them on another axis`)
        );
      }
      return passOn(t[0], 0, { trailingOnes: false });
    }
    if (n.opType === "Split") {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      const a = attr(n, "axis")?.i ?? 0;
      const ax = axisOf(x!);
      const onChannels = a < 0 ? -a - 1 === x!.fromEnd : ax === undefined ? undefined : a === ax;
      if (onChannels === undefined) return freeze(x, `${where}: the split axis is unknown`);
      if (!onChannels) {
        for (let k = 0; k < n.outputs.length; k++) passOn(x!, k);
        return;
      }
      const sizes = opset >= 13
        ? intsOf(onnx, tensors.get(n.inputs[1] ?? ""))
        : attr(n, "split")?.ints;
      if (sizes === undefined) return freeze(x, `${where} has no constant split sizes`);
      let at = 0;
      sizes.forEach((s, k) => {
        passOn(x!, k, { channels: s, elements: x!.elements.slice(at, at + s) });
        at += s;
      });
      return;
    }
    if (n.opType === "Slice") {
      if (others) return freezeInputs(`${where}: a channel value as a parameter`);
      const starts = intsIn(n, 1, "starts");
      const ends = intsIn(n, 2, "ends");
      const rank = x!.rank;
      const axes = intsIn(n, 3, "axes") ??
        (rank === undefined ? undefined : [...Array(starts?.length ?? 0).keys()]);
      const steps = opset >= 10 && n.inputs[4] ? intsOf(onnx, tensors.get(n.inputs[4])) : undefined;
      if (starts === undefined || ends === undefined || axes === undefined) {
        return freeze(x, `${where}: its starts, ends or axes are not constants`);
      }
      const k = axes.findIndex((a) => (a < 0 ? -a - 1 === x!.fromEnd : a === axisOf(x!)));
      if (k < 0 && (rank !== undefined || axes.every((a) => a < 0))) return passOn(x!);
      if (k < 0) return freeze(x, `${where}: the sliced axes are unknown`);
      if (steps !== undefined && steps[k] !== 1) {
        return freeze(x, `${where} slices channels with a step`);
      }
      const c = x!.channels;
      const clamp = (v: number) => Math.max(0, Math.min(c, v < 0 ? v + c : v));
      const [s, e] = [clamp(starts[k]), clamp(ends[k])];
      const elements = x!.elements.slice(s, Math.max(s, e));
      return passOn(x!, 0, { channels: elements.length, elements });
    }
    if (n.opType === "Transpose") {
      const perm = attr(n, "perm")?.ints;
      const ax = axisOf(x!);
      if (perm === undefined || ax === undefined) {
        return freeze(x, `${where}: its permutation or rank is unknown`);
      }
      return passOn(x!, 0, { fromEnd: perm.length - 1 - perm.indexOf(ax), trailingOnes: false });
    }
    if (n.opType === "Flatten") {
      const a = attr(n, "axis")?.i ?? 1;
      const ax = axisOf(x!);
      if (ax === undefined || (a < 0 ? a + x!.rank! : a) !== ax || !x!.trailingOnes) {
        return freeze(x, `${where} merges the channel axis with other dims`);
      }
      return passOn(x!, 0, { fromEnd: 0, rank: 2, trailingOnes: true });
    }
    if (n.opType === "Squeeze" || n.opType === "Unsqueeze") {
      const axes = intsIn(n, 1, "axes");
      const rank = x!.rank;
      if (axes === undefined || rank === undefined) {
        return freeze(x, `${where}: its axes or rank are unknown`);
      }
      const ax = axisOf(x!)!;
      const outRank = n.opType === "Squeeze" ? rank - axes.length : rank + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + (n.opType === "Squeeze" ? rank : outRank) : a));
      if (n.opType === "Squeeze") {
        if (norm.includes(ax)) return freeze(x, `${where} removes the channel axis`);
        const newAx = ax - norm.filter((a) => a < ax).length;
        return passOn(x!, 0, { rank: outRank, fromEnd: outRank - 1 - newAx });
      }
      let newAx = ax;
      for (const a of [...norm].sort((p, q) => p - q)) if (a <= newAx) newAx++;
      return passOn(x!, 0, { rank: outRank, fromEnd: outRank - 1 - newAx });
    }
    if (n.opType === "Reshape") {
      if (tracked[1] !== undefined) return freezeInputs(`${where}: a channel value as a shape`);
      const target = shapes.get(n.inputs[1]) ??
        intsOf(onnx, tensors.get(n.inputs[1]))?.map((lit, idx) => ({ lit, src: n.inputs[1], idx }));
      const ax = axisOf(x!);
      if (target === undefined || ax === undefined) {
        return freeze(x, `${where}: its target shape is not known from the graph`);
      }
      const copies = (k: number) => {
        const e = target[k];
        return (litOf(e) === 0 && (attr(n, "allowzero")?.i ?? 0) === 0) ||
          (e !== null && typeof e === "object" && "of" in e && e.of === n.inputs[0] && e.dim === k);
      };
      for (let k = 0; k < ax; k++) {
        if (!copies(k)) return freeze(x, `${where} changes the dims before the channel axis`);
      }
      const e = target[ax];
      const last = ax === target.length - 1;
      const literal = !copies(ax) && litOf(e) === x!.channels;
      const keeps = copies(ax) || literal || (litOf(e) === -1 && last && x!.trailingOnes);
      if (!keeps) return freeze(x, `${where} merges the channel axis with other dims`);
      if (literal) {
        const src = e as { src: string; idx: number };
        if (uses.get(src.src) !== 1) {
          return freeze(x, `${where}: its channel count comes from a shared constant`);
        }
        literals.set(i, { tensor: src.src, index: src.idx });
      }
      return passOn(x!, 0, {
        rank: target.length,
        fromEnd: target.length - 1 - ax,
        trailingOnes: last || x!.trailingOnes && target.slice(ax + 1).every((d) => litOf(d) === 1),
      });
    }
    freezeInputs(`${where} is not analysed`);
  });

  for (const o of onnx.graph.outputs) {
    if (shapes.has(o)) taint([shapes.get(o)], `the graph output ${JSON.stringify(o)}`);
  }
  for (const o of onnx.graph.outputs) {
    freeze(values.get(o), `reaches the graph output ${JSON.stringify(o)}`);
  }
  // subgraphs may read main-graph values: freeze them
  const inner = new Set<string>();
  const walk = (g: typeof onnx.graph) => {
    for (const n of g.nodes) {
      for (const a of n.attributes) {
        for (const s of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
          for (const m of s.nodes) for (const v of m.inputs) inner.add(v);
          walk(s);
        }
      }
    }
  };
  walk(onnx.graph);
  for (const v of inner) freeze(values.get(v), `is read inside a subgraph`);

  const frozenRoots = new Map<number, string>();
  for (const [e, why] of frozenBy) {
    const r = uf.find(e);
    if (!frozenRoots.has(r)) frozenRoots.set(r, why);
  }
  return {
    values,
    weighted,
    literals,
    find: (e) => uf.find(e),
    frozen: (e) => frozenRoots.get(uf.find(e)),
    reasons: (e) => reasonsBy.get(uf.find(e)) ?? [],
    get size() {
      return uf.parent.length;
    },
  };

  function shapeVector(n: OnnxNode, ins: (ShapeEntry[] | undefined)[]): ShapeEntry[] | undefined {
    const vec = (k: number) =>
      ins[k] ??
        intsOf(onnx, tensors.get(n.inputs[k]))?.map((lit, idx) => ({ lit, src: n.inputs[k], idx }));
    switch (n.opType) {
      case "Cast":
        return ins[0];
      case "Concat": {
        const parts = n.inputs.map((_, k) => vec(k));
        return parts.every((p) => p !== undefined) ? parts.flat() as ShapeEntry[] : undefined;
      }
      case "Slice": {
        const v = ins[0];
        const starts = intsIn(n, 1, "starts");
        const ends = intsIn(n, 2, "ends");
        if (v === undefined || starts?.length !== 1 || ends?.length !== 1) return undefined;
        const len = v.length;
        const clamp = (x: number) => Math.max(0, Math.min(len, x < 0 ? x + len : x));
        return v.slice(clamp(starts[0]), clamp(ends[0]));
      }
      case "Gather": {
        const v = ins[0];
        const idx = intsOf(onnx, tensors.get(n.inputs[1]));
        if (v === undefined || idx === undefined) return undefined;
        return idx.map((k) => v[k < 0 ? k + v.length : k] ?? null);
      }
      case "Unsqueeze":
      case "Squeeze":
        return ins[0];
    }
    return undefined;
  }

  /** A shape vector holding a channel dim used by an op the Reshape rule does not follow. */
  function taint(ins: (ShapeEntry[] | undefined)[], where: string) {
    for (const s of ins) {
      for (const e of s ?? []) {
        if (e === null || typeof e !== "object" || !("of" in e)) continue;
        const v = values.get(e.of);
        if (v?.rank !== undefined && v.rank - 1 - v.fromEnd === e.dim) {
          freeze(v, `its channel count is read by ${where}`);
        }
      }
    }
  }
}
