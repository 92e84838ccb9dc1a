import { test } from "node:test";
import assert from "node:assert/strict";
import { floatTypeOf, scaleBytes, scaleStorage, valueFloatTypes } from "./_float_storage.ts";

const F32 = 1;
const F16 = 10;
const BF16 = 16;

const node = (opType: string, inputs: string[], outputs: string[], to?: number) => ({
  opType,
  inputs,
  outputs,
  attributes: to === undefined ? [] : [{ name: "to", i: to }],
});

test("scaleStorage() keeps float16 scales only when float16 holds them", () => {
  assert.deepEqual(scaleStorage(F32, [1e-9]), { scaleType: F32, cast: false });
  assert.deepEqual(scaleStorage(F16, [0.01, 2 ** -14, 65504]), { scaleType: F16, cast: false });
  // NNI's scale of an all-zero block, 2^-23, is a float16 subnormal held exactly.
  assert.deepEqual(scaleStorage(F16, [0.01, 2 ** -23]), { scaleType: F16, cast: false });
  assert.deepEqual(scaleStorage(F16, [0.01, 1e-6]), { scaleType: F32, cast: true });
  assert.deepEqual(scaleStorage(F16, [70000]), { scaleType: F32, cast: true });
  assert.deepEqual(scaleStorage(BF16, [0.5]), { scaleType: F32, cast: true });
});

test("scaleBytes() writes scales in their type", () => {
  assert.deepEqual([...scaleBytes(Float32Array.of(1, -2), F16)], [0x00, 0x3c, 0x00, 0xc0]);
  assert.deepEqual([...scaleBytes(Float32Array.of(1), BF16)], [0x80, 0x3f]);
  assert.deepEqual([...scaleBytes(Float32Array.of(1), F32)], [0, 0, 0x80, 0x3f]);
  assert.deepEqual(["F32", "F16", "BF16", "I8"].map((d) => floatTypeOf(d as never)), [
    F32,
    F16,
    BF16,
    undefined,
  ]);
});

test("valueFloatTypes() follows Casts, shared-type operators and graph inputs read beside weights", () => {
  const types = valueFloatTypes({
    initializers: [
      { name: "w", dataType: F16 },
      { name: "roi", dataType: F32 },
      { name: "scales", dataType: F32 },
    ],
    nodes: [
      node("Relu", ["x"], ["r"]),
      node("Conv", ["r", "w"], ["c"]),
      node("Resize", ["c", "roi", "scales"], ["up"]),
      node("Shape", ["up"], ["s"]),
      node("Cast", ["up"], ["up32"], F32),
      node("Cast", ["y"], ["y16"], BF16),
      node("Add", ["y16", "y16"], ["sum"]),
      node("If", ["cond"], ["branch"]),
    ],
  });
  assert.equal(types.get("x"), F16); // Relu's input, from the Conv's float16 weight
  assert.equal(types.get("r"), F16);
  assert.equal(types.get("up"), F16); // Resize keeps its data's type, not the scales'
  assert.equal(types.get("s"), 0);
  assert.equal(types.get("up32"), F32);
  assert.equal(types.get("sum"), BF16);
  assert.equal(types.get("branch"), undefined);
  assert.equal(types.get("y"), undefined);
});
