// calibrateOnnx() with each observer on a small MatMul model run by onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveTargetSettings } from "../../src/config/resolve_target_settings.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { calibrateOnnx } from "../../src/quantization/calibrate_onnx.ts";
import { OBSERVERS } from "../../src/quantization/observer_range.ts";
import { moduleInfos } from "../../src/model/module_infos.ts";
import { f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";

const K = 64;
const onnx = decodeOnnx(model(
  graph({
    nodes: [node("MatMul", ["x", "fc.weight"], ["y"], "fc")],
    initializers: [tensor({ name: "fc.weight", dims: [K, 4], raw: f32s(K * 4, (i) => i % 3) })],
    inputs: [valueInfo("x", ["batch", K])],
    outputs: [valueInfo("y", ["batch", 4])],
  }),
  { opset: 13 },
));
const graphModel = onnxModel(onnx);
const { targets } = resolveTargetSettings(moduleInfos(graphModel), [
  // int4: the rounding noise of keeping the outlier outweighs clipping it, so MSE clips too.
  { op_names: ["fc"], target_names: ["_input_0"], quant_dtype: "int4" },
], "quantization");

/** `count` batches of [16, 64] uniform values in [-1, 1]; batch 3 holds one outlier at 40. */
function* batches(count: number) {
  let s = 1;
  for (let b = 0; b < count; b++) {
    const data = Float32Array.from({ length: 16 * K }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return (s + 0.5) / 2 ** 31 - 1;
    });
    if (b === 3) data[5] = 40;
    yield { x: { data, dims: [16, K] } };
  }
}

test("calibrateOnnx() observers: min/max keeps an outlier, the others clip it", async () => {
  const ort = await loadOrt();
  const max: Record<string, number> = {};
  for (const observer of OBSERVERS) {
    // 8192 values: the 99.99th percentile would still include the one outlier.
    const ranges = await calibrateOnnx(onnx, graphModel, targets, batches(8), {
      ort,
      observer,
      percentile: 99.9,
    });
    max[observer] = ranges.get("fc._input_0")!.max[0];
  }
  assert.equal(max.minmax, 40);
  for (const o of ["percentile", "entropy"]) {
    assert.ok(max[o] > 0.9 && max[o] < 2, `${o}: ${max[o]}`);
  }
  // MSE: a >= 1 keeps every other value, so it minimises (40 - a)² + 8192 (a / 7)² / 12:
  // a = 40 / (1 + 8192 / 588).
  assert.ok(Math.abs(max.mse - 40 / (1 + 8192 / 588)) < 0.05, `mse: ${max.mse}`);
  const p = await calibrateOnnx(onnx, graphModel, targets, batches(8), {
    ort,
    observer: "percentile",
    percentile: 100,
  });
  assert.equal(p.get("fc._input_0")!.max[0], 40);
});

test("calibrateOnnx() holds observer state that does not grow with the batches", async () => {
  const ort = await loadOrt();
  for (const observer of OBSERVERS) {
    const sizes: number[] = [];
    await calibrateOnnx(onnx, graphModel, targets, batches(24), {
      ort,
      observer,
      bins: 256,
      onBatch: ({ batch, stateBytes }) => sizes[batch] = stateBytes,
    });
    assert.equal(sizes.length, 24);
    assert.equal(new Set(sizes).size, 1, `${observer}: ${sizes}`);
    assert.equal(sizes[0], observer === "minmax" ? 8 : 256 * 8 + 24);
  }
});

test("calibrateOnnx() checks the percentile before running the model", async () => {
  await assert.rejects(
    calibrateOnnx(onnx, graphModel, targets, batches(1), {
      ort: await loadOrt(),
      observer: "percentile",
      percentile: 150,
    }),
    /"percentile" must be within \(0, 100\]: current value is 150/,
  );
});
