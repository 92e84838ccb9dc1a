import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels as K } from "./reference.ts";
import type { QuantParams } from "./types.ts";

const f32 = (...xs: number[]) => new Float32Array(xs);
const bitsOf = (data: Float32Array) => [...new Uint32Array(data.buffer)];
const fround = Math.fround;

/** Per-tensor parameters for a 1-D tensor. */
function perTensor(scale: number, zeroPoint: number, qmin: number, qmax: number): QuantParams {
  return { kernel: [-1], scale: f32(scale), zeroPoint: f32(zeroPoint), qmin, qmax };
}

test("kSmallestMask() prunes the k smallest values, the lower index first on ties", () => {
  const metric = f32(0.5, 0.1, 0.3, 0.1, 0.1, 0.9);
  assert.deepEqual([...K.kSmallestMask(metric, 2)], [1, 0, 1, 0, 1, 1]);
  assert.deepEqual([...K.kSmallestMask(metric, 3)], [1, 0, 1, 0, 0, 1]);
  assert.deepEqual([...K.kSmallestMask(metric, 4)], [1, 0, 0, 0, 0, 1]);
});

test("kSmallestMask() treats -0 and +0 as equal and prunes NaN last", () => {
  const metric = f32(NaN, 0, -0, -Infinity, Infinity, NaN, -1);
  assert.deepEqual([...K.kSmallestMask(metric, 3)], [1, 0, 1, 0, 1, 1, 0]);
  assert.deepEqual([...K.kSmallestMask(metric, 4)], [1, 0, 0, 0, 1, 1, 0]);
  assert.deepEqual([...K.kSmallestMask(metric, 6)], [0, 0, 0, 0, 0, 1, 0]);
});

test("kSmallestMask() keeps everything for k = 0 and prunes everything for k = n", () => {
  const metric = f32(3, 1, 2);
  assert.deepEqual([...K.kSmallestMask(metric, 0)], [1, 1, 1]);
  assert.deepEqual([...K.kSmallestMask(metric, 3)], [0, 0, 0]);
  assert.deepEqual([...K.kSmallestMask(f32(), 0)], []);
});

test("kthSmallest() ranks the values of several arrays as if concatenated", () => {
  const arrays = [f32(5, -1), f32(), f32(3, NaN, 3), f32(-0)];
  const ranked = [0, 1, 2, 3, 4, 5].map((k) => K.kthSmallest(arrays, k));
  assert.deepEqual(ranked.slice(0, 5), [-1, 0, 3, 3, 5]);
  assert.ok(Object.is(ranked[1], 0)); // the -0 comes back as +0
  assert.ok(Number.isNaN(ranked[5]));
  assert.equal(K.kthSmallest([f32(0.1)], 0), fround(0.1));
});

test("histogram() counts values in equal-width bins and accumulates into out", () => {
  const data = f32(0, 0.25, 0.5, 0.75, 1, -1, 2, NaN, 0.2499);
  assert.deepEqual([...K.histogram(data, 0, 1, 4)], [2, 1, 1, 2]);
  const out = new Float64Array([10, 0, 0, 0]);
  const returned = K.histogram(f32(0.1, 0.9), 0, 1, 4, out);
  assert.equal(returned, out);
  assert.deepEqual([...out], [11, 0, 0, 1]);
  assert.deepEqual([...K.histogram(f32(-0, 3), 0, 3, 1)], [2]);
});

test("thresholdMask() keeps metric >= t compared exactly and prunes NaN", () => {
  const metric = f32(0.1, 0.2, NaN, -Infinity, Infinity, 0.05);
  // float32(0.1) = 0.100000001490116... is above the double 0.1
  assert.deepEqual([...K.thresholdMask(metric, 0.1)], [1, 1, 0, 0, 1, 0]);
  assert.deepEqual([...K.thresholdMask(metric, fround(0.1) + 1e-12)], [0, 1, 0, 0, 1, 0]);
  assert.deepEqual([...K.thresholdMask(metric, -Infinity)], [1, 1, 0, 1, 1, 1]);
  assert.deepEqual([...K.thresholdMask(metric, NaN)], [0, 0, 0, 0, 0, 0]);
});

test("blockReduce() reduces rows with kernel [1, -1]", () => {
  const data = f32(1, -2, 3, -4, 5, -6);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "sum")], [2, -5]);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "mean")], [
    fround(2 / 3),
    fround(-5 / 3),
  ]);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "l1")], [6, 15]);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "l2")], [
    fround(Math.sqrt(14)),
    fround(Math.sqrt(77)),
  ]);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "maxabs")], [3, 6]);
});

