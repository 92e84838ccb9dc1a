// A minimal ONNX (protobuf) writer for models built from scratch: nodes, float initializers,
// typed graph inputs and outputs, opsets. Field numbers are those of onnx.proto3.

const enc = new TextEncoder();

function varint(value: number): number[] {
  const out: number[] = [];
  if (value < 0) {
    // int64 two's complement: ten bytes
    let b = BigInt.asUintN(64, BigInt(value));
    while (b >= 0x80n) {
      out.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    out.push(Number(b));
    return out;
  }
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

function bytesField(n: number, body: Uint8Array | string): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  return concat([varint(n * 8 + 2), varint(b.length), b]);
}

function intField(n: number, value: number): Uint8Array {
  return new Uint8Array([...varint(n * 8), ...varint(value)]);
}

function floatField(n: number, value: number): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = n * 8 + 5;
  new DataView(out.buffer).setFloat32(1, value, true);
  return out;
}

/** A node attribute: an int, a float or a list of ints. */
export type ProtoAttr =
  | { readonly name: string; readonly i: number }
  | { readonly name: string; readonly f: number }
  | { readonly name: string; readonly ints: readonly number[] };

/** A node to write. */
export interface ProtoNode {
  readonly name: string;
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly ProtoAttr[];
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

function attribute(a: ProtoAttr): Uint8Array {
  if ("i" in a) return concat([bytesField(1, a.name), intField(3, a.i), intField(20, 2)]);
  if ("f" in a) return concat([bytesField(1, a.name), floatField(2, a.f), intField(20, 1)]);
  return concat([bytesField(1, a.name), ...a.ints.map((v) => intField(8, v)), intField(20, 7)]);
}

function node(n: ProtoNode): Uint8Array {
  return concat([
    ...n.inputs.map((s) => bytesField(1, s)),
    ...n.outputs.map((s) => bytesField(2, s)),
    bytesField(3, n.name),
    bytesField(4, n.opType),
    ...(n.attributes ?? []).map((a) => bytesField(5, attribute(a))),
  ]);
}

function tensor(t: ProtoTensor): Uint8Array {
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return concat([
    ...t.dims.map((d) => intField(1, d)),
    intField(2, FLOAT),
    bytesField(8, t.name),
    bytesField(9, data),
  ]);
}

function valueInfo(v: ProtoValue): Uint8Array {
  const dims = v.dims.map((d) =>
    bytesField(1, typeof d === "string" ? bytesField(2, d) : intField(1, d))
  );
  const tensorType = concat([intField(1, FLOAT), bytesField(2, concat(dims))]);
  return concat([bytesField(1, v.name), bytesField(2, bytesField(1, tensorType))]);
}

/** Encodes a ModelProto (IR version 8, the default domain at `opset`). */
export function encodeProtoModel(m: ProtoModel): Uint8Array {
  const graph = concat([
    ...m.nodes.map((n) => bytesField(1, node(n))),
    bytesField(2, m.graphName),
    ...m.initializers.map((t) => bytesField(5, tensor(t))),
    ...m.inputs.map((v) => bytesField(11, valueInfo(v))),
    ...m.outputs.map((v) => bytesField(12, valueInfo(v))),
  ]);
  return concat([
    intField(1, 8),
    bytesField(2, m.producer),
    bytesField(7, graph),
    bytesField(8, concat([bytesField(1, ""), intField(2, m.opset)])),
  ]);
}
