// Quantization-aware training: the straight-through estimator, NNI's EMA observers and
// quant_start_step, reproduced on the oracle's QAT cases.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { fakeQuantize } from "../../src/quantization/fake_quantize.ts";
import {
  createQuantizer,
  fakeQuantizeTf,
  predict,
  quantizedParams,
  trainStep,
} from "../../src/training/mod.ts";
import { type Json, loadExpected } from "../pruning/_oracle.ts";
import { randomArray, tf } from "./_tf.ts";
import { bnNet, mlpNet } from "./_oracle_nets.ts";

const RANGE = { qmin: -127, qmax: 127 };

function batchesOf(id: string): tf.Tensor[] {
  const file = fileURLToPath(
    new URL(`../nni_oracle/expected/data/${id}.safetensors`, import.meta.url),
  );
  return readSafetensors(new Uint8Array(readFileSync(file))).tensors
    .filter((t) => t.name.startsWith("batch_"))
    .map((t) => {
      const x = tf.tensor(new Float32Array(t.data.slice().buffer), [...t.shape]);
      return x.rank === 4 ? tf.transpose(x, [0, 2, 3, 1]) : x; // NCHW → NHWC
    });
}

/** NNI's QAT protocol: train mode over the batches with SGD lr 0, then eval over them. */
function runProtocol(id: string) {
  const expected = loadExpected(id);
  const view = expected.case.model === "bn" ? bnNet(0.9) : mlpNet();
  const q = createQuantizer(view, expected.case.config_list, {
    quantStartStep: expected.case.algo_kwargs?.quant_start_step,
  });
  const batches = batchesOf(id);
  const optimizer = tf.train.sgd(0);
  const loss = (out: tf.Tensor | tf.Tensor[]) => tf.mean(tf.square(out as tf.Tensor)) as tf.Scalar;
  for (const x of batches) trainStep(view, { optimizer, x, loss, parts: [q] });
  for (const x of batches) tf.dispose(predict(view, x, [q]));
  return { expected, q, view, batches };
}

function assertCalibrationLikeNni(id: string, checkOutput = true): void {
  const { expected, q, view, batches } = runProtocol(id);
  const got = q.calibrationConfig();
  for (const [module, byTarget] of Object.entries(expected.result.calibration_config)) {
    for (const [target, want] of Object.entries(byTarget as Record<string, Json>)) {
      const g = got[module][target];
      const exact = !target.startsWith("_");
      for (const key of ["scale", "zero_point", "tracked_min", "tracked_max"] as const) {
        const w = want[key].values as number[];
        for (let i = 0; i < w.length; i++) {
          const msg = `${id} ${module}.${target} ${key}: ${g[key][i]} vs ${w[i]}`;
          if (exact) assert.equal(g[key][i], w[i], msg);
          else assert.ok(Math.abs(g[key][i] - w[i]) <= 2e-6 * Math.abs(w[i]) + 1e-7, msg);
        }
      }
    }
  }
  for (const w of quantizedParams(view, q)) {
    const enc = expected.result.fake_quant_params[w.module][w.name].int_codes;
    const want = (enc.values ?? enc.head) as number[]; // `head`: the first 16 of a large tensor
    const got = [...w.codes].slice(0, want.length);
    assert.deepEqual(got, want, `${id} ${w.module}.${w.name} integer codes`);
  }
  if (checkOutput) {
    const out = (predict(view, batches[0], [q]) as tf.Tensor).dataSync();
    const want = expected.result.quantized_model_output_batch0.values as number[];
    want.forEach((w, i) =>
      assert.ok(Math.abs(out[i] - w) <= 1e-4, `output ${i}: ${out[i]} vs ${w}`)
    );
  }
  q.dispose();
}

test("fakeQuantizeTf() equals the plain fakeQuantize() (clamp, then round half to even)", () => {
  const x = randomArray(200, 9).map((v) => v * 3);
  x[0] = 0.5 * 0.02;
  x[1] = 1.5 * 0.02;
  const scale = Math.fround(0.02);
  const got = fakeQuantizeTf(tf.tensor1d(x), tf.scalar(scale), tf.scalar(0), RANGE).dataSync();
  const want = fakeQuantize(x, [200], {
    kernel: [200],
    scale: new Float32Array([scale]),
    zeroPoint: new Float32Array([0]),
    ...RANGE,
  });
  assert.deepEqual([...got].map((v) => v + 0), [...want].map((v) => v + 0));
});

