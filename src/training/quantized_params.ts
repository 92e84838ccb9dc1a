/**
 * `quantizedParams`: the integer codes of a quantizer's parameters, for the exporters.
 *
 * @module
 */

import type { IntCodes, QuantParams } from "../kernels/types.ts";
import { quantDtypeRange } from "../quantization/quant_dtype_range.ts";
import { quantizeTensor } from "../quantization/quantize_tensor.ts";
import type { Quantizer } from "./create_quantizer.ts";
import type { TfModelView } from "./types.ts";

/** One quantized parameter in PyTorch layout. */
export interface QuantizedParam {
  /** The module name. */
  readonly module: string;
  /** The parameter name (`weight`, `bias`). */
  readonly name: string;
  /** The PyTorch shape. */
  readonly shape: readonly number[];
  /** `round(clamp(zp + w / s, qmin, qmax))`, row-major in PyTorch layout. */
  readonly codes: IntCodes;
  /** Block kernel (per tensor, `out_channel` `[1, -1, …]`, `in_channel` `[-1, 1, -1, …]`), scales and zero points. */
  readonly params: QuantParams;
}

function kernelOf(granularity: unknown, rank: number): number[] {
  const all = new Array<number>(rank).fill(-1);
  if (granularity === "out_channel") all[0] = 1;
  else if (granularity === "in_channel") all[1] = 1;
  return all;
}

/**
 * The integer codes of every parameter a quantizer has scales for, computed from the model's
 * current (float) weights with the quantizer's scales and zero points — what a QAT- or
 * PTQ-quantized model stores, ready for the quantized file formats.
 *
 * @param view the model view the quantizer was created on
 * @param quantizer the quantizer (after training or calibration)
 * @returns one entry per quantized parameter, in target order
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createQuantizer, describeTfModel, quantizedParams, writeParam } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2], name: "fc", useBias: false })] });
 * const view = describeTfModel(model);
 * writeParam(view, view.params[0], new Float32Array([0.5, -0.25]));
 * const q = createQuantizer(view, [{ op_names: ["fc"], target_names: ["weight"], quant_dtype: "int8" }], { mode: "ptq" });
 * q.calibrate([tf.ones([1, 2])]);
 * const [w] = quantizedParams(view, q);
 * assert.deepEqual([...w.codes], [127, -64]); // -0.25 / (0.5 / 127) = -63.5 → -64 (half to even)
 * ```
 */
export function quantizedParams(view: TfModelView, quantizer: Quantizer): QuantizedParam[] {
  const config = quantizer.calibrationConfig();
  const out: QuantizedParam[] = [];
  for (const t of quantizer.targets) {
    const entry = config[t.module]?.[t.target];
    const p = view.params.find((q) => q.module === t.module && q.name === t.target);
    if (entry === undefined || p === undefined || t.kind !== "parameter") continue;
    const { qmin, qmax } = quantDtypeRange(entry.quant_dtype);
    const granularity = (t.setting as { granularity?: unknown }).granularity ?? null;
    const params: QuantParams = {
      kernel: kernelOf(granularity, p.shape.length),
      scale: entry.scale,
      zeroPoint: entry.zero_point,
      qmin,
      qmax,
    };
    const data = p.toTorch(view.value(p).dataSync() as Float32Array);
    out.push({
      module: p.module,
      name: p.name,
      shape: p.shape,
      codes: quantizeTensor(data, p.shape, params),
      params,
    });
  }
  return out;
}
