import { test } from "node:test";
import assert from "node:assert/strict";
import { createWasmKernels, initKernels, wasmSimdSupported } from "./wasm.ts";
import { getKernels } from "./default.ts";
import { decodeKernelsWasm } from "../../wasm/kernels_inline.ts";
import type { Kernels } from "./types.ts";

const k: Kernels = createWasmKernels();
/** Kernels with a small memory ceiling, so that inputs of a few hundred KB are chunked. */
const small: Kernels = createWasmKernels(undefined, { maxBytes: 2 ** 21 + 2 ** 18 });

const f32 = (...v: number[]) => new Float32Array(v);
const bitsOf = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

/** A deterministic pseudo-random generator (LCG) in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The k-smallest mask by sorting indices (value order of types.ts, lower index first). */
function sortedMask(x: Float32Array, kk: number): number[] {
  const rank = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const idx = [...x.keys()].sort((a, b) => {
    const [va, vb] = [rank(x[a]), rank(x[b])];
    if (va === vb) {
      const [na, nb] = [Number.isNaN(x[a]), Number.isNaN(x[b])];
      if (na !== nb) return na ? 1 : -1;
      return a - b;
    }
    return va < vb ? -1 : 1;
  });
  const mask = new Array(x.length).fill(1);
  for (const i of idx.slice(0, kk)) mask[i] = 0;
  return mask;
}

test("wasmSimdSupported() is true where the kernels run", () => {
  assert.equal(wasmSimdSupported(), true);
});

test("getKernels() returns the WebAssembly kernels when SIMD is supported", () => {
  assert.equal(getKernels().name, "wasm");
  assert.equal(getKernels(), getKernels());
});

test("initKernels() accepts a precompiled module and rejects anything else", () => {
  const kernels = initKernels(new WebAssembly.Module(decodeKernelsWasm()));
  assert.equal(kernels.name, "wasm");
  assert.equal(getKernels(), kernels);
  assert.throws(() => initKernels(new Uint8Array(4) as unknown as WebAssembly.Module), TypeError);
});

