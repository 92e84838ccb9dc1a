// A minimal protobuf reader for the ONNX messages the exporters rewrite: walking the fields of a
// message. New messages are written with `../io/onnx/proto_writer.ts`.

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
