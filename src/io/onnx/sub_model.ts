/**
 * A runnable model made of a range of an ONNX model's main-graph nodes: the values the range
 * reads from earlier nodes become graph inputs (those of `Constant` nodes are copied in),
 * chosen values become outputs. Node and
 * initializer messages are copied as they are in the file (no re-encoding); replaced tensors and
 * extra inputs of nodes can be given.
 *
 * @module
 */

import {
  concat,
  intField,
  lenField,
  tensorProto,
  type TensorSpec,
  valueInfoProto,
} from "./proto_writer.ts";
import type { OnnxModel } from "./onnx_types.ts";
import { type Field, forEachField } from "./_wire.ts";

/** Options of `subModelOnnx`. */
export interface SubModelOptions {
  /** The first main-graph node of the range (an index into `model.graph.nodes`). */
  readonly from: number;
  /** One past the last node of the range. */
  readonly to: number;
  /**
   * The graph inputs: every value the range reads that no node of the range computes and that
   * is neither an initializer nor a `Constant` node's output, with its ONNX element type and
   * dims (a string dim is symbolic).
   */
  readonly inputs: readonly {
    readonly name: string;
    readonly elemType: number;
    readonly dims: readonly (number | string)[];
  }[];
  /** The graph outputs (values the range computes), written without a type. */
  readonly outputs: readonly string[];
  /**
   * Initializers written in place of the model's of the same name (or of a `Constant` node's
   * value: the node is left out), or added.
   */
  readonly initializers?: ReadonlyMap<string, TensorSpec>;
  /** Inputs appended to nodes, by main-graph node index (e.g. an added bias). */
  readonly appendInputs?: ReadonlyMap<number, readonly string[]>;
}

/**
 * Builds a model of the main-graph nodes `[from, to)` of `model`: the same `ir_version` and
 * opset imports, the nodes' messages as they are in the file (with `appendInputs`), preceded
 * by the `Constant` nodes outside the range whose values they read, the initializers they read
 * (the model's, or those of `initializers`), `inputs` as typed graph
 * inputs and `outputs` as untyped graph outputs (onnxruntime accepts them). Running it on the
 * values the full model computes for `inputs` gives the values the full model computes for
 * `outputs`.
 *
 * @param model The decoded model (tensors inline in its bytes).
 * @param options The node range, inputs, outputs, replaced initializers, appended inputs.
 * @returns The `.onnx` bytes of the sub-model.
 * @throws {RangeError} When the range is outside the graph, a node of the range has a subgraph
 *   attribute, a value the range reads is neither computed in it, an initializer nor an input,
 *   an output is not computed in the range, or an initializer's data are external.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as ort from "onnxruntime-node";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { subModelOnnx } from "./sub_model.ts";
 *
 * const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
 * const model = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [
 *     { name: "a", opType: "Add", inputs: ["x", "one"], outputs: ["h"] },
 *     { name: "m", opType: "Mul", inputs: ["h", "two"], outputs: ["y"] },
 *   ],
 *   initializers: [
 *     { name: "one", dataType: 1, dims: [1], raw: f32([1]) },
 *     { name: "two", dataType: 1, dims: [1], raw: f32([2]) },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * }));
 * // the second node alone, reading h
 * const bytes = subModelOnnx(model, {
 *   from: 1, to: 2, inputs: [{ name: "h", elemType: 1, dims: [2] }], outputs: ["y"],
 * });
 * const session = await ort.InferenceSession.create(bytes);
 * const r = await session.run({ h: new ort.Tensor("float32", new Float32Array([3, 4]), [2]) });
 * assert.deepEqual([...(r.y.data as Float32Array)], [6, 8]);
 * ```
 */
