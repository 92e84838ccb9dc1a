// The Adaptive1d distillation loss: values and gradients (student states, map kernel and bias)
// against float64 math with finite differences.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DistillationError } from "../../src/distillation/mod.ts";
import { klLoss } from "../../src/distillation/kl_loss.ts";
import { adaptiveDistillLossTf } from "../../src/distillation/adaptive_distill_loss_tf.ts";
import { randomArray, tf } from "../training/_tf.ts";

const ROWS = 3;
const IN = 4;
const OUT = 6;
const s0 = randomArray(ROWS * IN, 11).map((v) => v * 2);
const t0 = randomArray(ROWS * OUT, 12).map((v) => v * 2);
const k0 = randomArray(IN * OUT, 13); // tf layout [in, out]
const b0 = randomArray(OUT, 14);

/** The mapped student state `s · k + b` in float64. */
function mapped(s: Float32Array, k: Float32Array, b: Float32Array): Float64Array {
  const y = new Float64Array(ROWS * OUT);
  for (let r = 0; r < ROWS; r++) {
    for (let o = 0; o < OUT; o++) {
      let sum = b[o];
      for (let i = 0; i < IN; i++) sum += s[r * IN + i] * k[i * OUT + o];
      y[r * OUT + o] = sum;
    }
  }
  return y;
}

const mse64 = (y: Float64Array) => y.reduce((a, v, i) => a + (v - t0[i]) ** 2, 0) / y.length;
const kl = (y: Float64Array) => klLoss(Float32Array.from(y), t0, [ROWS, OUT]);

function loss(method: "mse" | "kl", lambda: number) {
  return (s: tf.Tensor, k: tf.Tensor, b: tf.Tensor) =>
    adaptiveDistillLossTf(
      { m: { _output_0: s } },
      { t: { _output_0: tf.tensor(t0, [ROWS, OUT]) } },
      [{ module: "m", target: "_output_0", setting: { apply_method: method, lambda, link: "t" } }],
      { m: { _output_0: { kernel: k, bias: b } } },
    );
}

function numericGrad(f: (x: Float32Array) => number, x: Float32Array, h = 1e-3): number[] {
  return [...x].map((_, i) => {
    const up = Float32Array.from(x);
    const down = Float32Array.from(x);
    up[i] += h;
    down[i] -= h;
    return (f(up) - f(down)) / (up[i] - down[i]);
  });
}

function assertClose(got: ArrayLike<number>, want: number[], tol: number): void {
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])),
      `element ${i}: ${got[i]} vs ${want[i]}`,
    );
  }
}

function checkGradients(method: "mse" | "kl", lambda: number): void {
  const f = method === "mse" ? mse64 : kl;
  const [gs, gk, gb] = tf.grads(loss(method, lambda))([
    tf.tensor(s0, [ROWS, IN]),
    tf.tensor(k0, [IN, OUT]),
    tf.tensor(b0, [OUT]),
  ]);
  const scaled = (g: number[]) => g.map((v) => v * lambda);
  assertClose(gs.dataSync(), scaled(numericGrad((s) => f(mapped(s, k0, b0)), s0)), 2e-3);
  assertClose(gk.dataSync(), scaled(numericGrad((k) => f(mapped(s0, k, b0)), k0)), 2e-3);
  assertClose(gb.dataSync(), scaled(numericGrad((b) => f(mapped(s0, k0, b)), b0)), 2e-3);
}

test("the adaptive loss maps the student state and scales the loss by lambda", () => {
  const got = loss("mse", 0.5)(
    tf.tensor(s0, [ROWS, IN]),
    tf.tensor(k0, [IN, OUT]),
    tf.tensor(b0, [OUT]),
  ).dataSync()[0];
  const want = 0.5 * mse64(mapped(s0, k0, b0));
  assert.ok(Math.abs(got - want) <= 1e-5 * want, `${got} vs ${want}`);
});

test("the adaptive mse gradients of states, map kernel and bias match finite differences", () => {
  checkGradients("mse", 0.7);
});

test("the adaptive kl gradients of states, map kernel and bias match finite differences", () => {
  checkGradients("kl", 1.5);
});

test("the adaptive loss takes one link per target and names the config path", () => {
  const s = { m: { _output_0: tf.ones([1, 2]) } };
  assert.throws(
    () =>
      adaptiveDistillLossTf(s, s, [{
        module: "m",
        target: "_output_0",
        setting: { link: ["a", "b"] },
        configIndex: 2,
      }]),
    (e: unknown) =>
      e instanceof DistillationError && e.path === "[2].link" &&
      /one link per target/.test(e.message),
  );
});
