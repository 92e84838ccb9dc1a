import { test } from "node:test";
import assert from "node:assert/strict";
import type { ResolvedTarget } from "../config/types.ts";
import { computeTargetQuantParams } from "./compute_target_quant_params.ts";
import { QuantizationError } from "./quantization_error.ts";

const target = (over: Partial<ResolvedTarget> = {}): ResolvedTarget => ({
  module: "conv",
  moduleType: "Conv2d",
  target: "_output_0",
  kind: "output",
  configIndex: 1,
  shape: null,
  setting: { quant_dtype: "uint8", quant_scheme: "affine", granularity: "per_channel" },
  ...over,
});

test("computeTargetQuantParams() keeps NNI's keepdim scale shape for activations", () => {
  const [p] = computeTargetQuantParams(
    [target()],
    new Map([["conv._output_0", {
      shape: [4, 2, 3, 3],
      min: Float32Array.of(-1, 0),
      max: Float32Array.of(1, 2),
    }]]),
  );
  assert.deepEqual(p.gridShape, [1, 2, 1, 1]);
  assert.deepEqual(p.kernel, [-1, 1, -1, -1]);
  assert.deepEqual([p.qmin, p.qmax, p.quantDtype, p.quantScheme], [0, 255, "uint8", "affine"]);
});

test("computeTargetQuantParams() names a target that was never observed", () => {
  assert.throws(
    () => computeTargetQuantParams([target({ target: "_input_x", kind: "input" })], new Map()),
    (e) =>
      e instanceof QuantizationError && e.code === "uncalibrated" &&
      e.path === "[1].target_names" &&
      /^conv\._input_x \(config \[1\], "target_names"\): the input target was never observed.*_input_0/
        .test(e.message),
  );
});

test("computeTargetQuantParams() checks the block count against the granularity", () => {
  const ranges = new Map([["conv._output_0", {
    shape: [4, 3, 2, 2],
    min: Float32Array.of(-1, 0),
    max: Float32Array.of(1, 2),
  }]]);
  assert.throws(
    () => computeTargetQuantParams([target()], ranges),
    (e) =>
      e instanceof QuantizationError && e.code === "range" && /must have 3 blocks/.test(e.message),
  );
  assert.throws(
    () =>
      computeTargetQuantParams([
        target({ setting: { quant_dtype: "int8", granularity: "out_channel" } }),
      ], ranges),
    (e) =>
      e instanceof QuantizationError && e.code === "granularity" &&
      /^conv\._output_0 \(config \[1\], "granularity"\): .*only for parameters/.test(e.message),
  );
});
