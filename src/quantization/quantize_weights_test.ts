import { test } from "node:test";
import assert from "node:assert/strict";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { quantizeWeights } from "./quantize_weights.ts";
import { QuantizationError } from "./quantization_error.ts";

function ref(name: string, values: number[], shape: number[]): TensorRef {
  return {
    name,
    dtype: "F32",
    shape,
    fileShape: shape,
    data: () => Promise.resolve(Float32Array.from(values)),
    bytes: () => Promise.resolve(new Uint8Array(Float32Array.from(values).buffer)),
  };
}

const model: ModelGraph = {
  format: "safetensors",
  metadata: {},
  modules: [{
    name: "fc",
    type: "Linear",
    params: {
      weight: ref("fc.weight", [1, -2, 0.5, 4], [2, 2]),
      bias: ref("fc.bias", [0.1, -0.3], [2]),
    },
  }],
};

test("quantizeWeights() computes every parameter target of a config list", async () => {
  const { params, targets } = await quantizeWeights(model, [
    {
      op_types: ["Linear"],
      target_names: ["weight", "bias"],
      quant_dtype: "uint8",
      quant_scheme: "affine",
    },
  ]);
  assert.deepEqual(targets.map((t) => t.target), ["weight", "bias"]);
  assert.equal(params[0].scale[0], Math.fround(6 / 255));
  assert.equal(params[0].zeroPoint[0], 85);
  assert.equal(params[1].quantDtype, "uint8");
});

test("quantizeWeights() needs calibration ranges for activation targets and takes them", async () => {
  const config = [{
    op_types: ["Linear"],
    target_names: ["weight", "_output_0"],
    quant_dtype: "int8",
  }];
  await assert.rejects(
    quantizeWeights(model, config),
    (e: Error) =>
      e instanceof QuantizationError && e.code === "uncalibrated" &&
      /^fc\._output_0 \(config \[0\], "target_names"\): .*never observed/.test(e.message),
  );
  const ranges = new Map([["fc._output_0", {
    shape: [4, 2],
    min: Float32Array.of(-1.27),
    max: Float32Array.of(0.5),
  }]]);
  const { params } = await quantizeWeights(model, config, { ranges });
  assert.equal(params[1].scale[0], Math.fround(Math.fround(1.27) / 127));
});

test("quantizeWeights() reports config problems as a ConfigError", async () => {
  await assert.rejects(
    quantizeWeights(model, [{ op_types: ["Linear"], quant_dtype: "int1" }]),
    (e: Error) => e.name === "ConfigError" && /int1/.test(e.message),
  );
});
