/**
 * Argument checks shared by every `Kernels` implementation. Kernels never see unvalidated input:
 * each public kernel method calls these first and they throw `TypeError`/`RangeError` with a
 * message that names the argument and its value.
 *
 * @module
 */

import type { IntCodes, MaskMethod, QuantParams, Reduction } from "./types.ts";
import { REDUCTIONS } from "./types.ts";

/** The resolved block structure of a tensor under a kernel. */
export interface BlockGrid {
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** Block length per dim (kernel with -1 replaced by the dim). */
  readonly block: readonly number[];
  /** Number of blocks per dim (`shape[d] / block[d]`). */
  readonly grid: readonly number[];
  /** Elements per block. */
  readonly blockSize: number;
  /** Number of blocks. */
  readonly gridSize: number;
  /** Elements in the tensor. */
  readonly size: number;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(${(value as Uint8Array).length})`;
  }
  if (typeof value === "object") return Object.prototype.toString.call(value);
  return String(value);
}

/** Throws unless `value` is a `Float32Array`. */
export function assertFloat32Array(name: string, value: unknown): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`"${name}" must be a Float32Array: current value is ${show(value)}`);
  }
}

/** Throws unless `value` is a `Uint8Array`. */
export function assertUint8Array(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`"${name}" must be a Uint8Array: current value is ${show(value)}`);
  }
}

/** Throws unless `value` is a `Uint16Array`. */
export function assertUint16Array(name: string, value: unknown): asserts value is Uint16Array {
  if (!(value instanceof Uint16Array)) {
    throw new TypeError(`"${name}" must be a Uint16Array: current value is ${show(value)}`);
  }
}

/** Throws unless `value` is an integer within [lo, hi]. */
export function assertInt(
  name: string,
  value: unknown,
  lo: number,
  hi: number,
): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`"${name}" must be an integer: current value is ${show(value)}`);
  }
  if (value < lo || value > hi) {
    throw new RangeError(`"${name}" must be within [${lo}, ${hi}]: current value is ${value}`);
  }
}

/** Throws unless `value` is a finite number. */
export function assertFinite(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`"${name}" must be a number: current value is ${show(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(`"${name}" must be finite: current value is ${value}`);
  }
}

/** Throws unless two lengths are equal. */
export function assertSameLength(
  name: string,
  length: number,
  expected: number,
  what: string,
): void {
  if (length !== expected) {
    throw new RangeError(
      `"${name}" must have the length of ${what} (${expected}): current length is ${length}`,
    );
  }
}

/** Throws unless `op` is a known reduction. */
export function assertReduction(op: unknown): asserts op is Reduction {
  if (!REDUCTIONS.includes(op as Reduction)) {
    throw new TypeError(
      `"op" must be one of ${REDUCTIONS.join(", ")}: current value is ${show(op)}`,
    );
  }
}

/** Throws unless `method` is `mul` or `add`. */
export function assertMaskMethod(method: unknown): asserts method is MaskMethod {
  if (method !== "mul" && method !== "add") {
    throw new TypeError(`"method" must be "mul" or "add": current value is ${show(method)}`);
  }
}

/**
 * Checks `shape` against a data length and `kernel` against `shape`, and returns the block
 * grid. Dims are positive integers; `[]` is a scalar of one element. A `length` of `undefined`
 * skips the length check (for kernels whose tensor is the output, like `blockExpand`).
 */
export function blockGrid(
  shape: readonly number[],
  kernel: readonly number[],
  length: number | undefined,
  dataName = "data",
): BlockGrid {
  if (!Array.isArray(shape)) {
    throw new TypeError(`"shape" must be an array of integers: current value is ${show(shape)}`);
  }
  if (!Array.isArray(kernel)) {
    throw new TypeError(`"kernel" must be an array of integers: current value is ${show(kernel)}`);
  }
  let size = 1;
  for (let d = 0; d < shape.length; d++) {
    const dim = shape[d];
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 1) {
      throw new RangeError(
        `"shape[${d}]" must be a positive integer: current value is ${show(dim)} (shape ${
          show(shape)
        })`,
      );
    }
    size *= dim;
  }
  if (length !== undefined && size !== length) {
    throw new RangeError(
      `"shape" ${show(shape)} holds ${size} elements but "${dataName}" has length ${length}`,
    );
  }
  if (kernel.length !== shape.length) {
    throw new RangeError(
      `"kernel" must have one entry per dim of shape ${show(shape)}: current value is ${
        show(kernel)
      }`,
    );
  }
  const block: number[] = [];
  const grid: number[] = [];
  let blockSize = 1;
  let gridSize = 1;
  for (let d = 0; d < shape.length; d++) {
    const k = kernel[d];
    const dim = shape[d];
    if (typeof k !== "number" || !Number.isInteger(k) || (k < 1 && k !== -1)) {
      throw new RangeError(
        `"kernel[${d}]" must be a positive integer or -1: current value is ${show(k)}`,
      );
    }
    const b = k === -1 ? dim : k;
    if (dim % b !== 0) {
      throw new RangeError(
        `"kernel[${d}]" = ${k} must divide dim ${d} of shape ${show(shape)} (${dim})`,
      );
    }
    block.push(b);
    grid.push(dim / b);
    blockSize *= b;
    gridSize *= dim / b;
  }
  return { shape: [...shape], block, grid, blockSize, gridSize, size };
}

