// Looking up the stored tensor of a module's parameter.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { QuantizationError } from "./quantization_error.ts";

/** The stored tensor of a module's parameter, or a `QuantizationError` naming it. */
export function paramRef(
  model: ModelGraph,
  module: string,
  target: string,
  configIndex?: number,
): TensorRef {
  const ref = model.modules.find((m) => m.name === module)?.params[target];
  if (ref === undefined) {
    throw new QuantizationError("missing_tensor", "the parameter is not in the model", {
      module,
      target,
      ...(configIndex === undefined ? {} : { configIndex }),
    });
  }
  return ref;
}

/** Throws `missing_tensor` for the first parameter left in `unmatched` (none found a tensor). */
export function throwIfUnmatched(
  unmatched: Iterable<{ module: string; target: string; configIndex?: number }>,
): void {
  for (const p of unmatched) {
    throw new QuantizationError("missing_tensor", "the parameter is not in the model", {
      module: p.module,
      target: p.target,
      configIndex: p.configIndex,
    });
  }
}
