import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../kernels/reference.ts";
import { createWasmKernels } from "../kernels/wasm.ts";
import { gptq } from "./gptq.ts";
import { gptqCode, gptqParams } from "./gptq_quantizer.ts";

/** A deterministic layer and calibration rows with correlated features. */
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

function outputError(w: Float32Array, q: Float32Array, x: Float32Array, cols: number): number {
  let e = 0;
  for (let r = 0; r < w.length / cols; r++) {
    for (let s = 0; s < x.length / cols; s++) {
      let d = 0;
      for (let c = 0; c < cols; c++) d += (w[r * cols + c] - q[r * cols + c]) * x[s * cols + c];
      e += d * d;
    }
  }
  return e;
}

test("gptq() rejects bad shapes, values and options with the value in the message", () => {
  const w = new Float32Array(6);
  const x = new Float32Array(3);
  assert.throws(() => gptq(w, [2, 2], [x], { bits: 4 }), /"weight" must have 2 \* 2 = 4 values/);
  assert.throws(() => gptq(w, [2, 3, 1], [x], { bits: 4 }), /"shape" must be \[out, in\]/);
  assert.throws(
    () => gptq(new Float32Array([0, 1, NaN, 0, 0, 0]), [2, 3], [x], { bits: 4 }),
    /"weight" must hold finite values: \[0, 2\] is NaN/,
  );
  assert.throws(() => gptq(w, [2, 3], [new Float32Array(4)], { bits: 4 }), /"batches\[0\]"/);
  assert.throws(() => gptq(w, [2, 3], [], { bits: 4 }), TypeError);
  assert.throws(
    () => gptq(w, [2, 3], [new Float32Array([1, Infinity, 0])], { bits: 4 }),
    /"batches\[0\]" must hold finite values: row 0, feature 1 is Infinity/,
  );
  assert.throws(() => gptq(w, [2, 3], [x], { bits: 9 }), /"bits" must be an integer within/);
  assert.throws(() => gptq(w, [2, 3], [x], { bits: 4, groupSize: 0 }), /"groupSize" must be -1/);
  assert.throws(() => gptq(w, [2, 3], [x], { bits: 4, blockSize: 0 }), /"blockSize"/);
  assert.throws(() => gptq(w, [2, 3], [x], { bits: 4, percDamp: -1 }), /"percDamp"/);
  assert.throws(
    () => gptq(w, [2, 3], [x], { bits: 4, sampleCounts: [1, 1] }),
    /"sampleCounts" must have one entry per batch/,
  );
});

test("gptq() gives the same codes for every block size when parameters are per row", () => {
  const { weight, x } = layer(6, 40, 60);
  const base = gptq(weight, [6, 40], [x], { bits: 3, blockSize: 128 });
  for (const blockSize of [1, 7, 16, 33]) {
    const other = gptq(weight, [6, 40], [x], { bits: 3, blockSize });
    assert.deepEqual(other.codes, base.codes, `blockSize ${blockSize}`);
    assert.deepEqual(other.weight, base.weight, `blockSize ${blockSize}`);
  }
});

test("gptq() gives bit-identical results with the reference and the WebAssembly kernels", () => {
  const { weight, x } = layer(20, 70, 90, 3);
  const options = { bits: 4, groupSize: 16, actOrder: true, blockSize: 24 };
  const a = gptq(weight, [20, 70], [x.subarray(0, 700), x.subarray(700)], {
    ...options,
    kernels: referenceKernels,
  });
  const b = gptq(weight, [20, 70], [x.subarray(0, 700), x.subarray(700)], {
    ...options,
    kernels: createWasmKernels(),
  });
  assert.deepEqual(a.codes, b.codes);
  assert.deepEqual(a.weight, b.weight);
  assert.deepEqual(a.perm, b.perm);
  assert.equal(a.loss, b.loss);
});

test("gptq() puts every value on its group's grid and beats round-to-nearest", () => {
  const rows = 8;
  const cols = 48;
  const { weight, x } = layer(rows, cols, 100, 5);
  const weightCopy = weight.slice();
  const result = gptq(weight, [rows, cols], [x], { bits: 3, groupSize: 16 });
  assert.deepEqual(weight, weightCopy, "the weight is not modified");
  assert.equal(result.groups, 3);
  const rtn = new Float32Array(weight.length);
  for (let g = 0; g < 3; g++) {
    const columns = [];
    for (let c = g * 16; c < g * 16 + 16; c++) {
      columns.push(Float32Array.from({ length: rows }, (_, r) => weight[r * cols + c]));
    }
    const p = gptqParams(columns, 3, false);
    for (let r = 0; r < rows; r++) {
      for (let c = g * 16; c < g * 16 + 16; c++) {
        const i = r * cols + c;
        const s = result.scale[r * 3 + g];
        const z = result.zeroPoint[r * 3 + g];
        assert.equal(result.groupIndex[c], g);
        assert.equal(result.weight[i], Math.fround(s * (result.codes[i] - z)));
        rtn[i] = Math.fround(
          p.scale[r] * (gptqCode(weight[i], p.scale[r], p.zero[r], 7) - p.zero[r]),
        );
      }
    }
  }
  const e = outputError(weight, result.weight, x, cols);
  const eRtn = outputError(weight, rtn, x, cols);
  assert.ok(e < 0.7 * eRtn, `GPTQ ${e} vs round-to-nearest ${eRtn}`);
});

test("gptq() quantizes a dead feature from zero, with parameters from the original weight", () => {
  const { weight, x } = layer(4, 10, 30, 7);
  for (let r = 0; r < 30; r++) x[r * 10 + 2] = 0;
  weight[2] = 50; // row 0's range comes from the dead column
  const result = gptq(weight, [4, 10], [x], { bits: 4 });
  assert.deepEqual(result.deadColumns, [2]);
  for (let r = 0; r < 4; r++) {
    assert.equal(result.weight[r * 10 + 2], 0);
    assert.equal(result.codes[r * 10 + 2], result.zeroPoint[r]);
  }
  assert.ok(result.scale[0] > 3, `row 0 scale ${result.scale[0]}`);
});
