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
  }));
}
