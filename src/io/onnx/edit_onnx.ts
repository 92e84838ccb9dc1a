/**
 * The ONNX graph editor: pruning, quantization and fusion describe their changes as a list of
 * edits (data), and `editOnnx` writes them. Every byte the edits do not touch (unknown fields,
 * subgraphs, metadata, untouched nodes and tensors) is copied unchanged.
 *
 * @module
 */

import { decodeOnnx } from "./decode_onnx.ts";
import type { EncodedOnnx, EncodeOnnxOptions, OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxGraph, OnnxModel } from "./onnx_types.ts";
import {
  type Attr,
  attributeProto,
  type Bytes,
  concat,
  intField,
  lenField,
  lenHeader,
  nodeProto,
  type NodeSpec,
  opsetProto,
  type TensorSpec,
  valueInfoProto,
  varint,
} from "./proto_writer.ts";
import { emitPatch, type Patch, planReplacements } from "./_replace_tensors.ts";
import { type Field, forEachField, readString, readVarint, type WireContext } from "./_wire.ts";

export type { Attr, NodeSpec, TensorSpec };

/**
 * Bytes of a known length that are produced only when the output is written: an added
 * initializer's values (`DeferredTensorSpec`) are then made straight into the output (or a
 * reused buffer that goes to the sink), one tensor at a time, instead of being held for every
 * tensor and copied once more into the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeferredBytes } from "./edit_onnx.ts";
 *
 * const d = new DeferredBytes(3, (into) => void into.set([7, 8, 9]));
 * const into = new Uint8Array(d.length);
 * await d.fill(into);
 * assert.deepEqual([...into], [7, 8, 9]);
 * assert.throws(() => new DeferredBytes(1.5, () => {}), /non-negative integer length/);
 * ```
 */
export class DeferredBytes {
  /**
   * Bytes of `length` made by `fill`.
   *
   * @param length The byte length `fill` writes.
   * @param fill Writes exactly `length` bytes into `into` (a fresh or reused buffer of that
   * length; its previous content is unspecified).
   */
  constructor(
    readonly length: number,
    readonly fill: (into: Uint8Array) => void | Promise<void>,
  ) {
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(
        `deferred bytes must have a non-negative integer length: current value is ${length}`,
      );
    }
  }
}

/** A tensor to add whose `raw_data` is made when the output is written. */
export interface DeferredTensorSpec {
  /** The tensor name. */
  readonly name: string;
  /** The ONNX `TensorProto.DataType` code. */
  readonly dataType: number;
  /** The dims. */
  readonly dims: readonly number[];
  /** The little-endian values, made on demand. */
  readonly raw: DeferredBytes;
}

/** The element type and dims of a stored tensor. */
export interface TensorShape {
  /** The ONNX `TensorProto.DataType` code. */
  readonly dataType: number;
  /** The dims. */
  readonly dims: readonly number[];
}

/** A piece of an edited model: bytes, or bytes made when written. */
export type OnnxPart = Uint8Array | readonly number[] | DeferredBytes;

/** An edited model as pieces in file order (see `editOnnxParts`). */
export interface OnnxParts {
  /** The pieces; their lengths add up to `length`. */
  readonly parts: readonly OnnxPart[];
  /** The byte length of the model file. */
  readonly length: number;
  /**
   * The element type and dims of every stored tensor of the edited model (initializers and
   * node attribute tensors, subgraphs included), in no particular order: what a decode of the
   * file would list, without making the file.
   */
  readonly tensors: readonly TensorShape[];
  /** Replacements of tensors in external data files (as `EncodedOnnx.external`). */
  readonly external: readonly import("./encode_onnx.ts").ExternalPatch[];
}

/**
 * Where inserted nodes go in their graph: at the very start of the graph message, or just
 * before or after the node of an index (in file order, as `OnnxGraph.nodes`).
 */
export type NodePosition = "start" | { readonly before: number } | { readonly after: number };

/** A tensor type for a graph output or a value_info: element type and dims. */
export interface ValueType {
  /** The ONNX `TensorProto.DataType` code of the elements. */
  readonly elemType: number;
  /** The dims; a string is a symbolic `dim_param`. */
  readonly dims: readonly (number | string)[];
}

/**
 * One change to an ONNX model. Node indices and names refer to the model as it was decoded,
 * never to the result of earlier edits; edits that put things at the same place keep their
 * order in the list.
 *
 * Initializer and node edits take an optional `graph`: the field path of the graph they change,
 * `"graph"` (the main graph, the default) or a subgraph of an `If`/`Loop`/`Scan` node as its
 * nodes' paths start (`"graph.node[2].attribute[0].g"`; see `graphPaths`). Node indices then
 * count that graph's nodes.
 */
