/**
 * The property-based cases of the kernel conformance suite. Each checks an implementation
 * against independent truths (`_truths.ts`) and against `referenceKernels` (integer results
 * exactly, `blockReduce` within `FLOAT_TOLERANCE`), with a fixed seed per property.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { referenceKernels as ref } from "../../src/kernels/reference.ts";
import type { Kernels, MaskMethod } from "../../src/kernels/types.ts";
import { FLOAT_TOLERANCE, REDUCTIONS } from "../../src/kernels/types.ts";
import { float32ArrayArb, float32ArrayOfLength, layoutArb, quantCaseArb } from "./_arbitraries.ts";
import { bitsOf, mulberry32, sameFloat } from "./_prng.ts";
import {
  blockMembers,
  blockOfEach,
  comesBefore,
  compareValues,
  expectedBf16Bits,
  expectedCode,
  expectedF16Bits,
  expectedValue,
  rankedValue,
  reduceBlock,
  withinTolerance,
} from "./_truths.ts";

/** One conformance case: a sentence and a check of an implementation. */
export interface ConformanceCase {
  /** What the case checks, as a sentence (the test name after the implementation's name). */
  readonly sentence: string;
  /** Runs the check; throws on failure. */
  readonly run: (kernels: Kernels) => void;
}

/** FNV-1a of the sentence: the fixed seed of a property. */
function seedOf(sentence: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sentence.length; i++) {
    hash = Math.imul(hash ^ sentence.charCodeAt(i), 0x01000193);
  }
  return hash | 0;
}

function property<T>(
  sentence: string,
  arbitrary: fc.Arbitrary<T>,
  check: (kernels: Kernels, value: T) => void,
  numRuns = 150,
): ConformanceCase {
  return {
    sentence,
    run: (kernels) =>
      fc.assert(fc.property(arbitrary, (value) => check(kernels, value)), {
        seed: seedOf(sentence),
        numRuns,
      }),
  };
}

/** An integer in [0, n], often exactly 0 or n. */
const upTo = (n: number) =>
  fc.oneof(
    fc.constant(0),
    fc.constant(n),
    fc.integer({ min: 0, max: n }),
    fc.integer({ min: 0, max: n }),
  );

const f32 = Math.fround;
const u32 = (data: Float32Array) => new Uint32Array(data.buffer, data.byteOffset, data.length);

