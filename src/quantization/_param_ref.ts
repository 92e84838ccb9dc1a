// Looking up the stored tensor of a module's parameter.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";

/** The stored tensor of a module's parameter, or a RangeError naming it. */
export function paramRef(model: ModelGraph, module: string, target: string): TensorRef {
  const ref = model.modules.find((m) => m.name === module)?.params[target];
  if (ref === undefined) {
    throw new RangeError(`parameter "${target}" of module "${module}" is not in the model`);
  }
  return ref;
}