const CODE_RANGES: ReadonlyArray<[new (n: number) => IntCodes, number, number]> = [
  [Int8Array, -128, 127],
  [Uint8Array, 0, 255],
  [Int16Array, -32768, 32767],
  [Int32Array, -2147483648, 2147483647],
];

/** The [min, max] an integer code array can hold, or undefined for other values. */
export function codeRange(codes: unknown): [number, number] | undefined {
  for (const [ctor, lo, hi] of CODE_RANGES) {
    if (codes instanceof ctor && !(codes instanceof Uint8ClampedArray)) return [lo, hi];
  }
  return undefined;
}

/** Throws unless `codes` is an Int8/Uint8/Int16/Int32 array. */
export function assertIntCodes(name: string, codes: unknown): asserts codes is IntCodes {
  if (codeRange(codes) === undefined) {
    throw new TypeError(
      `"${name}" must be an Int8Array, Uint8Array, Int16Array or Int32Array: current value is ${
        show(codes)
      }`,
    );
  }
}

/**
 * Checks quantization parameters against a tensor shape and data length (and the output code
 * array when given) and returns the block grid.
 */
export function checkQuantParams(
  params: QuantParams,
  shape: readonly number[],
  length: number,
  out?: IntCodes,
  dataName = "data",
): BlockGrid {
  if (params === null || typeof params !== "object") {
    throw new TypeError(`"params" must be an object: current value is ${show(params)}`);
  }
  const grid = blockGrid(shape, params.kernel, length, dataName);
  assertFloat32Array("params.scale", params.scale);
  assertFloat32Array("params.zeroPoint", params.zeroPoint);
  assertSameLength("params.scale", params.scale.length, grid.gridSize, "the block grid");
  assertSameLength("params.zeroPoint", params.zeroPoint.length, grid.gridSize, "the block grid");
  assertInt("params.qmin", params.qmin, -(2 ** 31), 2 ** 31 - 1);
  assertInt("params.qmax", params.qmax, -(2 ** 31), 2 ** 31 - 1);
  if (params.qmin > params.qmax) {
    throw new RangeError(
      `"params.qmin" must be <= "params.qmax": current values are ${params.qmin} and ${params.qmax}`,
    );
  }
  for (let i = 0; i < params.scale.length; i++) {
    const s = params.scale[i];
    if (!(s > 0) || s === Infinity) {
      throw new RangeError(`"params.scale[${i}]" must be finite and > 0: current value is ${s}`);
    }
    const z = params.zeroPoint[i];
    if (!Number.isInteger(z)) {
      throw new RangeError(
        `"params.zeroPoint[${i}]" must be a finite integer: current value is ${z}`,
      );
    }
  }
  if (out !== undefined) {
    assertIntCodes("out", out);
    assertSameLength("out", out.length, length, `"${dataName}"`);
    const [lo, hi] = codeRange(out)!;
    if (params.qmin < lo || params.qmax > hi) {
      throw new RangeError(
        `"out" (${out.constructor.name}) cannot hold codes in [${params.qmin}, ${params.qmax}]`,
      );
    }
  }
  return grid;
}

// ---------------------------------------------------------------------------------------------
// One check per kernel method. Every implementation calls these (and nothing else) first, so all
// of them reject the same inputs with the same error, checking arguments from left to right.

/** Checks the arguments of `kSmallestMask`. */
export function checkKSmallestMask(metric: unknown, k: unknown): void {
  assertFloat32Array("metric", metric);
  assertInt("k", k, 0, metric.length);
}