export type OnnxEdit =
  /**
   * New values for a stored tensor (initializer or `Constant` value, main graph or subgraph,
   * in the file or an external data file), in its file dtype and layout; see `OnnxReplacement`.
   */
  | ({ readonly op: "replaceTensor"; readonly name: string } & OnnxReplacement)
  /**
   * A new main-graph initializer. It is written after the existing initializers and graph
   * inputs, before the first later field (doc_string, output, value_info, …); with `atEnd`, at
   * the end of the graph message instead.
   */
  | {
    readonly op: "addInitializer";
    /** The tensor; with `DeferredBytes` values only `editOnnxParts`/`editOnnxAsync` take it. */
    readonly tensor: TensorSpec | DeferredTensorSpec;
    readonly atEnd?: boolean;
    readonly graph?: string;
  }
  /** Removes an initializer and the graph input of the same name, if any. */
  | { readonly op: "removeInitializer"; readonly name: string; readonly graph?: string }
  /** New nodes at a position in a graph. */
  | {
    readonly op: "insertNodes";
    readonly at: NodePosition;
    readonly nodes: readonly NodeSpec[];
    readonly graph?: string;
  }
  /** Removes a node. */
  | { readonly op: "removeNode"; readonly node: number; readonly graph?: string }
  /** Writes another node in place of a node. */
  | {
    readonly op: "replaceNode";
    readonly node: number;
    readonly with: NodeSpec;
    readonly graph?: string;
  }
  /**
   * Renames inputs or outputs of a node by position; a position equal to the count appends one
   * (after the node's last input or output). `attributes` give new values to attributes of the
   * node by name (an attribute the node lacks is appended). Everything else in the node is kept.
   */
  | {
    readonly op: "rewireNode";
    readonly node: number;
    readonly graph?: string;
    readonly inputs?: Readonly<Record<number, string>>;
    readonly outputs?: Readonly<Record<number, string>>;
    readonly attributes?: readonly Attr[];
  }
  /**
   * A new graph output, with or without a type (onnxruntime accepts it without). In a subgraph
   * it is appended after the body's outputs (a `Loop`/`Scan` body's last output is a scan
   * output; an `If` needs one in each branch).
   */
  | {
    readonly op: "addGraphOutput";
    readonly name: string;
    readonly type?: ValueType;
    readonly graph?: string;
  }
  /** Sets the main graph's value_info of a value (replaced when present, else added). */
  | { readonly op: "setValueInfo"; readonly name: string; readonly type: ValueType }
  /**
   * Imports an operator set domain. Added after the model's opset imports when the model lacks
   * the domain; a model that imports the domain keeps its version.
   */
  | { readonly op: "addOpset"; readonly domain: string; readonly version: number }
  /**
   * Sets the version of an operator set domain: the model's import of the domain is written
   * with `version` in its place (added like `addOpset` when the model lacks the domain). The
   * nodes are not changed: the caller converts the operators whose form differs between the
   * versions.
   */
  | { readonly op: "setOpset"; readonly domain: string; readonly version: number };

/** Options of `editOnnx`. */
export interface EditOnnxOptions extends EncodeOnnxOptions {
  /** The file name for errors when `model` is given as bytes (default `"<memory>"`). */
  readonly file?: string;
}

const NODE = 1, INITIALIZER = 5, INPUT = 11, OUTPUT = 12, VALUE_INFO = 13;
const GRAPH = 7, OPSET = 8;

/** The edits of one node. */
interface NodeEdits {
  removed?: boolean;
  replacement?: Uint8Array;
  readonly inputs: Map<number, string>;
  readonly outputs: Map<number, string>;
  readonly attributes: Map<string, Attr>;
}

/** The node and initializer edits of one graph (the main graph or a subgraph). */
interface GraphPlan {
  readonly start: Uint8Array[];
  readonly before: Map<number, Uint8Array[]>;
  readonly after: Map<number, Uint8Array[]>;
  readonly nodes: Map<number, NodeEdits>;
  readonly initializers: OnnxPart[][];
  readonly endInitializers: OnnxPart[][];
  readonly removeInitializers: Set<string>;
  readonly outputs: Uint8Array[];
}

/** Everything the edits change, gathered by place. */
interface Plan {
  readonly replacements: Map<string, OnnxReplacement>;
  /** Graph edits by graph field path (`"graph"`, `"graph.node[2].attribute[0].g"`, …). */
  readonly graphs: Map<string, GraphPlan>;
  readonly valueInfos: Map<string, Uint8Array>;
  readonly opsets: Uint8Array[];
  /** New versions of imported domains, by domain. */
  readonly opsetVersions: Map<string, number>;
  /** Paths of the nodes removed or replaced, to the edit that does it. */
  readonly lost: Map<string, string>;
  /** The tensors the edits add (initializers, tensors of inserted or replacement nodes). */
  readonly added: TensorShape[];
}

/** The tensors a node spec stores in its attributes, subgraphs included. */
function nodeTensors(n: NodeSpec, into: TensorShape[]): void {
  for (const a of n.attributes ?? []) {
    if ("t" in a) into.push(a.t);
    if ("g" in a) {
      for (const t of a.g.initializers ?? []) into.push(t);
      for (const m of a.g.nodes) nodeTensors(m, into);
    }
  }
}

function fieldsOf(ctx: WireContext, start: number, end: number, path: string): Field[] {
  const out: Field[] = [];
  forEachField(ctx, start, end, path, (f) => void out.push(f));
  return out;
}

