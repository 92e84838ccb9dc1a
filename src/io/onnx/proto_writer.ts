/**
 * Writing protobuf fields and the ONNX messages built from scratch: nodes, attributes, raw-data
 * tensors, value infos. Field numbers are those of `onnx.proto3`. The reading side is
 * `_wire.ts`.
 *
 * @module
 */

const utf8 = new TextEncoder();

/** A byte chunk: a `Uint8Array` or a plain array of byte values. */
export type Bytes = Uint8Array | readonly number[];

/**
 * A protobuf varint. Negative values are written as int64 two's complement (ten bytes).
 *
 * @param value An integer up to 2^53 in magnitude.
 * @returns The encoded bytes.
 *
 * @example
 * ```ts
 * import { varint } from "./proto_writer.ts";
 * if (varint(300).join() !== "172,2") throw new Error();
 * ```
 */
export function varint(value: number): number[] {
  const out: number[] = [];
  if (value < 0) {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  }
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/**
 * Joins byte chunks into one array.
 *
 * @param parts The chunks, in order.
 * @returns A new array holding them back to back.
 *
 * @example
 * ```ts
 * import { concat } from "./proto_writer.ts";
 * if (concat([[1], new Uint8Array([2, 3])]).join() !== "1,2,3") throw new Error();
 * ```
 */
export function concat(parts: readonly Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/**
 * The tag and length prefix of a length-delimited field whose payload is written separately
 * (to avoid copying a large payload twice).
 *
 * @param number The field number.
 * @param length The payload's byte length.
 * @returns The tag and length varints.
 */
export function lenHeader(number: number, length: number): number[] {
  return [...varint(number * 8 + 2), ...varint(length)];
}

/**
 * A length-delimited field: bytes, a string (UTF-8) or an embedded message.
 *
 * @param number The field number.
 * @param body The payload.
 * @returns The encoded field.
 *
 * @example
 * ```ts
 * import { lenField } from "./proto_writer.ts";
 * if (lenField(1, "ab").join() !== "10,2,97,98") throw new Error();
 * ```
 */
export function lenField(number: number, body: Bytes | string): Uint8Array {
  const b = typeof body === "string" ? utf8.encode(body) : body;
  return concat([lenHeader(number, b.length), b]);
}

/**
 * A varint field (int32, int64, enum, bool); negative values take ten bytes.
 *
 * @param number The field number.
 * @param value The value.
 * @returns The encoded field.
 *
 * @example
 * ```ts
 * import { intField } from "./proto_writer.ts";
 * if (intField(2, 7).join() !== "16,7") throw new Error();
 * ```
 */
export function intField(number: number, value: number): Uint8Array {
  return new Uint8Array([...varint(number * 8), ...varint(value)]);
}

/**
 * A fixed32 float field.
 *
 * @param number The field number.
 * @param value The value, rounded to float32.
 * @returns The encoded field.
 */
export function floatField(number: number, value: number): Uint8Array {
  const tag = varint(number * 8 + 5);
  const out = new Uint8Array(tag.length + 4);
  out.set(tag);
  new DataView(out.buffer).setFloat32(tag.length, value, true);
  return out;
}

/** A tensor to write: its values as little-endian `raw_data`. */
export interface TensorSpec {
  /** The tensor name. */
  readonly name: string;
  /** The ONNX `TensorProto.DataType` code (see `ONNX_DATA_TYPE` in `src/tensor`). */
  readonly dataType: number;
  /** The dims. */
  readonly dims: readonly number[];
  /** The little-endian values (4-bit types packed two per byte, the first in the low nibble). */
  readonly raw: Uint8Array;
}

/**
 * An ONNX node attribute: an int (`INT`), a float (`FLOAT`), a string (`STRING`), a list of
 * ints (`INTS`) or floats (`FLOATS`), a
 * tensor (`TENSOR`) or a subgraph (`GRAPH`: an `If` branch, a `Loop` or `Scan` body).
 */
export type Attr =
  | { readonly name: string; readonly i: number }
  | { readonly name: string; readonly f: number }
  | { readonly name: string; readonly ints: readonly number[] }
  | { readonly name: string; readonly s: string }
  | { readonly name: string; readonly floats: readonly number[] }
  | { readonly name: string; readonly t: TensorSpec }
  | { readonly name: string; readonly g: GraphSpec };

/** A graph input or output of `GraphSpec`: its name, element type and dims. */
export interface GraphValueSpec {
  /** The value name. */
  readonly name: string;
  /** The ONNX element type code and the dims (a string is a symbolic `dim_param`). */
  readonly type: { readonly elemType: number; readonly dims: readonly (number | string)[] };
}

/** A graph to write with `graphProto` (the main graph or a subgraph attribute). */
export interface GraphSpec {
  /** The graph name (default `"graph"`). */
  readonly name?: string;
  /** The nodes, in order. */
  readonly nodes: readonly NodeSpec[];
  /** The initializers (default none). */
  readonly initializers?: readonly TensorSpec[];
  /** The graph inputs (a subgraph's formal parameters). */
  readonly inputs: readonly GraphValueSpec[];
  /** The graph outputs. */
  readonly outputs: readonly GraphValueSpec[];
}

/**
 * A GraphProto: nodes, name, initializers as `raw_data`, inputs, outputs.
 *
 * @param g The graph.
 * @returns The encoded message (without an enclosing field).
 *
 * @example
 * ```ts
 * import { graphProto } from "./proto_writer.ts";
 * const bytes = graphProto({ name: "g", nodes: [], inputs: [], outputs: [] });
 * if (bytes.join() !== "18,1,103") throw new Error();
 * ```
 */
export function graphProto(g: GraphSpec): Uint8Array {
  const value = (v: GraphValueSpec) => valueInfoProto(v.name, v.type.elemType, v.type.dims);
  return concat([
    ...g.nodes.map((n) => lenField(1, nodeProto(n))),
    lenField(2, g.name ?? "graph"),
    ...(g.initializers ?? []).map((t) =>
      lenField(5, tensorProto(t.name, t.dataType, t.dims, t.raw))
    ),
    ...g.inputs.map((v) => lenField(11, value(v))),
    ...g.outputs.map((v) => lenField(12, value(v))),
  ]);
}

/**
 * An AttributeProto: the name, the value, then the `type` field.
 *
 * @param a The attribute.
 * @returns The encoded message (without an enclosing field).
 */
export function attributeProto(a: Attr): Uint8Array {
  const name = lenField(1, a.name);
  if ("i" in a) return concat([name, intField(3, a.i), intField(20, 2)]);
  if ("f" in a) return concat([name, floatField(2, a.f), intField(20, 1)]);
  if ("t" in a) {
    const t = tensorProto(a.t.name, a.t.dataType, a.t.dims, a.t.raw);
    return concat([name, lenField(5, t), intField(20, 4)]);
  }
  if ("g" in a) return concat([name, lenField(6, graphProto(a.g)), intField(20, 5)]);
  if ("s" in a) return concat([name, lenField(4, a.s), intField(20, 3)]);
  if ("floats" in a) {
    return concat([name, ...a.floats.map((v) => floatField(7, v)), intField(20, 6)]);
  }
  return concat([name, ...a.ints.map((v) => intField(8, v)), intField(20, 7)]);
}

/** A node to write with `nodeProto`. */
export interface NodeSpec {
  /** The node name. */
  readonly name: string;
  /** The operator type. */
  readonly opType: string;
  /** The operator domain; omitted when empty or absent (the default domain). */
  readonly domain?: string;
  /** The input value names. */
  readonly inputs: readonly string[];
  /** The output value names. */
  readonly outputs: readonly string[];
  /** The attributes, in order. */
  readonly attributes?: readonly Attr[];
}

/**
 * A NodeProto: inputs, outputs, name, op type, attributes and (when set) the domain.
 *
 * @param node The node.
 * @returns The encoded message (without an enclosing field).
 *
 * @example
 * ```ts
 * import { nodeProto } from "./proto_writer.ts";
 * const bytes = nodeProto({ name: "n", opType: "Relu", inputs: ["x"], outputs: ["y"] });
 * if (bytes.length !== 15) throw new Error();
 * ```
 */
export function nodeProto(node: NodeSpec): Uint8Array {
  return concat([
    ...node.inputs.map((s) => lenField(1, s)),
    ...node.outputs.map((s) => lenField(2, s)),
    lenField(3, node.name),
    lenField(4, node.opType),
    ...(node.attributes ?? []).map((a) => lenField(5, attributeProto(a))),
    ...(node.domain ? [lenField(7, node.domain)] : []),
  ]);
}

/**
 * A TensorProto holding its values as `raw_data`: dims, data type, name, raw data.
 *
 * @param name The tensor name.
 * @param dataType The ONNX `TensorProto.DataType` code.
 * @param dims The dims.
 * @param raw The little-endian values.
 * @returns The encoded message (without an enclosing field).
 */
export function tensorProto(
  name: string,
  dataType: number,
  dims: readonly number[],
  raw: Uint8Array,
): Uint8Array {
  return concat([
    ...dims.map((d) => intField(1, d)),
    intField(2, dataType),
    lenField(8, name),
    lenHeader(9, raw.length),
    raw,
  ]);
}

/**
 * A ValueInfoProto of a tensor type: the name, then the element type and shape (a string dim is
 * a symbolic `dim_param`, a number a `dim_value`).
 *
 * @param name The value name.
 * @param elemType The ONNX `TensorProto.DataType` code of the elements.
 * @param dims The dims.
 * @returns The encoded message (without an enclosing field).
 */
export function valueInfoProto(
  name: string,
  elemType: number,
  dims: readonly (number | string)[],
): Uint8Array {
  const shape = concat(
    dims.map((d) => lenField(1, typeof d === "string" ? lenField(2, d) : intField(1, d))),
  );
  const tensorType = concat([intField(1, elemType), lenField(2, shape)]);
  return concat([lenField(1, name), lenField(2, lenField(1, tensorType))]);
}

/**
 * An OperatorSetIdProto.
 *
 * @param domain The domain (`""` for the default ONNX domain).
 * @param version The opset version.
 * @returns The encoded message (without an enclosing field).
 */
export function opsetProto(domain: string, version: number): Uint8Array {
  return concat([lenField(1, domain), intField(2, version)]);
}
