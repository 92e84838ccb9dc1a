/**
 * `tfModelGraph`: a TensorFlow.js model's parameters as a `ModelGraph`, for the exporters.
 *
 * @module
 */

import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { maskedValue, type ParamMasks } from "./_masked_values.ts";
import type { TfModelView } from "./types.ts";

/** Options of `tfModelGraph`. */
export interface TfModelGraphOptions {
  /** Masks to apply to the values (e.g. `pruner.masks()`). */
  readonly masks?: ParamMasks;
}

/**
 * The model's parameters as a `ModelGraph` in PyTorch layout — modules named and typed like
 * `describeTfModel`, tensors `<module>.<param>` (float32, no transpose) — so the exporters of
 * `src/quantization/` and `src/pruning/` take a trained tfjs model like a safetensors file:
 * `quantizedSafetensors(tfModelGraph(view), quantTargetParams(view, q))`. Values are read from
 * the model's variables when a tensor's `data()` or `bytes()` is called (the current weights).
 *
 * @param view the model view from `describeTfModel`
 * @param options masks to apply
 * @returns the model view (format `"safetensors"`, no graph)
 * @throws {RangeError} from `data()` when a mask does not fit its parameter
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel, tfModelGraph, writeParam } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [2], name: "fc", useBias: false })] });
 * const view = describeTfModel(model);
 * writeParam(view, view.params[0], Float32Array.of(1, 2, 3, 4));
 * const graph = tfModelGraph(view, { masks: { fc: { weight: Uint8Array.of(1, 0, 1, 1) } } });
 * const w = graph.modules[0].params.weight;
 * assert.equal(w.name, "fc.weight");
 * assert.deepEqual([...await w.data()], [1, 0, 3, 4]);
 * ```
 */
export function tfModelGraph(view: TfModelView, options: TfModelGraphOptions = {}): ModelGraph {
  const modules = view.modules.map((m) => {
    const params: Record<string, TensorRef> = {};
    for (const p of view.params.filter((q) => q.module === m.name)) {
      const data = () => maskedValue(view, p, options.masks);
      params[p.name] = {
        name: `${p.module}.${p.name}`,
        dtype: "F32",
        shape: p.shape,
        fileShape: p.shape,
        data: () => Promise.resolve(data()),
        bytes: () => Promise.resolve(new Uint8Array(data().buffer)),
      };
    }
    return { name: m.name, type: m.type, ...(m.opType ? { opType: m.opType } : {}), params };
  });
  return { format: "safetensors", modules, metadata: {} };
}
