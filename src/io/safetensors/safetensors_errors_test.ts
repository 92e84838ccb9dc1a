import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "./read_safetensors.ts";
import { openSafetensors } from "./open_safetensors.ts";
import { ModelFormatError } from "../model_format_error.ts";

function file(header: string | object, dataBytes = 0, lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const bytes = new Uint8Array(8 + json.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  bytes.set(json, 8);
  return bytes;
}

function fails(bytes: Uint8Array, field: string, pattern: RegExp, offset?: number): void {
  assert.throws(() => readSafetensors(bytes, { file: "bad.safetensors" }), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.equal(e.file, "bad.safetensors");
    assert.equal(e.field, field);
    if (offset !== undefined) assert.equal(e.offset, offset);
    assert.match(e.message, pattern);
    assert.match(e.message, /bad\.safetensors/);
    return true;
  });
}

const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
  dtype: "F32",
  shape,
  data_offsets: [begin, end],
});

test("readSafetensors() rejects a file shorter than the 8-byte length", () => {
  fails(new Uint8Array(5), "header length", /shorter than the 8-byte/, 0);
});

test("readSafetensors() rejects a header length larger than the file", () => {
  fails(file({}, 0, 1000n), "header length", /exceeds the 2 bytes/);
});

test("readSafetensors() rejects a huge header length without allocating it", () => {
  fails(file({}, 0, 2n ** 63n), "header length", /exceeds the limit/);
});

test("readSafetensors() rejects a header that is not JSON", () => {
  fails(file("{not json}"), "header", /not UTF-8 JSON/, 8);
  fails(file("[1, 2]"), "header", /must be a JSON object/, 8);
});

test("readSafetensors() rejects a truncated data section", () => {
  fails(file({ a: f32(0, 16) }, 12), "a", /data section has 12 bytes/);
});

test("readSafetensors() rejects overlapping offsets and names the tensor and its byte offset", () => {
  const header = { a: f32(0, 8), b: f32(4, 12) };
  const bytes = file(header, 12);
  const at = 8 + JSON.stringify(header).indexOf('"b"');
  fails(bytes, "b", /overlaps the previous tensor/, at);
});

test("readSafetensors() rejects offsets out of range and gaps between tensors", () => {
  fails(file({ a: f32(0, 8), b: f32(8, 16) }, 8), "b", /data section has 8 bytes/);
  fails(file({ a: f32(0, 4), b: f32(8, 12) }, 12), "b", /leaves a gap/);
  fails(file({ a: f32(8, 4, [1]) }, 8), "a", /0 <= begin <= end/);
});

test("readSafetensors() rejects dims whose product overflows", () => {
  fails(file({ a: f32(0, 4, [2 ** 40, 2 ** 40]) }, 4), "a", /safe integer/);
  fails(file({ a: f32(0, 4, [-1]) }, 4), "a", /non-negative integers/);
});

test("readSafetensors() rejects a shape whose size does not match data_offsets", () => {
  fails(file({ a: f32(0, 8, [3]) }, 8), "a", /needs 12/);
});

test("readSafetensors() rejects unknown dtypes and a bad __metadata__", () => {
  fails(
    file({ a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16),
    "a",
    /unknown dtype "F128"/,
  );
  fails(file({ __metadata__: { a: 1 } }), "__metadata__", /object of strings/);
  fails(file({ a: [1] }), "a", /must be an object/);
});

test("openSafetensors() reports a truncated source as a ModelFormatError", async () => {
  const bytes = file({ a: f32(0, 8) }, 8);
  const source = {
    size: bytes.length,
    read: (o: number, l: number) => bytes.subarray(o, Math.min(o + l, 10)),
  };
  await assert.rejects(openSafetensors(source, { file: "t.safetensors" }), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.equal(e.field, "header");
    assert.equal(e.offset, 8);
    return true;
  });
});
