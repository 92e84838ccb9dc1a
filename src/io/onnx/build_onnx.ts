/**
 * Writing an ONNX model from scratch (as opposed to editing one with `editOnnx`): nodes,
 * initializers, typed graph inputs and outputs, opset imports.
 *
 * @module
 */

import type { ValueType } from "./edit_onnx.ts";
import {
  concat,
  graphProto,
  intField,
  lenField,
  type NodeSpec,
  opsetProto,
  type TensorSpec,
} from "./proto_writer.ts";

/** A graph input or output. */
export interface ValueSpec {
  /** The value name. */
  readonly name: string;
  /** Its element type and dims. */
  readonly type: ValueType;
}

/** The model `buildOnnx` writes. */
export interface OnnxSpec {
  /** `ir_version` (default 8). */
  readonly irVersion?: number;
  /** `producer_name` (omitted by default). */
  readonly producer?: string;
  /** The graph name (default `"graph"`). */
  readonly graphName?: string;
  /** The opset imports (`""` is the default ONNX domain). */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  /** The nodes, in order. */
  readonly nodes: readonly NodeSpec[];
  /** The initializers (default none). */
  readonly initializers?: readonly TensorSpec[];
  /** The graph inputs. */
  readonly inputs: readonly ValueSpec[];
  /** The graph outputs. */
  readonly outputs: readonly ValueSpec[];
}

/**
 * Encodes a ModelProto: `ir_version`, `producer_name` (if set), the graph (nodes, name,
 * initializers as `raw_data`, inputs, outputs), then the opset imports.
 *
 * @param spec The model.
 * @returns The `.onnx` bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 *
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "add", opType: "Add", inputs: ["x", "b"], outputs: ["y"] }],
 *   initializers: [{ name: "b", dataType: 1, dims: [1], raw: new Uint8Array([0, 0, 128, 63]) }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: ["n"] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: ["n"] } }],
 * });
 * const model = decodeOnnx(bytes);
 * assert.equal(model.irVersion, 8);
 * assert.deepEqual(model.graph.nodes[0].inputs, ["x", "b"]);
 * ```
 */
export function buildOnnx(spec: OnnxSpec): Uint8Array {
  const graph = graphProto({
    name: spec.graphName ?? "graph",
    nodes: spec.nodes,
    initializers: spec.initializers ?? [],
    inputs: spec.inputs,
    outputs: spec.outputs,
  });
  return concat([
    intField(1, spec.irVersion ?? 8),
    ...(spec.producer === undefined ? [] : [lenField(2, spec.producer)]),
    lenField(7, graph),
    ...spec.opsets.map((o) => lenField(8, opsetProto(o.domain, o.version))),
  ]);
}
