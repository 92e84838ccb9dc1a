/**
 * `moduleInfos`: the config layer's view of a model's modules.
 *
 * @module
 */

import type { ModuleInfo } from "../config/types.ts";
import type { ModelGraph } from "./model_graph.ts";

/**
 * Names, types, parameter shapes (PyTorch layout) and op types of a model's modules — what
 * `explain` and `resolveTargetSettings` take.
 *
 * @param model The model.
 * @returns One entry per module, in model order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { moduleInfos } from "./module_infos.ts";
 * import { safetensorsModel } from "./safetensors_model.ts";
 *
 * const bytes = writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 3], data: new Float32Array(6) }]);
 * assert.deepEqual(moduleInfos(safetensorsModel(readSafetensors(bytes))), [
 *   { name: "fc", type: "Linear", params: { weight: [2, 3] } },
 * ]);
 * ```
 */
export function moduleInfos(model: ModelGraph): ModuleInfo[] {
  return model.modules.map((m) => ({
    name: m.name,
    type: m.type,
    params: Object.fromEntries(Object.entries(m.params).map(([k, t]) => [k, [...t.shape]])),
    ...(m.opType === undefined ? {} : { opType: m.opType }),
    ...(m.quantized === undefined ? {} : { quantizedBy: m.quantized.op }),
  }));
}

/**
 * Why a model's inputs and outputs cannot be observed for activation quantization, or
 * `undefined` when they can: calibration runs ONNX graphs in onnxruntime, so a file without a
 * graph (safetensors) has no activations to observe, and a TensorFlow.js model has nowhere to
 * store quantized ones. The config layer
 * takes it as `noActivations`.
 *
 * @param model The model.
 * @returns The reason, or `undefined` for an ONNX model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { noActivationsReason } from "./module_infos.ts";
 *
 * assert.equal(
 *   noActivationsReason({ format: "safetensors", metadata: {}, modules: [] }),
 *   "the safetensors file has no graph to run",
 * );
 * ```
 */
export function noActivationsReason(model: ModelGraph): string | undefined {
  if (model.format === "onnx" && model.graph !== undefined) return undefined;
  // tfjs runs float activations only: its files store quantized weights, nothing else.
  if (model.format === "tfjs") {
    return "a TensorFlow.js model stores quantized weights only (tfjs has no quantized activations)";
  }
  if (model.graph === undefined) return `the ${model.format} file has no graph to run`;
  return `calibration runs ONNX graphs and the model is ${model.format}`;
}
