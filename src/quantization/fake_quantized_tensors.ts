/**
 * `fakeQuantizedTensors`: simulated quantization written back as float weights.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { fakeQuantize } from "./fake_quantize.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { paramRef } from "./_param_ref.ts";

/**
 * The fake-quantized values of every quantized parameter, encoded like the stored tensor (its
 * file dtype and layout), by stored tensor name — ready for `encodeOnnx(model, replacements)`
 * or `rewriteSafetensors(file, replacements)`. The model then computes what NNI's simulated
 * quantization computes (weights `(q - zp) * s`), in float. Input/output targets are skipped.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights` / `computeTargetQuantParams`.
 * @param options The kernels to use.
 * @returns New bytes by stored tensor name.
 * @throws {QuantizationError} Code `missing_tensor` when a parameter target is not in the model.
 * @throws {RangeError} When a stored dtype is not a float type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fakeQuantizedTensors } from "./fake_quantized_tensors.ts";
 *
 * const weight = {
 *   name: "w", dtype: "F32" as const, shape: [2], fileShape: [2],
 *   data: () => Promise.resolve(Float32Array.of(0.3, -1)),
 *   bytes: () => Promise.resolve(new Uint8Array(8)),
 * };
 * const model = { format: "safetensors" as const, metadata: {}, modules: [{ name: "fc", type: "Linear", params: { weight } }] };
 * const out = await fakeQuantizedTensors(model, [{
 *   module: "fc", target: "weight", kind: "parameter", configIndex: 0, quantDtype: "int2", bits: 2,
 *   quantScheme: null, granularity: null, shape: [2], gridShape: [], kernel: [-1], qmin: -1, qmax: 1,
 *   trackedMin: Float32Array.of(-1), trackedMax: Float32Array.of(0.3),
 *   scale: Float32Array.of(1), zeroPoint: Float32Array.of(0),
 * }]);
 * assert.deepEqual([...new Float32Array(out.get("w")!.buffer)], [0, -1]);
 * ```
 */
export async function fakeQuantizedTensors(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QuantizeOptions = {},
): Promise<Map<string, Uint8Array>> {
  const kernels = options.kernels ?? getKernels();
  const out = new Map<string, Uint8Array>();
  for (const p of params) {
    if (p.kind !== "parameter") continue;
    const ref = paramRef(model, p.module, p.target);
    const values = fakeQuantize(await ref.data(), ref.shape, p, { kernels });
    out.set(ref.name, toFileBytes(ref, values, kernels));
  }
  return out;
}