/** Checks the arguments of `kthSmallest` and returns the total number of elements. */
export function checkKthSmallest(arrays: unknown, k: unknown): number {
  if (!Array.isArray(arrays)) {
    throw new TypeError(
      `"arrays" must be an array of Float32Arrays: current value is ${show(arrays)}`,
    );
  }
  let total = 0;
  for (let i = 0; i < arrays.length; i++) {
    assertFloat32Array(`arrays[${i}]`, arrays[i]);
    total += arrays[i].length;
  }
  if (total === 0) {
    throw new RangeError(`"arrays" must hold at least one element: current total length is 0`);
  }
  assertInt("k", k, 0, total - 1);
  return total;
}

/** Checks the arguments of `histogram`. */
export function checkHistogram(
  data: unknown,
  lo: unknown,
  hi: unknown,
  bins: unknown,
  out: unknown,
): void {
  assertFloat32Array("data", data);
  assertFinite("lo", lo);
  assertFinite("hi", hi);
  if (!(lo < hi)) {
    throw new RangeError(`"lo" must be < "hi": current values are ${lo} and ${hi}`);
  }
  assertInt("bins", bins, 1, 2 ** 24);
  if (out !== undefined) {
    if (!(out instanceof Float64Array)) {
      throw new TypeError(`"out" must be a Float64Array: current value is ${show(out)}`);
    }
    assertSameLength("out", out.length, bins, `"bins"`);
  }
}

/** Checks the arguments of `thresholdMask` (any number is a valid threshold). */
export function checkThresholdMask(metric: unknown, t: unknown): void {
  assertFloat32Array("metric", metric);
  if (typeof t !== "number") {
    throw new TypeError(`"t" must be a number: current value is ${show(t)}`);
  }
}

/** Checks the arguments of `blockReduce` and returns the block grid. */
export function checkBlockReduce(
  data: unknown,
  shape: readonly number[],
  kernel: readonly number[],
  op: unknown,
): BlockGrid {
  assertFloat32Array("data", data);
  const grid = blockGrid(shape, kernel, data.length);
  assertReduction(op);
  return grid;
}

/** Checks the arguments of `blockExpand` and returns the block grid. */
export function checkBlockExpand(
  blockMask: unknown,
  shape: readonly number[],
  kernel: readonly number[],
): BlockGrid {
  assertUint8Array("blockMask", blockMask);
  const grid = blockGrid(shape, kernel, undefined);
  assertSameLength("blockMask", blockMask.length, grid.gridSize, "the block grid");
  return grid;
}

/** Checks the arguments of `minMax` and returns the block grid. */
export function checkMinMax(
  data: unknown,
  shape: readonly number[],
  kernel: readonly number[],
): BlockGrid {
  assertFloat32Array("data", data);
  return blockGrid(shape, kernel, data.length);
}

/** Checks the arguments of `quantize` (`out` is required) and returns the block grid. */
export function checkQuantize(
  data: unknown,
  shape: readonly number[],
  params: QuantParams,
  out: unknown,
): BlockGrid {
  assertFloat32Array("data", data);
  const grid = checkQuantParams(params, shape, data.length, out as IntCodes | undefined);
  assertIntCodes("out", out);
  return grid;
}

/** Checks the arguments of `dequantize` and returns the block grid. */
export function checkDequantize(
  codes: unknown,
  shape: readonly number[],
  params: QuantParams,
): BlockGrid {
  assertIntCodes("codes", codes);
  return checkQuantParams(params, shape, codes.length, undefined, "codes");
}

/** Checks the arguments of `fakeQuantize` and returns the block grid. */
export function checkFakeQuantize(
  data: unknown,
  shape: readonly number[],
  params: QuantParams,
  out?: unknown,
): BlockGrid {
  assertFloat32Array("data", data);
  if (out !== undefined) {
    assertFloat32Array("out", out);
    assertSameLength("out", out.length, data.length, `"data"`);
  }
  return checkQuantParams(params, shape, data.length);
}

/** Checks the arguments of `applyMask`. */
export function checkApplyMask(
  data: unknown,
  mask: unknown,
  method: unknown,
  out?: unknown,
): void {
  assertFloat32Array("data", data);
  assertUint8Array("mask", mask);
  assertSameLength("mask", mask.length, data.length, `"data"`);
  assertMaskMethod(method);
  if (out !== undefined) {
    assertFloat32Array("out", out);
    assertSameLength("out", out.length, data.length, `"data"`);
  }
}

/** Checks the argument of `f16ToF32` and `bf16ToF32`. */
export function checkHalfBits(bits: unknown): void {
  assertUint16Array("bits", bits);
}

/** Checks the `out` of `f16ToF32` and `bf16ToF32`: a Float32Array as long as `bits`. */
export function checkHalfOut(bits: Uint16Array, out: unknown): void {
  assertFloat32Array("out", out);
  if (out.length !== bits.length) {
    throw new RangeError(
      `"out" must have the length of "bits" (${bits.length}): current length is ${out.length}`,
    );
  }
}

