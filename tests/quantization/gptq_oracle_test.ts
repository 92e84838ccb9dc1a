import assert from "node:assert/strict";
import { test } from "node:test";
import { referenceKernels } from "../../src/kernels/reference.ts";
import { createWasmKernels } from "../../src/kernels/wasm.ts";
import { gptq } from "../../src/quantization/gptq.ts";
import { agreement, loadCase, oracleFiles, relError, rtn } from "./_gptq_oracle.ts";

const files = oracleFiles("gptq");
const wasm = createWasmKernels();

test("the GPTQ oracle has cases", () => {
  assert.ok(files.size >= 14, `found ${files.size} GPTQ cases`);
});

for (const [id, path] of files) {
  test(`gptq() reproduces the reference on oracle case ${id}`, () => {
    const c = loadCase(path);
    const { quantizer: qc, fasterquant: fq } = c.expected.case;
    const w = c.tensors.W as Float32Array;
    const options = {
      bits: qc.bits,
      sym: qc.sym,
      groupSize: fq.groupsize,
      actOrder: fq.actorder,
      staticGroups: fq.static_groups ?? false,
      blockSize: fq.blocksize,
      percDamp: fq.percdamp,
      sampleCounts: c.sampleCounts,
    };
    const got = gptq(w, c.shape, c.batches, { ...options, kernels: wasm });
    const cols = c.shape[1];
    const codes = agreement(got.codes, c.tensors.codes);
    assert.ok(codes >= 0.995, `${id}: ${(codes * 100).toFixed(4)}% identical codes`);
    if (fq.actorder) assert.deepEqual([...got.perm], [...(c.tensors.perm as Int32Array)]);
    assert.deepEqual([...got.groupIndex], [...(c.tensors.g_idx as Int32Array)]);
    assert.deepEqual(got.deadColumns, c.expected.result.dead_columns);
    const ref = c.expected.result;
    const err = relError(w, got.weight, c.x, cols);
    const diff = Math.abs(err - ref.rel_error) / ref.rel_error;
    assert.ok(diff <= 0.005, `${id}: rel_error ${err} vs ${ref.rel_error} (${diff * 100}%)`);
    const base = relError(w, rtn(w, cols, qc.bits, qc.sym, fq.groupsize), c.x, cols);
    const baseDiff = Math.abs(base - ref.baseline.rel_error) / ref.baseline.rel_error;
    assert.ok(baseDiff <= 1e-6, `${id}: RTN baseline ${base} vs ${ref.baseline.rel_error}`);
    // the margin over round-to-nearest
    assert.ok(
      err / base <= ref.ratio_to_baseline * 1.005,
      `${id}: ratio ${err / base} vs ${ref.ratio_to_baseline}`,
    );
    const lossDiff = Math.abs(got.loss - ref.reference_loss_sum) / ref.reference_loss_sum;
    assert.ok(lossDiff <= 0.01, `${id}: loss ${got.loss} vs ${ref.reference_loss_sum}`);
    console.log(
      `${id}: codes ${(codes * 100).toFixed(4)}%, rel_error ${err.toPrecision(6)} vs ${
        ref.rel_error.toPrecision(6)
      } (${(diff * 100).toFixed(3)}%), ratio ${(err / base).toFixed(4)} vs ${
        ref.ratio_to_baseline.toFixed(4)
      }`,
    );
    // the reference kernels give the same result
    if (c.shape[0] * c.shape[1] <= 96 * 256) {
      const again = gptq(w, c.shape, c.batches, { ...options, kernels: referenceKernels });
      assert.deepEqual(again.codes, got.codes);
    }
  });
}