test("blockReduce() reduces columns with kernel [-1, 1] and tiles with kernel [2, 2]", () => {
  const data = f32(1, -2, 3, -4, 5, -6);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [-1, 1], "sum")], [-3, 3, -3]);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [-1, 1], "maxabs")], [4, 5, 6]);
  const tiles = f32(0, 1, 2, 3, 4, 5, 6, 7);
  assert.deepEqual([...K.blockReduce(tiles, [2, 4], [2, 2], "sum")], [10, 18]);
  assert.deepEqual([...K.blockReduce(tiles, [2, 4], [-1, -1], "mean")], [3.5]);
  assert.deepEqual([...K.blockReduce(f32(2), [], [], "l2")], [2]);
});

test("blockReduce() accumulates in float64 and gives NaN for a block with NaN", () => {
  // 2^24 + 1 + 1 is exact in float64; float32 accumulation would lose both ones.
  const data = f32(2 ** 24, 1, 1, NaN, 1, 1);
  assert.deepEqual([...K.blockReduce(data, [2, 3], [1, -1], "sum")].slice(0, 1), [2 ** 24 + 2]);
  const out = K.blockReduce(data, [2, 3], [1, -1], "maxabs");
  assert.ok(Number.isNaN(out[1]));
  assert.ok(Number.isNaN(K.blockReduce(f32(Infinity, -Infinity), [2], [-1], "sum")[0]));
  assert.equal(K.blockReduce(f32(3e38, 3e38), [2], [-1], "l2")[0], fround(Math.sqrt(2) * 3e38));
});

test("blockExpand() repeats each block value over its block", () => {
  const u8 = (...xs: number[]) => new Uint8Array(xs);
  assert.deepEqual([...K.blockExpand(u8(1, 0), [2, 3], [1, -1])], [1, 1, 1, 0, 0, 0]);
  assert.deepEqual([...K.blockExpand(u8(1, 0, 1), [2, 3], [-1, 1])], [1, 0, 1, 1, 0, 1]);
  assert.deepEqual(
    [...K.blockExpand(u8(1, 0, 0, 1), [4, 4], [2, 2])],
    [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1],
  );
});

test("minMax() gives each block's extremes, NaN for a block with NaN, +0 for zeros", () => {
  const data = f32(-0, 0, 3, NaN, -1, 2, -0, -0);
  const { min, max } = K.minMax(data, [4, 2], [1, -1]);
  assert.ok(Object.is(min[0], 0) && Object.is(max[0], 0));
  assert.ok(Number.isNaN(min[1]) && Number.isNaN(max[1]));
  assert.deepEqual([min[2], max[2]], [-1, 2]);
  assert.ok(Object.is(min[3], 0) && Object.is(max[3], 0));
  const whole = K.minMax(f32(Infinity, -Infinity), [2], [-1]);
  assert.deepEqual([whole.min[0], whole.max[0]], [-Infinity, Infinity]);
});

test("quantize() rounds halves to even and clamps to [qmin, qmax]", () => {
  const data = f32(0.25, 0.75, 1.25, -0.25, -0.75, 100, -100, 0.3);
  const codes = K.quantize(data, [8], perTensor(0.5, 0, -127, 127), new Int8Array(8));
  // x / s = 0.5, 1.5, 2.5, -0.5, -1.5, 200, -200, 0.6
  assert.deepEqual([...codes], [0, 2, 2, 0, -2, 127, -127, 1]);
});

test("quantize() adds the zero point in float32 and maps NaN to the zero point", () => {
  const params = perTensor(0.1, 128, 0, 255);
  const codes = K.quantize(f32(0.05, -0.05, NaN, 30, -30, 0.15), [6], params, new Uint8Array(6));
  // x / s in float32 is exactly 0.5, -0.5 and 1.5 for 0.05, -0.05 and 0.15: 128.5 -> 128,
  // 127.5 -> 128, 129.5 -> 130 (ties to even)
  assert.deepEqual([...codes], [128, 128, 128, 255, 0, 130]);
  const clampedZero = K.quantize(f32(NaN), [1], perTensor(1, 200, -128, 127), new Int16Array(1));
  assert.deepEqual([...clampedZero], [127]);
});

test("quantize() uses one scale and zero point per channel", () => {
  const params: QuantParams = {
    kernel: [1, -1],
    scale: f32(1, 2),
    zeroPoint: f32(0, -3),
    qmin: -8,
    qmax: 7,
  };
  const codes = K.quantize(f32(1.5, 2.5, 5, 9), [2, 2], params, new Int8Array(4));
  // row 0: 1.5 -> 2, 2.5 -> 2; row 1: 5 / 2 - 3 = -0.5 -> 0, 9 / 2 - 3 = 1.5 -> 2
  assert.deepEqual([...codes], [2, 2, 0, 2]);
});

test("quantize() clamps exactly to int32 bounds that float32 cannot hold", () => {
  const params = perTensor(1, 0, -(2 ** 31), 2 ** 31 - 1);
  const codes = K.quantize(f32(3e9, -3e9, 2 ** 31), [3], params, new Int32Array(3));
  assert.deepEqual([...codes], [2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 1]);
  const odd = perTensor(1, 0, 0, 16777217);
  assert.deepEqual([...K.quantize(f32(16777218), [1], odd, new Int32Array(1))], [16777217]);
});

