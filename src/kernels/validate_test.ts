import { test } from "node:test";
import assert from "node:assert/strict";
import {
  blockGrid,
  checkApplyMask,
  checkBlockExpand,
  checkBlockReduce,
  checkDequantize,
  checkFakeQuantize,
  checkHalfBits,
  checkHalfData,
  checkHistogram,
  checkKSmallestMask,
  checkKthSmallest,
  checkMinMax,
  checkPackInt4,
  checkQuantize,
  checkThresholdMask,
  checkUnpackInt4,
  codeRange,
} from "./validate.ts";
import type { QuantParams } from "./types.ts";

/** Asserts that `fn` throws exactly an `errorClass` with exactly `message`. */
function throwsExactly(
  fn: () => unknown,
  errorClass: typeof TypeError | typeof RangeError,
  message: string,
): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof Error, `not an Error: ${error}`);
    assert.equal(error.constructor, errorClass, `${error.name}: ${error.message}`);
    assert.equal(error.message, message);
    return;
  }
  assert.fail(`expected ${errorClass.name}: ${message}`);
}

// deno-lint-ignore no-explicit-any
const bad = (x: unknown) => x as any;
const f32 = (n: number) => new Float32Array(n);

function params(overrides: Partial<QuantParams> = {}): QuantParams {
  return {
    kernel: [1, -1],
    scale: new Float32Array([0.5, 0.25]),
    zeroPoint: new Float32Array([0, 3]),
    qmin: -128,
    qmax: 127,
    ...overrides,
  };
}

test("checks name the argument when an array has the wrong type", () => {
  throwsExactly(
    () => checkKSmallestMask(new Float64Array(2), 1),
    TypeError,
    `"metric" must be a Float32Array: current value is Float64Array(2)`,
  );
  throwsExactly(
    () => checkBlockExpand(bad([1, 0]), [2], [1]),
    TypeError,
    `"blockMask" must be a Uint8Array: current value is [1, 0]`,
  );
  throwsExactly(
    () => checkHalfBits(new Int16Array(3)),
    TypeError,
    `"bits" must be a Uint16Array: current value is Int16Array(3)`,
  );
  throwsExactly(
    () => checkHalfData(null),
    TypeError,
    `"data" must be a Float32Array: current value is null`,
  );
  throwsExactly(
    () => checkDequantize(new Float32Array(4), [2, 2], params()),
    TypeError,
    `"codes" must be an Int8Array, Uint8Array, Int16Array or Int32Array: current value is Float32Array(4)`,
  );
  throwsExactly(
    () => checkApplyMask(f32(2), new Uint8ClampedArray(2), "mul"),
    TypeError,
    `"mask" must be a Uint8Array: current value is Uint8ClampedArray(2)`,
  );
  throwsExactly(
    () => checkKthSmallest([f32(1), bad({})], 0),
    TypeError,
    `"arrays[1]" must be a Float32Array: current value is [object Object]`,
  );
  throwsExactly(
    () => checkKthSmallest(f32(3), 0),
    TypeError,
    `"arrays" must be an array of Float32Arrays: current value is Float32Array(3)`,
  );
});

test("checks reject a shape that does not match the data length", () => {
  throwsExactly(
    () => checkBlockReduce(f32(5), [2, 3], [1, -1], "sum"),
    RangeError,
    `"shape" [2, 3] holds 6 elements but "data" has length 5`,
  );
  throwsExactly(
    () => checkDequantize(new Int8Array(3), [2, 2], params()),
    RangeError,
    `"shape" [2, 2] holds 4 elements but "codes" has length 3`,
  );
  throwsExactly(
    () => checkMinMax(f32(0), [2, 0], [1, 1]),
    RangeError,
    `"shape[1]" must be a positive integer: current value is 0 (shape [2, 0])`,
  );
  throwsExactly(
    () => checkMinMax(f32(4), [2, 2.5], [1, 1]),
    RangeError,
    `"shape[1]" must be a positive integer: current value is 2.5 (shape [2, 2.5])`,
  );
  throwsExactly(
    () => checkMinMax(f32(4), bad("2x2"), [1, 1]),
    TypeError,
    `"shape" must be an array of integers: current value is "2x2"`,
  );
});

test("checks reject a kernel whose rank differs from the shape's", () => {
  throwsExactly(
    () => checkBlockReduce(f32(6), [2, 3], [1], "sum"),
    RangeError,
    `"kernel" must have one entry per dim of shape [2, 3]: current value is [1]`,
  );
  throwsExactly(
    () => checkMinMax(f32(6), [2, 3], bad(-1)),
    TypeError,
    `"kernel" must be an array of integers: current value is -1`,
  );
});

