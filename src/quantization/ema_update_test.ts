import { test } from "node:test";
import assert from "node:assert/strict";
import { computeQuantParams } from "./compute_quant_params.ts";
import { emaUpdate } from "./ema_update.ts";

test("emaUpdate() drifts a constant range in float32 like NNI's QAT quantizer", () => {
  let min: Float32Array | undefined, max: Float32Array | undefined;
  for (let i = 0; i < 3; i++) {
    min = emaUpdate(min, Float32Array.of(-0.7884311079978943));
    max = emaUpdate(max, Float32Array.of(1.0253733396530151));
  }
  const { scale } = computeQuantParams({
    trackedMin: min!,
    trackedMax: max!,
    qmin: -127,
    qmax: 127,
  });
  assert.equal(scale[0], 0.008073807694017887); // PTQ on the same weight: 0.008073805831372738
});

test("emaUpdate() copies the first observation and checks lengths", () => {
  const cur = Float32Array.of(1, 2);
  const first = emaUpdate(undefined, cur);
  assert.deepEqual([...first], [1, 2]);
  assert.notEqual(first, cur);
  assert.throws(() => emaUpdate(first, Float32Array.of(1)), RangeError);
});
