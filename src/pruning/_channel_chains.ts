// Finding the simple chains whose channels can be removed in an ONNX main graph: a producer
// (Conv with group 1, Gemm, MatMul [+ Add]) whose output runs, through at most one
// BatchNormalization, element-wise activations, Dropout/Identity and a global pool + Flatten,
// each value with one consumer, into the feature input of a consumer: Conv → Conv, linear →
// linear, or Conv → global pool → Flatten → linear.
import type { OnnxAttribute, OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";

/** One step between producer and consumer. */
export type ChainStep =
  | { readonly kind: "batchnorm"; readonly module: string; readonly epsilon: number }
  | { readonly kind: "activation"; readonly apply: (x: number) => number };

/** A producer → (BatchNorm) → (activations) → consumer chain. */
export interface ChannelChain {
  readonly producer: string;
  readonly steps: readonly ChainStep[];
  readonly consumer: string;
  /** Whether a constant input channel can be folded into the consumer's bias exactly. */
  readonly foldable: boolean;
}

const attr = (n: OnnxNode, name: string): OnnxAttribute | undefined =>
  n.attributes.find((a) => a.name === name);

function scalarOf(onnx: OnnxModel, name: string | undefined): number | undefined {
  const t = onnx.tensors.find((x) => x.name === name);
  if (t?.dtype !== "F32" || t.storage.kind !== "raw" || t.storage.end - t.storage.start !== 4) {
    return undefined;
  }
  return new DataView(onnx.bytes.buffer, onnx.bytes.byteOffset + t.storage.start, 4)
    .getFloat32(0, true);
}

/** The element-wise function of an activation node, if it is one this module evaluates. */
function activation(onnx: OnnxModel, n: OnnxNode): ((x: number) => number) | undefined {
  const f = (name: string, fallback: number) => attr(n, name)?.f ?? fallback;
  switch (n.opType) {
    case "Relu":
      return (x) => Math.max(0, x);
    case "LeakyRelu": {
      const a = f("alpha", 0.01);
      return (x) => (x >= 0 ? x : a * x);
    }
    case "Clip": {
      const lo = attr(n, "min")?.f ?? (n.inputs[1] ? scalarOf(onnx, n.inputs[1]) : -Infinity);
      const hi = attr(n, "max")?.f ?? (n.inputs[2] ? scalarOf(onnx, n.inputs[2]) : Infinity);
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
  }
  return undefined;
}

/** Nodes that map a channel holding one constant to the same constant, channel by channel. */
const PASS_THROUGH = new Set([
  "Dropout",
  "Identity",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Flatten",
]);

/** Whether a node is a producer/consumer this module handles, and folds exactly. */
function weighted(n: OnnxNode): { ok: boolean; foldable: boolean } {
  if (n.opType === "MatMul") return { ok: true, foldable: true };
  if (n.opType === "Gemm") {
    const plain = !attr(n, "transA")?.i && (attr(n, "alpha")?.f ?? 1) === 1 &&
      (attr(n, "beta")?.f ?? 1) === 1;
    return { ok: plain, foldable: plain };
  }
  if (n.opType === "Conv") {
    const group = attr(n, "group")?.i ?? 1;
    const autoPad = attr(n, "auto_pad")?.s ?? "NOTSET";
    const pads = attr(n, "pads")?.ints ?? [];
    const unpadded = (autoPad === "NOTSET" || autoPad === "VALID") && pads.every((p) => p === 0);
    return { ok: group === 1, foldable: unpadded };
  }
  return { ok: false, foldable: false };
}

/** The chains of the main graph, each producer at most once. */
export function channelChains(onnx: OnnxModel, model: ModelGraph): ChannelChain[] {
  const nodes = onnx.graph.nodes;
  const moduleOf = (model.graph?.nodes ?? []).map((n) => n.module);
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const v of n.inputs) consumers.set(v, [...(consumers.get(v) ?? []), i]);
  });
  const outputs = new Set(onnx.graph.outputs);
  const chains: ChannelChain[] = [];
  for (const m of model.modules) {
    const owned = nodes.flatMap((_, i) => (moduleOf[i] === m.name ? [i] : []));
    if (owned.length === 0 || !m.params.weight || !weighted(nodes[owned[0]]).ok) continue;
    let value = nodes[owned[owned.length - 1]].outputs[0];
    const steps: ChainStep[] = [];
    let pooled = false;
    for (;;) {
      const next = consumers.get(value) ?? [];
      if (next.length !== 1 || outputs.has(value)) break;
      const n = nodes[next[0]];
      const module = moduleOf[next[0]];
      if (n.opType === "BatchNormalization" && module && n.inputs[0] === value) {
        if (steps.length > 0) break;
        steps.push({ kind: "batchnorm", module, epsilon: attr(n, "epsilon")?.f ?? 1e-5 });
      } else if (activation(onnx, n) && n.inputs[0] === value) {
        steps.push({ kind: "activation", apply: activation(onnx, n)! });
      } else if (PASS_THROUGH.has(n.opType) && n.inputs[0] === value) {
        // a constant channel stays the same constant; Flatten only after a global pool
        if (n.opType === "Flatten" && (!pooled || (attr(n, "axis")?.i ?? 1) !== 1)) break;
        if (n.opType.startsWith("Global")) pooled = true;
      } else {
        const w = weighted(n);
        const first = nodes.findIndex((_, i) => moduleOf[i] === module);
        const fromConv = nodes[owned[0]].opType === "Conv";
        const sameKind = n.opType === "Conv" ? fromConv && !pooled : !fromConv || pooled;
        if (module && w.ok && sameKind && first === next[0] && n.inputs[0] === value) {
          chains.push({ producer: m.name, steps, consumer: module, foldable: w.foldable });
        }
        break;
      }
      value = n.outputs[0];
    }
  }
  return chains;
}
