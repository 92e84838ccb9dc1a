/**
 * The fixed cases of the kernel conformance suite: hand-computed examples, argument errors
 * (compared with `referenceKernels`), fresh outputs, and million-element inputs compared with
 * `referenceKernels`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { referenceKernels as ref } from "../../src/kernels/reference.ts";
import type { Kernels, QuantParams } from "../../src/kernels/types.ts";
import { FLOAT_TOLERANCE, REDUCTIONS } from "../../src/kernels/types.ts";
import type { ConformanceCase } from "./_properties.ts";
import { bitsOf, randomFloat32Array, sameFloat } from "./_prng.ts";
import { withinTolerance } from "./_truths.ts";

const f32 = (...xs: number[]) => new Float32Array(xs);
const u8 = (...xs: number[]) => new Uint8Array(xs);
const fround = Math.fround;
// deno-lint-ignore no-explicit-any
const bad = (x: unknown) => x as any;

function perTensor(scale: number, zeroPoint: number, qmin: number, qmax: number): QuantParams {
  return { kernel: [-1], scale: f32(scale), zeroPoint: f32(zeroPoint), qmin, qmax };
}

/** Asserts equal lengths and elements (NaN equal to NaN), naming the first difference. */
function assertSameArray(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!sameFloat(got[i], want[i])) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

function example(sentence: string, run: (kernels: Kernels) => void): ConformanceCase {
  return { sentence, run };
}

/** Bad calls, one argument wrong in each; every implementation must throw like the reference. */
const BAD_CALLS: ReadonlyArray<[string, (k: Kernels) => unknown]> = [
  ["metric type", (k) => k.kSmallestMask(bad(new Float64Array(3)), 1)],
  ["k above n", (k) => k.kSmallestMask(f32(1, 2, 3), 4)],
  ["k negative", (k) => k.kSmallestMask(f32(1, 2, 3), -1)],
  ["k fraction", (k) => k.kSmallestMask(f32(1, 2, 3), 0.5)],
  ["arrays not an array", (k) => k.kthSmallest(bad(f32(1)), 0)],
  ["arrays entry type", (k) => k.kthSmallest([f32(1), bad([2])], 0)],
  ["arrays empty", (k) => k.kthSmallest([f32()], 0)],
  ["rank k = total", (k) => k.kthSmallest([f32(1), f32(2)], 2)],
  ["lo NaN", (k) => k.histogram(f32(1), NaN, 1, 4)],
  ["lo = hi", (k) => k.histogram(f32(1), 1, 1, 4)],
  ["bins 0", (k) => k.histogram(f32(1), 0, 1, 0)],
  ["bins fraction", (k) => k.histogram(f32(1), 0, 1, 2.5)],
  ["histogram out type", (k) => k.histogram(f32(1), 0, 1, 4, bad(new Float32Array(4)))],
  ["histogram out length", (k) => k.histogram(f32(1), 0, 1, 4, new Float64Array(5))],
  ["t not a number", (k) => k.thresholdMask(f32(1), bad("0.5"))],
  ["shape mismatch", (k) => k.blockReduce(f32(1, 2, 3, 4, 5), [2, 3], [1, -1], "sum")],
  ["kernel rank", (k) => k.blockReduce(f32(1, 2, 3, 4, 5, 6), [2, 3], [1], "sum")],
  ["kernel not dividing", (k) => k.blockReduce(f32(1, 2, 3, 4, 5, 6), [2, 3], [1, 2], "l2")],
  ["kernel zero", (k) => k.minMax(f32(1, 2, 3, 4, 5, 6), [2, 3], [0, -1])],
  ["unknown reduction", (k) => k.blockReduce(f32(1, 2), [2], [-1], bad("max"))],
  ["shape dim zero", (k) => k.blockExpand(u8(1), [2, 0], [1, -1])],
  ["block mask length", (k) => k.blockExpand(u8(1, 0, 1), [2, 3], [1, -1])],
  ["block mask type", (k) => k.blockExpand(bad([1, 0]), [2, 3], [1, -1])],
  [
    "scale infinite",
    (k) => k.quantize(f32(1), [1], perTensor(Infinity, 0, -8, 7), new Int8Array(1)),
  ],
  ["scale zero", (k) => k.fakeQuantize(f32(1), [1], perTensor(0, 0, -8, 7))],
  ["scale NaN", (k) => k.dequantize(new Int8Array(1), [1], perTensor(NaN, 0, -8, 7))],
  [
    "zero point fraction",
    (k) => k.quantize(f32(1), [1], perTensor(1, 0.5, -8, 7), new Int8Array(1)),
  ],
  ["out too small", (k) => k.quantize(f32(1), [1], perTensor(1, 0, 0, 255), new Int8Array(1))],
  ["out missing", (k) => k.quantize(f32(1), [1], perTensor(1, 0, 0, 255), bad(undefined))],
  ["out length", (k) => k.quantize(f32(1), [1], perTensor(1, 0, 0, 255), new Uint8Array(2))],
  ["qmin above qmax", (k) => k.fakeQuantize(f32(1), [1], perTensor(1, 0, 8, 7))],
  ["params null", (k) => k.fakeQuantize(f32(1), [1], bad(null))],
  [
    "scale length",
    (k) => k.fakeQuantize(f32(1, 2), [2], { ...perTensor(1, 0, 0, 7), kernel: [1] }),
  ],
  ["codes type", (k) => k.dequantize(bad(f32(1)), [1], perTensor(1, 0, 0, 7))],
  ["codes shape", (k) => k.dequantize(new Int8Array(3), [2], perTensor(1, 0, 0, 7))],
  ["mask method", (k) => k.applyMask(f32(1), u8(1), bad("sub"))],
  ["mask length", (k) => k.applyMask(f32(1), u8(1, 1), "mul")],
  ["f16 bits type", (k) => k.f16ToF32(bad(f32(1)))],
  ["bf16 bits type", (k) => k.bf16ToF32(bad([1]))],
  ["f32 data type for f16", (k) => k.f32ToF16(bad(new Uint16Array(1)))],
  ["f32 data type for bf16", (k) => k.f32ToBf16(bad(null))],
  ["int4 code range", (k) => k.packInt4(new Int8Array([0, 8]))],
  ["uint4 code range", (k) => k.packInt4(u8(16))],
  ["int4 codes type", (k) => k.packInt4(bad(new Int16Array(1)))],
  ["int4 n too large", (k) => k.unpackInt4(u8(1), 3, true)],
  ["int4 signed type", (k) => k.unpackInt4(u8(1), 1, bad("yes"))],
];

