import { test } from "node:test";
import assert from "node:assert/strict";
import { referenceKernels } from "../kernels/reference.ts";
import { codeArrayFor, dequantizeTensor, quantizeTensor } from "./quantize_tensor.ts";

const perRow = {
  kernel: [1, -1],
  scale: Float32Array.of(0.5, 2),
  zeroPoint: Float32Array.of(0, 0),
  qmin: -127,
  qmax: 127,
};

test("quantizeTensor() uses one scale per block and rounds half to even", () => {
  const data = Float32Array.of(0.25, 0.75, -100, 5, 3, 1000);
  const codes = quantizeTensor(data, [2, 3], perRow);
  assert.ok(codes instanceof Int8Array);
  assert.deepEqual([...codes], [0, 2, -127, 2, 2, 127]);
  const ref = quantizeTensor(data, [2, 3], perRow, { kernels: referenceKernels });
  assert.deepEqual([...ref], [...codes]);
});

test("dequantizeTensor() inverts the codes with (q - zp) * s", () => {
  const values = dequantizeTensor(Int8Array.of(0, 2, -127, 2, 2, 127), [2, 3], perRow);
  assert.deepEqual([...values], [0, 1, -63.5, 4, 4, 254]);
});

test("codeArrayFor() picks the smallest integer array for the range", () => {
  assert.ok(codeArrayFor(-32767, 32767, 1) instanceof Int16Array);
  assert.ok(codeArrayFor(0, 15, 1) instanceof Int8Array);
  assert.ok(codeArrayFor(0, 65535, 1) instanceof Int32Array);
  assert.throws(() => codeArrayFor(0, 2 ** 32, 1), RangeError);
});
