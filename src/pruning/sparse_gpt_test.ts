import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../kernels/reference.ts";
import { createWasmKernels } from "../kernels/wasm.ts";
import { sparseGpt } from "./sparse_gpt.ts";

function layer(out: number, cols: number, n: number, seed = 1) {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const weight = Float32Array.from({ length: out * cols }, () => rnd());
  const x = new Float32Array(n * cols);
  for (let r = 0; r < n; r++) {
    const common = rnd() * 3;
    for (let c = 0; c < cols; c++) x[r * cols + c] = common * (c % 3) + rnd() * (1 + (c % 5));
  }
  return { weight, x };
}

test("sparseGpt() rejects bad patterns and sparsities with the value in the message", () => {
  const { weight, x } = layer(2, 4, 3);
  assert.throws(() => sparseGpt(weight, [2, 4], [x], { sparsity: 1 }), /"sparsity" must be/);
  assert.throws(() => sparseGpt(weight, [2, 4], [x], {}), /"sparsity" must be a number/);
  assert.throws(
    () => sparseGpt(weight, [2, 4], [x], { prunen: 2 }),
    /"prunen" and "prunem" must both be 0 \(unstructured\) or positive integers: current values are 2 and 0/,
  );
  assert.throws(() => sparseGpt(weight, [2, 4], [x], { prunen: 3, prunem: 2 }), /at most/);
  assert.throws(() => sparseGpt(weight, [2, 4], [x], { sparsity: 0.5, bits: 0 }), /"bits"/);
  assert.throws(() => sparseGpt(weight, [4, 2], [new Float32Array(3)], { sparsity: 0.5 }));
});

test("sparseGpt() prunes exactly n of every m weights per row with an N:M pattern", () => {
  const { weight, x } = layer(6, 40, 50);
  for (const [n, m, blockSize] of [[2, 4, 128], [2, 4, 6], [1, 3, 16]]) {
    const { mask, weight: pruned } = sparseGpt(weight, [6, 40], [x], {
      prunen: n,
      prunem: m,
      blockSize,
    });
    for (let r = 0; r < 6; r++) {
      // groups start at multiples of m inside each block
      for (let b = 0; b < 40; b += blockSize) {
        for (let g = b; g < Math.min(40, b + blockSize); g += m) {
          const end = Math.min(g + m, b + blockSize, 40);
          let zeros = 0;
          for (let c = g; c < end; c++) zeros += 1 - mask[r * 40 + c];
          assert.equal(
            zeros,
            Math.min(n, end - g),
            `row ${r} group ${g}, ${n}:${m} bs ${blockSize}`,
          );
        }
      }
    }
    assert.ok(pruned.every((v, i) => mask[i] === 1 || v === 0));
  }
});

test("sparseGpt() prunes floor(numel · sparsity) + 1 weights per block without ties", () => {
  const { weight, x } = layer(5, 30, 40, 2);
  const { mask } = sparseGpt(weight, [5, 30], [x], { sparsity: 0.5, blockSize: 8 });
  for (let b = 0; b < 30; b += 8) {
    const width = Math.min(8, 30 - b);
    let zeros = 0;
    for (let r = 0; r < 5; r++) for (let c = b; c < b + width; c++) zeros += 1 - mask[r * 30 + c];
    assert.equal(zeros, Math.floor(5 * width * 0.5) + 1, `block ${b}`);
  }
});

test("sparseGpt() gives bit-identical results with the reference and the WebAssembly kernels", () => {
  const { weight, x } = layer(12, 50, 70, 4);
  const options = { sparsity: 0.6, blockSize: 20, bits: 4, sym: true };
  const a = sparseGpt(weight, [12, 50], [x], { ...options, kernels: referenceKernels });
  const b = sparseGpt(weight, [12, 50], [x], { ...options, kernels: createWasmKernels() });
  assert.deepEqual(a.mask, b.mask);
  assert.deepEqual(a.weight, b.weight);
  assert.deepEqual(a.codes, b.codes);
  // joint quantization: every value on its row's grid, pruned weights at the zero point
  for (let i = 0; i < a.weight.length; i++) {
    const r = Math.floor(i / 50);
    const q = Math.fround(a.scale![r] * (a.codes![i] - a.zeroPoint![r]));
    assert.equal(a.weight[i], q);
    if (a.mask[i] === 0) assert.equal(a.codes![i], a.zeroPoint![r]);
  }
});
