/**
 * `quantTargetParams`: a training quantizer's parameters in the form the exporters take.
 *
 * @module
 */

import type { TargetQuantParams } from "../quantization/compute_target_quant_params.ts";
import type { QuantScheme } from "../quantization/compute_quant_params.ts";
import { granularityKernel } from "../quantization/granularity_kernel.ts";
import { quantDtypeRange } from "../quantization/quant_dtype_range.ts";
import type { Granularity } from "../config/types.ts";
import { staticShape } from "./_static_shape.ts";
import type { Quantizer } from "./create_quantizer.ts";
import type { TfModelView } from "./types.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";

const IO = /^_(input|output)_(\d+)$/;

/**
 * The scales, zero points and tracked ranges of every target of a QAT (or PTQ) quantizer as
 * `TargetQuantParams` — what `quantizeWeights` computes for a model file — on the modules of
 * `tfModelGraph(view)` and of `onnxModel()` of `tfToOnnx(view)`, so the trained model goes
 * through the quantization exporters unchanged: `quantizedSafetensors` (integer codes, scales,
 * zero points in PyTorch layout), `fakeQuantizedTensors` (float) and `qdqOnnx`. Parameters
 * keep their PyTorch shape and block kernel; an activation target's shape is the layer's static
 * shape with the batch dim as 1, and `per_channel` keeps its last axis (channels-last, like the
 * quantizer observed it and like the exported ONNX graph computes).
 *
 * @param view the model view the quantizer was created on
 * @param quantizer the quantizer, after training (past `quantStartStep`) or calibration
 * @returns one entry per target, in target order
 * @throws {QuantizationError} code `uncalibrated` when a target has no scale yet (naming it and
 * its sub-config)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { QuantizationError } from "../quantization/quantization_error.ts";
 * import { createQuantizer, describeTfModel, quantTargetParams } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const view = describeTfModel(model);
 * const q = createQuantizer(view, [
 *   { op_names: ["fc"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" },
 *   { op_names: ["fc"], target_names: ["_output_0"], quant_dtype: "int8" },
 * ], { mode: "ptq" });
 * assert.throws(
 *   () => quantTargetParams(view, q),
 *   (e) => e instanceof QuantizationError && e.code === "uncalibrated" && /has no scale yet/.test(e.message),
 * );
 * q.calibrate([tf.ones([4, 3])]);
 * const [w, out] = quantTargetParams(view, q);
 * assert.deepEqual([w.shape, w.kernel, w.gridShape], [[2, 3], [1, -1], [2, 1]]);
 * assert.deepEqual([out.kind, out.shape], ["output", [1, 2]]);
 * ```
 */
export function quantTargetParams(view: TfModelView, quantizer: Quantizer): TargetQuantParams[] {
  const config = quantizer.calibrationConfig();
  return quantizer.targets.map((t) => {
    const entry = config[t.module]?.[t.target];
    if (entry === undefined) {
      throw new QuantizationError(
        "uncalibrated",
        "the target has no scale yet: train past quantStartStep (QAT) or calibrate (PTQ) first",
        { module: t.module, target: t.target, configIndex: t.configIndex },
      );
    }
    const setting = t.setting as { granularity?: Granularity | null };
    const g = setting.granularity === "default" ? null : setting.granularity ?? null;
    const { qmin, qmax, bits } = quantDtypeRange(entry.quant_dtype);
    let shape: number[];
    let kernel: number[];
    if (t.kind === "parameter") {
      shape = [...view.params.find((p) => p.module === t.module && p.name === t.target)!.shape];
      kernel = granularityKernel(g, "parameter", shape);
    } else {
      const [, kind, index] = IO.exec(t.target)!;
      const s = staticShape(view.layers.get(t.module)!, kind, Number(index)) ?? [];
      shape = s.map((d) => d ?? 1);
      kernel = shape.map((_, d) => (g !== null && d === shape.length - 1 ? 1 : -1));
    }
    const gridShape = g === null ? [] : kernel.map((k, d) => (k === -1 ? 1 : shape[d] / k));
    return {
      module: t.module,
      target: t.target,
      kind: t.kind,
      configIndex: t.configIndex,
      quantDtype: entry.quant_dtype,
      bits,
      quantScheme: entry.quant_scheme as QuantScheme | null,
      granularity: g,
      shape,
      gridShape,
      kernel,
      qmin,
      qmax,
      trackedMin: entry.tracked_min,
      trackedMax: entry.tracked_max,
      scale: entry.scale,
      zeroPoint: entry.zero_point,
    };
  });
}
