/**
 * The readable TypeScript implementation of the `Kernels` interface: the oracle that the
 * WebAssembly build is tested against. Every method runs its `validate.ts` check first, then
 * does the obvious thing, element by element, with the arithmetic written out (float32 steps
 * through `Math.fround`, reductions in float64).
 *
 * @module
 */

import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../tensor/float16.ts";
import { blockIds } from "./_blocks.ts";
import { hessianAccumulateRef, inverseCholeskyUpperRef, subtractProductsRef } from "./_linalg.ts";
import {
  applyBits,
  band16,
  band32,
  binEntries32,
  cut16,
  cut32,
  highHistogram16,
  highHistogram32,
  lowHistogram32,
} from "./_magnitude.ts";
import { keyToValue, orderKeys } from "./_order.ts";
import { roundHalfEven } from "../tensor/round_half_even.ts";
import type { IntCodes, Kernels, MaskMethod, MinMax, QuantParams, Reduction } from "./types.ts";
import { ADD_MASK_VALUE } from "./types.ts";
import {
  checkApplyMask,
  checkBlockExpand,
  checkBlockReduce,
  checkDequantize,
  checkFakeQuantize,
  checkHalfBits,
  checkHalfData,
  checkHalfOut,
  checkHessianAccumulate,
  checkHistogram,
  checkInverseCholeskyUpper,
  checkKSmallestMask,
  checkKthSmallest,
  checkMagnitudeApplyBits,
  checkMagnitudeBand,
  checkMagnitudeBin,
  checkMagnitudeCut,
  checkMagnitudeHighHistogram,
  checkMagnitudeLowHistogram,
  checkMinMax,
  checkPackInt4,
  checkQuantize,
  checkSubtractProducts,
  checkThresholdMask,
  checkUnpackInt4,
  notPositiveDefinite,
} from "./validate.ts";

/**
 * The integer code of one value: `roundHalfEven(clamp(zp + x / s, qmin, qmax))` with `x / s`
 * and `+ zp` each rounded to float32. A NaN input stands for `x / s = 0` (the zero point).
 */
function quantizeValue(x: number, s: number, zp: number, qmin: number, qmax: number): number {
  const v = Number.isNaN(x) ? zp : Math.fround(zp + Math.fround(x / s));
  const clamped = v < qmin ? qmin : v > qmax ? qmax : v;
  return roundHalfEven(clamped) || 0; // || 0: an integer code has no sign of zero
}

/** The float value of one code: `(q - zp) * s` with `q` and each step in float32. */
function dequantizeValue(q: number, s: number, zp: number): number {
  return Math.fround(Math.fround(Math.fround(q) - zp) * s);
}

/**
 * The reference kernels (see `Kernels` in `types.ts` for the semantics of each method).
 *
 * @example Prune the two smallest values, the lower index first on a tie
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceKernels } from "./reference.ts";
 *
 * const mask = referenceKernels.kSmallestMask(new Float32Array([3, 1, 2, 1]), 2);
 * assert.deepEqual([...mask], [1, 0, 1, 0]);
 * ```
 *
 * @example Quantize to int8 with half-to-even rounding
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceKernels } from "./reference.ts";
 *
 * const params = {
 *   kernel: [-1],
 *   scale: new Float32Array([1]),
 *   zeroPoint: new Float32Array([0]),
 *   qmin: -127,
 *   qmax: 127,
 * };
 * const codes = referenceKernels.quantize(
 *   new Float32Array([0.5, 1.5, -2.5, 300]),
 *   [4],
 *   params,
 *   new Int8Array(4),
 * );
 * assert.deepEqual([...codes], [0, 2, -2, 127]);
 * ```
 */