/**
 * Every graph of a model by its field path: `"graph"` for the main graph, then each subgraph
 * (an `If` branch, a `Loop`/`Scan` body) as `<node path>.attribute[<a>].g` or
 * `<node path>.attribute[<a>].graphs[<k>]`, parents before their subgraphs. The paths are the
 * prefixes of the `path` of the graph's nodes and tensors, and what the `graph` of an edit names.
 *
 * @param model The decoded model.
 * @returns The graphs by path, in file order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { graphPaths } from "./edit_onnx.ts";
 *
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * });
 * assert.deepEqual([...graphPaths(decodeOnnx(bytes)).keys()], ["graph"]);
 * ```
 */
export function graphPaths(model: OnnxModel): Map<string, OnnxGraph> {
  const out = new Map<string, OnnxGraph>();
  const walk = (g: OnnxGraph, path: string) => {
    out.set(path, g);
    g.nodes.forEach((n, i) => {
      const nodePath = `${path}.node[${i}]`;
      n.attributes.forEach((a, j) => {
        if (a.g !== undefined) walk(a.g, `${nodePath}.attribute[${j}].g`);
        a.graphs?.forEach((s, k) => walk(s, `${nodePath}.attribute[${j}].graphs[${k}]`));
      });
    });
  };
  walk(model.graph, "graph");
  return out;
}