test("the straight-through gradient matches finite differences of the clamp it stands for", () => {
  const s = 0.05;
  const zp = 3;
  const range = { qmin: 0, qmax: 15 };
  const x = randomArray(40, 4).map((v) => v * 0.9); // some inside [-0.15, 0.6], some outside
  const c = randomArray(40, 8);
  const f = (v: tf.Tensor) =>
    tf.sum(tf.mul(tf.tensor1d(c), fakeQuantizeTf(v, tf.scalar(s), tf.scalar(zp), range)));
  const g = tf.grad(f)(tf.tensor1d(x)).dataSync();
  const lo = (range.qmin - zp) * s;
  const hi = (range.qmax - zp) * s;
  const surrogate = (v: number) => Math.min(hi, Math.max(lo, v));
  const h = 1e-4;
  let inside = 0;
  for (let i = 0; i < x.length; i++) {
    const fd = (c[i] * (surrogate(x[i] + h) - surrogate(x[i] - h))) / (2 * h);
    assert.ok(Math.abs(g[i] - fd) < 1e-4, `element ${i}: ${g[i]} vs ${fd}`);
    inside += fd !== 0 ? 1 : 0;
  }
  assert.ok(inside > 5 && inside < 40, "both sides of the range are exercised");
});

test("observers run in training steps only; inference passes leave the tracked range alone", () => {
  const view = mlpNet();
  const q = createQuantizer(view, [{
    op_names: ["fc1"],
    target_names: ["_output_"],
    quant_dtype: "int8",
  }]);
  const x = tf.tensor2d(randomArray(32, 3), [2, 16]);
  const loss = (out: tf.Tensor | tf.Tensor[]) => tf.mean(out as tf.Tensor) as tf.Scalar;
  tf.dispose(predict(view, x, [q]));
  assert.deepEqual(q.calibrationConfig(), {});
  trainStep(view, { optimizer: tf.train.sgd(0), x, loss, parts: [q] });
  const after = q.calibrationConfig().fc1._output_0.tracked_max[0];
  tf.dispose(predict(view, tf.mul(x, 10) as tf.Tensor, [q]));
  assert.equal(q.calibrationConfig().fc1._output_0.tracked_max[0], after);
});

test("a legacy quant_start_step becomes the quantizer's start step", () => {
  const legacy = [{
    op_types: ["Linear"],
    quant_types: ["weight"],
    quant_bits: 8,
    quant_start_step: 3,
  }];
  assert.equal(createQuantizer(mlpNet(), legacy).quantStartStep, 3);
});

test("quantization starts with the first training pass at quant_start_step, like NNI", () => {
  const view = mlpNet();
  const q = createQuantizer(view, [{ op_types: ["Linear"], quant_dtype: "int4" }], {
    quantStartStep: 2,
  });
  const x = tf.tensor2d(randomArray(32, 5), [2, 16]);
  const loss = (out: tf.Tensor | tf.Tensor[]) => tf.mean(out as tf.Tensor) as tf.Scalar;
  const float = (predict(view, x) as tf.Tensor).dataSync();
  const optimizer = tf.train.sgd(0);
  // Steps 0 and 1 only observe; the training pass after step 2 computes the first scales, so
  // inference is quantized from then on (NNI passes targets without a scale through).
  for (let step = 0; step < 4; step++) {
    const out = (predict(view, x, [q]) as tf.Tensor).dataSync();
    const same = out.every((v, i) => v === float[i]);
    assert.equal(same, step < 3, `after ${step} steps`);
    trainStep(view, { optimizer, x, loss, parts: [q] });
  }
});

test("oracle q011_qat_mlp_int8: QAT scales, zero points, EMA ranges and codes equal NNI's", () => {
  assertCalibrationLikeNni("q011_qat_mlp_int8");
});

test("oracle q012_qat_start_step: with quant_start_step 2 the calibration equals NNI's", () => {
  assertCalibrationLikeNni("q012_qat_start_step");
});

test("oracle q013_qat_bn_affine_uint8: affine uint8 QAT on Conv2D and ReLU layers equals NNI's", () => {
  // The eval-mode output is not compared: BatchNorm's running statistics follow each engine's
  // own update rule. The calibration comes from the training passes (batch statistics).
  assertCalibrationLikeNni("q013_qat_bn_affine_uint8", false);
});
