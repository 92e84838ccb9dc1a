import { test } from "node:test";
import assert from "node:assert/strict";
import { castInput, inputFeeds, parseInputSpec } from "./input_feeds.ts";
import type { GraphValueType } from "../io/onnx/graph_value_types.ts";

const input = (name: string, type: GraphValueType["type"], dims: GraphValueType["dims"]) =>
  ({ name, elemType: 0, type, dims }) as GraphValueType;

test("inputFeeds() fills every input type with values that fit it", () => {
  const feeds = inputFeeds([
    input("f", "float32", ["n", 4]),
    input("h", "float16", ["n", 4]),
    input("ids", "int64", ["n", 4]),
    input("i", "int32", ["n", 4]),
    input("px", "uint8", ["n", 4]),
    input("mask", "bool", ["n", 4]),
  ], { f: { dims: [2, 4] } });
  assert.ok(feeds.f.data instanceof Float32Array);
  assert.ok([...feeds.f.data].every((v) => v >= -1 && v < 1));
  assert.equal(feeds.h.type, "float16");
  assert.ok(feeds.h.data instanceof Uint16Array);
  assert.ok(feeds.ids.data instanceof BigInt64Array);
  assert.ok([...feeds.ids.data].every((v) => v >= 0n && v <= 9n));
  assert.ok(feeds.i.data instanceof Int32Array);
  assert.ok(feeds.px.data instanceof Uint8Array && feeds.px.type === undefined);
  assert.ok([...feeds.px.data].some((v) => v > 9), "uint8 spans [0, 255]");
  assert.equal(feeds.mask.type, "bool");
  assert.ok([...feeds.mask.data].every((v) => v === 0 || v === 1));
  for (const t of Object.values(feeds)) assert.deepEqual(t.dims, [2, 4]);
});

test("inputFeeds() binds dims by name, defaults dim-0 names to the batch and others to 16", () => {
  const inputs = [
    input("x", "float32", ["batch", "time"]),
    input("state", "float32", [2, "batch", 128]),
    input("pos", "int64", [1, "time"]),
  ];
  const a = inputFeeds(inputs);
  assert.deepEqual([a.x.dims, a.state.dims, a.pos.dims], [[8, 16], [2, 8, 128], [1, 16]]);
  const b = inputFeeds(inputs, { state: { dims: [2, 3, 128], fill: "ones" } }, {
    dims: { time: 5 },
  });
  assert.deepEqual([b.x.dims, b.state.dims, b.pos.dims], [[3, 5], [2, 3, 128], [1, 5]]);
  assert.ok([...b.state.data].every((v) => v === 1));
  assert.throws(
    () => inputFeeds(inputs, { state: { dims: [3, 3, 128] } }),
    /input "state" has shape \[2,"batch",128\] in the model, dim 0 is fixed: current value is \[3,3,128\]/,
  );
  assert.throws(() => inputFeeds(inputs, { nope: { fill: 1 } }), /names no input/);
  assert.throws(
    () => inputFeeds([input("s", "float32", undefined)]),
    /input "s" has no shape in the model/,
  );
  assert.throws(
    () => inputFeeds([input("t", undefined, [1])]),
    /cannot be fed from JavaScript/,
  );
});

test("inputFeeds() takes data of another numeric type when it converts without rounding", () => {
  const [sr] = [input("sr", "int64", [])];
  const f = inputFeeds([sr], { sr: { data: Int32Array.of(16000), dims: [] } });
  assert.deepEqual([...f.sr.data], [16000n]);
  assert.throws(
    () => inputFeeds([sr], { sr: { data: Float32Array.of(16000), dims: [] } }),
    /input "sr" must be int64: current value is float32/,
  );
  const h = castInput({ data: Float32Array.of(1, -2), dims: [2] }, "float16", "h");
  assert.deepEqual([...h.data], [0x3c00, 0xc000]);
  assert.throws(() => inputFeeds([sr], { sr: { fill: 0.5 } }), /int64 input takes integers/);
  const big = inputFeeds([sr], { sr: parseInputSpec("sr=9007199254740993").spec as never });
  assert.deepEqual([...big.sr.data], [9007199254740993n]);
});

test("parseInputSpec() reads fills, shapes, types and files in any order, and refuses the rest", () => {
  assert.deepEqual(parseInputSpec("state=zeros:2,1,128").spec, {
    fill: "zeros",
    dims: [2, 1, 128],
  });
  assert.deepEqual(parseInputSpec("m=bool:[4]:ones").spec, {
    fill: "ones",
    dims: [4],
    type: "bool",
  });
  assert.deepEqual(parseInputSpec("s=[]:-0.5").spec, { fill: -0.5, dims: [] });
  assert.deepEqual(parseInputSpec("x=@data/x.bin").spec, { file: "data/x.bin" });
  assert.deepEqual(parseInputSpec("x=@a.safetensors#t").spec, {
    file: "a.safetensors",
    tensor: "t",
  });
  assert.throws(() => parseInputSpec("=1,2"), /NAME=SPEC/);
  assert.throws(() => parseInputSpec("x=zeros:ones"), /gives the values twice/);
  assert.throws(() => parseInputSpec("x=1,2:3,4"), /gives a shape twice/);
  assert.throws(() => parseInputSpec("x=foo"), /"foo" is not a fill/);
});