test("checks reject a kernel entry that does not divide its dim or is not allowed", () => {
  throwsExactly(
    () => checkBlockReduce(f32(6), [2, 3], [1, 2], "sum"),
    RangeError,
    `"kernel[1]" = 2 must divide dim 1 of shape [2, 3] (3)`,
  );
  throwsExactly(
    () => checkBlockExpand(new Uint8Array(1), [4, 4], [8, -1]),
    RangeError,
    `"kernel[0]" = 8 must divide dim 0 of shape [4, 4] (4)`,
  );
  throwsExactly(
    () => checkMinMax(f32(6), [2, 3], [0, -1]),
    RangeError,
    `"kernel[0]" must be a positive integer or -1: current value is 0`,
  );
  throwsExactly(
    () => checkMinMax(f32(6), [2, 3], [1, -2]),
    RangeError,
    `"kernel[1]" must be a positive integer or -1: current value is -2`,
  );
});

test("blockGrid() resolves -1 entries and counts blocks", () => {
  assert.deepEqual(blockGrid([4, 6], [2, -1], 24), {
    shape: [4, 6],
    block: [2, 6],
    grid: [2, 1],
    blockSize: 12,
    gridSize: 2,
    size: 24,
  });
  assert.deepEqual(blockGrid([], [], 1).size, 1);
  assert.deepEqual(blockGrid([3, 5], [-1, 1], undefined).gridSize, 5);
});

test("checkBlockExpand() requires one mask value per block", () => {
  throwsExactly(
    () => checkBlockExpand(new Uint8Array(3), [2, 3], [1, -1]),
    RangeError,
    `"blockMask" must have the length of the block grid (2): current length is 3`,
  );
});

test("checkKSmallestMask() requires an integer k within [0, n]", () => {
  throwsExactly(
    () => checkKSmallestMask(f32(3), 4),
    RangeError,
    `"k" must be within [0, 3]: current value is 4`,
  );
  throwsExactly(
    () => checkKSmallestMask(f32(3), -1),
    RangeError,
    `"k" must be within [0, 3]: current value is -1`,
  );
  throwsExactly(
    () => checkKSmallestMask(f32(3), 1.5),
    TypeError,
    `"k" must be an integer: current value is 1.5`,
  );
  throwsExactly(
    () => checkKSmallestMask(f32(3), NaN),
    TypeError,
    `"k" must be an integer: current value is NaN`,
  );
  throwsExactly(
    () => checkKSmallestMask(f32(3), bad("1")),
    TypeError,
    `"k" must be an integer: current value is "1"`,
  );
  checkKSmallestMask(f32(3), 0);
  checkKSmallestMask(f32(3), 3);
});

test("checkKthSmallest() requires a k within [0, total) and at least one element", () => {
  assert.equal(checkKthSmallest([f32(2), f32(0), f32(3)], 4), 5);
  throwsExactly(
    () => checkKthSmallest([f32(2), f32(3)], 5),
    RangeError,
    `"k" must be within [0, 4]: current value is 5`,
  );
  throwsExactly(
    () => checkKthSmallest([f32(0)], 0),
    RangeError,
    `"arrays" must hold at least one element: current total length is 0`,
  );
});

test("checkHistogram() requires finite lo < hi, integer bins and a matching out", () => {
  throwsExactly(
    () => checkHistogram(f32(1), NaN, 1, 4, undefined),
    RangeError,
    `"lo" must be finite: current value is NaN`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 0, Infinity, 4, undefined),
    RangeError,
    `"hi" must be finite: current value is Infinity`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), bad("0"), 1, 4, undefined),
    TypeError,
    `"lo" must be a number: current value is "0"`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 1, 1, 4, undefined),
    RangeError,
    `"lo" must be < "hi": current values are 1 and 1`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 0, 1, 0, undefined),
    RangeError,
    `"bins" must be within [1, 16777216]: current value is 0`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 0, 1, 2 ** 24 + 1, undefined),
    RangeError,
    `"bins" must be within [1, 16777216]: current value is 16777217`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 0, 1, 4, new Float32Array(4)),
    TypeError,
    `"out" must be a Float64Array: current value is Float32Array(4)`,
  );
  throwsExactly(
    () => checkHistogram(f32(1), 0, 1, 4, new Float64Array(3)),
    RangeError,
    `"out" must have the length of "bins" (4): current length is 3`,
  );
});

test("checkThresholdMask() accepts any number, NaN and infinities included", () => {
  for (const t of [0, -Infinity, Infinity, NaN, 0.1]) checkThresholdMask(f32(2), t);
  throwsExactly(
    () => checkThresholdMask(f32(2), bad(undefined)),
    TypeError,
    `"t" must be a number: current value is undefined`,
  );
});

test("checkBlockReduce() rejects an unknown reduction", () => {
  throwsExactly(
    () => checkBlockReduce(f32(4), [4], [-1], bad("max")),
    TypeError,
    `"op" must be one of sum, mean, l1, l2, maxabs: current value is "max"`,
  );
});

test("checkApplyMask() rejects an unknown method and a mask of another length", () => {
  throwsExactly(
    () => checkApplyMask(f32(2), new Uint8Array(2), "sub"),
    TypeError,
    `"method" must be "mul" or "add": current value is "sub"`,
  );
  throwsExactly(
    () => checkApplyMask(f32(2), new Uint8Array(3), "mul"),
    RangeError,
    `"mask" must have the length of "data" (2): current length is 3`,
  );
});

