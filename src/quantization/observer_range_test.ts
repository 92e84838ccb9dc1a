import { test } from "node:test";
import assert from "node:assert/strict";
import { computeQuantParams } from "./compute_quant_params.ts";
import { checkObserver, observerRange, OBSERVERS } from "./observer_range.ts";
import { percentileRange } from "./percentile_range.ts";
import { observeHistogram, type StreamingHistogram } from "./streaming_histogram.ts";
import { mergeTrackedRange, trackedRange } from "./tracked_range.ts";

/** Standard normal samples (Box-Muller over a fixed LCG). */
function gaussian(n: number, seed = 7): Float32Array {
  let s = seed;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** 1M standard normal values with five outliers at about ±20, observed in four batches. */
function gaussianWithOutliers(): StreamingHistogram {
  const data = gaussian(1_000_000);
  data.set([20, -20, 19, -19, 20], 500_000);
  let h: StreamingHistogram | undefined;
  for (let b = 0; b < 4; b++) {
    h = observeHistogram(h, data.subarray(b * 250_000, (b + 1) * 250_000), [250_000], [-1]);
  }
  return h!;
}

const INT8 = { qmin: -127, qmax: 127 };
const INT4 = { qmin: -7, qmax: 7 };

test("minmax keeps the outliers of a Gaussian; percentile, mse and entropy clip them", () => {
  const h = gaussianWithOutliers();
  const max = (o: (typeof OBSERVERS)[number], t = INT8) => observerRange(h, o, t).max[0];
  assert.equal(max("minmax"), 20);
  assert.equal(observerRange(h, "minmax", INT8).min[0], -20);
  // The 99.99th percentile of |x| of a standard normal is 3.891.
  const p = max("percentile");
  assert.ok(Math.abs(p - 3.891) < 0.1, `percentile ${p}`);
  // int8: the rounding noise of a range of 20 costs more than clipping five values.
  const m8 = max("mse");
  assert.ok(m8 > 4 && m8 < 15, `mse int8 ${m8}`);
  // int4: the MSE-optimal clip of a Gaussian with 16 levels is 2.55 sigma (Banner et al., ACIQ).
  const m4 = max("mse", INT4);
  assert.ok(Math.abs(m4 - 2.55) < 0.15, `mse int4 ${m4}`);
  const e = max("entropy");
  assert.ok(e > 3 && e < 8, `entropy ${e}`);
  for (const o of ["percentile", "mse", "entropy"] as const) {
    const r = observerRange(h, o, INT8);
    assert.equal(r.min[0], -r.max[0], `${o} is symmetric`);
  }
});

test("observer ranges give smaller int8 scales than min/max on outliers", () => {
  const h = gaussianWithOutliers();
  const scale = (o: (typeof OBSERVERS)[number]) => {
    const r = observerRange(h, o, INT8);
    return computeQuantParams({ trackedMin: r.min, trackedMax: r.max, ...INT8 }).scale[0];
  };
  assert.equal(scale("minmax"), Math.fround(20 / 127));
  for (const o of ["percentile", "mse", "entropy"] as const) assert.ok(scale(o) < 20 / 127 / 1.3);
});

test("observers keep the whole range of uniform data without outliers", () => {
  const data = Float32Array.from({ length: 100_000 }, (_, i) => -1 + (2 * i + 1) / 100_000);
  const h = observeHistogram(undefined, data, [100_000], [-1]);
  assert.equal(percentileRange(h, { percentile: 100 }).max[0], data[99_999]);
  assert.ok(observerRange(h, "entropy", INT8).max[0] > 0.99);
  // int8: the last code covers half a step beyond the range, so the best range is 254 / 255.
  const m = observerRange(h, "mse", INT8).max[0];
  assert.ok(Math.abs(m - 254 / 255) < 0.005, `mse ${m}`);
});

test("minmax from a histogram equals NNI's PTQ observer bit for bit", () => {
  let h: StreamingHistogram | undefined;
  let r;
  for (let b = 0; b < 6; b++) {
    const data = gaussian(2 * 3 * 40, b + 1).map((x) => x * (b + 1) * 0.37);
    h = observeHistogram(h, data, [2, 3, 40], [-1, 1, -1]);
    r = mergeTrackedRange(r, trackedRange(data, [2, 3, 40], [-1, 1, -1]));
  }
  const m = observerRange(h!, "minmax", INT8);
  assert.deepEqual([...m.min], [...r!.min]);
  assert.deepEqual([...m.max], [...r!.max]);
});

test("affine observers clip each tail of a skewed distribution separately", () => {
  // |N(0, 1)| on the positive side, -0.1 * |N(0, 1)| on the negative side.
  const g = gaussian(400_000, 3);
  const data = g.map((x, i) => (i % 2 === 0 ? Math.abs(x) : -0.1 * Math.abs(x)));
  const h = observeHistogram(undefined, data, [400_000], [-1]);
  const uint8 = { qmin: 0, qmax: 255, scheme: "affine" as const };
  const p = observerRange(h, "percentile", uint8, { percentile: 99.9 });
  // The 99.9th percentile is 99.8% into the positive half: |x| at 0.998 is 3.09; the 0.1st
  // percentile is 0.2% into the negative half: -0.1 * 3.09.
  assert.ok(Math.abs(p.max[0] - 3.09) < 0.1, `max ${p.max[0]}`);
  assert.ok(Math.abs(p.min[0] + 0.309) < 0.02, `min ${p.min[0]}`);
  for (const o of ["mse", "entropy"] as const) {
    const r = observerRange(h, o, uint8);
    assert.ok(r.max[0] > 2.5 && r.max[0] <= h.max[0], `${o} max ${r.max[0]}`);
    assert.ok(r.min[0] < -0.2 && r.min[0] >= h.min[0], `${o} min ${r.min[0]}`);
  }
});

test("observers give one clipping range per channel", () => {
  // Channel 0: N(0, 1); channel 1: N(0, 1) * 10 — the percentile scales with the channel.
  const g = gaussian(2 * 2 * 50_000, 5);
  const data = g.map((x, i) => (Math.floor(i / 50_000) % 2 === 1 ? 10 * x : x));
  const h = observeHistogram(undefined, data, [2, 2, 50_000], [-1, 1, -1]);
  const r = observerRange(h, "percentile", INT8, { percentile: 99 });
  assert.ok(Math.abs(r.max[0] - 2.576) < 0.1, `channel 0 ${r.max[0]}`);
  assert.ok(Math.abs(r.max[1] - 25.76) < 1, `channel 1 ${r.max[1]}`);
});

test("observers reject unknown names and bad options", () => {
  const h = observeHistogram(undefined, Float32Array.of(-1, 1), [2], [-1]);
  assert.throws(() => checkObserver("kl"), /"observer" must be one of "minmax", "percentile"/);
  assert.throws(() => observerRange(h, "max" as "minmax", INT8), /current value is "max"/);
  assert.throws(
    () => observerRange(h, "percentile", INT8, { percentile: 0 }),
    /"percentile" must be within \(0, 100\]: current value is 0/,
  );
  assert.throws(() => observerRange(h, "mse", { qmin: 0, qmax: 0 }), /"qmax" must be larger/);
  assert.throws(() => observerRange(h, "entropy", { qmin: 3, qmax: 1 }), /"qmax" must be larger/);
});
