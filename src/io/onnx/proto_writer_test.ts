import { test } from "node:test";
import assert from "node:assert/strict";
import {
  attributeProto,
  concat,
  floatField,
  intField,
  lenField,
  lenHeader,
  nodeProto,
  opsetProto,
  tensorProto,
  valueInfoProto,
  varint,
} from "./proto_writer.ts";

const bytes = (b: Uint8Array | number[]) => [...b];

test("varint() writes 7-bit groups, low first, and negatives as ten-byte int64", () => {
  assert.deepEqual(varint(0), [0]);
  assert.deepEqual(varint(127), [127]);
  assert.deepEqual(varint(128), [0x80, 0x01]);
  assert.deepEqual(varint(300), [0xac, 0x02]);
  assert.deepEqual(varint(2 ** 32), [0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.deepEqual(varint(2 ** 53 - 1), [255, 255, 255, 255, 255, 255, 255, 15]);
  assert.deepEqual(varint(-1), [255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  assert.deepEqual(varint(-2), [254, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
});

test("concat() joins arrays and Uint8Arrays in order", () => {
  assert.deepEqual(bytes(concat([])), []);
  assert.deepEqual(bytes(concat([[1, 2], new Uint8Array([3]), [], new Uint8Array(0)])), [1, 2, 3]);
});

test("lenField() writes tag, length and payload; strings are UTF-8", () => {
  assert.deepEqual(bytes(lenField(1, "ab")), [0x0a, 2, 97, 98]);
  assert.deepEqual(bytes(lenField(9, new Uint8Array([1, 2, 3]))), [0x4a, 3, 1, 2, 3]);
  assert.deepEqual(bytes(lenField(13, "é")), [0x6a, 2, 0xc3, 0xa9]);
  assert.deepEqual(bytes(lenField(16, "")), [0x82, 0x01, 0]);
  const long = lenField(2, new Uint8Array(200));
  assert.deepEqual(bytes(long.subarray(0, 3)), [0x12, 0xc8, 0x01]);
  assert.equal(long.length, 203);
  assert.deepEqual(lenHeader(9, 200), [0x4a, 0xc8, 0x01]);
});

test("intField() and floatField() write varint and fixed32 fields", () => {
  assert.deepEqual(bytes(intField(1, 5)), [0x08, 5]);
  assert.deepEqual(bytes(intField(20, 7)), [0xa0, 0x01, 7]);
  assert.deepEqual(bytes(intField(3, -1)), [0x18, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1]);
  assert.deepEqual(bytes(floatField(2, 1)), [0x15, 0, 0, 0x80, 0x3f]);
  assert.deepEqual(bytes(floatField(16, -2)), [0x85, 0x01, 0, 0, 0, 0xc0]);
});

test("attributeProto() writes name, value and type for INT, FLOAT, INTS and TENSOR", () => {
  assert.deepEqual(bytes(attributeProto({ name: "axis", i: 1 })), [
    ...[0x0a, 4, 97, 120, 105, 115],
    ...[0x18, 1],
    ...[0xa0, 0x01, 2],
  ]);
  assert.deepEqual(bytes(attributeProto({ name: "a", f: 0.5 })), [
    ...[0x0a, 1, 97],
    ...[0x15, 0, 0, 0, 0x3f],
    ...[0xa0, 0x01, 1],
  ]);
  assert.deepEqual(bytes(attributeProto({ name: "p", ints: [0, 2] })), [
    ...[0x0a, 1, 112],
    ...[0x40, 0, 0x40, 2],
    ...[0xa0, 0x01, 7],
  ]);
  const t = { name: "", dataType: 1, dims: [1], raw: new Uint8Array([0, 0, 128, 63]) };
  assert.deepEqual(bytes(attributeProto({ name: "value", t })), [
    ...[0x0a, 5, 118, 97, 108, 117, 101],
    ...[0x2a, 12, 0x08, 1, 0x10, 1, 0x42, 0, 0x4a, 4, 0, 0, 128, 63],
    ...[0xa0, 0x01, 4],
  ]);
});

test("nodeProto() writes inputs, outputs, name, op type, attributes, then a domain if set", () => {
  assert.deepEqual(
    bytes(nodeProto({ name: "n", opType: "Mul", inputs: ["x", "m"], outputs: ["y"] })),
    [
      ...[0x0a, 1, 120, 0x0a, 1, 109],
      ...[0x12, 1, 121],
      ...[0x1a, 1, 110],
      ...[0x22, 3, 77, 117, 108],
    ],
  );
  const withAll = nodeProto({
    name: "n",
    opType: "Op",
    domain: "com.x",
    inputs: [],
    outputs: ["y"],
    attributes: [{ name: "k", i: 3 }],
  });
  assert.deepEqual(bytes(withAll), [
    ...[0x12, 1, 121],
    ...[0x1a, 1, 110],
    ...[0x22, 2, 79, 112],
    ...[0x2a, 8, 0x0a, 1, 107, 0x18, 3, 0xa0, 0x01, 2],
    ...[0x3a, 5, 99, 111, 109, 46, 120],
  ]);
  const emptyDomain = nodeProto({ name: "n", opType: "Op", domain: "", inputs: [], outputs: [] });
  assert.deepEqual(bytes(emptyDomain), [0x1a, 1, 110, 0x22, 2, 79, 112]);
});

test("tensorProto() writes dims, data type, name and raw_data", () => {
  assert.deepEqual(bytes(tensorProto("w", 1, [2, 300], new Uint8Array([9, 8]))), [
    ...[0x08, 2, 0x08, 0xac, 0x02],
    ...[0x10, 1],
    ...[0x42, 1, 119],
    ...[0x4a, 2, 9, 8],
  ]);
  assert.deepEqual(bytes(tensorProto("s", 7, [], new Uint8Array(0))), [
    ...[0x10, 7],
    ...[0x42, 1, 115],
    ...[0x4a, 0],
  ]);
});

test("valueInfoProto() writes a tensor type with dim_value and dim_param dims", () => {
  assert.deepEqual(bytes(valueInfoProto("x", 1, ["N", 3])), [
    ...[0x0a, 1, 120],
    0x12,
    15, // TypeProto
    0x0a,
    13, // tensor_type
    ...[0x08, 1], // elem_type
    0x12,
    9, // shape
    ...[0x0a, 3, 0x12, 1, 78], // dim_param "N"
    ...[0x0a, 2, 0x08, 3], // dim_value 3
  ]);
  assert.deepEqual(bytes(valueInfoProto("s", 7, [])), [
    ...[0x0a, 1, 115],
    ...[0x12, 6, 0x0a, 4, 0x08, 7, 0x12, 0],
  ]);
});

test("opsetProto() writes domain and version", () => {
  assert.deepEqual(bytes(opsetProto("", 17)), [0x0a, 0, 0x10, 17]);
  assert.deepEqual(bytes(opsetProto("com.microsoft", 1)), [
    ...[0x0a, 13, ...new TextEncoder().encode("com.microsoft")],
    ...[0x10, 1],
  ]);
});
