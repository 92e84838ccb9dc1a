/**
 * Independent statements of the kernel semantics, written differently from the reference
 * implementation (value comparisons instead of bit keys, index arithmetic instead of an
 * odometer, `Math.round` with a tie correction instead of floor-based rounding), so the
 * conformance suite checks every implementation, the reference included, against them.
 *
 * @module
 */

import type { Reduction } from "../../src/kernels/types.ts";

/**
 * Compares two float32 values in the kernel order: -0 equals +0, every NaN equals every other
 * NaN and is larger than +Infinity.
 *
 * @returns A negative number, 0 or a positive number.
 */
export function compareValues(a: number, b: number): number {
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN || bNaN) return Number(aNaN) - Number(bNaN);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether element `i` comes before element `j` of `data` (value order, then index). */
export function comesBefore(data: Float32Array, i: number, j: number): boolean {
  const c = compareValues(data[i], data[j]);
  return c < 0 || (c === 0 && i < j);
}

/** The value of rank `k` of all `arrays` concatenated, by sorting (a zero is +0). */
export function rankedValue(arrays: readonly Float32Array[], k: number): number {
  const all: number[] = [];
  for (const array of arrays) all.push(...array);
  all.sort(compareValues);
  return all[k] === 0 ? 0 : all[k];
}

/**
 * The block (row-major over the block grid) of every element, by unravelling each flat index
 * with division and remainder.
 */
export function blockOfEach(shape: readonly number[], kernel: readonly number[]): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  const block = shape.map((dim, d) => (kernel[d] === -1 ? dim : kernel[d]));
  const grid = shape.map((dim, d) => dim / block[d]);
  const result: number[] = [];
  for (let flat = 0; flat < size; flat++) {
    let rest = flat;
    const coord: number[] = new Array(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      coord[d] = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
    }
    let id = 0;
    for (let d = 0; d < shape.length; d++) id = id * grid[d] + Math.floor(coord[d] / block[d]);
    result.push(id);
  }
  return result;
}

/** The elements of each block, in index order. */
export function blockMembers(
  data: ArrayLike<number>,
  shape: readonly number[],
  kernel: readonly number[],
): number[][] {
  const ids = blockOfEach(shape, kernel);
  const gridSize = ids.length === 0 ? 0 : Math.max(...ids) + 1;
  const members: number[][] = Array.from({ length: gridSize }, () => []);
  ids.forEach((id, i) => members[id].push(data[i]));
  return members;
}

/**
 * A block reduction in float64 before the rounding to float32, and the scale that the
 * tolerance is relative to (the sum of absolute values for `sum` and `mean`, which can cancel).
 */
export function reduceBlock(values: number[], op: Reduction): { value: number; scale: number } {
  const l1 = values.reduce((acc, x) => acc + Math.abs(x), 0);
  switch (op) {
    case "sum":
      return { value: values.reduce((acc, x) => acc + x, 0), scale: l1 };
    case "mean":
      return {
        value: values.reduce((acc, x) => acc + x, 0) / values.length,
        scale: l1 / values.length,
      };
    case "l1":
      return { value: l1, scale: l1 };
    case "l2": {
      const value = Math.sqrt(values.reduce((acc, x) => acc + x * x, 0));
      return { value, scale: value };
    }
    case "maxabs": {
      const value = values.some(Number.isNaN) ? NaN : Math.max(0, ...values.map(Math.abs));
      return { value, scale: value };
    }
  }
}

/** Whether `got` is within `tolerance` of `want` relative to `max(|want|, scale)`. */
export function withinTolerance(
  got: number,
  want: number,
  scale: number,
  tolerance: number,
): boolean {
  if (Number.isNaN(want) || !Number.isFinite(want)) {
    return Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want));
  }
  return Math.abs(got - want) <= tolerance * Math.max(Math.abs(want), scale);
}

/** Round half to even through `Math.round` (which rounds half up) and a tie correction. */
export function roundTiesToEven(x: number): number {
  const up = Math.round(x);
  return up - x === 0.5 && up % 2 !== 0 ? up - 1 : up;
}

/** The integer code of one value under the documented quantization formula. */
export function expectedCode(x: number, s: number, zp: number, qmin: number, qmax: number): number {
  const f = Math.fround;
  const v = Number.isNaN(x) ? zp : f(zp + f(x / s));
  return roundTiesToEven(Math.min(qmax, Math.max(qmin, v))) + 0;
}

/** The float value of one code under the documented dequantization formula. */
export function expectedValue(q: number, s: number, zp: number): number {
  const f = Math.fround;
  return f(f(f(q) - zp) * s);
}

/** The bits of a float32 number (NaN becomes the canonical NaN). */
export function float32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

/** The number held by float32 bits. */
export function float32Value(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

/** The value of f16 bits, from the IEEE binary16 definition. */
export function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = (h & 0x3ff) / 1024;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * fraction * 2 ** -14;
  return sign * (1 + fraction) * 2 ** (exponent - 15);
}

/**
 * The expected f16 bits of the float32 with bits `bits`: quiet NaN with sign and top payload,
 * otherwise the f16 value nearest to it (ties to the even bit pattern, Infinity past the
 * largest finite value's half-way point), found by a search over the f16 values.
 */
export function expectedF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
    return sign | 0x7e00 | ((bits & 0x7fffff) >>> 13);
  }
  const x = Math.abs(float32Value(bits));
  if (x >= 65520) return sign | 0x7c00; // 65520 is the tie between 65504 and 2^16
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) { // the largest pattern whose value is <= x
    const mid = (lo + hi + 1) >> 1;
    if (f16Value(mid) <= x) lo = mid;
    else hi = mid - 1;
  }
  const below = f16Value(lo);
  const above = f16Value(lo + 1);
  const pick = x - below < above - x || (x - below === above - x && lo % 2 === 0) ? lo : lo + 1;
  return sign | pick;
}

/**
 * The expected bf16 bits of the float32 with bits `bits`: quiet NaN with sign and top payload,
 * otherwise the nearer of the two bf16 neighbours by value (ties to the even pattern).
 */
export function expectedBf16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return (bits >>> 16) | 0x40;
  const down = bits >>> 16;
  if ((bits & 0xffff) === 0) return down;
  const x = Math.abs(float32Value(bits));
  const below = Math.abs(float32Value((down << 16) >>> 0));
  // The next pattern up in magnitude; past the largest finite value it is Infinity, whose
  // distance counts as if it were 2^128.
  const up = down + 1;
  const above = (up & 0x7fff) === 0x7f80 ? 2 ** 128 : Math.abs(float32Value((up << 16) >>> 0));
  if (x - below < above - x) return down;
  if (x - below > above - x) return up;
  return down % 2 === 0 ? down : up;
}
