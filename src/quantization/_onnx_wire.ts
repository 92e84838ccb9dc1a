// A minimal protobuf reader/writer for the ONNX messages the exporters rewrite. Only what the
// exporters need: walking the fields of a message and encoding new nodes, tensors and opsets.

/** One field of a message: its number, wire type and byte ranges. */
export interface WireField {
  readonly number: number;
  readonly wire: number;
  /** Offset of the tag. */
  readonly start: number;
  /** Offset of the value (after the length prefix for length-delimited fields). */
  readonly valueStart: number;
  /** Offset after the field. */
  readonly end: number;
  /** The value of a varint field. */
  readonly varint?: number;
}

function readVarint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= bytes.length) throw new RangeError(`truncated varint at byte ${pos}`);
    const b = bytes[pos++];
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
  }
}

/** The fields of the message in `bytes[start, end)`, in file order. */
export function fields(bytes: Uint8Array, start: number, end: number): WireField[] {
  const out: WireField[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, p1] = readVarint(bytes, pos);
    const wire = tag & 7;
    const number = Math.floor(tag / 8);
    if (wire === 0) {
      const [v, p2] = readVarint(bytes, p1);
      out.push({ number, wire, start: pos, valueStart: p1, end: p2, varint: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(bytes, p1);
      out.push({ number, wire, start: pos, valueStart: p2, end: p2 + len });
      pos = p2 + len;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ number, wire, start: pos, valueStart: p1, end: p1 + n });
      pos = p1 + n;
    } else {
      throw new RangeError(`unsupported wire type ${wire} at byte ${pos}`);
    }
    if (pos > end) {
      throw new RangeError(`field ${number} at byte ${out.at(-1)!.start} overruns its message`);
    }
  }
  return out;
}

/** The UTF-8 text of a length-delimited field. */
export function text(bytes: Uint8Array, f: WireField): string {
  return new TextDecoder().decode(bytes.subarray(f.valueStart, f.end));
}

const enc = new TextEncoder();

function varint(value: number): number[] {
  const out: number[] = [];
  if (value < 0) {
    // int64 two's complement in 10 bytes.
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

/** Concatenates byte chunks. */
export function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/** A length-delimited field. */
export function lenField(number: number, body: Uint8Array | string): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body;
  return concat([varint(number * 8 + 2), varint(b.length), b]);
}

/** A varint field. */
export function intField(number: number, value: number): Uint8Array {
  return new Uint8Array([...varint(number * 8), ...varint(value)]);
}

/** An ONNX attribute: an int, a float or a list of ints. */
export type Attr =
  | { readonly name: string; readonly i: number }
  | { readonly name: string; readonly f: number }
  | { readonly name: string; readonly ints: readonly number[] };

function attributeProto(a: Attr): Uint8Array {
  const parts: Uint8Array[] = [lenField(1, a.name)];
  if ("i" in a) parts.push(intField(3, a.i), intField(20, 2));
  else if ("f" in a) {
    const f = new Uint8Array(5);
    f[0] = 2 * 8 + 5;
    new DataView(f.buffer).setFloat32(1, a.f, true);
    parts.push(f, intField(20, 1));
  } else parts.push(...a.ints.map((v) => intField(8, v)), intField(20, 7));
  return concat(parts);
}

/** A NodeProto. */
export function nodeProto(node: {
  readonly name: string;
  readonly opType: string;
  readonly domain?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly Attr[];
}): Uint8Array {
  return concat([
    ...node.inputs.map((s) => lenField(1, s)),
    ...node.outputs.map((s) => lenField(2, s)),
    lenField(3, node.name),
    lenField(4, node.opType),
    ...(node.attributes ?? []).map((a) => lenField(5, attributeProto(a))),
    ...(node.domain ? [lenField(7, node.domain)] : []),
  ]);
}

/** ONNX TensorProto data type codes used here. */
export const ONNX_TYPE = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  UINT4: 21,
  INT4: 22,
} as const;

/** A TensorProto with `raw_data`. */
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
    lenField(9, raw),
  ]);
}
