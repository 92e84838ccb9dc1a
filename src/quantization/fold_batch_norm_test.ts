import { test } from "node:test";
import assert from "node:assert/strict";
import { foldBatchNorm } from "./fold_batch_norm.ts";

test("folding a conv weight and bias matches a hand computation per output channel", () => {
  // Conv [2, 1, 2, 1]: channel 0 = [1, -2], channel 1 = [0.5, 4].
  const bn = {
    gamma: Float32Array.of(3, -1),
    beta: Float32Array.of(0.5, 2),
    mean: Float32Array.of(1, -2),
    variance: Float32Array.of(8.99, 0.24),
    eps: 0.01,
  };
  const folded = foldBatchNorm(
    Float32Array.of(1, -2, 0.5, 4),
    [2, 1, 2, 1],
    Float32Array.of(2, 1),
    bn,
  );
  // f0 = 3 / sqrt(9) = 1, f1 = -1 / sqrt(0.25) = -2.
  assert.deepEqual([...folded.weight], [1, -2, -1, -8]);
  // b0 = (2 - 1) * 1 + 0.5, b1 = (1 + 2) * -2 + 2.
  assert.deepEqual([...folded.bias], [1.5, -4]);
});

test("folding without a bias or affine parameters uses bias 0, gamma 1 and beta 0", () => {
  const folded = foldBatchNorm(Float32Array.of(2, 4), [1, 2], undefined, {
    mean: Float32Array.of(3),
    variance: Float32Array.of(3),
    eps: 1,
  });
  assert.deepEqual([...folded.weight], [1, 2]);
  assert.deepEqual([...folded.bias], [-1.5]);
});

test("folding rounds every step to float32 like torch", () => {
  const folded = foldBatchNorm(Float32Array.of(0.1), [1, 1], Float32Array.of(0.3), {
    gamma: Float32Array.of(0.7),
    beta: Float32Array.of(0.2),
    mean: Float32Array.of(0.05),
    variance: Float32Array.of(0.9),
    eps: 1e-5,
  });
  const f = Math.fround(
    Math.fround(0.7) / Math.fround(Math.sqrt(Math.fround(Math.fround(0.9) + 1e-5))),
  );
  assert.equal(folded.weight[0], Math.fround(Math.fround(0.1) * f));
  const centred = Math.fround(Math.fround(0.3) - Math.fround(0.05));
  assert.equal(folded.bias[0], Math.fround(Math.fround(centred * f) + Math.fround(0.2)));
});

test("folding rejects statistics whose channel count differs from the weight's dim 0", () => {
  assert.throws(
    () =>
      foldBatchNorm(new Float32Array(6), [2, 3], undefined, {
        mean: new Float32Array(3),
        variance: new Float32Array(3),
        eps: 1e-5,
      }),
    /running_mean must have 2 values \(dim 0 of the weight \[2,3\]\): current value has 3/,
  );
});

test("folding rejects a running variance plus eps that is not positive", () => {
  assert.throws(
    () =>
      foldBatchNorm(new Float32Array(1), [1, 1], undefined, {
        mean: new Float32Array(1),
        variance: Float32Array.of(-1),
        eps: 1e-5,
      }),
    /running_var \+ eps must be positive: channel 0/,
  );
});