/** Checks the argument of `f32ToF16` and `f32ToBf16`. */
export function checkHalfData(data: unknown): void {
  assertFloat32Array("data", data);
}

/** Checks the argument of `packInt4`: Int8Array codes in [-8, 7] or Uint8Array codes in [0, 15]. */
export function checkPackInt4(codes: unknown): void {
  let lo: number;
  let hi: number;
  if (codes instanceof Int8Array) [lo, hi] = [-8, 7];
  else if (codes instanceof Uint8Array) [lo, hi] = [0, 15];
  else {
    throw new TypeError(
      `"codes" must be an Int8Array or Uint8Array: current value is ${show(codes)}`,
    );
  }
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c < lo || c > hi) assertInt(`codes[${i}]`, c, lo, hi);
  }
}

/** Checks the arguments of `unpackInt4`: `n` codes fit in `packed` (`n <= 2 * packed.length`). */
export function checkUnpackInt4(packed: unknown, n: unknown, signed: unknown): void {
  assertUint8Array("packed", packed);
  assertInt("n", n, 0, packed.length * 2);
  if (typeof signed !== "boolean") {
    throw new TypeError(`"signed" must be a boolean: current value is ${show(signed)}`);
  }
}

/** The number of rows of `n` values in `data`; throws unless `n` divides its length. */
function rowsOf(name: string, data: Float32Array, n: number, nName: string): number {
  if (data.length % n !== 0) {
    throw new RangeError(
      `"${name}" must have a length that is a multiple of "${nName}" (${n}): current length is ${data.length}`,
    );
  }
  return data.length / n;
}

/** Checks the arguments of `hessianAccumulate`; returns the number of rows of `x`. */
export function checkHessianAccumulate(
  h: unknown,
  x: unknown,
  n: unknown,
  decay: unknown,
  scale: unknown,
): number {
  assertFloat32Array("h", h);
  assertFloat32Array("x", x);
  assertInt("n", n, 1, 46340);
  assertSameLength("h", h.length, n * n, `n * n`);
  assertFinite("decay", decay);
  assertFinite("scale", scale);
  return rowsOf("x", x, n, "n");
}

/** Checks the arguments of `inverseCholeskyUpper`. */
export function checkInverseCholeskyUpper(h: unknown, n: unknown): void {
  assertFloat32Array("h", h);
  assertInt("n", n, 1, 46340);
  assertSameLength("h", h.length, n * n, `n * n`);
}

/** Checks the arguments of `subtractProducts`; returns `[m, n]`, the shape of `c`. */
export function checkSubtractProducts(
  c: unknown,
  a: unknown,
  b: unknown,
  k: unknown,
): [number, number] {
  assertFloat32Array("c", c);
  assertFloat32Array("a", a);
  assertFloat32Array("b", b);
  assertInt("k", k, 1, 2 ** 31 - 1);
  const m = rowsOf("a", a, k, "k");
  const n = rowsOf("b", b, k, "k");
  assertSameLength("c", c.length, m * n, `a.length / k * b.length / k`);
  return [m, n];
}

/**
 * The error of `inverseCholeskyUpper` when `h` is not positive definite.
 *
 * @param h The matrix.
 * @param n Its order.
 * @param column The column of `h` whose pivot was not positive (the factorisation runs from the
 *   last column to the first).
 * @returns The error to throw.
 */
export function notPositiveDefinite(h: Float32Array, n: number, column: number): RangeError {
  return new RangeError(
    `"h" must be positive definite: the Cholesky pivot of column ${column} is not positive ` +
      `(diagonal value ${h[column * n + column]}, n = ${n})`,
  );
}

/** Throws unless `words` holds stored float bits: an `Int32Array` (float32) or `Uint16Array`. */
function assertMagnitudeWords(words: unknown): asserts words is Int32Array | Uint16Array {
  if (!(words instanceof Int32Array) && !(words instanceof Uint16Array)) {
    throw new TypeError(
      `"words" must be an Int32Array (float32 bits) or a Uint16Array (float16 or bfloat16 ` +
        `bits): current value is ${show(words)}`,
    );
  }
}

/** Throws unless 16-bit `words` come with their type's infinity (float32 words need none). */
function assertHalfInfinity(words: Int32Array | Uint16Array, infinity: unknown): void {
  if (words instanceof Uint16Array && infinity !== 0x7c00 && infinity !== 0x7f80) {
    throw new RangeError(
      `"infinity" must be 0x7c00 (float16) or 0x7f80 (bfloat16) for 16-bit words: current ` +
        `value is ${show(infinity)}`,
    );
  }
}