export const referenceKernels: Kernels = {
  name: "reference",

  kSmallestMask(metric: Float32Array, k: number): Uint8Array {
    checkKSmallestMask(metric, k);
    const mask = new Uint8Array(metric.length).fill(1);
    if (k === 0) return mask;
    // The key of the k-th smallest value (rank k - 1): everything below it is pruned, and of the
    // values equal to it, the first `k - below` in index order.
    const keys = orderKeys(metric);
    const sorted = keys.slice().sort();
    const cut = sorted[k - 1];
    let below = 0;
    while (sorted[below] < cut) below++;
    let tiesToPrune = k - below;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] < cut) mask[i] = 0;
      else if (keys[i] === cut && tiesToPrune > 0) {
        mask[i] = 0;
        tiesToPrune--;
      }
    }
    return mask;
  },

  kthSmallest(arrays: readonly Float32Array[], k: number): number {
    const total = checkKthSmallest(arrays, k);
    const keys = new Uint32Array(total);
    let offset = 0;
    for (const array of arrays) {
      keys.set(orderKeys(array), offset);
      offset += array.length;
    }
    return keyToValue(keys.sort()[k]);
  },

  histogram(
    data: Float32Array,
    lo: number,
    hi: number,
    bins: number,
    out?: Float64Array,
  ): Float64Array {
    checkHistogram(data, lo, hi, bins, out);
    const counts = out ?? new Float64Array(bins);
    const width = hi - lo;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!(x >= lo && x <= hi)) continue; // outside, or NaN
      const bin = Math.min(bins - 1, Math.floor((x - lo) / width * bins));
      counts[bin] += 1;
    }
    return counts;
  },

  thresholdMask(metric: Float32Array, t: number): Uint8Array {
    checkThresholdMask(metric, t);
    const mask = new Uint8Array(metric.length);
    for (let i = 0; i < metric.length; i++) mask[i] = metric[i] >= t ? 1 : 0;
    return mask;
  },

  blockReduce(
    data: Float32Array,
    shape: readonly number[],
    kernel: readonly number[],
    op: Reduction,
  ): Float32Array {
    const layout = checkBlockReduce(data, shape, kernel, op);
    const ids = blockIds(layout);
    const acc = new Float64Array(layout.gridSize);
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      const b = ids[i];
      if (op === "sum" || op === "mean") acc[b] += x;
      else if (op === "l1") acc[b] += Math.abs(x);
      else if (op === "l2") acc[b] += x * x;
      else acc[b] = Math.max(acc[b], Math.abs(x)); // maxabs; Math.max propagates NaN
    }
    for (let b = 0; b < acc.length; b++) {
      if (op === "mean") acc[b] /= layout.blockSize;
      else if (op === "l2") acc[b] = Math.sqrt(acc[b]);
    }
    return Float32Array.from(acc); // the one rounding to float32
  },

  blockExpand(
    blockMask: Uint8Array,
    shape: readonly number[],
    kernel: readonly number[],
  ): Uint8Array {
    const layout = checkBlockExpand(blockMask, shape, kernel);
    const ids = blockIds(layout);
    const mask = new Uint8Array(layout.size);
    for (let i = 0; i < mask.length; i++) mask[i] = blockMask[ids[i]];
    return mask;
  },

  minMax(data: Float32Array, shape: readonly number[], kernel: readonly number[]): MinMax {
    const layout = checkMinMax(data, shape, kernel);
    const ids = blockIds(layout);
    const min = new Float64Array(layout.gridSize).fill(Infinity);
    const max = new Float64Array(layout.gridSize).fill(-Infinity);
    const hasNaN = new Uint8Array(layout.gridSize);
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      const b = ids[i];
      if (Number.isNaN(x)) hasNaN[b] = 1;
      if (x < min[b]) min[b] = x;
      if (x > max[b]) max[b] = x;
    }
    for (let b = 0; b < layout.gridSize; b++) {
      // + 0 turns a -0 result into +0; NaN wins over everything.
      min[b] = hasNaN[b] ? NaN : min[b] + 0;
      max[b] = hasNaN[b] ? NaN : max[b] + 0;
    }
    return { min: Float32Array.from(min), max: Float32Array.from(max) };
  },

  quantize(
    data: Float32Array,
    shape: readonly number[],
    params: QuantParams,
    out: IntCodes,
  ): IntCodes {
    const layout = checkQuantize(data, shape, params, out);
    const ids = blockIds(layout);
    const { scale, zeroPoint, qmin, qmax } = params;
    for (let i = 0; i < data.length; i++) {
      const b = ids[i];
      out[i] = quantizeValue(data[i], scale[b], zeroPoint[b], qmin, qmax);
    }
    return out;
  },

  dequantize(codes: IntCodes, shape: readonly number[], params: QuantParams): Float32Array {
    const layout = checkDequantize(codes, shape, params);
    const ids = blockIds(layout);
    const values = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) {
      const b = ids[i];
      values[i] = dequantizeValue(codes[i], params.scale[b], params.zeroPoint[b]);
    }
    return values;
  },

  fakeQuantize(
    data: Float32Array,
    shape: readonly number[],
    params: QuantParams,
    out?: Float32Array,
  ): Float32Array {
    const layout = checkFakeQuantize(data, shape, params, out);
    const ids = blockIds(layout);
    const { scale, zeroPoint, qmin, qmax } = params;
    const values = out ?? new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const b = ids[i];
      const q = quantizeValue(data[i], scale[b], zeroPoint[b], qmin, qmax);
      values[i] = dequantizeValue(q, scale[b], zeroPoint[b]);
    }
    return values;
  },

  applyMask(
    data: Float32Array,
    mask: Uint8Array,
    method: MaskMethod,
    out?: Float32Array,
  ): Float32Array {
    checkApplyMask(data, mask, method, out);
    const values = out ?? new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      values[i] = method === "mul" ? data[i] * mask[i] : data[i] + (mask[i] ? 0 : ADD_MASK_VALUE);
    }
    return values;
  },

  f16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
    checkHalfBits(bits);
    if (out === undefined) return f16ToF32(bits);
    checkHalfOut(bits, out);
    out.set(f16ToF32(bits));
    return out;
  },

  f32ToF16(data: Float32Array): Uint16Array {
    checkHalfData(data);
    return f32ToF16(data);
  },

  bf16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
    checkHalfBits(bits);
    if (out === undefined) return bf16ToF32(bits);
    checkHalfOut(bits, out);
    out.set(bf16ToF32(bits));
    return out;
  },

  f32ToBf16(data: Float32Array): Uint16Array {
    checkHalfData(data);
    return f32ToBf16(data);
  },

  packInt4(codes: Int8Array | Uint8Array): Uint8Array {
    checkPackInt4(codes);
    const packed = new Uint8Array(Math.ceil(codes.length / 2));
    for (let i = 0; i < codes.length; i++) {
      const nibble = codes[i] & 0x0f; // two's complement for negative codes
      packed[i >> 1] |= i % 2 === 0 ? nibble : nibble << 4;
    }
    return packed;
  },

  unpackInt4(packed: Uint8Array, n: number, signed: boolean): Int8Array | Uint8Array {
    checkUnpackInt4(packed, n, signed);
    const codes = signed ? new Int8Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const nibble = i % 2 === 0 ? packed[i >> 1] & 0x0f : packed[i >> 1] >> 4;
      codes[i] = signed && nibble >= 8 ? nibble - 16 : nibble;
    }
    return codes;
  },

  hessianAccumulate(
    h: Float32Array,
    x: Float32Array,
    n: number,
    decay: number,
    scale: number,
  ): Float32Array {
    checkHessianAccumulate(h, x, n, decay, scale);
    return hessianAccumulateRef(h, x, n, decay, scale);
  },

  inverseCholeskyUpper(h: Float32Array, n: number): Float32Array {
    checkInverseCholeskyUpper(h, n);
    const u = inverseCholeskyUpperRef(h, n);
    if (typeof u === "number") throw notPositiveDefinite(h, n, u);
    return u;
  },

  subtractProducts(c: Float32Array, a: Float32Array, b: Float32Array, k: number): Float32Array {
    checkSubtractProducts(c, a, b, k);
    return subtractProductsRef(c, a, b, k);
  },

  magnitudeHighHistogram(
    words: Int32Array | Uint16Array,
    infinity: number,
    hist: Uint32Array,
  ): boolean {
    checkMagnitudeHighHistogram(words, infinity, hist);
    return words instanceof Int32Array
      ? highHistogram32(words, hist)
      : highHistogram16(words, infinity, hist);
  },

  magnitudeLowHistogram(words: Int32Array, high: number, hist: Uint32Array): void {
    checkMagnitudeLowHistogram(words, high, hist);
    lowHistogram32(words, high, hist);
  },

  magnitudeBand(
    words: Int32Array | Uint16Array,
    infinity: number,
    lo: number,
    hi: number,
    keys: Int32Array,
    counts: Float64Array,
  ): boolean {
    checkMagnitudeBand(words, infinity, lo, hi, keys, counts);
    return words instanceof Int32Array
      ? band32(words, lo, hi, keys, counts)
      : band16(words, infinity, lo, hi, keys, counts);
  },

  magnitudeCut(
    words: Int32Array | Uint16Array,
    cut: number,
    apply: boolean,
    state: Uint32Array,
    bits: Uint8Array,
  ): void {
    checkMagnitudeCut(words, cut, apply, state, bits);
    if (words instanceof Int32Array) cut32(words, cut, apply, state, bits);
    else cut16(words, cut, apply, state, bits);
  },

  magnitudeBin(
    words: Int32Array,
    high: number,
    hist: Uint32Array,
    positions: Uint32Array,
    lows: Uint16Array,
  ): number {
    checkMagnitudeBin(words, high, hist, positions, lows);
    return binEntries32(words, high, hist, positions, lows);
  },

  magnitudeApplyBits(
    words: Int32Array | Uint16Array,
    bits: Uint8Array,
    infinity: number,
    zeros: Uint32Array,
  ): number {
    checkMagnitudeApplyBits(words, bits, infinity, zeros);
    return applyBits(words, bits, infinity, zeros);
  },
};