/** Checks the edits against the decoded model and sorts them by the place they change. */
function plan(model: OnnxModel, edits: readonly OnnxEdit[]): Plan {
  const p: Plan = {
    replacements: new Map(),
    graphs: new Map(),
    valueInfos: new Map(),
    opsets: [],
    opsetVersions: new Map(),
    lost: new Map(),
    added: [],
  };
  const all = graphPaths(model);
  const outputs = new Map<string, Set<string>>();
  const added = new Map<string, Set<string>>();
  const domains = new Set(model.opsets.map((o) => o.domain));
  const lost = p.lost; // node path -> the edit that removes or replaces it
  edits.forEach((e, k) => {
    const where = `edit [${k}] (${e.op})`;
    const graphOf = (path = "graph") => {
      const g = all.get(path);
      if (g === undefined) {
        throw new RangeError(
          `${where}: "graph" must be the path of a graph of the model ("graph" or a subgraph such as "graph.node[0].attribute[0].g"): current value is ${
            JSON.stringify(path)
          }`,
        );
      }
      let gp = p.graphs.get(path);
      if (gp === undefined) {
        p.graphs.set(
          path,
          gp = {
            start: [],
            before: new Map(),
            after: new Map(),
            nodes: new Map(),
            initializers: [],
            endInitializers: [],
            removeInitializers: new Set(),
            outputs: [],
          },
        );
      }
      return { g, gp, path, label: path === "graph" ? "main-graph" : `subgraph ${path}` };
    };
    type At = ReturnType<typeof graphOf>;
    const nodeAt = (at: At, i: number, name = "node") => {
      if (!Number.isInteger(i) || i < 0 || i >= at.g.nodes.length) {
        throw new RangeError(
          `${where}: "${name}" must be a ${at.label} node index in [0, ${at.g.nodes.length}): current value is ${i}`,
        );
      }
      let n = at.gp.nodes.get(i);
      if (n === undefined) {
        at.gp.nodes.set(i, n = { inputs: new Map(), outputs: new Map(), attributes: new Map() });
      }
      return n;
    };
    const conflict = (at: At, n: NodeEdits, i: number) => {
      if (n.removed || n.replacement !== undefined) {
        throw new RangeError(
          `${where}: node ${i} (${
            JSON.stringify(at.g.nodes[i].name)
          }) is already removed or replaced by an earlier edit`,
        );
      }
    };
    switch (e.op) {
      case "replaceTensor": {
        const { op: _, name, ...r } = e;
        if (p.replacements.has(name)) {
          throw new RangeError(`${where}: tensor ${JSON.stringify(name)} is replaced twice`);
        }
        if ([...p.graphs.values()].some((gp) => gp.removeInitializers.has(name))) {
          throw new RangeError(`${where}: tensor ${JSON.stringify(name)} is removed`);
        }
        p.replacements.set(name, r);
        break;
      }
      case "addInitializer": {
        const at = graphOf(e.graph);
        const name = e.tensor.name;
        const names = added.get(at.path) ?? new Set();
        added.set(at.path, names);
        const exists = at.g.initializers.some((t) => t.name === name) &&
          !at.gp.removeInitializers.has(name);
        if (exists || names.has(name)) {
          throw new RangeError(
            `${where}: ${
              at.path === "graph" ? "the main graph" : at.label
            } already has an initializer ${JSON.stringify(name)}`,
          );
        }
        names.add(name);
        p.added.push(e.tensor);
        (e.atEnd ? at.gp.endInitializers : at.gp.initializers).push(tensorParts(e.tensor));
        break;
      }
      case "removeInitializer": {
        const at = graphOf(e.graph);
        if (!at.g.initializers.some((t) => t.name === e.name)) {
          throw new RangeError(
            `${where}: "name" must be a ${at.label} initializer: ${
              JSON.stringify(e.name)
            } is not one`,
          );
        }
        if (p.replacements.has(e.name)) {
          throw new RangeError(`${where}: tensor ${JSON.stringify(e.name)} is also replaced`);
        }
        at.gp.removeInitializers.add(e.name);
        break;
      }
      case "insertNodes": {
        const at = graphOf(e.graph);
        const nodes = e.nodes.map(nodeProto);
        for (const n of e.nodes) nodeTensors(n, p.added);
        if (e.at === "start") at.gp.start.push(...nodes);
        else {
          const before = "before" in e.at;
          const i = before
            ? (e.at as { before: number }).before
            : (e.at as { after: number }).after;
          nodeAt(at, i, before ? "at.before" : "at.after");
          const map = before ? at.gp.before : at.gp.after;
          map.set(i, [...(map.get(i) ?? []), ...nodes]);
        }
        break;
      }
      case "removeNode":
      case "replaceNode": {
        const at = graphOf(e.graph);
        const n = nodeAt(at, e.node);
        conflict(at, n, e.node);
        if (n.inputs.size + n.outputs.size + n.attributes.size > 0) {
          throw new RangeError(`${where}: node ${e.node} is rewired by an earlier edit`);
        }
        if (e.op === "removeNode") n.removed = true;
        else (n.replacement = nodeProto(e.with), nodeTensors(e.with, p.added));
        lost.set(`${at.path}.node[${e.node}]`, where);
        break;
      }
      case "rewireNode": {
        const at = graphOf(e.graph);
        const n = nodeAt(at, e.node);
        conflict(at, n, e.node);
        const original = at.g.nodes[e.node];
        for (const a of e.attributes ?? []) n.attributes.set(a.name, a);
        for (
          const [side, names, map, count] of [
            ["inputs", e.inputs, n.inputs, original.inputs.length],
            ["outputs", e.outputs, n.outputs, original.outputs.length],
          ] as const
        ) {
          for (const [key, name] of Object.entries(names ?? {})) {
            const at = Number(key);
            if (!Number.isInteger(at) || at < 0) {
              throw new RangeError(
                `${where}: "${side}" positions must be non-negative integers: current value is ${
                  JSON.stringify(key)
                }`,
              );
            }
            map.set(at, name);
          }
          // Appended positions must follow on from the node's own without a gap.
          const extra = [...map.keys()].filter((i) => i >= count).sort((a, b) => a - b);
          extra.forEach((i, j) => {
            if (i !== count + j) {
              throw new RangeError(
                `${where}: node ${e.node} has ${count} ${side}, so "${side}" can append at ${
                  count + j
                }: current value is ${i}`,
              );
            }
          });
        }
        break;
      }
      case "addGraphOutput": {
        const at = graphOf(e.graph);
        const names = outputs.get(at.path) ?? new Set(at.g.outputs);
        outputs.set(at.path, names);
        if (names.has(e.name)) {
          throw new RangeError(
            `${where}: ${JSON.stringify(e.name)} is already a graph output`,
          );
        }
        names.add(e.name);
        at.gp.outputs.push(
          e.type === undefined
            ? lenField(1, e.name)
            : valueInfoProto(e.name, e.type.elemType, e.type.dims),
        );
        break;
      }
      case "setValueInfo":
        p.valueInfos.set(e.name, valueInfoProto(e.name, e.type.elemType, e.type.dims));
        break;
      case "addOpset":
        if (domains.has(e.domain)) break;
        domains.add(e.domain);
        p.opsets.push(opsetProto(e.domain, e.version));
        break;
      case "setOpset":
        if (!Number.isSafeInteger(e.version) || e.version < 1) {
          throw new RangeError(
            `${where}: "version" must be a positive integer: current value is ${e.version}`,
          );
        }
        if (domains.has(e.domain)) {
          if (model.opsets.some((o) => o.domain === e.domain)) {
            p.opsetVersions.set(e.domain, e.version);
            break;
          }
          throw new RangeError(
            `${where}: domain ${JSON.stringify(e.domain)} is added by an earlier edit`,
          );
        }
        domains.add(e.domain);
        p.opsets.push(opsetProto(e.domain, e.version));
        break;
      default:
        throw new TypeError(
          `${where}: "op" must name an edit: current value is ${
            JSON.stringify((e as { op: unknown }).op)
          }`,
        );
    }
  });
  for (const name of p.replacements.keys()) {
    const t = model.tensors.find((x) => x.name === name);
    if (t === undefined) continue;
    for (const [node, by] of lost) {
      if (t.path.startsWith(`${node}.`)) {
        throw new RangeError(
          `tensor ${JSON.stringify(name)} is replaced, but ${by} drops the node that holds it`,
        );
      }
    }
  }
  return p;
}

/** Whether the plan changes anything besides tensor values. */
function structural(p: Plan): boolean {
  return p.graphs.size + p.valueInfos.size + p.opsets.length > 0;
}

const NODE_ATTRIBUTE = 5, ATTRIBUTE_GRAPH = 6, ATTRIBUTE_GRAPHS = 11;

/** Writes the edited graphs; everything else is handed to `copy`. */
class Writer {
  /** Paths of the nodes and attributes that enclose an edited subgraph. */
  readonly enclosing = new Set<string>();

  constructor(
    readonly model: OnnxModel,
    readonly plan: Plan,
  ) {
    for (const path of plan.graphs.keys()) {
      // "graph.node[2].attribute[0].g.node[1].attribute[1].g" encloses in
      // "graph.node[2]", "graph.node[2].attribute[0]", "….node[1]", "….attribute[1]".
      const re = /\.(node|attribute)\[\d+\]/g;
      for (let m = re.exec(path); m !== null; m = re.exec(path)) {
        this.enclosing.add(path.slice(0, m.index + m[0].length));
      }
    }
  }