/** The cases. */
export const PROPERTIES: readonly ConformanceCase[] = [
  property(
    "kSmallestMask() prunes exactly k values, each before every kept value in the value order",
    float32ArrayArb().chain((data) => fc.tuple(fc.constant(data), upTo(data.length))),
    (kernels, [data, k]) => {
      const mask = kernels.kSmallestMask(data, k);
      assert.ok(mask instanceof Uint8Array);
      assert.equal(mask.length, data.length);
      let lastPruned = -1;
      let firstKept = -1;
      let zeros = 0;
      for (let i = 0; i < mask.length; i++) {
        assert.ok(mask[i] === 0 || mask[i] === 1, `mask[${i}] = ${mask[i]}`);
        if (mask[i] === 0) {
          zeros++;
          if (lastPruned < 0 || comesBefore(data, lastPruned, i)) lastPruned = i;
        } else if (firstKept < 0 || comesBefore(data, i, firstKept)) firstKept = i;
      }
      assert.equal(zeros, k);
      if (lastPruned >= 0 && firstKept >= 0) {
        assert.ok(
          comesBefore(data, lastPruned, firstKept),
          `pruned ${lastPruned} after kept ${firstKept}`,
        );
      }
      assert.deepEqual(mask, ref.kSmallestMask(data, k));
    },
  ),
  property(
    "kthSmallest() returns the value of rank k of the arrays taken together",
    fc.array(float32ArrayArb(700), { minLength: 1, maxLength: 4 })
      .filter((arrays) => arrays.some((a) => a.length > 0))
      .chain((arrays) => {
        const total = arrays.reduce((n, a) => n + a.length, 0);
        return fc.tuple(fc.constant(arrays), upTo(total - 1));
      }),
    (kernels, [arrays, k]) => {
      const got = kernels.kthSmallest(arrays, k);
      assert.equal(typeof got, "number");
      assert.ok(sameFloat(got, rankedValue(arrays, k)), `got ${got}`);
      assert.ok(sameFloat(got, ref.kthSmallest(arrays, k)));
    },
  ),
  property(
    "kSmallestMask() prunes up to the value that kthSmallest() gives for rank k - 1",
    float32ArrayArb().filter((d) => d.length > 0)
      .chain((data) => fc.tuple(fc.constant(data), fc.integer({ min: 1, max: data.length }))),
    (kernels, [data, k]) => {
      const mask = kernels.kSmallestMask(data, k);
      let largestPruned = NaN;
      let seen = false;
      for (let i = 0; i < data.length; i++) {
        if (mask[i] === 0 && (!seen || compareValues(data[i], largestPruned) > 0)) {
          largestPruned = data[i];
          seen = true;
        }
      }
      const cut = kernels.kthSmallest([data], k - 1);
      assert.equal(compareValues(largestPruned, cut), 0, `${largestPruned} vs ${cut}`);
    },
  ),
  property(
    "histogram() adds each value in [lo, hi] to bin min(bins - 1, floor((x - lo) / (hi - lo) * bins))",
    float32ArrayArb().chain((data) => {
      const finite = [...data].filter(Number.isFinite);
      const point = finite.length > 0
        ? fc.oneof(fc.constantFrom(...finite), fc.double({ noNaN: true, min: -1e6, max: 1e6 }))
        : fc.double({ noNaN: true, min: -1e6, max: 1e6 });
      return fc.record({
        data: fc.constant(data),
        a: point,
        b: point,
        bins: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 2, 3, 256, 1000)),
        start: fc.option(fc.nat(5)),
      });
    }),
    (kernels, { data, a, b, bins, start }) => {
      const hi = Math.max(a, b);
      const lo = a === b ? a - Math.abs(a) - 1 : Math.min(a, b);
      const expected = new Float64Array(bins).fill(start ?? 0);
      for (const x of data) {
        if (Number.isNaN(x) || x < lo || x > hi) continue;
        expected[Math.min(bins - 1, Math.floor((x - lo) / (hi - lo) * bins))]++;
      }
      const out = start === null ? undefined : new Float64Array(bins).fill(start);
      const got = kernels.histogram(data, lo, hi, bins, out);
      if (out !== undefined) assert.equal(got, out);
      assert.ok(got instanceof Float64Array);
      assert.deepEqual(got, expected);
      const refOut = start === null ? undefined : new Float64Array(bins).fill(start);
      assert.deepEqual(got, ref.histogram(data, lo, hi, bins, refOut));
    },
  ),
  property(
    "thresholdMask() keeps exactly the values with metric >= t",
    float32ArrayArb().chain((data) =>
      fc.tuple(
        fc.constant(data),
        fc.oneof(
          data.length > 0 ? fc.constantFrom(...data) : fc.constant(0),
          fc.double(),
          fc.constantFrom(0.1, -0, Infinity, -Infinity, NaN, f32(0.1)),
        ),
      )
    ),
    (kernels, [data, t]) => {
      const mask = kernels.thresholdMask(data, t);
      assert.deepEqual([...mask], [...data].map((x) => (x >= t ? 1 : 0)));
      assert.deepEqual(mask, ref.thresholdMask(data, t));
    },
  ),
  property(
    "blockReduce() matches a float64 reduction of each block within FLOAT_TOLERANCE",
    layoutArb.chain((layout) =>
      fc.tuple(
        fc.constant(layout),
        float32ArrayOfLength(layout.size),
        fc.constantFrom(...REDUCTIONS),
      )
    ),
    (kernels, [layout, data, op]) => {
      const got = kernels.blockReduce(data, layout.shape, layout.kernel, op);
      const fromRef = ref.blockReduce(data, layout.shape, layout.kernel, op);
      assert.ok(got instanceof Float32Array);
      assert.equal(got.length, layout.gridSize);
      blockMembers(data, layout.shape, layout.kernel).forEach((members, b) => {
        const { value, scale } = reduceBlock(members, op);
        const message = `${op} of block ${b}: got ${got[b]}, want ${f32(value)}`;
        assert.ok(withinTolerance(got[b], f32(value), scale, FLOAT_TOLERANCE.blockReduce), message);
        assert.ok(withinTolerance(got[b], fromRef[b], scale, FLOAT_TOLERANCE.blockReduce), message);
      });
    },
  ),
  property(
    "blockExpand() repeats each block's value over its block",
    layoutArb.chain((layout) =>
      fc.tuple(
        fc.constant(layout),
        fc.uint8Array({ min: 0, max: 1, minLength: layout.gridSize, maxLength: layout.gridSize }),
      )
    ),
    (kernels, [layout, blockMask]) => {
      const got = kernels.blockExpand(blockMask, layout.shape, layout.kernel);
      const ids = blockOfEach(layout.shape, layout.kernel);
      assert.deepEqual([...got], ids.map((id) => blockMask[id]));
      assert.deepEqual(got, ref.blockExpand(blockMask, layout.shape, layout.kernel));
    },
  ),
  property(
    "minMax() gives each block's extremes, NaN for a block with NaN and +0 for a zero",
    layoutArb.chain((layout) => fc.tuple(fc.constant(layout), float32ArrayOfLength(layout.size))),
    (kernels, [layout, data]) => {
      const { min, max } = kernels.minMax(data, layout.shape, layout.kernel);
      const fromRef = ref.minMax(data, layout.shape, layout.kernel);
      assert.equal(min.length, layout.gridSize);
      assert.equal(max.length, layout.gridSize);
      blockMembers(data, layout.shape, layout.kernel).forEach((members, b) => {
        const hasNaN = members.some(Number.isNaN);
        const lo = hasNaN ? NaN : members.reduce((m, x) => (x < m ? x : m)) + 0;
        const hi = hasNaN ? NaN : members.reduce((m, x) => (x > m ? x : m)) + 0;
        assert.ok(sameFloat(min[b], lo), `min of block ${b}: got ${min[b]}, want ${lo}`);
        assert.ok(sameFloat(max[b], hi), `max of block ${b}: got ${max[b]}, want ${hi}`);
      });
      assert.ok([...min].every((x, b) => sameFloat(x, fromRef.min[b])));
      assert.ok([...max].every((x, b) => sameFloat(x, fromRef.max[b])));
    },
  ),
  property(
    "quantize() writes roundHalfEven(clamp(zp + x / s, qmin, qmax)) computed in float32",
    quantCaseArb,
    (kernels, { layout, params, spec, data }) => {
      const out = spec.make(layout.size);
      assert.equal(kernels.quantize(data, layout.shape, params, out), out);
      const ids = blockOfEach(layout.shape, layout.kernel);
      for (let i = 0; i < data.length; i++) {
        const s = params.scale[ids[i]];
        const zp = params.zeroPoint[ids[i]];
        const want = expectedCode(data[i], s, zp, params.qmin, params.qmax);
        assert.equal(out[i], want, `x = ${data[i]}, s = ${s}, zp = ${zp}`);
      }
      assert.deepEqual(out, ref.quantize(data, layout.shape, params, spec.make(layout.size)));
    },
    120,
  ),
  property(
    "dequantize() computes (q - zp) * s in float32 for every code",
    quantCaseArb.chain((c) => fc.tuple(fc.constant(c), fc.integer())),
    (kernels, [{ layout, params, spec }, seed]) => {
      const next = mulberry32(seed);
      const codes = spec.make(layout.size);
      const span = params.qmax - params.qmin + 1;
      for (let i = 0; i < codes.length; i++) codes[i] = params.qmin + (next() % span);
      const got = kernels.dequantize(codes, layout.shape, params);
      const ids = blockOfEach(layout.shape, layout.kernel);
      for (let i = 0; i < codes.length; i++) {
        const want = expectedValue(codes[i], params.scale[ids[i]], params.zeroPoint[ids[i]]);
        assert.ok(Object.is(got[i], want), `q = ${codes[i]}: got ${got[i]}, want ${want}`);
      }
      assert.deepEqual(bitsOf(got), bitsOf(ref.dequantize(codes, layout.shape, params)));
    },
    120,
  ),
  property(
    "fakeQuantize() equals dequantize(quantize(x)) bit for bit",
    quantCaseArb,
    (kernels, { layout, params, spec, data }) => {
      const got = kernels.fakeQuantize(data, layout.shape, params);
      const codes = kernels.quantize(data, layout.shape, params, spec.make(layout.size));
      const twoStep = kernels.dequantize(codes, layout.shape, params);
      assert.deepEqual(bitsOf(got), bitsOf(twoStep));
      assert.deepEqual(bitsOf(got), bitsOf(ref.fakeQuantize(data, layout.shape, params)));
      // Into a given array, and in place: the same bits, in that array.
      const out = new Float32Array(data.length);
      assert.equal(kernels.fakeQuantize(data, layout.shape, params, out), out);
      assert.deepEqual(bitsOf(out), bitsOf(got));
      const copy = data.slice();
      assert.equal(kernels.fakeQuantize(copy, layout.shape, params, copy), copy);
      assert.deepEqual(bitsOf(copy), bitsOf(got));
    },
    120,
  ),
  property(
    "applyMask() multiplies by the mask or adds -1000 at pruned positions, in float32",
    float32ArrayArb().chain((data) =>
      fc.tuple(
        fc.constant(data),
        fc.uint8Array({ min: 0, max: 1, minLength: data.length, maxLength: data.length }),
        fc.constantFrom<MaskMethod>("mul", "add"),
      )
    ),
    (kernels, [data, mask, method]) => {
      const got = kernels.applyMask(data, mask, method);
      for (let i = 0; i < data.length; i++) {
        const want = method === "mul"
          ? f32(data[i] * mask[i])
          : f32(data[i] + (mask[i] ? 0 : -1000));
        assert.ok(sameFloat(got[i], want), `${method} ${data[i]} by ${mask[i]}: got ${got[i]}`);
      }
      const fromRef = ref.applyMask(data, mask, method);
      assert.ok([...got].every((x, i) => sameFloat(x, fromRef[i])));
      // Into a given array, and in place: the same values, in that array.
      const out = new Float32Array(data.length);
      assert.equal(kernels.applyMask(data, mask, method, out), out);
      assert.ok([...out].every((x, i) => sameFloat(x, got[i])));
      const copy = data.slice();
      assert.equal(kernels.applyMask(copy, mask, method, copy), copy);
      assert.ok([...copy].every((x, i) => sameFloat(x, got[i])));
    },
  ),
  property(
    "f32ToF16() rounds to the nearest f16, ties to even, and keeps NaN quiet with its payload",
    fc.oneof(
      float32ArrayArb(),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 0x7ffff }),
          fc.constantFrom(0x1000, 0xfff, 0x1001, 0, 0x1fff),
        )
          .map(([high, low]) => ((high << 13) | low) >>> 0),
        { maxLength: 50 },
      ).map((bits) => new Float32Array(new Uint32Array(bits).buffer)),
    ),
    (kernels, data) => {
      const got = kernels.f32ToF16(data);
      assert.ok(got instanceof Uint16Array);
      const bits = u32(data);
      for (let i = 0; i < data.length; i++) {
        const want = expectedF16Bits(bits[i]);
        assert.equal(got[i], want, `0x${bits[i].toString(16)}: got 0x${got[i].toString(16)}`);
      }
      assert.deepEqual(got, ref.f32ToF16(data));
    },
  ),
  property(
    "f32ToBf16() rounds to the nearest bf16, ties to even, and keeps NaN quiet with its payload",
    fc.oneof(
      float32ArrayArb(),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 0xffff }),
          fc.constantFrom(0x8000, 0x7fff, 0x8001, 0, 0xffff),
        )
          .map(([high, low]) => ((high << 16) | low) >>> 0),
        { maxLength: 50 },
      ).map((bits) => new Float32Array(new Uint32Array(bits).buffer)),
    ),
    (kernels, data) => {
      const got = kernels.f32ToBf16(data);
      assert.ok(got instanceof Uint16Array);
      const bits = u32(data);
      for (let i = 0; i < data.length; i++) {
        const want = expectedBf16Bits(bits[i]);
        assert.equal(got[i], want, `0x${bits[i].toString(16)}: got 0x${got[i].toString(16)}`);
      }
      assert.deepEqual(got, ref.f32ToBf16(data));
    },
  ),
  property(
    "packInt4() and unpackInt4() round-trip signed and unsigned codes of any length",
    fc.boolean().chain((signed) =>
      fc.tuple(
        fc.constant(signed),
        signed
          ? fc.int8Array({ min: -8, max: 7, maxLength: 41 })
          : fc.uint8Array({ min: 0, max: 15, maxLength: 41 }),
      )
    ),
    (kernels, [signed, codes]) => {
      const packed = kernels.packInt4(codes);
      assert.ok(packed instanceof Uint8Array);
      assert.equal(packed.length, Math.ceil(codes.length / 2));
      for (let i = 0; i < codes.length; i++) {
        const nibble = i % 2 === 0 ? packed[i >> 1] & 15 : packed[i >> 1] >> 4;
        assert.equal(nibble, codes[i] & 15);
      }
      if (codes.length % 2 === 1) assert.equal(packed[packed.length - 1] >> 4, 0);
      assert.deepEqual(packed, ref.packInt4(codes));
      const back = kernels.unpackInt4(packed, codes.length, signed);
      assert.ok(signed ? back instanceof Int8Array : back instanceof Uint8Array);
      assert.deepEqual([...back], [...codes]);
    },
  ),
  property(
    "unpackInt4() reads n nibbles of any bytes, low nibble first, sign-extended when signed",
    fc.uint8Array({ maxLength: 30 }).chain((packed) =>
      fc.tuple(fc.constant(packed), upTo(packed.length * 2), fc.boolean())
    ),
    (kernels, [packed, n, signed]) => {
      const got = kernels.unpackInt4(packed, n, signed);
      assert.equal(got.length, n);
      for (let i = 0; i < n; i++) {
        const nibble = (packed[i >> 1] >> (4 * (i % 2))) & 15;
        assert.equal(got[i], signed && nibble > 7 ? nibble - 16 : nibble);
      }
      assert.deepEqual(got, ref.unpackInt4(packed, n, signed));
    },
  ),
  property(
    "every kernel leaves its inputs unchanged, views at an offset included",
    quantCaseArb,
    (kernels, { layout, params, spec, data }) => {
      const before = [bitsOf(data), bitsOf(params.scale), bitsOf(params.zeroPoint)];
      const { shape, kernel } = layout;
      const mask = kernels.thresholdMask(data, 0);
      const maskBefore = [...mask];
      kernels.kSmallestMask(data, data.length >> 1);
      if (data.length > 0) kernels.kthSmallest([data, data], data.length);
      kernels.histogram(data, -1, 1, 7);
      for (const op of REDUCTIONS) kernels.blockReduce(data, shape, kernel, op);
      kernels.minMax(data, shape, kernel);
      const codes = kernels.quantize(data, shape, params, spec.make(data.length));
      const codesBefore = [...codes];
      kernels.dequantize(codes, shape, params);
      kernels.fakeQuantize(data, shape, params);
      kernels.applyMask(data, mask, "mul");
      kernels.applyMask(data, mask, "add");
      kernels.f32ToF16(data);
      kernels.f32ToBf16(data);
      assert.deepEqual([bitsOf(data), bitsOf(params.scale), bitsOf(params.zeroPoint)], before);
      assert.deepEqual([...mask], maskBefore);
      assert.deepEqual([...codes], codesBefore);
    },
    60,
  ),
];