function thrown(call: () => unknown): Error | undefined {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

/** The cases. */
export const EXAMPLES: readonly ConformanceCase[] = [
  example("is named reference or wasm", (k) => {
    assert.ok(k.name === "reference" || k.name === "wasm");
  }),
  example("kSmallestMask() prunes the lower index first among equal values", (k) => {
    const metric = f32(0.5, 0.1, 0.3, 0.1, 0.1, 0.9);
    assert.deepEqual([...k.kSmallestMask(metric, 2)], [1, 0, 1, 0, 1, 1]);
    assert.deepEqual([...k.kSmallestMask(metric, 4)], [1, 0, 0, 0, 0, 1]);
  }),
  example("kSmallestMask() treats -0 and +0 as equal and prunes NaN after +Infinity", (k) => {
    const metric = f32(NaN, 0, -0, -Infinity, Infinity, NaN, -1);
    assert.deepEqual([...k.kSmallestMask(metric, 3)], [1, 0, 1, 0, 1, 1, 0]);
    assert.deepEqual([...k.kSmallestMask(metric, 5)], [1, 0, 0, 0, 0, 1, 0]);
    assert.deepEqual([...k.kSmallestMask(metric, 6)], [0, 0, 0, 0, 0, 1, 0]);
  }),
  example("kSmallestMask() keeps everything for k = 0 and prunes everything for k = n", (k) => {
    assert.deepEqual([...k.kSmallestMask(f32(3, 1, 2), 0)], [1, 1, 1]);
    assert.deepEqual([...k.kSmallestMask(f32(3, 1, 2), 3)], [0, 0, 0]);
    assert.deepEqual([...k.kSmallestMask(f32(), 0)], []);
  }),
  example("kthSmallest() ranks values across arrays and returns +0 for a zero", (k) => {
    const arrays = [f32(5, -1), f32(), f32(3, NaN, 3), f32(-0)];
    assert.deepEqual([0, 1, 2, 3, 4].map((r) => k.kthSmallest(arrays, r)), [-1, 0, 3, 3, 5]);
    assert.ok(Object.is(k.kthSmallest(arrays, 1), 0));
    assert.ok(Number.isNaN(k.kthSmallest(arrays, 5)));
    assert.equal(k.kthSmallest([f32(0.1)], 0), fround(0.1));
  }),
  example("histogram() puts hi in the last bin and skips NaN and values outside [lo, hi]", (k) => {
    const data = f32(0, 0.25, 0.5, 0.75, 1, -1, 2, NaN, 0.2499);
    assert.deepEqual([...k.histogram(data, 0, 1, 4)], [2, 1, 1, 2]);
    const out = new Float64Array([10, 0, 0, 0]);
    assert.equal(k.histogram(f32(0.1, 0.9), 0, 1, 4, out), out);
    assert.deepEqual([...out], [11, 0, 0, 1]);
  }),
  example("histogram() divides by the width before multiplying by bins, at bin edges", (k) => {
    // x sits on an edge in exact arithmetic: x = j * (hi - lo) / bins. Multiplying by a
    // precomputed bins / (hi - lo) would round to the other side of the edge in each case.
    const x = fround(0.1);
    const cases: [number, number, number][] = [[5, 3, 3], [10, 3, 3], [49, 1, 0], [49, 8, 7]];
    for (const [bins, j, bin] of cases) {
      const hi = (x * bins) / j;
      assert.notEqual(Math.floor(x * (bins / hi)), bin, "the multiplication form differs");
      const want = new Float64Array(bins);
      want[bin] = 1;
      assert.deepEqual([...k.histogram(f32(x), 0, hi, bins)], [...want], `bins ${bins}, j ${j}`);
    }
    // Zero opens the middle bin of a symmetric range (streaming histograms rely on it), also
    // where r * (2048 / (2 r)) is 1023.9999999999999.
    for (const r of [fround(1.0419785976409912), fround(0.3), 3, fround(1e-30)]) {
      assert.equal(k.histogram(f32(0, -0), -r, r, 2048)[1024], 2, `r = ${r}`);
    }
    // Tiny and overflowing widths.
    assert.deepEqual([...k.histogram(f32(0, -0), -1e-320, 1e-320, 4)], [0, 0, 2, 0]);
    assert.deepEqual([...k.histogram(f32(0, 3e38), -Number.MAX_VALUE, Number.MAX_VALUE, 4)], [
      2,
      0,
      0,
      0,
    ]);
    // hi is the last bin; a value just below an edge stays in the bin below it.
    const edges = f32(0.5, 0.75, 1, fround(0.75) - 2 ** -24);
    assert.deepEqual([...k.histogram(edges, 0, 1, 4)], [0, 0, 2, 2]);
    // Bounds that are not float32 values are compared exactly.
    const lo = fround(0.1) + 1e-12;
    assert.deepEqual([...k.histogram(f32(0.1, 0.2, 0.3), lo, 0.3, 2)], [0, 1]);
    assert.deepEqual([...k.histogram(f32(0.1, 0.3), fround(0.1), fround(0.3) - 1e-12, 2)], [
      1,
      0,
    ]);
  }),
  example("thresholdMask() compares with t exactly, not with t rounded to float32", (k) => {
    const metric = f32(0.1, 0.2, NaN, -Infinity, Infinity, 0.05);
    assert.deepEqual([...k.thresholdMask(metric, 0.1)], [1, 1, 0, 0, 1, 0]);
    assert.deepEqual([...k.thresholdMask(metric, fround(0.1) + 1e-12)], [0, 1, 0, 0, 1, 0]);
    assert.deepEqual([...k.thresholdMask(metric, NaN)], [0, 0, 0, 0, 0, 0]);
  }),
  example("blockReduce() reduces rows with kernel [1, -1]", (k) => {
    const data = f32(1, -2, 3, -4, 5, -6);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [1, -1], "sum")], [2, -5]);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [1, -1], "mean")], [
      fround(2 / 3),
      fround(-5 / 3),
    ]);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [1, -1], "l1")], [6, 15]);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [1, -1], "l2")], [
      fround(Math.sqrt(14)),
      fround(Math.sqrt(77)),
    ]);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [1, -1], "maxabs")], [3, 6]);
  }),
  example("blockReduce() reduces columns with kernel [-1, 1] and tiles with kernel [2, 2]", (k) => {
    const data = f32(1, -2, 3, -4, 5, -6);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [-1, 1], "sum")], [-3, 3, -3]);
    assert.deepEqual([...k.blockReduce(data, [2, 3], [-1, 1], "maxabs")], [4, 5, 6]);
    const tiles = f32(0, 1, 2, 3, 4, 5, 6, 7);
    assert.deepEqual([...k.blockReduce(tiles, [2, 4], [2, 2], "sum")], [10, 18]);
    assert.deepEqual([...k.blockReduce(tiles, [2, 4], [-1, -1], "mean")], [3.5]);
    assert.deepEqual([...k.blockReduce(f32(-2), [], [], "l2")], [2]);
  }),
  example("blockReduce() accumulates in float64 and gives NaN for a block with NaN", (k) => {
    const data = f32(2 ** 24, 1, 1, NaN, 1, 1);
    const sums = k.blockReduce(data, [2, 3], [1, -1], "sum");
    assert.equal(sums[0], 2 ** 24 + 2);
    assert.ok(Number.isNaN(sums[1]));
    assert.ok(Number.isNaN(k.blockReduce(data, [2, 3], [1, -1], "maxabs")[1]));
    assert.ok(Number.isNaN(k.blockReduce(f32(Infinity, -Infinity), [2], [-1], "sum")[0]));
  }),
  example("blockExpand() repeats block values over rows, columns and tiles", (k) => {
    assert.deepEqual([...k.blockExpand(u8(1, 0), [2, 3], [1, -1])], [1, 1, 1, 0, 0, 0]);
    assert.deepEqual([...k.blockExpand(u8(1, 0, 1), [2, 3], [-1, 1])], [1, 0, 1, 1, 0, 1]);
    assert.deepEqual(
      [...k.blockExpand(u8(1, 0, 0, 1), [4, 4], [2, 2])],
      [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1],
    );
  }),
  example("minMax() gives NaN for a block with NaN and +0 for a block of zeros", (k) => {
    const { min, max } = k.minMax(f32(-0, 0, 3, NaN, -1, 2, -0, -0), [4, 2], [1, -1]);
    assert.ok(Object.is(min[0], 0) && Object.is(max[0], 0));
    assert.ok(Number.isNaN(min[1]) && Number.isNaN(max[1]));
    assert.deepEqual([min[2], max[2]], [-1, 2]);
    assert.ok(Object.is(min[3], 0) && Object.is(max[3], 0));
  }),
  example("quantize() rounds halves to even and clamps to [qmin, qmax]", (k) => {
    const data = f32(0.25, 0.75, 1.25, -0.25, -0.75, 100, -100, 0.3);
    const codes = k.quantize(data, [8], perTensor(0.5, 0, -127, 127), new Int8Array(8));
    assert.deepEqual([...codes], [0, 2, 2, 0, -2, 127, -127, 1]);
  }),
  example("quantize() maps NaN to the zero point, clamped to [qmin, qmax]", (k) => {
    const codes = k.quantize(
      f32(NaN, 0.05, -0.05),
      [3],
      perTensor(0.1, 128, 0, 255),
      new Uint8Array(3),
    );
    assert.deepEqual([...codes], [128, 128, 128]);
    const clamped = k.quantize(f32(NaN), [1], perTensor(1, 200, -128, 127), new Int16Array(1));
    assert.deepEqual([...clamped], [127]);
  }),
  example("quantize() uses one scale and zero point per block", (k) => {
    const params = { kernel: [1, -1], scale: f32(1, 2), zeroPoint: f32(0, -3), qmin: -8, qmax: 7 };
    const codes = k.quantize(f32(1.5, 2.5, 5, 9), [2, 2], params, new Int8Array(4));
    assert.deepEqual([...codes], [2, 2, 0, 2]);
  }),
  example("quantize() clamps exactly to int32 bounds that float32 cannot hold", (k) => {
    const params = perTensor(1, 0, -(2 ** 31), 2 ** 31 - 1);
    const codes = k.quantize(f32(3e9, -3e9, 2 ** 31), [3], params, new Int32Array(3));
    assert.deepEqual([...codes], [2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 1]);
    const odd = perTensor(1, 0, 0, 16777217);
    assert.deepEqual([...k.quantize(f32(16777218), [1], odd, new Int32Array(1))], [16777217]);
  }),
  example("dequantize() computes (q - zp) * s in float32, q rounded to float32 first", (k) => {
    const values = k.dequantize(u8(0, 128, 255), [3], perTensor(0.1, 128, 0, 255));
    assert.deepEqual([...values], [fround(-128 * fround(0.1)), 0, fround(127 * fround(0.1))]);
    const big = k.dequantize(new Int32Array([16777217]), [1], perTensor(1, 0, 0, 2 ** 30));
    assert.deepEqual([...big], [16777216]);
  }),
  example("fakeQuantize() gives +0, never -0, for a code equal to the zero point", (k) => {
    const values = k.fakeQuantize(f32(-0.1, -0, 0.2, NaN), [4], perTensor(1, 0, -8, 7));
    assert.deepEqual(bitsOf(values), [0, 0, 0, 0]);
    const data = f32(-0.01, 0.26, 1.5, NaN, -Infinity, 3, -0, 0.749);
    const fake = k.fakeQuantize(data, [8], perTensor(0.25, 1, -4, 3));
    assert.deepEqual([...fake], [0, 0.25, 0.5, 0, -1.25, 0.5, 0, 0.5]);
  }),
  example("applyMask() keeps -0 under mul and turns a kept -0 into +0 under add", (k) => {
    const data = f32(1.5, -2, NaN, -0, 3);
    const mask = u8(1, 0, 0, 1, 0);
    const mul = k.applyMask(data, mask, "mul");
    assert.ok(Object.is(mul[0], 1.5) && Object.is(mul[1], -0) && Number.isNaN(mul[2]));
    assert.ok(Object.is(mul[3], -0) && Object.is(mul[4], 0));
    const add = k.applyMask(data, mask, "add");
    assert.ok(Object.is(add[0], 1.5) && add[1] === -1002 && Number.isNaN(add[2]));
    assert.ok(Object.is(add[3], 0) && add[4] === -997);
  }),
  example("f32ToF16() and f16ToF32() convert known bit patterns", (k) => {
    const data = f32(1, 65504, 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, 65520, 2 ** -25);
    assert.deepEqual(
      [...k.f32ToF16(data)],
      [0x3c00, 0x7bff, 0x0001, 0x3c00, 0x3c02, 0x8000, 0x7c00, 0x0000],
    );
    const nans = new Float32Array(new Uint32Array([0x7f800001, 0xffc00000, 0x7fa00000]).buffer);
    assert.deepEqual([...k.f32ToF16(nans)], [0x7e00, 0xfe00, 0x7f00]);
    const back = k.f16ToF32(new Uint16Array([0x3c00, 0x0001, 0xfc00, 0x7e01, 0x7bff]));
    assert.deepEqual(bitsOf(back), [0x3f800000, 0x33800000, 0xff800000, 0x7fc02000, 0x477fe000]);
  }),
  example("f32ToBf16() and bf16ToF32() convert known bit patterns", (k) => {
    const bits = [
      0x3f800000,
      0x3f808000,
      0x3f818000,
      0x3f808001,
      0x7f7fffff,
      0x7f800001,
      0x00008000,
    ];
    const data = new Float32Array(new Uint32Array(bits).buffer);
    assert.deepEqual([...k.f32ToBf16(data)], [0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x7fc0, 0]);
    const back = k.bf16ToF32(new Uint16Array([0x3f80, 0xffc1, 0x8000]));
    assert.deepEqual(bitsOf(back), [0x3f800000, 0xffc10000, 0x80000000]);
  }),
  example("f16ToF32() and bf16ToF32() widen every 16-bit pattern like the reference", (k) => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    assert.deepEqual(bitsOf(k.f16ToF32(all)), bitsOf(ref.f16ToF32(all)));
    assert.deepEqual(bitsOf(k.bf16ToF32(all)), bitsOf(ref.bf16ToF32(all)));
    const roundTrip = k.f32ToF16(k.f16ToF32(all));
    for (let h = 0; h < 0x10000; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (roundTrip[h] !== (isNaN ? h | 0x200 : h)) assert.fail(`0x${h.toString(16)}`);
    }
  }),
  example("packInt4() packs an odd number of negative codes low nibble first", (k) => {
    assert.deepEqual([...k.packInt4(new Int8Array([-8, 7, -1, 0, 3]))], [0x78, 0x0f, 0x03]);
    assert.deepEqual([...k.packInt4(u8(15, 0, 1))], [0x0f, 0x01]);
    assert.deepEqual([...k.unpackInt4(u8(0x78, 0x0f, 0x03), 5, true)], [-8, 7, -1, 0, 3]);
    assert.deepEqual([...k.unpackInt4(u8(0x78, 0x0f, 0x03), 6, false)], [8, 7, 15, 0, 3, 0]);
  }),
  example("every kernel rejects bad arguments with the reference's error type and message", (k) => {
    for (const [what, call] of BAD_CALLS) {
      const want = thrown(() => call(ref));
      const got = thrown(() => call(k));
      assert.ok(want !== undefined, `the reference accepts: ${what}`);
      assert.ok(got !== undefined, `no error for: ${what}`);
      assert.equal(got.constructor, want.constructor, `${what}: ${got.message}`);
      assert.equal(got.message, want.message, what);
    }
  }),
  example("quantize() and histogram() reject bad arguments before writing to out", (k) => {
    const params = { kernel: [1, -1], scale: f32(1, 0), zeroPoint: f32(0, 0), qmin: -8, qmax: 7 };
    const out = new Int8Array(4).fill(99);
    assert.throws(() => k.quantize(f32(1, 2, 3, 4), [2, 2], params, out), RangeError);
    assert.deepEqual([...out], [99, 99, 99, 99]);
    const counts = new Float64Array(3).fill(5);
    assert.throws(() => k.histogram(f32(1), 2, 1, 3, counts), RangeError);
    assert.deepEqual([...counts], [5, 5, 5]);
  }),
  example("outputs are fresh arrays that later calls do not overwrite", (k) => {
    const a = f32(3, 1, 2, -5, 0.5);
    const b = f32(-1, 9, 8, 7, 6);
    const params = perTensor(0.5, 0, -8, 7);
    const calls: Array<(x: Float32Array) => ArrayLike<number>> = [
      (x) => k.kSmallestMask(x, 2),
      (x) => k.thresholdMask(x, 1),
      (x) => k.histogram(x, -10, 10, 4),
      (x) => k.blockReduce(x, [5], [1], "l2"),
      (x) => k.minMax(x, [5], [1]).min,
      (x) => k.fakeQuantize(x, [5], params),
      (x) => k.dequantize(k.quantize(x, [5], params, new Int8Array(5)), [5], params),
      (x) => k.applyMask(x, k.thresholdMask(x, 1), "add"),
      (x) => k.f32ToF16(x),
      (x) => k.f16ToF32(k.f32ToF16(x)),
      (x) => k.f32ToBf16(x),
      (x) => k.bf16ToF32(k.f32ToBf16(x)),
      (x) => k.blockExpand(k.thresholdMask(x, 1), [5], [1]),
      (x) => k.packInt4(k.quantize(x, [5], params, new Int8Array(5)) as Int8Array),
      (x) =>
        k.unpackInt4(
          k.packInt4(k.quantize(x, [5], params, new Int8Array(5)) as Int8Array),
          5,
          true,
        ),
    ];
    calls.forEach((call, i) => {
      const first = call(a);
      const copy = Array.from(first);
      const second = call(b);
      assertSameArray(first, copy, `call ${i}`);
      assert.notEqual(first, second);
      if (ArrayBuffer.isView(first)) assert.notEqual(first.buffer, a.buffer);
    });
  }),
  example("kSmallestMask() matches the reference on every selection path", (k) => {
    const n = 200_003;
    const r = (i: number) => Math.sin(i * 12.9898) * 43758.5453 % 1;
    const cases: Record<string, Float32Array> = {
      // Most values tie at the cut-off: both pivots land on it.
      "70% zeros": Float32Array.from({ length: n }, (_, i) => (r(i) < 0.4 ? r(i + n) : 0)),
      // Two tied values hold 60% of the data: more candidates than the buffer takes.
      "two heavy values": Float32Array.from(
        { length: n },
        (_, i) => (i % 5 < 3 ? (i % 2 ? 1e-30 : 0) : r(i) * 4 - 2),
      ),
      // The strided sample sees only 7s: the rank falls outside the pivots.
      "misleading sample": Float32Array.from({ length: n }, (_, i) => {
        const j = Math.round((i * 16384) / n - 0.5);
        return Math.floor(((j + 0.5) * n) / 16384) === i ? 7 : r(i);
      }),
      // The sample is spread out, the other values crowd one narrow band of distinct values:
      // more candidates than the buffer takes, pivots apart.
      "crowd off the sample": Float32Array.from({ length: n }, (_, i) => {
        const j = Math.round((i * 16384) / n - 0.5);
        return Math.floor(((j + 0.5) * n) / 16384) === i ? j / 16384 : 0.5 + (i % 1000) * 1e-7;
      }),
      // Half NaN: cut-offs among the numbers and among the NaNs.
      "half NaN": Float32Array.from({ length: n }, (_, i) => (i % 2 ? NaN : r(i))),
    };
    for (const [name, data] of Object.entries(cases)) {
      for (const kk of [1, 31_337, n >> 1, Math.floor(n * 0.7), n - 1]) {
        assertSameArray(k.kSmallestMask(data, kk), ref.kSmallestMask(data, kk), `${name} k=${kk}`);
      }
    }
  }),
  example("every kernel matches the reference on a million elements", (k) => {
    const shape = [1009, 991];
    const n = shape[0] * shape[1];
    const params = {
      kernel: [1, -1],
      scale: new Float32Array(1009).fill(0.01),
      zeroPoint: new Float32Array(1009),
      qmin: -127,
      qmax: 127,
    };
    for (const palette of ["ties", "bits"] as const) {
      const data = randomFloat32Array(n, 42, palette, 1);
      for (const kk of [1, n >> 1, n - 1]) {
        assertSameArray(
          k.kSmallestMask(data, kk),
          ref.kSmallestMask(data, kk),
          `${palette} mask k=${kk}`,
        );
      }
      const parts = [data.subarray(0, 12345), data.subarray(12345)];
      for (const kk of [0, n >> 1, n - 1]) {
        assert.ok(
          sameFloat(k.kthSmallest(parts, kk), ref.kthSmallest(parts, kk)),
          `${palette} rank ${kk}`,
        );
      }
      assertSameArray(
        k.histogram(data, -1, 1, 1000),
        ref.histogram(data, -1, 1, 1000),
        "histogram",
      );
      assertSameArray(k.thresholdMask(data, 0.25), ref.thresholdMask(data, 0.25), "threshold");
      const codes = k.quantize(data, shape, params, new Int8Array(n));
      assertSameArray(codes, ref.quantize(data, shape, params, new Int8Array(n)), "quantize");
      assertSameArray(
        bitsOf(k.fakeQuantize(data, shape, params)),
        bitsOf(ref.fakeQuantize(data, shape, params)),
        "fakeQuantize",
      );
      assertSameArray(k.f32ToF16(data), ref.f32ToF16(data), "f32ToF16");
      for (const kernel of [[1, -1], [-1, 1]]) {
        const l1 = ref.blockReduce(data, shape, kernel, "l1");
        const blockSize = n / l1.length;
        for (const op of REDUCTIONS) {
          const got = k.blockReduce(data, shape, kernel, op);
          const want = ref.blockReduce(data, shape, kernel, op);
          for (let b = 0; b < want.length; b++) {
            const scale = op === "sum"
              ? l1[b]
              : op === "mean"
              ? l1[b] / blockSize
              : Math.abs(want[b]);
            if (!withinTolerance(got[b], want[b], scale, FLOAT_TOLERANCE.blockReduce)) {
              assert.fail(`${palette} ${op} ${kernel} block ${b}: got ${got[b]}, want ${want[b]}`);
            }
          }
        }
      }
    }
  }),
];
