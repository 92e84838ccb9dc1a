/**
 * `tfSafetensors`: a TensorFlow.js model's parameters as a float safetensors file.
 *
 * @module
 */

import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { maskedValue, type ParamMasks } from "./_masked_values.ts";
import type { TfModelView } from "./types.ts";

/** Options of `tfSafetensors`. */
export interface TfSafetensorsOptions {
  /** Masks to apply (e.g. `pruner.masks()`): pruned weights are written as 0. */
  readonly masks?: ParamMasks;
  /**
   * New float32 bytes by tensor name (`<module>.<param>`), e.g. from `fakeQuantizedTensors` on
   * `tfModelGraph(view)`: the fake-quantized weights of a QAT model.
   */
  readonly replacements?: ReadonlyMap<string, Uint8Array>;
  /** The `__metadata__` entries. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Writes every mapped parameter of the model as a float32 tensor `<module>.<param>` in PyTorch
 * layout (Dense kernels as `[out, in]` weights, BatchNorm `running_mean`, ...), the file a
 * PyTorch `load_state_dict` of the same network reads — with masks applied for a pruned model,
 * or fake-quantized values for a QAT model.
 *
 * @param view the model view from `describeTfModel`
 * @param options masks, replacement values, metadata
 * @returns the file bytes
 * @throws {RangeError} when a mask or a replacement does not fit its parameter, or a replacement
 *   names no parameter
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { describeTfModel, tfSafetensors } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const file = readSafetensors(tfSafetensors(describeTfModel(model)));
 * assert.deepEqual(file.tensors.map((t) => [t.name, t.shape]), [["fc.bias", [2]], ["fc.weight", [2, 3]]]);
 * ```
 */
export function tfSafetensors(view: TfModelView, options: TfSafetensorsOptions = {}): Uint8Array {
  const left = new Set(options.replacements?.keys() ?? []);
  const tensors = view.params.map((p) => {
    const name = `${p.module}.${p.name}`;
    const replaced = options.replacements?.get(name);
    left.delete(name);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (replaced !== undefined && replaced.byteLength !== 4 * n) {
      throw new RangeError(
        `the replacement of ${name} must have ${4 * n} bytes (float32, shape ${
          JSON.stringify(p.shape)
        }): current length is ${replaced.byteLength}`,
      );
    }
    return {
      name,
      dtype: "F32" as const,
      shape: p.shape,
      data: replaced ?? maskedValue(view, p, options.masks),
    };
  });
  if (left.size > 0) {
    throw new RangeError(`replacements name no parameter of the model: ${[...left].join(", ")}`);
  }
  return writeSafetensors(tensors, options.metadata ? { metadata: options.metadata } : {});
}
