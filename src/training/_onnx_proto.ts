// A minimal ONNX (protobuf) writer for models built from scratch: nodes, float initializers,
// typed graph inputs and outputs, opsets. Field numbers are those of onnx.proto3.
import {
  type Attr,
  concat,
  intField,
  lenField,
  nodeProto,
  opsetProto,
  tensorProto,
  valueInfoProto,
} from "../io/onnx/proto_writer.ts";

/** A node to write. */
export interface ProtoNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attr[];
}

/** A float32 initializer. */
export interface ProtoTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** A graph input or output: float32 with dims (a string is a symbolic dim). */
export interface ProtoValue {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

/** The model to write. */
export interface ProtoModel {
  readonly graphName: string;
  readonly producer: string;
  readonly opset: number;
  readonly nodes: readonly ProtoNode[];
  readonly initializers: readonly ProtoTensor[];
  readonly inputs: readonly ProtoValue[];
  readonly outputs: readonly ProtoValue[];
}

const FLOAT = 1;

function tensor(t: ProtoTensor): Uint8Array {
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return tensorProto(t.name, FLOAT, t.dims, data);
}

/** Encodes a ModelProto (IR version 8, the default domain at `opset`). */
export function encodeProtoModel(m: ProtoModel): Uint8Array {
  const graph = concat([
    ...m.nodes.map((n) => lenField(1, nodeProto(n))),
    lenField(2, m.graphName),
    ...m.initializers.map((t) => lenField(5, tensor(t))),
    ...m.inputs.map((v) => lenField(11, valueInfoProto(v.name, FLOAT, v.dims))),
    ...m.outputs.map((v) => lenField(12, valueInfoProto(v.name, FLOAT, v.dims))),
  ]);
  return concat([
    intField(1, 8),
    lenField(2, m.producer),
    lenField(7, graph),
    lenField(8, opsetProto("", m.opset)),
  ]);
}
