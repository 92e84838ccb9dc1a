import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "./read_safetensors.ts";
import { openSafetensors } from "./open_safetensors.ts";
import { type SafetensorsInput, streamSafetensors, writeSafetensors } from "./write_safetensors.ts";
import { bytesSource } from "../random_access.ts";
import { type DType, DTYPE_BYTES } from "../../tensor/dtype.ts";

const ALL = Object.keys(DTYPE_BYTES) as DType[];

function sample(dtype: DType, shape: number[]): SafetensorsInput {
  const n = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 37 + dtype.length) & 0xff;
  return { name: `t.${dtype}`, dtype, shape, data };
}

test("writeSafetensors() and readSafetensors() round-trip every dtype byte for byte", () => {
  const inputs = ALL.map((d, i) => sample(d, [i % 3 + 1, 3]));
  const file = readSafetensors(writeSafetensors(inputs));
  assert.equal(file.tensors.length, ALL.length);
  for (const input of inputs) {
    const t = file.tensors.find((x) => x.name === input.name)!;
    assert.equal(t.dtype, input.dtype);
    assert.deepEqual(t.shape, input.shape);
    assert.deepEqual(t.data, input.data);
  }
});

test("writeSafetensors() pads the header to 8 bytes and aligns every tensor to its size", () => {
  const bytes = writeSafetensors([sample("U8", [3]), sample("F64", [2]), sample("I16", [1])]);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  assert.equal(bytes[8 + n - 1], 0x20);
  for (const t of readSafetensors(bytes).tensors) {
    assert.equal((t.data.byteOffset - 8 - n) % DTYPE_BYTES[t.dtype], 0);
  }
});

test("writeSafetensors() output does not depend on the input order", () => {
  const a = [sample("F32", [2]), sample("I8", [5]), sample("BF16", [3])];
  assert.deepEqual(writeSafetensors(a), writeSafetensors([...a].reverse()));
});

test("writeSafetensors() keeps __metadata__ and readSafetensors() returns it", () => {
  const bytes = writeSafetensors([sample("F32", [1])], { metadata: { format: "pt", note: "ü" } });
  assert.deepEqual({ ...readSafetensors(bytes).metadata }, { format: "pt", note: "ü" });
});

test("readSafetensors() reads a file laid out like the reference implementation writes it", () => {
  const json =
    '{"__metadata__":{"format":"pt"},"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  const header = new TextEncoder().encode(json.padEnd(Math.ceil(json.length / 8) * 8, " "));
  const bytes = new Uint8Array(8 + header.length + 16);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
  bytes.set(header, 8);
  new Int32Array(bytes.buffer, 8 + header.length, 4).set([1, -2, 3, -4]);
  const [t] = readSafetensors(bytes).tensors;
  assert.deepEqual(t.shape, [2, 2]);
  assert.deepEqual([...new Int32Array(t.data.slice().buffer)], [1, -2, 3, -4]);
});

test("readSafetensors() accepts zero-size tensors and scalars", () => {
  const bytes = writeSafetensors([
    { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
    { name: "scalar", dtype: "I64", shape: [], data: new BigInt64Array([-5n]) },
  ]);
  const { tensors } = readSafetensors(bytes);
  assert.equal(tensors.find((t) => t.name === "empty")!.data.length, 0);
  assert.equal(tensors.find((t) => t.name === "scalar")!.data.length, 8);
});

test("openSafetensors() reads each tensor lazily with the same bytes as readSafetensors()", async () => {
  const inputs = ALL.map((d) => sample(d, [2, 2]));
  const bytes = writeSafetensors(inputs, { metadata: { a: "b" } });
  const reads: [number, number][] = [];
  const src = bytesSource(bytes);
  const lazy = await openSafetensors({
    size: src.size,
    read: (o, l) => (reads.push([o, l]), src.read(o, l)),
  });
  assert.equal(reads.length, 2);
  assert.equal(lazy.metadata.a, "b");
  const eager = readSafetensors(bytes);
  for (const t of eager.tensors) assert.deepEqual(await lazy.read(t.name), t.data);
  await assert.rejects(lazy.read("missing"), RangeError);
});

test("streamSafetensors() writes the same bytes as writeSafetensors(), one tensor at a time", async () => {
  const inputs = ALL.map((d) => sample(d, [3]));
  const chunks: Uint8Array[] = [];
  const produced: string[] = [];
  const n = await streamSafetensors(
    inputs.map((t) => ({ ...t, data: () => (produced.push(t.name), t.data) })),
    { write: (c) => void chunks.push(c.slice()) },
    { metadata: { k: "v" } },
  );
  const joined = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) (joined.set(c, at), at += c.length);
  assert.deepEqual(joined, writeSafetensors(inputs, { metadata: { k: "v" } }));
  assert.equal(chunks.length, inputs.length + 1);
  assert.equal(produced.length, inputs.length);
});

test("writeSafetensors() rejects duplicate names, bad shapes and data of the wrong length", () => {
  const t = sample("F32", [2]);
  assert.throws(() => writeSafetensors([t, t]), TypeError);
  assert.throws(() => writeSafetensors([{ ...t, name: "__metadata__" }]), TypeError);
  assert.throws(() => writeSafetensors([{ ...t, shape: [-1] }]), RangeError);
  assert.throws(() => writeSafetensors([{ ...t, shape: [3] }]), RangeError);
  assert.throws(() => writeSafetensors([{ ...t, dtype: "F128" as DType }]), TypeError);
});

function referenceFile(json: string, data: Uint8Array): Uint8Array {
  const padded = json.padEnd(Math.ceil(json.length / 8) * 8, " ");
  const out = new Uint8Array(8 + padded.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded.length), true);
  out.set(new TextEncoder().encode(padded), 8);
  out.set(data, 8 + padded.length);
  return out;
}

test("writeSafetensors() writes the same bytes as the reference serializer", () => {
  const data = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
  assert.deepEqual(
    writeSafetensors([{ name: "attn.0", dtype: "F32", shape: [1, 2, 3], data }]),
    referenceFile('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', data),
  );
  assert.deepEqual(
    writeSafetensors([{ name: "attn0", dtype: "F32", shape: [1, 1, 2, 3], data }]),
    referenceFile('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}', data),
  );
  assert.deepEqual(writeSafetensors([]), referenceFile("{}", new Uint8Array(0)));
  assert.deepEqual(
    writeSafetensors([], { metadata: { framework: "pt" } }),
    referenceFile('{"__metadata__":{"framework":"pt"}}', new Uint8Array(0)),
  );
});

test("writeSafetensors() orders tensors by dtype like the reference, then by name", () => {
  const t = (name: string, dtype: DType) => ({ ...sample(dtype, [1]), name });
  const bytes = writeSafetensors([
    t("b", "I32"),
    t("a", "I32"),
    t("z", "F32"),
    t("h", "BF16"),
    t("f", "F16"),
    t("u", "U64"),
  ]);
  assert.deepEqual(readSafetensors(bytes).tensors.map((x) => x.name), [
    "u",
    "z",
    "a",
    "b",
    "h",
    "f",
  ]);
});

test("readSafetensors() reads a null __metadata__ as none and keeps odd tensor names", () => {
  const json = '{"__metadata__":null,"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  const file = readSafetensors(referenceFile(json, new Uint8Array([9])));
  assert.deepEqual(Object.keys(file.metadata), []);
  assert.deepEqual(file.tensors.map((t) => [t.name, t.data[0]]), [["__proto__", 9]]);
  const again = readSafetensors(writeSafetensors(file.tensors));
  assert.equal(again.tensors[0].name, "__proto__");
});
