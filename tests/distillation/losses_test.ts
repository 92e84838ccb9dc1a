// The distillation losses: ops against plain math, gradients against finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distillLoss, type HiddenState } from "../../src/distillation/mod.ts";
import { distillLossTf, klLossTf, mseLossTf } from "../../src/distillation/distill_loss_tf.ts";
import { klLoss } from "../../src/distillation/kl_loss.ts";
import { mseLoss } from "../../src/distillation/mse_loss.ts";
import { randomArray, tf } from "../training/_tf.ts";

const SHAPE = [3, 5];
const s0 = randomArray(15, 1).map((v) => v * 3);
const t0 = randomArray(15, 2).map((v) => v * 3);

/** Central finite differences of a float64 function of a float32 input. */
function numericGrad(f: (x: Float32Array) => number, x: Float32Array, h = 1e-3): number[] {
  return [...x].map((_, i) => {
    const up = Float32Array.from(x);
    const down = Float32Array.from(x);
    up[i] += h;
    down[i] -= h;
    return (f(up) - f(down)) / (up[i] - down[i]);
  });
}

function assertGradClose(got: ArrayLike<number>, want: number[], tol: number): void {
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])),
      `element ${i}: ${got[i]} vs ${want[i]}`,
    );
  }
}

test("klLossTf() equals the plain klLoss()", () => {
  const got = klLossTf(tf.tensor(s0, SHAPE), tf.tensor(t0, SHAPE)).dataSync()[0];
  const want = klLoss(s0, t0, SHAPE);
  assert.ok(Math.abs(got - want) <= 1e-5 * Math.abs(want), `${got} vs ${want}`);
});

test("mseLossTf() equals the plain mseLoss()", () => {
  const got = mseLossTf(tf.tensor(s0, SHAPE), tf.tensor(t0, SHAPE)).dataSync()[0];
  assert.ok(Math.abs(got - mseLoss(s0, t0)) <= 1e-5 * mseLoss(s0, t0));
});

test("the gradient of the kl loss matches finite differences", () => {
  const g = tf.grad((s: tf.Tensor) => klLossTf(s, tf.tensor(t0, SHAPE)))(tf.tensor(s0, SHAPE));
  assertGradClose(g.dataSync(), numericGrad((s) => klLoss(s, t0, SHAPE), s0), 2e-3);
});

test("the gradient of the mse loss matches finite differences", () => {
  const g = tf.grad((s: tf.Tensor) => mseLossTf(s, tf.tensor(t0, SHAPE)))(tf.tensor(s0, SHAPE));
  assertGradClose(g.dataSync(), numericGrad((s) => mseLoss(s, t0), s0), 2e-3);
});

test("the gradient of distillLossTf() goes to the smallest link, scaled by lambda", () => {
  const near = Float32Array.from(s0, (v) => v + 0.1);
  const targets = [{ module: "a", target: "_output_0", setting: { lambda: 3, link: ["x", "y"] } }];
  const teacher = {
    x: { _output_0: tf.tensor(t0, SHAPE) },
    y: { _output_0: tf.tensor(near, SHAPE) },
  };
  const f = (s: Float32Array) => {
    const state: HiddenState = { data: s, shape: SHAPE };
    return distillLoss({ a: { _output_0: state } }, {
      x: { _output_0: { data: t0, shape: SHAPE } },
      y: { _output_0: { data: near, shape: SHAPE } },
    }, targets);
  };
  const g = tf.grad((s: tf.Tensor) => distillLossTf({ a: { _output_0: s } }, teacher, targets))(
    tf.tensor(s0, SHAPE),
  );
  assertGradClose(g.dataSync(), numericGrad(f, s0), 2e-3);
  assert.ok(Math.abs(f(s0) - 3 * 0.01) < 1e-6);
});

test("distillLossTf() sums kl and mse targets like distillLoss()", () => {
  const targets = [
    { module: "a", target: "_output_0", setting: { apply_method: "kl", lambda: 0.5 } },
    { module: "b", target: "_input_0", setting: { link: "c" } },
  ];
  const plain = {
    a: { _output_0: { data: s0, shape: SHAPE } },
    b: { _input_0: { data: t0, shape: SHAPE } },
  };
  const teacherPlain = {
    a: { _output_0: { data: t0, shape: SHAPE } },
    c: { _input_0: { data: s0, shape: SHAPE } },
  };
  const asTf = (r: typeof plain | typeof teacherPlain) =>
    Object.fromEntries(
      Object.entries(r).map((
        [m, ts],
      ) => [
        m,
        Object.fromEntries(Object.entries(ts).map(([k, v]) => [k, tf.tensor(v.data, v.shape)])),
      ]),
    );
  const want = distillLoss(plain, teacherPlain, targets);
  const got = distillLossTf(asTf(plain), asTf(teacherPlain), targets).dataSync()[0];
  assert.ok(Math.abs(got - want) <= 1e-5 * want, `${got} vs ${want}`);
});