/** Throws unless `hist` is a `Uint32Array` of `bins` counts. */
function assertBins(hist: unknown, bins: number): void {
  if (!(hist instanceof Uint32Array)) {
    throw new TypeError(`"hist" must be a Uint32Array: current value is ${show(hist)}`);
  }
  assertSameLength("hist", hist.length, bins, "the bins");
}

/** Checks the arguments of `magnitudeHighHistogram`. */
export function checkMagnitudeHighHistogram(
  words: unknown,
  infinity: unknown,
  hist: unknown,
): void {
  assertMagnitudeWords(words);
  assertHalfInfinity(words, infinity);
  assertBins(hist, 32768);
}

/** Checks the arguments of `magnitudeLowHistogram`. */
export function checkMagnitudeLowHistogram(words: unknown, high: unknown, hist: unknown): void {
  if (!(words instanceof Int32Array)) {
    throw new TypeError(`"words" must be an Int32Array: current value is ${show(words)}`);
  }
  assertInt("high", high, 0, 0x7fff);
  assertBins(hist, 65536);
}

/** Checks the arguments of `magnitudeBand`. */
export function checkMagnitudeBand(
  words: unknown,
  infinity: unknown,
  lo: unknown,
  hi: unknown,
  keys: unknown,
  counts: unknown,
): void {
  assertMagnitudeWords(words);
  assertHalfInfinity(words, infinity);
  const top = words instanceof Int32Array ? 0x7fffffff : 0x7fff;
  assertInt("lo", lo, 0, top);
  assertInt("hi", hi, lo as number, top);
  if (!(keys instanceof Int32Array)) {
    throw new TypeError(`"keys" must be an Int32Array: current value is ${show(keys)}`);
  }
  if (
    !(counts instanceof Float64Array) || counts.length !== 2 ||
    !counts.every((c) => Number.isSafeInteger(c) && c >= 0)
  ) {
    throw new TypeError(
      `"counts" must be a Float64Array of 2 counts (below, in the band): current value is ${
        show(counts)
      }`,
    );
  }
}

/** Checks the arguments of `magnitudeCut`. */
export function checkMagnitudeCut(
  words: unknown,
  cut: unknown,
  apply: unknown,
  state: unknown,
  bits: unknown,
): void {
  assertMagnitudeWords(words);
  assertInt("cut", cut, -1, 0x7fffffff);
  if (typeof apply !== "boolean") {
    throw new TypeError(`"apply" must be a boolean: current value is ${show(apply)}`);
  }
  if (!(state instanceof Uint32Array) || state.length !== 3) {
    throw new TypeError(
      `"state" must be a Uint32Array of 3 counts (ties, zeros before, zeros after): current ` +
        `value is ${show(state)}`,
    );
  }
  if (!(bits instanceof Uint8Array)) {
    throw new TypeError(`"bits" must be a Uint8Array: current value is ${show(bits)}`);
  }
  assertSameLength("bits", bits.length, Math.ceil(words.length / 8), "one bit per word");
}

/** Checks the arguments of `magnitudeBin`. */
export function checkMagnitudeBin(
  words: unknown,
  high: unknown,
  hist: unknown,
  positions: unknown,
  lows: unknown,
): void {
  checkMagnitudeLowHistogram(words, high, hist);
  if (!(positions instanceof Uint32Array)) {
    throw new TypeError(`"positions" must be a Uint32Array: current value is ${show(positions)}`);
  }
  if (!(lows instanceof Uint16Array)) {
    throw new TypeError(`"lows" must be a Uint16Array: current value is ${show(lows)}`);
  }
  assertSameLength("lows", lows.length, positions.length, `"positions"`);
}

/** Checks the arguments of `magnitudeApplyBits`. */
export function checkMagnitudeApplyBits(
  words: unknown,
  bits: unknown,
  infinity: unknown,
  zeros: unknown,
): void {
  assertMagnitudeWords(words);
  if (!(bits instanceof Uint8Array)) {
    throw new TypeError(`"bits" must be a Uint8Array: current value is ${show(bits)}`);
  }
  if (bits.length * 8 < words.length) {
    throw new RangeError(
      `"bits" must hold ${words.length} bits: current length is ${bits.length} bytes`,
    );
  }
  assertHalfInfinity(words, infinity);
  if (!(zeros instanceof Uint32Array) || zeros.length !== 2) {
    throw new TypeError(
      `"zeros" must be a Uint32Array of 2 counts (before, after): current value is ${show(zeros)}`,
    );
  }
}
