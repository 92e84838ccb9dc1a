import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeFloat32, type HalfDecoders } from "./decode_float32.ts";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./float16.ts";

// More values than one decoding chunk (2^20), and fewer.
for (const n of [5, 2 ** 20 + 37]) {
  const values = Float32Array.from({ length: n }, (_, i) => ((i % 997) - 498) / 7);
  for (const dtype of ["F16", "BF16"] as const) {
    const bits = dtype === "F16" ? f32ToF16(values) : f32ToBf16(values);
    const bytes = new Uint8Array(bits.buffer);
    const want = dtype === "F16" ? f16ToF32(bits) : bf16ToF32(bits);
    test(`decodeFloat32 ${dtype} of ${n} values: into a new array, into out, and by decoders that ignore out`, () => {
      assert.deepEqual(decodeFloat32(bytes, dtype), want);
      const out = new Float32Array(n).fill(NaN);
      assert.equal(decodeFloat32(bytes, dtype, undefined, out), out);
      assert.deepEqual(out, want);
      // A decoder written before `out` existed: it returns new arrays.
      const plain: HalfDecoders = { f16ToF32: (b) => f16ToF32(b), bf16ToF32: (b) => bf16ToF32(b) };
      assert.deepEqual(decodeFloat32(bytes, dtype, plain), want);
      const again = new Float32Array(n);
      assert.deepEqual(decodeFloat32(bytes, dtype, plain, again), want);
      assert.throws(
        () => decodeFloat32(bytes, dtype, undefined, new Float32Array(n + 1)),
        RangeError,
      );
    });
  }
}

test("decodeFloat32 into out for the other types: the values of a new array", () => {
  const bytes = new Uint8Array(new Int16Array([1, -2, 300]).buffer);
  const out = new Float32Array(3);
  assert.equal(decodeFloat32(bytes, "I16", undefined, out), out);
  assert.deepEqual([...out], [1, -2, 300]);
});
