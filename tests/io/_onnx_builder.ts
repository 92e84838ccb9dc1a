/** A small ONNX protobuf writer for building test models by hand. */

type Bytes = Uint8Array | number[];

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) (out.push(Number(x & 0x7fn) | 0x80), x >>= 7n);
  return (out.push(Number(x)), out);
}

export function cat(parts: readonly Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

export const len = (n: number, body: Bytes): Uint8Array =>
  cat([varint(n * 8 + 2), varint(body.length), body]);
export const int = (n: number, v: number | bigint): number[] => [...varint(n * 8), ...varint(v)];
export const str = (n: number, s: string): Uint8Array => len(n, new TextEncoder().encode(s));
const f32 = (n: number, v: number) => {
  const b = new Uint8Array(5);
  b[0] = n * 8 + 5;
  new DataView(b.buffer).setFloat32(1, v, true);
  return b;
};

export interface TensorSpec {
  name?: string;
  dims: number[];
  dataType?: number;
  raw?: ArrayBufferView;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  external?: Record<string, string>;
}

export function tensor(t: TensorSpec): Uint8Array {
  const parts: Bytes[] = t.dims.map((d) => int(1, d));
  parts.push(int(2, t.dataType ?? 1));
  if (t.name !== undefined) parts.push(str(8, t.name));
  if (t.raw) parts.push(len(9, new Uint8Array(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength)));
  if (t.floatData) {
    const b = new Uint8Array(t.floatData.length * 4);
    new Float32Array(b.buffer).set(t.floatData);
    parts.push(len(4, b));
  }
  if (t.int32Data) parts.push(len(5, t.int32Data.flatMap((v) => varint(v))));
  if (t.int64Data) parts.push(len(7, t.int64Data.flatMap((v) => varint(v))));
  if (t.external) {
    for (const [k, v] of Object.entries(t.external)) {
      parts.push(len(13, cat([str(1, k), str(2, v)])));
    }
    parts.push(int(14, 1));
  }
  return cat(parts);
}

/** A SparseTensorProto: `values` and `indices` are encoded TensorProtos. */
export function sparseTensor(values: Uint8Array, indices: Uint8Array, dims: number[]): Uint8Array {
  return cat([len(1, values), len(2, indices), ...dims.map((d) => int(3, d))]);
}

export type AttrValue = { i: number } | { f: number } | { ints: number[] } | { t: Uint8Array } | {
  g: Uint8Array;
};

export function attr(name: string, v: AttrValue): Uint8Array {
  if ("i" in v) return cat([str(1, name), int(20, 2), int(3, v.i)]);
  if ("f" in v) return cat([str(1, name), int(20, 1), f32(2, v.f)]);
  if ("ints" in v) return cat([str(1, name), int(20, 7), ...v.ints.map((x) => int(8, x))]);
  if ("t" in v) return cat([str(1, name), int(20, 4), len(5, v.t)]);
  return cat([str(1, name), int(20, 5), len(6, v.g)]);
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  name = "",
  attrs: Uint8Array[] = [],
): Uint8Array {
  return cat([
    ...inputs.map((i) => str(1, i)),
    ...outputs.map((o) => str(2, o)),
    ...(name ? [str(3, name)] : []),
    str(4, opType),
    ...attrs.map((a) => len(5, a)),
  ]);
}

export function valueInfo(name: string, dims: (number | string)[], elemType = 1): Uint8Array {
  const shape = cat(dims.map((d) => len(1, typeof d === "number" ? int(1, d) : str(2, d))));
  return cat([str(1, name), len(2, len(1, cat([int(1, elemType), len(2, shape)])))]);
}

export interface GraphSpec {
  name?: string;
  nodes: Uint8Array[];
  initializers?: Uint8Array[];
  sparseInitializers?: Uint8Array[];
  inputs?: Uint8Array[];
  outputs: Uint8Array[];
}

export function graph(g: GraphSpec): Uint8Array {
  return cat([
    ...g.nodes.map((n) => len(1, n)),
    str(2, g.name ?? "g"),
    ...(g.initializers ?? []).map((t) => len(5, t)),
    ...(g.sparseInitializers ?? []).map((t) => len(15, t)),
    ...(g.inputs ?? []).map((v) => len(11, v)),
    ...g.outputs.map((v) => len(12, v)),
  ]);
}

export function model(
  g: Uint8Array,
  opts: { opset?: number; metadata?: Record<string, string> } = {},
): Uint8Array {
  return cat([
    int(1, 8),
    str(2, "nncompress-test"),
    len(7, g),
    len(8, int(2, opts.opset ?? 17)),
    ...Object.entries(opts.metadata ?? {}).map(([k, v]) => len(14, cat([str(1, k), str(2, v)]))),
  ]);
}

export const f32s = (n: number, f: (i: number) => number): Float32Array =>
  new Float32Array(n).map((_, i) => f(i));
