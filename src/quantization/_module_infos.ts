// The config layer's view of a model's modules.
import type { ModuleInfo } from "../config/types.ts";
import type { ModelGraph } from "../model/model_graph.ts";

/** Names, types, parameter shapes (PyTorch layout) and ONNX op types of a model's modules. */
export function moduleInfos(model: ModelGraph): ModuleInfo[] {
  return model.modules.map((m) => ({
    name: m.name,
    type: m.type,
    params: Object.fromEntries(Object.entries(m.params).map(([k, t]) => [k, [...t.shape]])),
    ...(m.opType === undefined ? {} : { opType: m.opType }),
  }));
}
