import { test } from "node:test";
import assert from "node:assert/strict";
import type { ResolvedTarget } from "../config/types.ts";
import { trackParameterRanges } from "./track_parameter_ranges.ts";
import { QuantizationError } from "./quantization_error.ts";

const weight: ResolvedTarget = {
  module: "fc",
  moduleType: "Linear",
  target: "weight",
  kind: "parameter",
  configIndex: 0,
  shape: [2, 4],
  setting: { quant_dtype: "int4", granularity: [2] },
};

test("trackParameterRanges() reduces each weight block and skips activations", () => {
  const act: ResolvedTarget = { ...weight, target: "_input_0", kind: "input", shape: null };
  const ranges = trackParameterRanges(
    [weight, act],
    new Map([["fc.weight", { data: Float32Array.of(1, 2, -3, 4, 5, -6, 7, 8), shape: [2, 4] }]]),
  );
  assert.deepEqual([...ranges.keys()], ["fc.weight"]);
  assert.deepEqual([...ranges.get("fc.weight")!.min], [1, -3, -6, 7]);
});

test("trackParameterRanges() names a missing parameter and a block that does not fit", () => {
  assert.throws(
    () => trackParameterRanges([weight], new Map()),
    (e) =>
      e instanceof QuantizationError && e.code === "missing_tensor" &&
      e.message === "fc.weight (config [0]): the parameter is not in the model",
  );
  assert.throws(
    () =>
      trackParameterRanges(
        [{ ...weight, setting: { quant_dtype: "int4", granularity: [3] } }],
        new Map([["fc.weight", { data: new Float32Array(8), shape: [2, 4] }]]),
      ),
    (e) =>
      e instanceof QuantizationError && e.code === "granularity" && e.path === "[0].granularity" &&
      /^fc\.weight \(config \[0\], "granularity"\): .*3 must divide dim 1/.test(e.message),
  );
});
