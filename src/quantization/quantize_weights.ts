/**
 * `quantizeWeights`: quantization parameters of a model's configured parameters.
 *
 * @module
 */

import { type ResolveOptions, resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ResolvedTarget, Warning } from "../config/types.ts";
import { isConfigPlan } from "../config/plan.ts";
import type { Kernels } from "../kernels/types.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import {
  computeTargetQuantParams,
  targetKey,
  type TargetQuantParams,
} from "./compute_target_quant_params.ts";
import { type FloatTensor, trackParameterRanges } from "./track_parameter_ranges.ts";
import type { TrackedRange } from "./tracked_range.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { storedFloat32 } from "../model/stored_float32.ts";

/** Options of `quantizeWeights`. */
export interface QuantizeWeightsOptions {
  /** The quantizer whose defaults apply (default `"PtqQuantizer"`). */
  readonly algorithm?: string;
  /** Extra default target settings by module type (`{ quantization: { MyBlock: {...} } }`). */
  readonly registry?: ResolveOptions["registry"];
  /** Tracked ranges of input/output targets from a calibration, by `"<module>.<target>"`. */
  readonly ranges?: ReadonlyMap<string, TrackedRange>;
  /** The kernels to use (default: `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * Tracks a parameter target's range in place of this thread (for instance on worker threads,
   * from the tensor's bytes): it must return what `trackParameterRanges` gives for the target
   * alone. Called for every parameter target at once; it bounds its own concurrency.
   */
  readonly rangeOf?: (target: ResolvedTarget, ref: TensorRef) => Promise<TrackedRange>;
}

/** The result of `quantizeWeights`. */
export interface QuantizedWeights {
  /** Parameters of every configured target, in config order then model order. */
  readonly params: TargetQuantParams[];
  /** The resolved targets. */
  readonly targets: ResolvedTarget[];
  /** Config warnings (legacy keys translated, re-configurations ignored, modules skipped). */
  readonly warnings: Warning[];
}

/**
 * Resolves a quantization config list on a model and computes the parameters of every
 * configured target: parameters (weights, biases) from their own values, like NNI's PTQ
 * observer; inputs and outputs from the tracked ranges of a calibration (`options.ranges`).
 *
 * @param model The model (`onnxModel()` or `safetensorsModel()`).
 * @param configList An NNI quantization config list (v3 or legacy), or its plan
 * (`planQuantization`), whose targets are used without resolving again.
 * @param options The quantizer, extra registry entries, calibration ranges and kernels.
 * @returns The parameters per target, the targets and the config warnings.
 * @throws {ConfigError} When the config list is invalid for the model.
 * @throws {QuantizationError} Naming the target and its sub-config: code `uncalibrated` when an
 * input/output target has no calibration range, `granularity` when a granularity does not fit a
 * parameter's shape, `non_finite` when a weight holds NaN or infinite values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizeWeights } from "./quantize_weights.ts";
 *
 * const values = Float32Array.of(1, -2, 0.5, 0.25);
 * const weight = {
 *   name: "fc.weight", dtype: "F32" as const, shape: [2, 2], fileShape: [2, 2],
 *   data: () => Promise.resolve(values.slice()),
 *   bytes: () => Promise.resolve(new Uint8Array(values.buffer)),
 * };
 * const model = {
 *   format: "safetensors" as const, metadata: {},
 *   modules: [{ name: "fc", type: "Linear", params: { weight } }],
 * };
 * const { params } = await quantizeWeights(model, [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" },
 * ]);
 * assert.deepEqual([...params[0].scale], [Math.fround(2 / 127), Math.fround(0.5 / 127)]);
 * ```
 */
export async function quantizeWeights(
  model: ModelGraph,
  configList: unknown,
  options: QuantizeWeightsOptions = {},
): Promise<QuantizedWeights> {
  const resolved = isConfigPlan(configList)
    ? { targets: [...configList.targets], warnings: [...configList.warnings] }
    : resolveTargetSettings(moduleInfos(model), configList, "quantization", {
      algorithm: options.algorithm ?? "PtqQuantizer",
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
  // One tensor at a time, read where it is stored when it can be: the run never holds every
  // parameter's values at once (a copy of the model otherwise; 3x a float16 model's size).
  const ranges = new Map<string, TrackedRange>();
  const byName = new Map(model.modules.map((m) => [m.name, m]));
  const rangeOf = options.rangeOf;
  if (rangeOf === undefined) {
    let scratch = new Float32Array(0);
    for (const t of resolved.targets) {
      if (t.kind !== "parameter") continue;
      const key = targetKey(t.module, t.target);
      const ref = byName.get(t.module)?.params[t.target];
      const tensors = new Map<string, FloatTensor>();
      if (ref !== undefined) {
        const n = ref.shape.reduce((a, b) => a * b, 1);
        if (scratch.length < n) scratch = new Float32Array(n);
        const data = await storedFloat32(ref) ?? await ref.data(scratch.subarray(0, n));
        tensors.set(key, { data, shape: ref.shape });
      }
      for (const [k, r] of trackParameterRanges([t], tensors, options)) ranges.set(k, r);
    }
  } else {
    const params = resolved.targets.filter((t) => t.kind === "parameter");
    const none = new Map<string, FloatTensor>();
    // Missing tensors fail as trackParameterRanges fails them; errors in target order.
    const settled = await Promise.allSettled(params.map((t) => {
      const ref = byName.get(t.module)?.params[t.target];
      return ref === undefined
        ? Promise.resolve().then(() => trackParameterRanges([t], none, options).get("")!)
        : rangeOf(t, ref);
    }));
    for (const [i, s] of settled.entries()) {
      if (s.status === "rejected") throw s.reason;
      ranges.set(targetKey(params[i].module, params[i].target), s.value);
    }
  }
  for (const [k, r] of options.ranges ?? []) if (!ranges.has(k)) ranges.set(k, r);
  return {
    params: computeTargetQuantParams(resolved.targets, ranges),
    targets: resolved.targets,
    warnings: resolved.warnings,
  };
}