  /** A field as it was, or re-encoded around its patched content. */
  copy(f: Field, patch: Patch | undefined): OnnxPart[] {
    const bytes = this.model.bytes;
    if (patch === undefined) return [bytes.subarray(f.tagStart, f.end)];
    const body = emitPatch(this.model, patch);
    const afterTag = readVarint(this.model, f.tagStart, f.end, "")[1];
    return [bytes.subarray(f.tagStart, afterTag), varint(body.length), body];
  }

  /**
   * A field with new content, given as parts, under its original tag: the parts go into the
   * output as they are (a graph is not concatenated once for itself and again for the model).
   */
  wrapParts(f: Field, body: readonly OnnxPart[], into: OnnxPart[]): void {
    const afterTag = readVarint(this.model, f.tagStart, f.end, "")[1];
    let length = 0;
    for (const p of body) length += p.length;
    into.push(this.model.bytes.subarray(f.tagStart, afterTag), varint(length));
    // One by one: a graph can have more parts than a call takes arguments.
    for (const p of body) into.push(p);
  }

  /** The name of a TensorProto (field 8) or ValueInfoProto (field 1). */
  name(f: Field, number: number, path: string): string {
    let name = "";
    forEachField(this.model, f.start, f.end, path, (h) => {
      if (h.number === number) name = readString(this.model, h, `${path}.name`);
    });
    return name;
  }

  /** An attribute field, with its edited subgraphs rewritten. */
  attribute(f: Field, patch: Patch | undefined, path: string): OnnxPart[] {
    if (!this.enclosing.has(path)) return this.copy(f, patch);
    const parts: OnnxPart[] = [];
    let k = 0;
    for (const h of fieldsOf(this.model, f.start, f.end, path)) {
      const child = patch?.children.get(h.tagStart);
      if (h.number === ATTRIBUTE_GRAPH) {
        this.wrapParts(h, this.graph(h, child, `${path}.g`), parts);
      } else if (h.number === ATTRIBUTE_GRAPHS) {
        this.wrapParts(h, this.graph(h, child, `${path}.graphs[${k++}]`), parts);
      } else parts.push(...this.copy(h, child));
    }
    const out: OnnxPart[] = [];
    this.wrapParts(f, parts, out);
    return out;
  }

  /** A node with some inputs and outputs renamed or appended, and edited subgraphs rewritten. */
  node(
    f: Field,
    edits: NodeEdits | undefined,
    patch: Patch | undefined,
    path: string,
  ): OnnxPart[] {
    const rewired = edits !== undefined &&
      edits.inputs.size + edits.outputs.size + edits.attributes.size > 0;
    if (!rewired && !this.enclosing.has(path)) return this.copy(f, patch);
    const inputs = edits?.inputs ?? new Map<number, string>();
    const outputs = edits?.outputs ?? new Map<number, string>();
    const fields = fieldsOf(this.model, f.start, f.end, path);
    const lastInput = fields.findLastIndex((h) => h.number === 1);
    const lastOutput = fields.findLastIndex((h) => h.number === 2);
    const count = (n: number) => fields.filter((h) => h.number === n).length;
    const appended = (map: Map<number, string>, from: number, number: number) =>
      [...map].filter(([i]) => i >= from).sort((a, b) => a[0] - b[0]).map(([, name]) =>
        lenField(number, name)
      );
    const extraInputs = appended(inputs, count(1), 1);
    const extraOutputs = appended(outputs, count(2), 2);
    const parts: OnnxPart[] = [];
    if (lastInput < 0) parts.push(...extraInputs);
    if (lastOutput < 0 && lastInput < 0) parts.push(...extraOutputs);
    let i = 0;
    let o = 0;
    let a = 0;
    const attributes = new Map(edits?.attributes ?? []);
    fields.forEach((h, k) => {
      const to = h.number === 1 ? inputs.get(i++) : h.number === 2 ? outputs.get(o++) : undefined;
      const child = patch?.children.get(h.tagStart);
      const set = h.number === NODE_ATTRIBUTE && attributes.size > 0
        ? attributes.get(this.name(h, 1, `${path}.attribute`))
        : undefined;
      if (to !== undefined) parts.push(lenField(h.number, to));
      else if (set !== undefined) {
        parts.push(lenField(NODE_ATTRIBUTE, attributeProto(set)));
        attributes.delete(set.name);
        a++;
      } else if (h.number === NODE_ATTRIBUTE) {
        parts.push(...this.attribute(h, child, `${path}.attribute[${a++}]`));
      } else parts.push(...this.copy(h, child));
      if (k === lastInput) {
        parts.push(...extraInputs);
        if (lastOutput < 0) parts.push(...extraOutputs);
      }
      if (k === lastOutput) parts.push(...extraOutputs);
    });
    // Attributes the node did not have go at its end (field order does not matter).
    parts.push(...[...attributes.values()].map((x) => lenField(NODE_ATTRIBUTE, attributeProto(x))));
    const out: OnnxPart[] = [];
    this.wrapParts(f, parts, out);
    return out;
  }

