/**
 * `trackParameterRanges`: tracked ranges of parameter targets, read from the weights.
 *
 * @module
 */

import type { QuantizationSetting, ResolvedTarget } from "../config/types.ts";
import { targetKey } from "./compute_target_quant_params.ts";
import { granularityKernel } from "./granularity_kernel.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { type TrackedRange, trackedRange } from "./tracked_range.ts";
import { QuantizationError } from "./quantization_error.ts";
import { locateError } from "./_locate_error.ts";

/** A float32 tensor in PyTorch layout. */
export interface FloatTensor {
  /** The values, row-major. */
  readonly data: Float32Array;
  /** The shape. */
  readonly shape: readonly number[];
}

/**
 * The tracked range of every parameter target (weights, biases): the per-block min/max of the
 * tensor itself, which is what NNI's PTQ observer records for parameters (their values do not
 * change during calibration). Input and output targets are skipped: they need calibration.
 *
 * @param targets Resolved quantization targets.
 * @param tensors Parameters by `"<module>.<target>"` (a state_dict key).
 * @param options The kernels to use.
 * @returns Tracked ranges by `targetKey(module, target)`.
 * @throws {QuantizationError} Naming the target: code `missing_tensor` when a parameter is
 * missing, `granularity` when its granularity does not fit its shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trackParameterRanges } from "./track_parameter_ranges.ts";
 *
 * const ranges = trackParameterRanges(
 *   [{
 *     module: "fc", moduleType: "Linear", target: "weight", kind: "parameter", configIndex: 0,
 *     shape: [2, 2], setting: { quant_dtype: "int8", granularity: "out_channel" },
 *   }],
 *   new Map([["fc.weight", { data: new Float32Array([1, -2, 3, 4]), shape: [2, 2] }]]),
 * );
 * assert.deepEqual([...ranges.get("fc.weight")!.max], [1, 4]);
 * ```
 */
export function trackParameterRanges(
  targets: readonly ResolvedTarget[],
  tensors: ReadonlyMap<string, FloatTensor>,
  options: QuantizeOptions = {},
): Map<string, TrackedRange> {
  const out = new Map<string, TrackedRange>();
  for (const t of targets) {
    if (t.kind !== "parameter") continue;
    const key = targetKey(t.module, t.target);
    const tensor = tensors.get(key);
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    if (tensor === undefined) {
      throw new QuantizationError("missing_tensor", "the parameter is not in the model", at);
    }
    const setting = t.setting as QuantizationSetting;
    try {
      const kernel = granularityKernel(setting.granularity, "parameter", tensor.shape);
      out.set(key, trackedRange(tensor.data, tensor.shape, kernel, options));
    } catch (e) {
      throw locateError(e, at, "shape");
    }
  }
  return out;
}