test("kSmallestMask() prunes the lower index first on ties and NaN last", () => {
  const x = f32(3, NaN, 1, -0, 0, 1, -Infinity, 1);
  assert.deepEqual([...k.kSmallestMask(x, 0)], [1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...k.kSmallestMask(x, 3)], [1, 1, 1, 0, 0, 1, 0, 1]);
  assert.deepEqual([...k.kSmallestMask(x, 5)], [1, 1, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...k.kSmallestMask(x, 7)], [0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...k.kSmallestMask(x, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test("kSmallestMask() matches a sort on large inputs with ties, zeros and NaN", () => {
  const r = rng(1);
  const n = 100_003;
  const inputs = [
    new Float32Array(n).map(() => r()),
    new Float32Array(n).map(() => Math.floor(r() * 5) - 2),
    new Float32Array(n).map((_, i) => (i % 3 === 0 ? NaN : i % 3 === 1 ? -0 : r())),
    new Float32Array(n).fill(7),
  ];
  for (const x of inputs) {
    for (const kk of [1, 777, n >> 1, n - 1]) {
      const want = sortedMask(x, kk);
      assert.deepEqual([...k.kSmallestMask(x, kk)], want);
      assert.deepEqual([...small.kSmallestMask(x, kk)], want, "chunked");
    }
  }
});

test("kthSmallest() ranks values across arrays as if concatenated", () => {
  const arrays = [f32(5, -0, NaN), f32(2, 2), f32(-1)];
  const want = [-1, 0, 2, 2, 5, NaN];
  want.forEach((v, i) => assert.ok(Object.is(k.kthSmallest(arrays, i), v), `rank ${i}`));
  const r = rng(2);
  const big = [new Float32Array(90_000).map(() => r()), new Float32Array(70_000).map(() => -r())];
  const sorted = Float32Array.from([...big[0], ...big[1]]).sort();
  for (const rank of [0, 12_345, 80_000, 159_999]) {
    assert.equal(k.kthSmallest(big, rank), sorted[rank]);
    assert.equal(small.kthSmallest(big, rank), sorted[rank], "chunked");
  }
});

test("histogram() bins in float64 arithmetic and accumulates into out", () => {
  const x = f32(0, 0.25, 0.5, 0.99, 1, -0.1, 1.1, NaN, Infinity);
  assert.deepEqual([...k.histogram(x, 0, 1, 4)], [1, 1, 1, 2]);
  const out = new Float64Array([10, 0, 0, 0]);
  assert.equal(k.histogram(x, 0, 1, 4, out), out);
  assert.deepEqual([...out], [11, 1, 1, 2]);
  const r = rng(3);
  const data = new Float32Array(300_001).map(() => r() * 2 - 1);
  const want = new Float64Array(10);
  for (const v of data) want[Math.min(9, Math.floor(((v - -1) / 2) * 10))] += 1;
  assert.deepEqual([...small.histogram(data, -1, 1, 10)], [...want]);
});

test("thresholdMask() compares each float32 exactly with the float64 threshold", () => {
  const t = Math.fround(0.1) + 2 ** -40; // between two float32 values
  assert.deepEqual([...k.thresholdMask(f32(0.1, 0.2, NaN, -1), t)], [0, 1, 0, 0]);
  assert.deepEqual([...k.thresholdMask(f32(-0, 0, 1e-45), 0)], [1, 1, 1]);
  assert.deepEqual([...k.thresholdMask(f32(-0, 1e-45), 1e-50)], [0, 1]);
  assert.deepEqual([...k.thresholdMask(f32(1, Infinity), NaN)], [0, 0]);
  assert.deepEqual([...k.thresholdMask(f32(3.4028234663852886e38, Infinity), 3.5e38)], [0, 1]);
});

test("blockReduce() reduces rows, columns and tiles in float64", () => {
  const x = Float32Array.from({ length: 12 }, (_, i) => i - 5); // [3, 4]
  assert.deepEqual([...k.blockReduce(x, [3, 4], [1, -1], "sum")], [-14, 2, 18]);
  assert.deepEqual([...k.blockReduce(x, [3, 4], [1, -1], "mean")], [-3.5, 0.5, 4.5]);
  assert.deepEqual([...k.blockReduce(x, [3, 4], [-1, 1], "l1")], [9, 8, 9, 10]);
  assert.deepEqual([...k.blockReduce(x, [3, 4], [-1, 1], "maxabs")], [5, 4, 5, 6]);
  assert.deepEqual([...k.blockReduce(f32(3, 4, 0, 0), [2, 2], [-1, -1], "l2")], [5]);
  assert.deepEqual([...k.blockReduce(x, [3, 4], [3, 2], "sum")], [-3, 9]);
  assert.ok(Number.isNaN(k.blockReduce(f32(1, NaN, 2, 3), [2, 2], [1, -1], "sum")[0]));
  assert.deepEqual([...k.blockReduce(f32(1e8, 1, -1e8), [3], [-1], "sum")], [1]);
});

test("blockReduce() gives the same result when its input is chunked", () => {
  const r = rng(4);
  const x = new Float32Array(2 * 3 * 50_000).map(() => r() - 0.5);
  for (const kernel of [[1, -1, -1], [-1, 1, -1], [1, 1, 10_000], [-1, -1, -1]]) {
    const a = k.blockReduce(x, [2, 3, 50_000], kernel, "l2");
    const b = small.blockReduce(x, [2, 3, 50_000], kernel, "l2");
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 2 ** -22 * v, `${kernel} block ${i}`));
  }
});

test("blockReduce() throws a RangeError when one block slice cannot fit in memory", () => {
  const tiny = createWasmKernels(undefined, { maxBytes: 2 ** 21 });
  const x = new Float32Array(2 * 400_000);
  assert.throws(() => tiny.blockReduce(x, [2, 400_000], [-1, 1], "sum"), RangeError);
});

test("blockExpand() repeats each block's value over the block", () => {
  assert.deepEqual([...k.blockExpand(new Uint8Array([1, 0]), [2, 3], [1, -1])], [
    1,
    1,
    1,
    0,
    0,
    0,
  ]);
  assert.deepEqual([...k.blockExpand(new Uint8Array([1, 0, 1]), [2, 3], [-1, 1])], [
    1,
    0,
    1,
    1,
    0,
    1,
  ]);
  assert.deepEqual([...k.blockExpand(new Uint8Array([0, 1]), [2, 2, 2], [1, 2, -1])], [
    0,
    0,
    0,
    0,
    1,
    1,
    1,
    1,
  ]);
});

test("minMax() propagates NaN and gives +0 for a zero result", () => {
  const { min, max } = k.minMax(f32(1, -0, 7, NaN, -2, -0), [2, 3], [-1, 1]);
  assert.ok(Number.isNaN(min[0]) && Number.isNaN(max[0]));
  assert.equal(min[1], -2);
  assert.ok(Object.is(max[1], 0) && Object.is(min[2], 0) && Object.is(max[2], 7));
});

test("quantize() rounds half to even in float32 steps and clamps", () => {
  const params = { kernel: [-1], scale: f32(1), zeroPoint: f32(0), qmin: -127, qmax: 127 };
  const x = f32(0.5, 1.5, -2.5, 300, NaN, -Infinity);
  for (const Out of [Int8Array, Int16Array, Int32Array]) {
    assert.deepEqual([...k.quantize(x, [6], params, new Out(6))], [0, 2, -2, 127, 0, -127]);
  }
  const u8 = { kernel: [1, -1], scale: f32(0.1, 2), zeroPoint: f32(128, 3), qmin: 0, qmax: 255 };
  const codes = k.quantize(f32(0.3, -100, 5, 7), [2, 2], u8, new Uint8Array(4));
  // f32(0.3 / 0.1) = 3.0000002, so 0.3 -> 131; 5 / 2 + 3 = 5.5 -> 6; 7 / 2 + 3 = 6.5 -> 6
  assert.deepEqual([...codes], [131, 0, 6, 6]);
});

test("dequantize() and fakeQuantize() agree bit for bit in float32", () => {
  const params = {
    kernel: [-1, 1],
    scale: f32(0.1, 0.37),
    zeroPoint: f32(3, -2),
    qmin: -8,
    qmax: 7,
  };
  const r = rng(5);
  const x = new Float32Array(2 * 37).map(() => (r() - 0.5) * 4);
  const codes = k.quantize(x, [37, 2], params, new Int8Array(74));
  const values = k.dequantize(codes, [37, 2], params);
  assert.deepEqual(bitsOf(k.fakeQuantize(x, [37, 2], params)), bitsOf(values));
  codes.forEach((q, i) => {
    const [s, z] = [params.scale[i % 2], params.zeroPoint[i % 2]];
    assert.equal(values[i], Math.fround(Math.fround(q - z) * s));
  });
  const big = {
    kernel: [-1],
    scale: f32(1),
    zeroPoint: f32(0),
    qmin: -(2 ** 31),
    qmax: 2 ** 31 - 1,
  };
  assert.deepEqual([...k.dequantize(new Int32Array([16_777_217]), [1], big)], [16_777_216]);
});

test("applyMask() multiplies or adds -1000 in float32", () => {
  const x = f32(-3, NaN, -0, 5);
  const m = new Uint8Array([0, 0, 1, 1]);
  const mul = k.applyMask(x, m, "mul");
  assert.ok(Object.is(mul[0], -0) && Number.isNaN(mul[1]) && Object.is(mul[2], -0));
  const add = k.applyMask(x, m, "add");
  assert.ok(add[0] === -1003 && Number.isNaN(add[1]) && Object.is(add[2], 0) && add[3] === 5);
});

test("applyMask() masks a large array in place, and refuses an out of another length", () => {
  // The output is copied out over the input it was computed from.
  const n = 1 << 22;
  const x = Float32Array.from({ length: n }, (_, i) => i - n / 2);
  const m = Uint8Array.from({ length: n }, (_, i) => i % 3 === 0 ? 0 : 1);
  const want = k.applyMask(x, m, "mul");
  assert.equal(k.applyMask(x, m, "mul", x), x);
  const [got, exp] = [new Uint32Array(x.buffer), new Uint32Array(want.buffer)];
  assert.ok(got.every((b, i) => b === exp[i]));
  assert.throws(() => k.applyMask(x, m, "mul", new Float32Array(3)), /"out" must have/);
});

test("f16 and bf16 conversions round to nearest even and keep NaN quiet", () => {
  assert.deepEqual(
    [...k.f32ToF16(f32(1 + 2 ** -11, 65504, 65520, 2 ** -25, 1.5 * 2 ** -24, -0, NaN))],
    [0x3c00, 0x7bff, 0x7c00, 0, 2, 0x8000, 0x7e00],
  );
  assert.deepEqual(bitsOf(k.f16ToF32(new Uint16Array([0x3c00, 0x0001, 0xfc00, 0x7c01]))), [
    0x3f800000,
    0x33800000,
    0xff800000,
    0x7f802000,
  ]);
  const bits = new Uint32Array([0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800001]);
  assert.deepEqual([...k.f32ToBf16(new Float32Array(bits.buffer))], [
    0x3f80,
    0x3f82,
    0x7f80,
    0x7fc0,
  ]);
  assert.deepEqual(bitsOf(k.bf16ToF32(new Uint16Array([0xbf80]))), [0xbf800000]);
});

test("f16 conversion round-trips every 16-bit pattern, chunked or not", () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  for (const kernels of [k, small]) {
    const back = kernels.f32ToF16(kernels.f16ToF32(all));
    all.forEach((h, i) => {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      assert.equal(back[i], nan ? h | 0x200 : h);
    });
  }
});

test("packInt4() and unpackInt4() put element 2i in the low nibble", () => {
  const signed = Int8Array.from({ length: 37 }, (_, i) => (i % 16) - 8);
  const packed = k.packInt4(signed);
  assert.equal(packed.length, 19);
  assert.equal(packed[0], 0x98);
  assert.equal(packed[18], 0x0c);
  assert.deepEqual([...k.unpackInt4(packed, 37, true)], [...signed]);
  assert.deepEqual([...k.unpackInt4(new Uint8Array([0xf1]), 2, false)], [1, 15]);
  const many = Uint8Array.from({ length: 300_001 }, (_, i) => (i * 7) % 16);
  assert.deepEqual([...small.unpackInt4(small.packInt4(many), many.length, false)], [...many]);
});

test("every method validates its arguments before running a kernel", () => {
  assert.throws(() => k.kSmallestMask(f32(1, 2), 3), RangeError);
  assert.throws(() => k.kthSmallest([], 0), RangeError);
  assert.throws(() => k.histogram(f32(1), 1, 0, 4), RangeError);
  assert.throws(() => k.blockReduce(f32(1, 2, 3), [3], [2], "sum"), RangeError);
  assert.throws(() => k.applyMask(f32(1), new Uint8Array(2), "mul"), RangeError);
  assert.throws(() => k.unpackInt4(new Uint8Array(1), 3, true), RangeError);
});