  /** The edited content of a graph message (the main graph or a subgraph), as parts. */
  graph(g: Field, patch: Patch | undefined, path: string): OnnxPart[] {
    const p = this.plan;
    const main = path === "graph";
    const gp = p.graphs.get(path);
    const parts: OnnxPart[] = (gp?.start ?? []).map((n) => lenField(NODE, n));
    const pending = new Map(main ? p.valueInfos : []);
    let initializersAdded = false;
    let index = -1;
    const added = gp?.initializers ?? [];
    for (const f of fieldsOf(this.model, g.start, g.end, path)) {
      const child = patch?.children.get(f.tagStart);
      if (f.number === NODE) {
        index++;
        const nodePath = `${path}.node[${index}]`;
        for (const n of gp?.before.get(index) ?? []) parts.push(lenField(NODE, n));
        const e = gp?.nodes.get(index);
        if (e?.replacement !== undefined) parts.push(lenField(NODE, e.replacement));
        else if (e?.removed) {
          // removed
        } else parts.push(...this.node(f, e, child, nodePath));
        for (const n of gp?.after.get(index) ?? []) parts.push(lenField(NODE, n));
        continue;
      }
      if (f.number === INITIALIZER || f.number === INPUT) {
        const name = f.number === INITIALIZER
          ? this.name(f, 8, `${path}.initializer`)
          : this.name(f, 1, `${path}.input`);
        if (!gp?.removeInitializers.has(name)) parts.push(...this.copy(f, child));
        continue;
      }
      if (!initializersAdded && f.number > INITIALIZER) {
        for (const t of added) pushField(parts, INITIALIZER, t);
        initializersAdded = true;
      }
      const info = f.number === VALUE_INFO
        ? pending.get(this.name(f, 1, `${path}.value_info`))
        : undefined;
      if (info !== undefined) {
        parts.push(lenField(VALUE_INFO, info));
        pending.delete(this.name(f, 1, `${path}.value_info`));
      } else parts.push(...this.copy(f, child));
    }
    if (!initializersAdded) { for (const t of added) pushField(parts, INITIALIZER, t); }
    for (const t of gp?.endInitializers ?? []) pushField(parts, INITIALIZER, t);
    parts.push(...(gp?.outputs ?? []).map((v) => lenField(OUTPUT, v)));
    if (main) parts.push(...[...pending.values()].map((v) => lenField(VALUE_INFO, v)));
    return parts;
  }

  /** The whole edited model, as pieces. */
  write(root: Patch): OnnxPart[] {
    const { bytes } = this.model;
    const top = fieldsOf(this.model, 0, bytes.length, "model");
    const graph = top.findLast((f) => f.number === GRAPH)!;
    const parts: OnnxPart[] = [];
    let opsetsAdded = false;
    const addOpsets = () => {
      if (!opsetsAdded) parts.push(...this.plan.opsets.map((o) => lenField(OPSET, o)));
      opsetsAdded = true;
    };
    let opset = 0;
    for (const f of top) {
      if (f.number > OPSET) addOpsets();
      const child = root.children.get(f.tagStart);
      // The k-th opset_import field is the decoded model's k-th opset.
      const o = f.number === OPSET ? this.model.opsets[opset++] : undefined;
      const version = o === undefined ? undefined : this.plan.opsetVersions.get(o.domain);
      if (f === graph) this.wrapParts(f, this.graph(f, child, "graph"), parts);
      else if (o !== undefined && version !== undefined) {
        parts.push(lenField(OPSET, opsetProto(o.domain, version)));
      } else parts.push(...this.copy(f, child));
    }
    addOpsets();
    return parts;
  }
}

/** A TensorProto as pieces: the fields before `raw_data`, its header, the values. */
function tensorParts(t: TensorSpec | DeferredTensorSpec): OnnxPart[] {
  const head = concat([
    ...t.dims.map((d) => intField(1, d)),
    intField(2, t.dataType),
    lenField(8, t.name),
    lenHeader(9, t.raw.length),
  ]);
  return [head, t.raw];
}

/** A length-delimited field whose body is given as pieces, appended to `into`. */
function pushField(into: OnnxPart[], number: number, body: readonly OnnxPart[]): void {
  let length = 0;
  for (const p of body) length += p.length;
  into.push(lenHeader(number, length));
  for (const p of body) into.push(p);
}

