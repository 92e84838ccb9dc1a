// Quantized ONNX exports of the PP-OCR models, run in onnxruntime-node on the labelled lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx } from "../../src/io/onnx/encode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { toFileBytes } from "../../src/model/from_float32.ts";
import { fakeQuantizedTensors } from "../../src/quantization/fake_quantized_tensors.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { weightOnlyOnnx } from "../../src/quantization/weight_only_onnx.ts";
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import { calibrateOnnx } from "../../src/quantization/calibrate_onnx.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { loadOrt } from "../io/_ocr.ts";
import {
  calibrationBatches,
  classifierCorrect,
  CLS,
  fullInt8,
  readModel,
  REC,
  recognizerExact,
} from "./_ocr_eval.ts";
import { QuantizationError } from "../../src/quantization/quantization_error.ts";

const INT8_PER_CHANNEL = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "out_channel",
}];

const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
/** Whole-model runs take seconds on a busy 2-core machine (Bun's default limit is 5 s). */
const SLOW = { timeout: 120_000 };

test(
  "an int8 per-channel QDQ recognizer runs in onnxruntime and reads 40/40 lines",
  SLOW,
  async () => {
    const bytes = await readModel(REC);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const { params } = await quantizeWeights(model, INT8_PER_CHANNEL);
    assert.equal(params.length, 47);
    const qdq = await qdqOnnx(onnx, model, params);
    const { exact, logits } = await recognizerExact(qdq);
    console.log(
      `recognizer int8 QDQ: ${exact}/40 exact lines, ${mb(bytes.length)} -> ${mb(qdq.length)}`,
    );
    assert.equal(exact, 40);
    assert.ok(qdq.length < bytes.length * 0.3);
    // (a) the same weights written back as float compute the same logits as the QDQ model with
    // onnxruntime's basic optimizations (at "extended" and above it fuses DequantizeLinear into
    // integer kernels that also quantize activations, which changes the last digits).
    const fq = await fakeQuantizedTensors(model, params);
    const simulated = encodeOnnx(onnx, new Map([...fq].map(([k, b]) => [k, { bytes: b }])));
    assert.equal(simulated.length, bytes.length);
    const sim = await recognizerExact(simulated, "basic", 8);
    assert.equal(sim.exact, 8);
    const basic = await recognizerExact(qdq, "basic", 8);
    assert.ok(logits.length === basic.logits.length * 5);
    let maxDiff = 0;
    for (let i = 0; i < basic.logits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(basic.logits[i] - sim.logits[i]));
    }
    assert.ok(maxDiff < 1e-3, `QDQ vs simulated logits differ by ${maxDiff}`);
  },
);

test(
  "an int8 per-channel QDQ classifier runs in onnxruntime and classifies 40/40",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const { params } = await quantizeWeights(model, INT8_PER_CHANNEL);
    const qdq = await qdqOnnx(onnx, model, params);
    const correct = await classifierCorrect(qdq);
    console.log(`classifier int8 QDQ: ${correct}/40, ${mb(bytes.length)} -> ${mb(qdq.length)}`);
    assert.equal(correct, 40);
  },
);

test(
  "int4 block-32 MatMulNBits on the recognizer's MatMuls (K = 120, 240) reads at least 39/40",
  SLOW,
  async () => {
    const bytes = await readModel(REC);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const { bytes: out, layers } = await weightOnlyOnnx(onnx, model, { bits: 4, blockSize: 32 });
    assert.equal(layers.length, 9);
    assert.deepEqual([...new Set(layers.map((l) => l.k))].sort(), [120, 240]);
    const { exact, logits } = await recognizerExact(out);
    console.log(
      `recognizer int4 MatMulNBits: ${exact}/40, ${mb(bytes.length)} -> ${mb(out.length)}`,
    );
    assert.ok(exact >= 39);
    // The operator computes with the dequantized weights: same logits as those weights in float.
    const replacements = new Map(layers.map((l) => {
      const ref = model.modules.find((m) => m.name === l.module)!.params.weight;
      return [l.tensor, { bytes: toFileBytes(ref, l.dequantized) }];
    }));
    const float = await recognizerExact(encodeOnnx(onnx, replacements), "all", 8);
    let maxDiff = 0;
    for (let i = 0; i < float.logits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(logits[i] - float.logits[i]));
    }
    assert.ok(maxDiff < 1e-3, `MatMulNBits vs float logits differ by ${maxDiff}`);
  },
);

