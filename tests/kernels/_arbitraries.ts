/**
 * fast-check arbitraries for the kernel conformance suite: float32 data full of special values
 * and ties (often as views into a larger buffer), block layouts whose sizes are not multiples
 * of SIMD widths, and quantization parameters.
 *
 * @module
 */

import fc from "fast-check";
import type { IntCodes, QuantParams } from "../../src/kernels/types.ts";
import { blockOfEach } from "./_truths.ts";
import { mulberry32, PALETTES, randomFloat32Array, SPECIAL_BITS } from "./_prng.ts";

const f32Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

/** One float32 value as bits: any pattern, special values, or small integers (ties). */
export const float32BitsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.float().map(f32Bits) },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_BITS) },
  { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }).map(f32Bits) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);

/** A Float32Array built from bit patterns, sometimes a view at an offset into a larger buffer. */
function fromBits(bits: number[], offset: number): Float32Array {
  const buffer = new Uint32Array(bits.length + offset + 1);
  buffer.set(bits, offset);
  return new Float32Array(buffer.buffer, offset * 4, bits.length);
}

/**
 * Float32 data of any length up to `maxLength`: short hand-shrinkable arrays, or longer ones
 * filled by a seeded PRNG from a palette (bits, ties, uniform, specials, mixed).
 */
export function float32ArrayArb(maxLength = 3000): fc.Arbitrary<Float32Array> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(fc.array(float32BitsArb, { maxLength: 40 }), fc.nat(3))
        .map(([bits, offset]) => fromBits(bits, offset)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.integer({ min: 0, max: maxLength }),
        fc.integer(),
        fc.constantFrom(...PALETTES),
        fc.nat(3),
      ).map(([length, seed, palette, offset]) => randomFloat32Array(length, seed, palette, offset)),
    },
  );
}

/** Float32 data of exactly `length` elements. */
export function float32ArrayOfLength(length: number): fc.Arbitrary<Float32Array> {
  if (length <= 48) {
    return fc.tuple(fc.array(float32BitsArb, { minLength: length, maxLength: length }), fc.nat(3))
      .map(([bits, offset]) => fromBits(bits, offset));
  }
  return fc.tuple(fc.integer(), fc.constantFrom(...PALETTES), fc.nat(3))
    .map(([seed, palette, offset]) => randomFloat32Array(length, seed, palette, offset));
}

/** A tensor shape and block kernel. */
export interface Layout {
  /** The tensor shape. */
  readonly shape: number[];
  /** The block kernel, one entry per dim. */
  readonly kernel: number[];
  /** Elements in the tensor. */
  readonly size: number;
  /** Number of blocks. */
  readonly gridSize: number;
}

function divisors(n: number): number[] {
  const result: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) result.push(d);
  return result;
}

/**
 * A shape of rank 0 to 4 (dims small enough to keep a few thousand elements, often odd or
 * one past a multiple of 16) and a kernel whose entries are -1 or divisors of their dims.
 */
export const layoutArb: fc.Arbitrary<Layout> = fc.integer({ min: 0, max: 4 })
  .chain((rank) => {
    const maxDim = rank <= 1 ? 70 : rank === 2 ? 40 : rank === 3 ? 12 : 6;
    const dim = fc.oneof(
      fc.integer({ min: 1, max: maxDim }),
      fc.constantFrom(...[1, 3, 16, 17, 33].filter((d) => d <= maxDim)),
    );
    return fc.array(dim, { minLength: rank, maxLength: rank });
  })
  .chain((shape) =>
    fc.tuple(...shape.map((dim) => fc.constantFrom(-1, ...divisors(dim))))
      .map((kernel) => {
        const size = shape.reduce((a, b) => a * b, 1);
        const gridSize = shape.reduce(
          (acc, dim, d) => acc * (kernel[d] === -1 ? 1 : dim / kernel[d]),
          1,
        );
        return { shape, kernel, size, gridSize };
      })
  );

