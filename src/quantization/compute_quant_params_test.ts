import { test } from "node:test";
import assert from "node:assert/strict";
import { computeQuantParams, FLOAT32_EPS } from "./compute_quant_params.ts";
import { QuantizationError } from "./quantization_error.ts";

const f = (...v: number[]) => Float32Array.from(v);

test("computeQuantParams() divides the symmetric range by (qmax - qmin) / 2 in float32", () => {
  const { scale, zeroPoint } = computeQuantParams({
    trackedMin: f(-0.7884311079978943),
    trackedMax: f(1.0253733396530151),
    qmin: -127,
    qmax: 127,
  });
  assert.equal(scale[0], 0.008073805831372738);
  assert.equal(zeroPoint[0], 0);
});

test("computeQuantParams() gives uint8 symmetric zero point 128 and scale absmax / 127.5", () => {
  const { scale, zeroPoint } = computeQuantParams({
    trackedMin: f(-2),
    trackedMax: f(1),
    qmin: 0,
    qmax: 255,
    scheme: "symmetric",
  });
  assert.equal(scale[0], Math.fround(2 / 127.5));
  assert.equal(zeroPoint[0], 128);
});

test("computeQuantParams() floors the scale at float32 epsilon for all-zero blocks", () => {
  const p = computeQuantParams({
    trackedMin: f(0, 0),
    trackedMax: f(0, 0),
    qmin: 0,
    qmax: 15,
    scheme: "affine",
  });
  assert.deepEqual([...p.scale], [FLOAT32_EPS, FLOAT32_EPS]);
  assert.deepEqual([...p.zeroPoint], [0, 0]);
});

test("computeQuantParams() widens the range to contain zero", () => {
  const p = computeQuantParams({
    trackedMin: f(2),
    trackedMax: f(4),
    qmin: 0,
    qmax: 255,
    scheme: "affine",
  });
  assert.equal(p.scale[0], Math.fround(4 / 255));
  assert.equal(p.zeroPoint[0], 0);
});

test("computeQuantParams() rounds the affine zero point half to even", () => {
  // mn / scale = -2.5 exactly: qmin - round(-2.5) = 0 - (-2) = 2 (half up would give 3).
  const p = computeQuantParams({
    trackedMin: f(-2.5),
    trackedMax: f(2.5 * 101),
    qmin: 0,
    qmax: 255,
    scheme: "affine",
  });
  assert.equal(p.scale[0], Math.fround(Math.fround(2.5 * 102) / 255));
  assert.equal(p.zeroPoint[0], 0 - Math.round(Math.fround(-2.5 / p.scale[0])) + 0);
  const q = computeQuantParams({
    trackedMin: f(-5),
    trackedMax: f(505),
    qmin: 0,
    qmax: 255,
    scheme: "affine",
  });
  assert.equal(q.scale[0], 2);
  assert.equal(q.zeroPoint[0], 2);
});

test("computeQuantParams() clamps the zero point to [qmin, qmax]", () => {
  const p = computeQuantParams({
    trackedMin: f(-1),
    trackedMax: f(0),
    qmin: -7,
    qmax: 7,
    scheme: "affine",
  });
  assert.equal(p.zeroPoint[0], 7);
});

test("computeQuantParams() rejects bad ranges, lengths and schemes", () => {
  const base = { trackedMin: f(-1), trackedMax: f(1), qmin: -127, qmax: 127 };
  assert.throws(() => computeQuantParams({ ...base, trackedMax: f(1, 2) }), /same length/);
  assert.throws(
    () => computeQuantParams({ ...base, trackedMin: f(NaN) }),
    /block 0 must be finite/,
  );
  assert.throws(() => computeQuantParams({ ...base, qmin: 0, qmax: 0 }), /qmin < qmax/);
  assert.throws(
    () =>
      computeQuantParams({
        ...base,
        trackedMin: f(-3e38),
        trackedMax: f(3e38),
        qmin: 0,
        qmax: 1,
        scheme: "affine",
      }),
    /infinite scale/,
  );
  const code = (c: string) => (e: unknown) => e instanceof QuantizationError && e.code === c;
  assert.throws(
    () => computeQuantParams({ ...base, scheme: "asym" as unknown as "affine" }),
    code("quant_scheme"),
  );
  assert.throws(
    () => computeQuantParams({ ...base, trackedMin: [-1] as unknown as Float32Array }),
    code("range"),
  );
  assert.throws(() => computeQuantParams({ ...base, trackedMax: f(Infinity) }), code("non_finite"));
});