/**
 * Applies a list of edits to an ONNX model: tensor values replaced anywhere (main graph or
 * subgraph, in the file or in external data files, as `encodeOnnxWithExternal` does), and in
 * the main graph initializers added or removed, nodes inserted, removed, replaced or rewired,
 * graph outputs and value infos set, opset imports added. Node indices and names refer to the
 * model as decoded. Everything the edits do not touch is copied byte for byte; with no edits
 * the output equals the input.
 *
 * @param model The model's bytes or the decoded model.
 * @param edits The changes, in order.
 * @param options The file name for errors and the sizes of external data files.
 * @returns The new model bytes, and the bytes to patch into external data files (`saveOnnx`
 * writes both).
 * @throws {ModelFormatError} When `model` is malformed protobuf.
 * @throws {RangeError} When an edit names a node index or initializer the main graph lacks,
 * adds a name that exists, conflicts with an earlier edit, or a replacement does not fit (see
 * `encodeOnnxWithExternal`).
 * @throws {TypeError} For an unknown `op`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { editOnnx } from "./edit_onnx.ts";
 * import { buildOnnx } from "./build_onnx.ts";
 *
 * // y = Relu(x); then scale x by an initializer s before the Relu.
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * });
 * const s = new Uint8Array(new Float32Array([2, 3]).buffer);
 * const { bytes: out } = editOnnx(bytes, [
 *   { op: "addInitializer", tensor: { name: "s", dataType: 1, dims: [2], raw: s } },
 *   { op: "insertNodes", at: { before: 0 }, nodes: [{ name: "scale", opType: "Mul", inputs: ["x", "s"], outputs: ["xs"] }] },
 *   { op: "rewireNode", node: 0, inputs: { 0: "xs" } },
 * ]);
 * const g = decodeOnnx(out).graph;
 * assert.deepEqual(g.nodes.map((n) => `${n.opType}(${n.inputs})`), ["Mul(x,s)", "Relu(xs)"]);
 * assert.deepEqual(g.initializers.map((t) => t.name), ["s"]);
 * assert.deepEqual(editOnnx(bytes, []).bytes, bytes);
 * ```
 */
export function editOnnx(
  model: Uint8Array | OnnxModel,
  edits: readonly OnnxEdit[],
  options: EditOnnxOptions = {},
): EncodedOnnx {
  const decoded = model instanceof Uint8Array ? decodeOnnx(model, { file: options.file }) : model;
  const p = plan(decoded, edits);
  const { root, external } = planReplacements(decoded, p.replacements, options);
  if (!structural(p)) {
    const bytes = root.children.size === 0 ? decoded.bytes.slice() : emitPatch(decoded, root);
    return { bytes, external };
  }
  const parts = new Writer(decoded, p).write(root);
  if (parts.some((x) => x instanceof DeferredBytes)) {
    throw new TypeError(
      "editOnnx writes bytes it is given: an added tensor with DeferredBytes values is written by editOnnxParts or editOnnxAsync",
    );
  }
  return { bytes: concat(parts as Bytes[]), external };
}

/**
 * `editOnnx` without assembling the output: the edited model as pieces in file order (slices of
 * the source bytes, new fields, and the `DeferredBytes` of added tensors), with the total
 * length. `assembleOnnxParts` makes the file in one allocation; `writeOnnxParts` streams it to
 * a sink, so a file is written without its whole content in memory.
 *
 * @param model The model's bytes or the decoded model.
 * @param edits The changes, in order; `addInitializer` may carry `DeferredBytes` values.
 * @param options As for `editOnnx`.
 * @returns The pieces, their total length and the external-data patches.
 * @throws {ModelFormatError} When `model` is malformed protobuf.
 * @throws {RangeError} As `editOnnx`.
 * @throws {TypeError} For an unknown `op`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { DeferredBytes, assembleOnnxParts, editOnnx, editOnnxParts } from "./edit_onnx.ts";
 *
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * });
 * const raw = new Uint8Array(new Float32Array([2, 3]).buffer);
 * const tensor = { name: "s", dataType: 1, dims: [2] };
 * const deferred = editOnnxParts(bytes, [
 *   { op: "addInitializer", tensor: { ...tensor, raw: new DeferredBytes(8, (into) => into.set(raw)) } },
 * ]);
 * const eager = editOnnx(bytes, [{ op: "addInitializer", tensor: { ...tensor, raw } }]).bytes;
 * assert.equal(deferred.length, eager.length);
 * assert.deepEqual(await assembleOnnxParts(deferred), eager);
 * ```
 */
export function editOnnxParts(
  model: Uint8Array | OnnxModel,
  edits: readonly OnnxEdit[],
  options: EditOnnxOptions = {},
): OnnxParts {
  const decoded = model instanceof Uint8Array ? decodeOnnx(model, { file: options.file }) : model;
  const p = plan(decoded, edits);
  const { root, external } = planReplacements(decoded, p.replacements, options);
  const parts: OnnxPart[] = !structural(p)
    ? [root.children.size === 0 ? decoded.bytes : emitPatch(decoded, root)]
    : new Writer(decoded, p).write(root);
  let length = 0;
  for (const x of parts) length += x.length;
  return { parts, length, tensors: editedTensors(decoded, p), external };
}

/** The stored tensors of the edited model: the kept ones (with replaced dims), then the added. */
function editedTensors(model: OnnxModel, p: Plan): TensorShape[] {
  const out: TensorShape[] = [];
  const lost = [...p.lost.keys()].map((path) => `${path}.`);
  for (const t of model.tensors) {
    if (lost.some((path) => t.path.startsWith(path))) continue;
    if (t.kind === "initializer") {
      const graph = t.path.slice(0, t.path.lastIndexOf(".initializer["));
      if (p.graphs.get(graph)?.removeInitializers.has(t.name)) continue;
    }
    const dims = p.replacements.get(t.name)?.dims;
    out.push(dims === undefined ? t : { dataType: t.dataType, dims });
  }
  for (const t of p.added) out.push({ dataType: t.dataType, dims: t.dims });
  return out;
}

