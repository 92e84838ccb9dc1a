import { test } from "node:test";
import assert from "node:assert/strict";
import { keyToValue, orderKey, orderKeys } from "./_order.ts";

const f32Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

test("orderKey() sorts float32 values in IEEE order with NaN after +Infinity", () => {
  const ascending = [
    -Infinity,
    -3.4028234663852886e38,
    -1,
    -(2 ** -149),
    0,
    2 ** -149,
    2 ** -126,
    1,
    1.0000001192092896,
    3.4028234663852886e38,
    Infinity,
    NaN,
  ];
  const keys = ascending.map((x) => orderKey(f32Bits(x)));
  for (let i = 1; i < keys.length; i++) {
    assert.ok(keys[i - 1] < keys[i], `${ascending[i - 1]} < ${ascending[i]}`);
  }
});

test("orderKey() gives -0 and +0 one key and every NaN one key", () => {
  assert.equal(orderKey(0x80000000), orderKey(0));
  const nan = orderKey(0x7fc00000);
  for (const bits of [0x7f800001, 0xffc00000, 0xffffffff, 0x7fffffff, 0x7fa00000]) {
    assert.equal(orderKey(bits), nan, bits.toString(16));
  }
  assert.equal(orderKey(0x3f800000), 0xbf800000); // 1.0: sign bit set
  assert.equal(orderKey(0xbf800000), 0x407fffff); // -1.0: all bits flipped
});

test("keyToValue() inverts orderKey() and returns +0 for zeros", () => {
  for (const x of [-Infinity, -1.5, -(2 ** -149), 0.25, 65504, Infinity]) {
    assert.equal(keyToValue(orderKey(f32Bits(x))), x);
  }
  assert.ok(Object.is(keyToValue(orderKey(0x80000000)), 0));
  assert.ok(Number.isNaN(keyToValue(orderKey(0xffc00001))));
});

test("orderKeys() reads the bits of a Float32Array view at an offset", () => {
  const data = new Float32Array([9, -1, -0, 2]).subarray(1);
  assert.deepEqual([...orderKeys(data)], [orderKey(0xbf800000), 0x80000000, orderKey(0x40000000)]);
});