test("checkQuantize() rejects scales that are not finite and positive", () => {
  for (const [s, shown] of [[Infinity, "Infinity"], [NaN, "NaN"], [0, "0"], [-1, "-1"]] as const) {
    throwsExactly(
      () =>
        checkQuantize(
          f32(4),
          [2, 2],
          params({ scale: new Float32Array([1, s]) }),
          new Int8Array(4),
        ),
      RangeError,
      `"params.scale[1]" must be finite and > 0: current value is ${shown}`,
    );
  }
});

test("checkQuantize() rejects a zero point that is not an integer", () => {
  throwsExactly(
    () =>
      checkQuantize(
        f32(4),
        [2, 2],
        params({ zeroPoint: new Float32Array([0, 0.5]) }),
        new Int8Array(4),
      ),
    RangeError,
    `"params.zeroPoint[1]" must be a finite integer: current value is 0.5`,
  );
  throwsExactly(
    () => checkFakeQuantize(f32(4), [2, 2], params({ zeroPoint: new Float32Array([NaN, 0]) })),
    RangeError,
    `"params.zeroPoint[0]" must be a finite integer: current value is NaN`,
  );
});

test("checkQuantize() rejects parameters of the wrong length or range", () => {
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ scale: new Float32Array(1) }), new Int8Array(4)),
    RangeError,
    `"params.scale" must have the length of the block grid (2): current length is 1`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ scale: bad([1, 1]) }), new Int8Array(4)),
    TypeError,
    `"params.scale" must be a Float32Array: current value is [1, 1]`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ qmin: 5, qmax: 4 }), new Int8Array(4)),
    RangeError,
    `"params.qmin" must be <= "params.qmax": current values are 5 and 4`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ qmin: 0.5 }), new Int8Array(4)),
    TypeError,
    `"params.qmin" must be an integer: current value is 0.5`,
  );
  throwsExactly(
    () => checkFakeQuantize(f32(4), [2, 2], bad(null)),
    TypeError,
    `"params" must be an object: current value is null`,
  );
});

test("checkQuantize() requires an out array whose type holds [qmin, qmax]", () => {
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ qmin: 0, qmax: 255 }), new Int8Array(4)),
    RangeError,
    `"out" (Int8Array) cannot hold codes in [0, 255]`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params({ qmin: -1, qmax: 15 }), new Uint8Array(4)),
    RangeError,
    `"out" (Uint8Array) cannot hold codes in [-1, 15]`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params(), new Int8Array(5)),
    RangeError,
    `"out" must have the length of "data" (4): current length is 5`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params(), undefined),
    TypeError,
    `"out" must be an Int8Array, Uint8Array, Int16Array or Int32Array: current value is undefined`,
  );
  throwsExactly(
    () => checkQuantize(f32(4), [2, 2], params(), new Uint8ClampedArray(4)),
    TypeError,
    `"out" must be an Int8Array, Uint8Array, Int16Array or Int32Array: current value is Uint8ClampedArray(4)`,
  );
});

test("codeRange() gives the range of each integer code array type", () => {
  assert.deepEqual(codeRange(new Int8Array(0)), [-128, 127]);
  assert.deepEqual(codeRange(new Uint8Array(0)), [0, 255]);
  assert.deepEqual(codeRange(new Int16Array(0)), [-32768, 32767]);
  assert.deepEqual(codeRange(new Int32Array(0)), [-2147483648, 2147483647]);
  assert.equal(codeRange(new Uint16Array(0)), undefined);
});

test("checkPackInt4() requires Int8 codes in [-8, 7] or Uint8 codes in [0, 15]", () => {
  throwsExactly(
    () => checkPackInt4(new Int8Array([0, 8])),
    RangeError,
    `"codes[1]" must be within [-8, 7]: current value is 8`,
  );
  throwsExactly(
    () => checkPackInt4(new Int8Array([-9])),
    RangeError,
    `"codes[0]" must be within [-8, 7]: current value is -9`,
  );
  throwsExactly(
    () => checkPackInt4(new Uint8Array([15, 0, 16])),
    RangeError,
    `"codes[2]" must be within [0, 15]: current value is 16`,
  );
  throwsExactly(
    () => checkPackInt4(new Int16Array(2)),
    TypeError,
    `"codes" must be an Int8Array or Uint8Array: current value is Int16Array(2)`,
  );
});

test("checkUnpackInt4() requires n <= 2 * packed.length and a boolean signed", () => {
  throwsExactly(
    () => checkUnpackInt4(new Uint8Array(2), 5, true),
    RangeError,
    `"n" must be within [0, 4]: current value is 5`,
  );
  throwsExactly(
    () => checkUnpackInt4(new Uint8Array(2), 3, bad(1)),
    TypeError,
    `"signed" must be a boolean: current value is 1`,
  );
  throwsExactly(
    () => checkUnpackInt4(new Int8Array(2), 3, true),
    TypeError,
    `"packed" must be a Uint8Array: current value is Int8Array(2)`,
  );
});
