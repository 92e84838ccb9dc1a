// Calibration observers on the PP-OCR recognizer: every Conv and MatMul input int8 per tensor
// (Q/DQ pairs run by onnxruntime), calibrated on 16 lines, scored on all 40.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { loadOrt } from "../io/_ocr.ts";
import { calibrationBatches, perTensorInt8, readModel, REC, recognizerExact } from "./_ocr_eval.ts";

const SLOW = { timeout: 240_000 };

test(
  "percentile and MSE calibration keep a per-tensor int8 recognizer at 40/40 where min/max reads 28",
  SLOW,
  async () => {
    const onnx = decodeOnnx(await readModel(REC));
    const model = onnxModel(onnx);
    const scores: Record<string, number> = {};
    for (const observer of ["minmax", "percentile", "mse"] as const) {
      const result = await quantize(model, perTensorInt8(model), {
        observer,
        calibration: {
          onnx,
          batches: await calibrationBatches("rec", [0, 4, 8, 12]),
          ort: await loadOrt(),
        },
      });
      scores[observer] = (await recognizerExact(await result.save("qdq"))).exact;
    }
    console.log(`recognizer, per-tensor int8 activations: ${JSON.stringify(scores)} of 40`);
    assert.ok(scores.minmax < 36, `min/max ${scores.minmax}`);
    assert.equal(scores.percentile, 40);
    assert.equal(scores.mse, 40);
  },
);
