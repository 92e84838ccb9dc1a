import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
} from "./float16.ts";

const f32Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
const f32Value = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
const hex = (x: number) => "0x" + x.toString(16);

test("f32BitsToF16Bits() converts exact values to their known bit patterns", () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [2 ** -14, 0x0400],
    [2 ** -14 - 2 ** -24, 0x03ff],
    [2 ** -24, 0x0001],
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [x, bits] of cases) assert.equal(hex(f32BitsToF16Bits(f32Bits(x))), hex(bits), `${x}`);
});

test("f32BitsToF16Bits() rounds to nearest, ties to even", () => {
  const cases: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [1 / 3, 0x3555],
    [2 ** -25, 0x0000], // half the smallest subnormal: ties to 0
    [3 * 2 ** -25, 0x0002], // 1.5 units: ties to 2
    [2 ** -25 + 2 ** -30, 0x0001], // above half a unit
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up into the smallest normal
    [65519, 0x7bff], // below the overflow tie
    [65520, 0x7c00], // the tie between 65504 and 65536 overflows to Infinity
    [1e10, 0x7c00],
    [-1e10, 0xfc00],
    [2 ** -149, 0x0000],
    [-(2 ** -149), 0x8000],
  ];
  for (const [x, bits] of cases) assert.equal(hex(f32BitsToF16Bits(f32Bits(x))), hex(bits), `${x}`);
});

test("f32BitsToF16Bits() turns NaN into a quiet NaN with its sign and top payload", () => {
  assert.equal(hex(f32BitsToF16Bits(0x7fc00000)), "0x7e00");
  assert.equal(hex(f32BitsToF16Bits(0xffc00000)), "0xfe00");
  assert.equal(hex(f32BitsToF16Bits(0x7f800001)), "0x7e00"); // signalling, low payload lost
  assert.equal(hex(f32BitsToF16Bits(0x7fa00000)), "0x7f00"); // signalling, payload bit kept
  assert.equal(hex(f32BitsToF16Bits(0xffffffff)), "0xffff");
});

test("f16BitsToF32Bits() converts known bit patterns exactly", () => {
  const cases: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 2 ** -14 - 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, x] of cases) assert.equal(f32Value(f16BitsToF32Bits(bits)), x, hex(bits));
  assert.equal(hex(f16BitsToF32Bits(0x8000)), "0x80000000");
  assert.equal(hex(f16BitsToF32Bits(0x7e00)), "0x7fc00000");
  assert.equal(hex(f16BitsToF32Bits(0x7c01)), "0x7f802000"); // payload kept, still signalling
  assert.equal(hex(f16BitsToF32Bits(0xfe01)), "0xffc02000");
});

test("every f16 bit pattern survives the round trip through float32 (NaNs become quiet)", () => {
  for (let h = 0; h < 0x10000; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const expected = isNaN ? h | 0x0200 : h;
    assert.equal(f32BitsToF16Bits(f16BitsToF32Bits(h)), expected, hex(h));
  }
});

test("f32BitsToF16Bits() matches the value rounding of Math.f16round where it exists", () => {
  const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;
  if (f16round === undefined) return; // older runtimes: the hand-computed cases above suffice
  let seed = 7;
  for (let i = 0; i < 20000; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const bits = seed & 0x7fffffff ? seed : 1; // any float32, both signs
    const x = f32Value(bits);
    if (Number.isNaN(x)) continue;
    const got = f32Value(f16BitsToF32Bits(f32BitsToF16Bits(bits)));
    assert.ok(Object.is(got, f16round(x)), `${x}`);
  }
});

test("f32BitsToBf16Bits() rounds to nearest even and overflows to Infinity", () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f80], // 1.0
    [0x3f808000, 0x3f80], // tie: even
    [0x3f818000, 0x3f82], // tie: even
    [0x3f808001, 0x3f81], // above the tie
    [0x3f807fff, 0x3f80], // below the tie
    [0xc0490fdb, 0xc049], // -pi
    [0x7f7fffff, 0x7f80], // largest float32 rounds up to Infinity
    [0xff7fffff, 0xff80],
    [0x7f800000, 0x7f80],
    [0x00000001, 0x0000], // smallest subnormal rounds to 0
    [0x00008000, 0x0000], // tie: even (0)
    [0x00018000, 0x0002], // tie: even (2)
    [0x80000000, 0x8000],
  ];
  for (const [bits, b] of cases) assert.equal(hex(f32BitsToBf16Bits(bits)), hex(b), hex(bits));
});

test("f32BitsToBf16Bits() turns NaN into a quiet NaN with its sign and top payload", () => {
  assert.equal(hex(f32BitsToBf16Bits(0x7fc00000)), "0x7fc0");
  assert.equal(hex(f32BitsToBf16Bits(0x7f800001)), "0x7fc0"); // would round to Infinity
  assert.equal(hex(f32BitsToBf16Bits(0xff810000)), "0xffc1");
  assert.equal(hex(f32BitsToBf16Bits(0x7fffffff)), "0x7fff"); // no carry out of the NaN
});

test("bf16BitsToF32Bits() widens exactly", () => {
  assert.equal(f32Value(bf16BitsToF32Bits(0x3f80)), 1);
  assert.equal(f32Value(bf16BitsToF32Bits(0xc049)), -3.140625);
  assert.equal(hex(bf16BitsToF32Bits(0xff81)), "0xff810000");
  assert.equal(hex(bf16BitsToF32Bits(0x8000)), "0x80000000");
  for (let b = 0; b < 0x10000; b++) {
    const isNaN = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
    assert.equal(f32BitsToBf16Bits(bf16BitsToF32Bits(b)), isNaN ? b | 0x40 : b, hex(b));
  }
});
