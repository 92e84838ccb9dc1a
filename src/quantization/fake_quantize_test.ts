import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeQuantize } from "./fake_quantize.ts";
import { dequantizeTensor, quantizeTensor } from "./quantize_tensor.ts";

const params = {
  kernel: [1, -1],
  scale: Float32Array.of(0.1, 0.3),
  zeroPoint: Float32Array.of(0, 3),
  qmin: -7,
  qmax: 7,
};

test("fakeQuantize() equals dequantize(quantize(x)) up to the sign of zero", () => {
  const data = Float32Array.of(0.33, -0.04, 5, 0.7, -0.2, -9);
  const fq = fakeQuantize(data, [2, 3], params);
  const two = dequantizeTensor(quantizeTensor(data, [2, 3], params), [2, 3], params);
  assert.deepEqual([...fq].map((v) => v + 0), [...two].map((v) => v + 0));
  assert.ok(Object.is(fq[1], -0) && Object.is(two[1], 0));
});

test("fakeQuantize() gives -0 like torch where a negative value rounds to code 0", () => {
  const fq = fakeQuantize(Float32Array.of(-0.04, 0.04, -0, -0.01, 0, 0), [2, 3], params);
  assert.ok(Object.is(fq[0], -0), "negative small value, zero point 0");
  assert.ok(Object.is(fq[1], 0));
  assert.ok(Object.is(fq[2], 0), "-0 / s + 0 is +0");
  assert.ok(Object.is(fq[3], 0), "zero point 3: (3 - 3) * s is +0");
});
