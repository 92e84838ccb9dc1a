/**
 * Reading and editing a tfjs graph model's node list: node attributes as the converter writes
 * them, who reads each value, and edits that add float32 constants. Shared by bias correction,
 * equalization and channel scales.
 *
 * @module
 */

import type { TfjsModel, TfjsWeight, TfjsWeightSpec } from "../io/tfjs/tfjs_types.ts";

/** A node of `modelTopology.node`, as the converter writes it. */
export interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Record<string, unknown>;
}

/** The node or weight an input names: `x` of `x`, `x:1` and `^x`. */
export const producer = (input: string): string => input.replace(/^\^/, "").replace(/:\d+$/, "");

/**
 * A string attribute (`attr.<key>.s`) or string-list attribute (`attr.<key>.list.s`), decoded:
 * the converter writes strings in base64 (`fused_ops`, `padding`, `data_format`).
 */
export function attrStrings(node: TfNode, key: string): string[] {
  const a = node.attr?.[key] as { list?: { s?: unknown[] }; s?: unknown } | undefined;
  const list = Array.isArray(a?.list?.s) ? a.list.s : typeof a?.s === "string" ? [a.s] : [];
  return list.map((s) => {
    try {
      return atob(String(s));
    } catch {
      return String(s);
    }
  });
}

/** A boolean attribute (`attr.<key>.b`), false when absent. */
export function attrFlag(node: TfNode, key: string): boolean {
  const a = node.attr?.[key] as { b?: unknown } | undefined;
  return a?.b === true || a?.b === "true";
}

/**
 * The nodes that read each node's (or weight's) values, by its name: every data input, each
 * reader once per input (`x:1` counts as a read of `x`); control inputs (`^x`, as the converter
 * makes a `NoOp` wait for every weight) read nothing and are left out.
 */
export function dataConsumers(nodes: readonly TfNode[]): Map<string, TfNode[]> {
  const consumers = new Map<string, TfNode[]>();
  for (const n of nodes) {
    for (const i of n.input ?? []) {
      if (i.startsWith("^")) continue;
      const from = producer(i);
      consumers.set(from, [...consumers.get(from) ?? [], n]);
    }
  }
  return consumers;
}

/** The graph's nodes. */
export const graphNodes = (model: TfjsModel): readonly TfNode[] =>
  (model.json.modelTopology as { node?: TfNode[] } | undefined)?.node ?? [];

/**
 * A namer of new nodes and weights: `base`, or `base_1`, `base_2`, … when a node, a weight or
 * an earlier new name has it.
 */
export function newNames(model: TfjsModel): (base: string) => string {
  const taken = new Set([
    ...graphNodes(model).map((n) => n.name),
    ...model.weights.map((w) => w.spec.name),
  ]);
  return (base) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
}

/** A float32 `Const` node of shape `[length]` whose value is a weight of the same name. */
export const floatConst = (name: string, length: number): TfNode => ({
  name,
  op: "Const",
  attr: {
    value: {
      tensor: { dtype: "DT_FLOAT", tensorShape: { dim: [{ size: String(length) }] } },
    },
    dtype: { type: "DT_FLOAT" },
  },
});

/**
 * The model with `json` as its `model.json` and `added` weights at the end of its last manifest
 * group (their bytes placed after the group's last byte), weights named in `renamed` under their
 * new name in the weight list and the manifest alike; the source is unchanged.
 */
export function withWeights(
  model: TfjsModel,
  json: Record<string, unknown>,
  added: readonly { readonly spec: TfjsWeightSpec; readonly bytes: Uint8Array }[],
  renamed: ReadonlyMap<string, string> = new Map(),
): TfjsModel {
  const group = model.weights.reduce((g, w) => Math.max(g, w.group), 0);
  let offset = model.weights.filter((w) => w.group === group)
    .reduce((n, w) => Math.max(n, w.offset + w.bytes.byteLength), 0);
  const extra: TfjsWeight[] = added.map(({ spec, bytes }) => {
    const w = { spec, bytes, group, offset };
    offset += bytes.byteLength;
    return w;
  });
  const rename = <T extends { name: string }>(s: T): T =>
    renamed.has(s.name) ? { ...s, name: renamed.get(s.name)! } : s;
  const manifest = (json.weightsManifest ?? []) as { weights?: { name: string }[] }[];
  const out = {
    ...json,
    weightsManifest: manifest.map((g, i) => {
      const specs = (g.weights ?? []).map(rename);
      return { ...g, weights: i === group ? [...specs, ...extra.map((w) => w.spec)] : specs };
    }),
  };
  const weights = model.weights.map((w) =>
    renamed.has(w.spec.name) ? { ...w, spec: rename(w.spec) } : w
  );
  return { ...model, json: out, weights: [...weights, ...extra] };
}

/**
 * The model with `nodes` as its node list and new float32 weights (one per `Const` node added)
 * at the end of the last manifest group; the source is unchanged.
 */
export function withGraph(
  model: TfjsModel,
  nodes: readonly TfNode[],
  weights: readonly { readonly name: string; readonly values: Float32Array }[],
): TfjsModel {
  const topology = model.json.modelTopology as Record<string, unknown> | undefined;
  return withWeights(
    model,
    { ...model.json, modelTopology: { ...topology, node: nodes } },
    weights.map(({ name, values }) => ({
      spec: { name, shape: [values.length], dtype: "float32" as const },
      bytes: new Uint8Array(Float32Array.from(values).buffer),
    })),
  );
}