test(
  "QDQ export of affine uint8, INT4 and uint16 codes runs and classifies at least 39/40",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    for (
      const config of [
        [{
          op_types: ["Conv2d"],
          target_names: ["weight"],
          quant_dtype: "uint8",
          quant_scheme: "affine",
          granularity: "out_channel",
        }],
        [{ op_types: ["Linear"], quant_dtype: "int4", target_names: ["weight", "bias"] }],
        [{
          op_types: ["Conv2d", "Linear"],
          target_names: ["weight"],
          quant_dtype: "uint16",
          quant_scheme: "affine",
        }],
      ]
    ) {
      const { params } = await quantizeWeights(model, config);
      const out = await qdqOnnx(onnx, model, params);
      const correct = await classifierCorrect(out);
      assert.ok(correct >= 39, `${JSON.stringify(config)}: ${correct}/40`);
    }
  },
);

test(
  "QDQ export rejects block granularities and points to the weight-only export",
  SLOW,
  async () => {
    const onnx = decodeOnnx(await readModel(CLS));
    const model = onnxModel(onnx);
    const { params } = await quantizeWeights(model, [{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      granularity: [1, 8],
    }]);
    await assert.rejects(
      qdqOnnx(onnx, model, params),
      (e: Error) =>
        e instanceof QuantizationError && e.code === "storage" &&
        /"granularity"\): QDQ export .*block kernel is \[1,8\].*weightOnlyOnnx/.test(e.message),
    );
    await assert.rejects(weightOnlyOnnx(onnx, model, { blockSize: 24 }), /power of two >= 16/);
    await assert.rejects(
      weightOnlyOnnx(onnx, model, { modules: ["conv1"] }),
      (e: Error) =>
        e instanceof QuantizationError && e.code === "storage" &&
        /^conv1\.weight: MatMulNBits replaces a MatMul or Gemm/.test(e.message),
    );
  },
);

test(
  "a full int8 QDQ recognizer calibrated on 8 lines runs in onnxruntime and reads 40/40",
  SLOW,
  async () => {
    const bytes = await readModel(REC);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const config = fullInt8(model);
    const { targets } = resolveTargetSettings(moduleInfos(model), config, "quantization");
    const ranges = await calibrateOnnx(
      onnx,
      model,
      targets,
      await calibrationBatches("rec", [0, 4]),
      {
        ort: await loadOrt(),
      },
    );
    assert.equal(ranges.size, 47);
    const { params } = await quantizeWeights(model, config, { ranges });
    const qdq = await qdqOnnx(onnx, model, params);
    const { exact } = await recognizerExact(qdq);
    console.log(`recognizer full int8 QDQ: ${exact}/40, ${mb(bytes.length)} -> ${mb(qdq.length)}`);
    assert.equal(exact, 40);
  },
);

test("a full int8 QDQ classifier calibrated on 8 lines classifies 40/40", SLOW, async () => {
  const bytes = await readModel(CLS);
  const onnx = decodeOnnx(bytes);
  const model = onnxModel(onnx);
  const config = fullInt8(model);
  const { targets } = resolveTargetSettings(moduleInfos(model), config, "quantization");
  const ranges = await calibrateOnnx(
    onnx,
    model,
    targets,
    await calibrationBatches("cls", [0, 4]),
    {
      ort: await loadOrt(),
    },
  );
  const { params } = await quantizeWeights(model, config, { ranges });
  const qdq = await qdqOnnx(onnx, model, params);
  const correct = await classifierCorrect(qdq);
  console.log(`classifier full int8 QDQ: ${correct}/40, ${mb(bytes.length)} -> ${mb(qdq.length)}`);
  assert.equal(correct, 40);
});

test(
  "quantize() calibrates through onnxruntime and saves a QDQ classifier that classifies 40/40",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const result = await quantize(model, fullInt8(model), {
      calibration: { onnx, batches: await calibrationBatches("cls", [0, 4]), ort: await loadOrt() },
    });
    assert.ok(result.report.parameterBytesAfter < result.report.parameterBytesBefore / 3);
    assert.ok(result.params.some((p) => p.kind === "input"));
    assert.equal(await classifierCorrect(await result.save("qdq")), 40);
    assert.equal(await classifierCorrect(await result.save("float")), 40);
  },
);
