/**
 * `computeTargetQuantParams`: quantization parameters of every configured target.
 *
 * @module
 */

import type {
  Granularity,
  QuantizationSetting,
  ResolvedTarget,
  TargetKind,
} from "../config/types.ts";
import type { QuantParams } from "../kernels/types.ts";
import { computeQuantParams, type QuantScheme } from "./compute_quant_params.ts";
import { granularityKernel } from "./granularity_kernel.ts";
import { quantDtypeRange, type QuantRange } from "./quant_dtype_range.ts";
import type { TrackedRange } from "./tracked_range.ts";
import { QuantizationError } from "./quantization_error.ts";
import { locateError } from "./_locate_error.ts";

/** The quantization parameters of one (module, target): usable as `QuantParams`. */
export interface TargetQuantParams extends QuantParams {
  /** The module name. */
  readonly module: string;
  /** The target name (`weight`, `_input_`, …). */
  readonly target: string;
  /** Parameter, input or output. */
  readonly kind: TargetKind;
  /** Index of the sub-config that configured the target. */
  readonly configIndex: number;
  /** `int<N>` / `uint<N>` (`null` in the config is reported as `int8`, like NNI). */
  readonly quantDtype: string;
  /** The bit width of `quantDtype`. */
  readonly bits: number;
  /** The configured scheme; `null` means symmetric. */
  readonly quantScheme: QuantScheme | null;
  /** The configured granularity (`null`: per tensor). */
  readonly granularity: Granularity | null;
  /** The shape of the tracked tensor. */
  readonly shape: readonly number[];
  /** The block grid with one axis per dim (NNI's keepdim scale shape; `[]` per tensor). */
  readonly gridShape: readonly number[];
  /** The tracked minimum per block. */
  readonly trackedMin: Float32Array;
  /** The tracked maximum per block. */
  readonly trackedMax: Float32Array;
}

/**
 * The key of a (module, target) in maps of tracked ranges: `"<module>.<target>"`.
 *
 * @param module The module name (`""` for the root).
 * @param target The target name.
 * @returns The key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { targetKey } from "./compute_target_quant_params.ts";
 *
 * assert.equal(targetKey("fc1", "weight"), "fc1.weight");
 * ```
 */
export function targetKey(module: string, target: string): string {
  return `${module}.${target}`;
}

/**
 * Scales and zero points of configured quantization targets from their tracked ranges, like
 * NNI's `get_calibration_config()` after calibration: the dtype gives [qmin, qmax], the
 * granularity the block kernel on the tracked shape, and `computeQuantParams` the values.
 * Every target must have been observed: NNI crashes with a bare `TypeError` when one was not
 * (e.g. `_input_<argname>` of a positional argument); this names the target instead.
 *
 * @param targets Resolved quantization targets (`resolveTargetSettings(..., "quantization")`).
 * @param ranges Tracked ranges by `targetKey(module, target)`; each must have the block count of
 * the granularity on its shape.
 * @returns One entry per target, in the order given.
 * @throws {QuantizationError} Naming the target and its sub-config: code `uncalibrated` when a
 * target has no tracked range; `range` when a block count does not match; `quant_dtype` or
 * `granularity` when one does not fit; `non_finite` when a tracked value is NaN or infinite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeTargetQuantParams } from "./compute_target_quant_params.ts";
 *
 * const [p] = computeTargetQuantParams(
 *   [{
 *     module: "fc", moduleType: "Linear", target: "weight", kind: "parameter", configIndex: 0,
 *     shape: [2, 2], setting: { quant_dtype: "int8", quant_scheme: null, granularity: "out_channel" },
 *   }],
 *   new Map([["fc.weight", { shape: [2, 2], min: new Float32Array([-1, 0]), max: new Float32Array([0.5, 2.54]) }]]),
 * );
 * assert.deepEqual(p.kernel, [1, -1]);
 * assert.deepEqual(p.gridShape, [2, 1]);
 * assert.equal(p.scale[1], Math.fround(2.54 / 127));
 * ```
 */
export function computeTargetQuantParams(
  targets: readonly ResolvedTarget[],
  ranges: ReadonlyMap<string, TrackedRange>,
): TargetQuantParams[] {
  return targets.map((t) => {
    const setting = t.setting as QuantizationSetting;
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    const range = ranges.get(targetKey(t.module, t.target));
    if (range === undefined) {
      const hint = t.kind === "input"
        ? `; positional inputs are named _input_<index> (e.g. _input_0)`
        : "";
      throw new QuantizationError(
        "uncalibrated",
        `the ${t.kind} target was never observed, so it has no tracked range to quantize from: input and output targets need calibration data${hint}`,
        at,
      );
    }
    const granularity = setting.granularity ?? null;
    let kernel: number[];
    let dtype: QuantRange;
    let scale: Float32Array;
    let zeroPoint: Float32Array;
    const quantScheme = (setting.quant_scheme ?? null) as QuantScheme | null;
    try {
      dtype = quantDtypeRange(setting.quant_dtype);
      kernel = granularityKernel(granularity, t.kind, range.shape);
      const blocks = kernel.reduce((n, k, d) => n * (k === -1 ? 1 : range.shape[d] / k), 1);
      if (range.min.length !== blocks || range.max.length !== blocks) {
        throw new QuantizationError(
          "range",
          `the tracked range must have ${blocks} blocks for granularity ${
            JSON.stringify(granularity)
          } on shape ${JSON.stringify(range.shape)}: current value is ${range.min.length}`,
        );
      }
      ({ scale, zeroPoint } = computeQuantParams({
        trackedMin: range.min,
        trackedMax: range.max,
        qmin: dtype.qmin,
        qmax: dtype.qmax,
        scheme: quantScheme,
      }));
    } catch (e) {
      throw locateError(e, at, "range");
    }
    const { bits, qmin, qmax } = dtype;
    const gridShape = granularity === null || granularity === "default"
      ? []
      : kernel.map((k, d) => (k === -1 ? 1 : range.shape[d] / k));
    return {
      module: t.module,
      target: t.target,
      kind: t.kind,
      configIndex: t.configIndex,
      quantDtype: dtype.dtype,
      bits,
      quantScheme,
      granularity,
      shape: [...range.shape],
      gridShape,
      kernel,
      qmin,
      qmax,
      trackedMin: range.min,
      trackedMax: range.max,
      scale,
      zeroPoint,
    };
  });
}