export function subModelOnnx(model: OnnxModel, options: SubModelOptions): Uint8Array {
  const { from, to } = options;
  const count = model.graph.nodes.length;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > count || from >= to) {
    throw new RangeError(
      `the node range must lie within the ${count} main-graph nodes of ${model.file} and hold at least one: current value is [${from}, ${to})`,
    );
  }
  const ctx = { bytes: model.bytes, file: model.file };
  // the main graph's node fields, in order
  let graphField: Field | undefined;
  forEachField(ctx, 0, model.bytes.length, "model", (f) => {
    if (f.number === 7) graphField = f;
  });
  const nodeFields: Field[] = [];
  if (graphField !== undefined) {
    forEachField(ctx, graphField.start, graphField.end, "model.graph", (f) => {
      if (f.number === 1) nodeFields.push(f);
    });
  }
  if (nodeFields.length !== count) {
    throw new RangeError(
      `${model.file}: the main graph has ${nodeFields.length} node messages, its decoded form ${count}`,
    );
  }
  const initializers = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const replaced = options.initializers ?? new Map<string, TensorSpec>();
  const given = new Set(options.inputs.map((i) => i.name));
  // values of Constant nodes (no inputs): copied into the sub-model wherever they are
  const constantNode = new Map<string, number>();
  model.graph.nodes.forEach((n, i) => {
    if (n.opType === "Constant" && n.inputs.length === 0 && n.outputs.length === 1) {
      constantNode.set(n.outputs[0], i);
    }
  });
  const computed = new Set<string>();
  const used = new Set<string>();
  const constants: number[] = [];
  const body: Uint8Array[] = [];
  const copy = (i: number) => {
    const f = nodeFields[i];
    const extra = options.appendInputs?.get(i) ?? [];
    return extra.length === 0 ? model.bytes.subarray(f.tagStart, f.end) : lenField(
      1,
      concat([model.bytes.subarray(f.start, f.end), ...extra.map((v) => lenField(1, v))]),
    );
  };
  for (let i = from; i < to; i++) {
    const node = model.graph.nodes[i];
    // a node whose every output is replaced by an initializer (a Constant) is left out
    if (node.outputs.length > 0 && node.outputs.every((v) => replaced.has(v))) continue;
    if (node.attributes.some((a) => a.g !== undefined || a.graphs !== undefined)) {
      throw new RangeError(
        `${model.file}: node ${i} (${node.opType} "${node.name}") has a subgraph: a sub-model cannot hold it`,
      );
    }
    for (const v of [...node.inputs, ...(options.appendInputs?.get(i) ?? [])]) {
      if (v === "" || computed.has(v) || given.has(v)) continue;
      if (replaced.has(v) || initializers.has(v)) used.add(v);
      else if (constantNode.has(v)) {
        constants.push(constantNode.get(v)!);
        computed.add(v);
      } else {
        throw new RangeError(
          `${model.file}: node ${i} (${node.opType} "${node.name}") reads "${v}", which the range [${from}, ${to}) neither computes nor gets as an input or initializer`,
        );
      }
    }
    for (const v of node.outputs) if (v !== "") computed.add(v);
    body.push(copy(i));
  }
  const parts: Uint8Array[] = [...constants.map(copy), ...body];
  for (const o of options.outputs) {
    if (!computed.has(o)) {
      throw new RangeError(
        `${model.file}: the output "${o}" is not computed by the nodes [${from}, ${to})`,
      );
    }
  }
  parts.push(lenField(2, "sub"));
  for (const name of used) {
    const r = replaced.get(name);
    if (r !== undefined) {
      parts.push(lenField(5, tensorProto(r.name, r.dataType, r.dims, r.raw)));
      continue;
    }
    const t = initializers.get(name)!;
    if (t.storage.kind === "external") {
      throw new RangeError(
        `${model.file}: the initializer "${name}" has external data (${t.storage.location}): inline it first`,
      );
    }
    parts.push(model.bytes.subarray(t.span.tagStart, t.span.end));
  }
  for (const i of options.inputs) {
    parts.push(lenField(11, valueInfoProto(i.name, i.elemType, i.dims)));
  }
  for (const o of options.outputs) parts.push(lenField(12, lenField(1, o)));
  const graph = concat(parts);
  return concat([
    intField(1, model.irVersion),
    lenField(7, graph),
    ...model.opsets.map((o) =>
      lenField(8, concat([lenField(1, o.domain), intField(2, o.version)]))
    ),
  ]);
}