/** An integer code type and the [qmin, qmax] range it is used with. */
export interface CodeSpec {
  /** Allocates a code array of `n` elements. */
  readonly make: (n: number) => IntCodes;
  /** Smallest code. */
  readonly qmin: number;
  /** Largest code. */
  readonly qmax: number;
}

/** The code ranges in common use, plus ones at the edges of float32 and int32. */
export const CODE_SPECS: readonly CodeSpec[] = [
  { make: (n) => new Int8Array(n), qmin: -127, qmax: 127 },
  { make: (n) => new Int8Array(n), qmin: -128, qmax: 127 },
  { make: (n) => new Uint8Array(n), qmin: 0, qmax: 255 },
  { make: (n) => new Int8Array(n), qmin: -8, qmax: 7 },
  { make: (n) => new Uint8Array(n), qmin: 0, qmax: 15 },
  { make: (n) => new Int16Array(n), qmin: -32768, qmax: 32767 },
  { make: (n) => new Int16Array(n), qmin: -100, qmax: 3 },
  { make: (n) => new Int32Array(n), qmin: -(2 ** 31), qmax: 2 ** 31 - 1 },
  { make: (n) => new Int32Array(n), qmin: -16777217, qmax: 16777217 },
];

/** A quantization case: layout, parameters, data with many exact halves, and a code type. */
export interface QuantCase {
  /** Shape and kernel. */
  readonly layout: Layout;
  /** One scale and zero point per block. */
  readonly params: QuantParams;
  /** The code type and range. */
  readonly spec: CodeSpec;
  /** The values to quantize. */
  readonly data: Float32Array;
}

const scaleArb = fc.oneof(
  fc.float({ min: Math.fround(1e-4), max: 100, noNaN: true }),
  fc.constantFrom(1, 0.5, 0.1, 1 / 3, 2 ** -149, 2 ** -126, 3e38, 1e-20),
).map(Math.fround);

/** Quantization cases over random layouts and code ranges. */
export const quantCaseArb: fc.Arbitrary<QuantCase> = fc.tuple(
  layoutArb,
  fc.constantFrom(...CODE_SPECS),
).chain(([layout, spec]) =>
  fc.record({
    layout: fc.constant(layout),
    spec: fc.constant(spec),
    scale: fc.array(scaleArb, { minLength: layout.gridSize, maxLength: layout.gridSize }),
    zeroPoint: fc.array(
      fc.oneof(
        { weight: 5, arbitrary: fc.integer({ min: spec.qmin, max: spec.qmax }) },
        { weight: 1, arbitrary: fc.constantFrom(0, spec.qmin - 3, spec.qmax + 1) },
      ).map(Math.fround),
      { minLength: layout.gridSize, maxLength: layout.gridSize },
    ),
    seed: fc.integer(),
  })
).map(({ layout, spec, scale, zeroPoint, seed }) => {
  const params: QuantParams = {
    kernel: layout.kernel,
    scale: new Float32Array(scale),
    zeroPoint: new Float32Array(zeroPoint),
    qmin: spec.qmin,
    qmax: spec.qmax,
  };
  return { layout, params, spec, data: quantData(layout, params, seed) };
});

/**
 * Data for quantization: per element, an exact half (`(k + 0.5) * s`), a value in and around
 * the code range, or any float32 including NaN and infinities.
 */
function quantData(layout: Layout, params: QuantParams, seed: number): Float32Array {
  const next = mulberry32(seed);
  const ids = blockOfEach(layout.shape, layout.kernel);
  const anyValue = randomFloat32Array(layout.size, seed ^ 0x5bd1e995, "mixed");
  const data = new Float32Array(layout.size);
  const span = Math.min(params.qmax - params.qmin, 600);
  for (let i = 0; i < data.length; i++) {
    const s = params.scale[ids[i]];
    const zp = params.zeroPoint[ids[i]];
    const k = params.qmin - 20 + (next() % (span + 40)) - zp;
    const mode = next() % 3;
    data[i] = mode === 0 ? (k + 0.5) * s : mode === 1 ? (k + next() / 2 ** 32) * s : anyValue[i];
  }
  return data;
}
