import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../../src/kernels/reference.ts";
import { createWasmKernels } from "../../src/kernels/wasm.ts";
import { sparseGpt } from "../../src/pruning/sparse_gpt.ts";
import {
  agreement,
  loadCase,
  magnitude,
  oracleFiles,
  relError,
} from "../quantization/_gptq_oracle.ts";

const files = oracleFiles("sparsegpt");
const wasm = createWasmKernels();

test("the SparseGPT oracle has cases", () => {
  assert.ok(files.size >= 9, `found ${files.size} SparseGPT cases`);
});

for (const [id, path] of files) {
  test(`sparseGpt() reproduces the reference on oracle case ${id}`, () => {
    const c = loadCase(path);
    const { fasterprune: fp, quantizer: qc } = c.expected.case;
    const w = c.tensors.W as Float32Array;
    const options = {
      sparsity: fp.sparsity,
      prunen: fp.prunen,
      prunem: fp.prunem,
      blockSize: fp.blocksize,
      percDamp: fp.percdamp,
      bits: qc?.bits,
      sym: qc?.sym,
      sampleCounts: c.sampleCounts,
    };
    const got = sparseGpt(w, c.shape, c.batches, { ...options, kernels: wasm });
    const cols = c.shape[1];
    // the oracle's mask has 1 = pruned, ours 1 = kept
    const refMask = (c.tensors.mask as Uint8Array).map((v) => 1 - v);
    const same = agreement(got.mask, refMask);
    assert.ok(same >= 0.995, `${id}: ${(same * 100).toFixed(4)}% identical mask entries`);
    let codes = 1;
    if (qc) {
      codes = agreement(got.codes!, c.tensors.codes);
      assert.ok(codes >= 0.995, `${id}: ${(codes * 100).toFixed(4)}% identical codes`);
    }
    assert.ok(got.weight.every((v, i) => got.mask[i] === 1 || v === 0), `${id}: pruned not 0`);
    assert.deepEqual(got.deadColumns, c.expected.result.dead_columns);
    const ref = c.expected.result;
    const err = relError(w, got.weight, c.x, cols);
    const diff = Math.abs(err - ref.rel_error) / ref.rel_error;
    assert.ok(diff <= 0.005, `${id}: rel_error ${err} vs ${ref.rel_error} (${diff * 100}%)`);
    const quant = qc ? { bits: qc.bits, sym: qc.sym } : undefined;
    const base = relError(
      w,
      magnitude(w, cols, fp.sparsity, fp.prunen, fp.prunem, quant),
      c.x,
      cols,
    );
    const baseDiff = Math.abs(base - ref.baseline.rel_error) / ref.baseline.rel_error;
    assert.ok(baseDiff <= 1e-6, `${id}: magnitude baseline ${base} vs ${ref.baseline.rel_error}`);
    // the margin over magnitude pruning
    assert.ok(
      err / base <= ref.ratio_to_baseline * 1.005,
      `${id}: ratio ${err / base} vs ${ref.ratio_to_baseline}`,
    );
    const lossDiff = Math.abs(got.loss - ref.reference_loss_sum) / ref.reference_loss_sum;
    assert.ok(lossDiff <= 0.01, `${id}: loss ${got.loss} vs ${ref.reference_loss_sum}`);
    console.log(
      `${id}: mask ${(same * 100).toFixed(4)}%, codes ${(codes * 100).toFixed(4)}%, rel_error ${
        err.toPrecision(6)
      } vs ${ref.rel_error.toPrecision(6)} (${(diff * 100).toFixed(3)}%), ratio ${
        (err / base).toFixed(4)
      } vs ${ref.ratio_to_baseline.toFixed(4)}`,
    );
    if (c.shape[0] * c.shape[1] <= 96 * 256) {
      const again = sparseGpt(w, c.shape, c.batches, { ...options, kernels: referenceKernels });
      assert.deepEqual(again.mask, got.mask);
    }
  });
}