test("dequantize() computes (q - zp) * s in float32", () => {
  const values = K.dequantize(new Uint8Array([0, 128, 255]), [3], perTensor(0.1, 128, 0, 255));
  assert.deepEqual([...values], [fround(-128 * fround(0.1)), 0, fround(127 * fround(0.1))]);
  // q is rounded to float32 first: 16777217 becomes 16777216
  const big = K.dequantize(new Int32Array([16777217]), [1], perTensor(1, 0, 0, 2 ** 30));
  assert.deepEqual([...big], [16777216]);
});

test("fakeQuantize() equals dequantize(quantize(x)) bit for bit", () => {
  const data = f32(-0.01, 0.26, 1.5, NaN, -Infinity, 3, -0, 0.749);
  const params = perTensor(0.25, 1, -4, 3);
  const codes = K.quantize(data, [8], params, new Int8Array(8));
  assert.deepEqual([...codes], [1, 2, 3, 1, -4, 3, 1, 3]);
  const twoStep = K.dequantize(codes, [8], params);
  const oneStep = K.fakeQuantize(data, [8], params);
  assert.deepEqual(bitsOf(oneStep), bitsOf(twoStep));
  assert.deepEqual([...oneStep], [0, 0.25, 0.5, 0, -1.25, 0.5, 0, 0.5]);
});

test("applyMask() multiplies by the mask or adds -1000 at pruned positions", () => {
  const data = f32(1.5, -2, NaN, -0, 3);
  const mask = new Uint8Array([1, 0, 0, 1, 0]);
  const mul = K.applyMask(data, mask, "mul");
  assert.ok(Object.is(mul[0], 1.5) && Object.is(mul[1], -0) && Number.isNaN(mul[2]));
  assert.ok(Object.is(mul[3], -0) && Object.is(mul[4], 0));
  const add = K.applyMask(data, mask, "add");
  assert.ok(Object.is(add[0], 1.5) && add[1] === -1002 && Number.isNaN(add[2]));
  assert.ok(Object.is(add[3], 0) && add[4] === -997); // a kept -0 becomes +0
});

test("f32ToF16() and f16ToF32() convert known values and keep NaN payloads", () => {
  const data = f32(1, 65504, 2 ** -24, 1 + 2 ** -11, -0, 70000);
  assert.deepEqual([...K.f32ToF16(data)], [0x3c00, 0x7bff, 0x0001, 0x3c00, 0x8000, 0x7c00]);
  const back = K.f16ToF32(new Uint16Array([0x3c00, 0x0001, 0xfc00, 0x7e01]));
  assert.deepEqual(bitsOf(back), [0x3f800000, 0x33800000, 0xff800000, 0x7fc02000]);
});

test("f32ToBf16() and bf16ToF32() convert known values", () => {
  const data = new Float32Array(
    new Uint32Array([0x3f808000, 0x3f818000, 0x7f7fffff, 0xffa00000]).buffer,
  );
  assert.deepEqual([...K.f32ToBf16(data)], [0x3f80, 0x3f82, 0x7f80, 0xffe0]);
  assert.deepEqual(bitsOf(K.bf16ToF32(new Uint16Array([0x3f80, 0xffe0]))), [
    0x3f800000,
    0xffe00000,
  ]);
});

test("packInt4() packs two's complement nibbles low first and pads an odd tail", () => {
  const packed = K.packInt4(new Int8Array([-8, 7, -1, 0, 3]));
  assert.deepEqual([...packed], [0x78, 0x0f, 0x03]);
  assert.deepEqual([...K.packInt4(new Uint8Array([15, 0, 1]))], [0x0f, 0x01]);
  assert.deepEqual([...K.packInt4(new Int8Array([]))], []);
});

test("unpackInt4() sign-extends signed nibbles and inverts packInt4()", () => {
  const packed = new Uint8Array([0x78, 0x0f, 0x03]);
  const signed = K.unpackInt4(packed, 5, true);
  assert.ok(signed instanceof Int8Array);
  assert.deepEqual([...signed], [-8, 7, -1, 0, 3]);
  const unsigned = K.unpackInt4(packed, 6, false);
  assert.ok(unsigned instanceof Uint8Array);
  assert.deepEqual([...unsigned], [8, 7, 15, 0, 3, 0]);
  assert.deepEqual([...K.unpackInt4(packed, 0, true)], []);
});

test("the reference kernels never mutate their inputs", () => {
  const data = f32(3, -1, 2, NaN);
  const copy = data.slice();
  K.kSmallestMask(data, 2);
  K.kthSmallest([data], 1);
  K.blockReduce(data, [2, 2], [1, -1], "l2");
  K.fakeQuantize(data, [4], perTensor(0.5, 0, -8, 7));
  K.f32ToF16(data);
  assert.deepEqual(bitsOf(data), bitsOf(copy));
});