/**
 * `editOnnx` for edits whose added tensors may carry `DeferredBytes`: the output is allocated
 * once and each deferred tensor is made straight into its place.
 *
 * @param model The model's bytes or the decoded model.
 * @param edits The changes, in order.
 * @param options As for `editOnnx`.
 * @returns The new model bytes and the external-data patches.
 * @throws {ModelFormatError} When `model` is malformed protobuf.
 * @throws {RangeError} As `editOnnx`.
 * @throws {TypeError} For an unknown `op`.
 * @throws {Error} What a `DeferredBytes.fill` throws, unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { DeferredBytes, editOnnxAsync } from "./edit_onnx.ts";
 *
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [],
 *   inputs: [],
 *   outputs: [],
 * });
 * const raw = new DeferredBytes(4, (into) => new DataView(into.buffer, into.byteOffset).setFloat32(0, 1.5, true));
 * const { bytes: out } = await editOnnxAsync(bytes, [
 *   { op: "addInitializer", tensor: { name: "c", dataType: 1, dims: [1], raw } },
 * ]);
 * assert.deepEqual(decodeOnnx(out).graph.initializers.map((t) => t.name), ["c"]);
 * ```
 */
export async function editOnnxAsync(
  model: Uint8Array | OnnxModel,
  edits: readonly OnnxEdit[],
  options: EditOnnxOptions = {},
): Promise<EncodedOnnx> {
  const parts = editOnnxParts(model, edits, options);
  return { bytes: await assembleOnnxParts(parts), external: parts.external };
}

/**
 * The file of `editOnnxParts` in one allocation: bytes are copied into place, deferred tensors
 * are made there.
 *
 * @param model The pieces from `editOnnxParts`.
 * @returns The model bytes.
 * @throws {Error} What a `DeferredBytes.fill` throws, unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assembleOnnxParts, DeferredBytes } from "./edit_onnx.ts";
 *
 * const parts = [[1, 2], new DeferredBytes(2, (into) => into.set([3, 4])), new Uint8Array([5])];
 * assert.deepEqual(await assembleOnnxParts({ parts, length: 5, tensors: [], external: [] }), Uint8Array.of(1, 2, 3, 4, 5));
 * ```
 */
export async function assembleOnnxParts(model: OnnxParts): Promise<Uint8Array> {
  const out = new Uint8Array(model.length);
  let at = 0;
  for (const p of model.parts) {
    if (p instanceof DeferredBytes) await p.fill(out.subarray(at, at + p.length));
    else out.set(p, at);
    at += p.length;
  }
  if (at !== model.length) {
    throw new RangeError(`the parts hold ${at} bytes: the model's length is ${model.length}`);
  }
  return out;
}

/** Where `writeOnnxParts` writes: a file being written (`writeFileAtomic`'s sink) or a stream. */
export interface OnnxSink {
  /** Writes a chunk; the caller may reuse the chunk's memory once the promise resolves. */
  write(chunk: Uint8Array): void | Promise<void>;
}

/**
 * Streams the file of `editOnnxParts` to a sink: small pieces are gathered into chunks of
 * `chunkBytes`, slices of the source go as they are, and each deferred tensor is made in one
 * buffer reused from tensor to tensor, so memory holds one tensor's bytes, not the file.
 *
 * @param model The pieces from `editOnnxParts`.
 * @param sink Where the bytes go, in order.
 * @param chunkBytes Bytes gathered before a write (default 1 MiB).
 * @returns The number of bytes written (`model.length`).
 * @throws {Error} What a `DeferredBytes.fill` or the sink throws, unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DeferredBytes, writeOnnxParts } from "./edit_onnx.ts";
 *
 * const chunks: number[][] = [];
 * const parts = [[1, 2], new DeferredBytes(2, (into) => into.set([3, 4])), new Uint8Array([5])];
 * const sink = { write: (c: Uint8Array) => Promise.resolve(void chunks.push([...c])) };
 * assert.equal(await writeOnnxParts({ parts, length: 5, tensors: [], external: [] }, sink), 5);
 * assert.deepEqual(chunks.flat(), [1, 2, 3, 4, 5]);
 * ```
 */
export async function writeOnnxParts(
  model: OnnxParts,
  sink: OnnxSink,
  chunkBytes = 1 << 20,
): Promise<number> {
  const pending = new Uint8Array(chunkBytes);
  let used = 0;
  let written = 0;
  const flush = async () => {
    if (used === 0) return;
    await sink.write(pending.subarray(0, used));
    written += used;
    used = 0;
  };
  let scratch = new Uint8Array(0);
  for (const p of model.parts) {
    if (p instanceof DeferredBytes) {
      await flush();
      if (scratch.length < p.length) scratch = new Uint8Array(p.length);
      const into = scratch.subarray(0, p.length);
      await p.fill(into);
      await sink.write(into);
      written += p.length;
    } else if (used + p.length <= chunkBytes) {
      pending.set(p, used);
      used += p.length;
    } else {
      await flush();
      const bytes = p instanceof Uint8Array ? p : Uint8Array.from(p);
      if (bytes.length < chunkBytes) (pending.set(bytes), used = bytes.length);
      else (await sink.write(bytes), written += bytes.length);
    }
  }
  await flush();
  if (written !== model.length) {
    throw new RangeError(`the parts hold ${written} bytes: the model's length is ${model.length}`);
  }
  return written;
}
