// Adding nodes and initializers to the main graph of an encoded ONNX model, and renaming the
// inputs / outputs of its nodes. Every other byte of the model is copied unchanged.
import { type Field, forEachField, readVarint } from "../io/onnx/_wire.ts";
import { type Bytes, concat, lenField, varint } from "../io/onnx/proto_writer.ts";

/** Changes to the main graph, by main-graph node index. */
export interface GraphEdit {
  /** Encoded NodeProtos to put before the node of an index. */
  readonly before: ReadonlyMap<number, readonly Uint8Array[]>;
  /** Encoded NodeProtos to put after the node of an index. */
  readonly after: ReadonlyMap<number, readonly Uint8Array[]>;
  /** New names of some inputs (by input position) of the node of an index. */
  readonly inputs: ReadonlyMap<number, ReadonlyMap<number, string>>;
  /** New names of some outputs (by output position) of the node of an index. */
  readonly outputs: ReadonlyMap<number, ReadonlyMap<number, string>>;
  /** Encoded TensorProtos to add as initializers. */
  readonly initializers: readonly Uint8Array[];
  /** Values to add as graph outputs (names only, no type information). */
  readonly extraOutputs?: readonly string[];
}

function fields(bytes: Uint8Array, start: number, end: number, path: string): Field[] {
  const out: Field[] = [];
  forEachField({ bytes, file: "<model>" }, start, end, path, (f) => void out.push(f));
  return out;
}

function renamed(
  bytes: Uint8Array,
  node: Field,
  inputs: ReadonlyMap<number, string> | undefined,
  outputs: ReadonlyMap<number, string> | undefined,
): Uint8Array {
  let i = 0;
  let o = 0;
  const parts = fields(bytes, node.start, node.end, "graph.node").map((f) => {
    const to = f.number === 1 ? inputs?.get(i++) : f.number === 2 ? outputs?.get(o++) : undefined;
    return to === undefined ? bytes.subarray(f.tagStart, f.end) : lenField(f.number, to);
  });
  return concat(parts);
}

/**
 * Applies a graph edit to a model's bytes: nodes inserted next to main-graph nodes, node inputs
 * and outputs renamed, initializers appended to the main graph.
 */
export function editGraph(bytes: Uint8Array, edit: GraphEdit): Uint8Array {
  const graph = fields(bytes, 0, bytes.length, "model").find((f) => f.number === 7);
  if (graph === undefined) throw new RangeError("the ONNX model has no graph");
  const parts: Bytes[] = [];
  let index = 0;
  for (const f of fields(bytes, graph.start, graph.end, "graph")) {
    if (f.number !== 1) {
      parts.push(bytes.subarray(f.tagStart, f.end));
      continue;
    }
    for (const n of edit.before.get(index) ?? []) parts.push(lenField(1, n));
    const ins = edit.inputs.get(index);
    const outs = edit.outputs.get(index);
    parts.push(
      ins || outs ? lenField(1, renamed(bytes, f, ins, outs)) : bytes.subarray(f.tagStart, f.end),
    );
    for (const n of edit.after.get(index) ?? []) parts.push(lenField(1, n));
    index++;
  }
  for (const t of edit.initializers) parts.push(lenField(5, t));
  for (const name of edit.extraOutputs ?? []) parts.push(lenField(12, lenField(1, name)));
  const body = concat(parts);
  const afterTag = readVarint({ bytes, file: "<model>" }, graph.tagStart, graph.end, "graph")[1];
  return concat([
    bytes.subarray(0, afterTag),
    varint(body.length),
    body,
    bytes.subarray(graph.end),
  ]);
}
