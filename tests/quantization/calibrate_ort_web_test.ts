// Calibration through onnxruntime-web (its WebAssembly CPU backend, the one browsers and edge
// runtimes use) gives the ranges onnxruntime-node gives, and a QDQ model calibrated with it
// classifies the labelled lines like one calibrated with onnxruntime-node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { calibrateOnnx, type OrtLike } from "../../src/quantization/calibrate_onnx.ts";
import { qdqOnnx } from "../../src/quantization/qdq_onnx.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { loadOrt } from "../io/_ocr.ts";
import { calibrationBatches, classifierCorrect, CLS, fullInt8, readModel } from "./_ocr_eval.ts";

const SLOW = { timeout: 120_000 };

async function loadOrtWeb(): Promise<OrtLike> {
  const ort = await import("onnxruntime-web");
  // One thread and no proxy worker: the same single-threaded CPU path on every runtime.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort as unknown as OrtLike;
}

test(
  "onnxruntime-web calibrates the classifier to onnxruntime-node's ranges and 40/40",
  SLOW,
  async () => {
    const bytes = await readModel(CLS);
    const onnx = decodeOnnx(bytes);
    const model = onnxModel(onnx);
    const config = fullInt8(model);
    const { targets } = resolveTargetSettings(moduleInfos(model), config, "quantization");
    const batches = await calibrationBatches("cls", [0, 4]);
    const web = await calibrateOnnx(onnx, model, targets, batches, { ort: await loadOrtWeb() });
    const node = await calibrateOnnx(onnx, model, targets, batches, { ort: await loadOrt() });
    assert.equal(web.size, node.size);
    let worst = 0;
    for (const [key, w] of web) {
      const n = node.get(key);
      assert.ok(n, `onnxruntime-node has no range for ${key}`);
      // Differences relative to the target's whole range (what a scale is computed from).
      let span = 1e-6;
      for (const v of [...n.min, ...n.max]) span = Math.max(span, Math.abs(v));
      for (const [a, b] of [[w.min, n.min], [w.max, n.max]] as const) {
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / span);
      }
    }
    console.log(
      `onnxruntime-web vs onnxruntime-node ranges: largest difference ${worst} of the range`,
    );
    // Different kernels (WebAssembly vs native) sum in different orders: ranges agree closely.
    assert.ok(worst < 1e-5, `largest relative range difference ${worst}`);
    const { params } = await quantizeWeights(model, config, { ranges: web });
    assert.equal(await classifierCorrect(await qdqOnnx(onnx, model, params)), 40);
  },
);
