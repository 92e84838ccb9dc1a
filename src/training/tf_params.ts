/**
 * Reading and writing a TensorFlow.js model's parameters in PyTorch layout.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { TfModelView, TfParam } from "./types.ts";

/**
 * The values of every mapped parameter in PyTorch layout, by module, then parameter name — the
 * same numbers an ONNX export of the network would hold.
 *
 * @param view the model view from `describeTfModel`
 * @returns new float32 arrays
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 * import { readParams } from "./tf_params.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const view = describeTfModel(model);
 * const kernel = view.value(view.params[0]).dataSync(); // [in, out]
 * const weight = readParams(view).fc.weight; // [out, in]
 * assert.equal(weight[1 * 3 + 0], kernel[0 * 2 + 1]);
 * ```
 */
export function readParams(view: TfModelView): Record<string, Record<string, Float32Array>> {
  const out: Record<string, Record<string, Float32Array>> = {};
  for (const p of view.params) {
    (out[p.module] ??= {})[p.name] = p.toTorch(view.value(p).dataSync() as Float32Array);
  }
  return out;
}

/**
 * Writes a parameter from values in PyTorch layout.
 *
 * @param view the model view from `describeTfModel`
 * @param param the parameter
 * @param data the values in PyTorch layout (`param.shape`)
 * @throws {RangeError} when the length does not match the shape
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 * import { readParams, writeParam } from "./tf_params.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const view = describeTfModel(model);
 * writeParam(view, view.params[0], new Float32Array([1, 2, 3, 4, 5, 6]));
 * assert.deepEqual([...readParams(view).fc.weight], [1, 2, 3, 4, 5, 6]);
 * ```
 */
export function writeParam(view: TfModelView, param: TfParam, data: Float32Array): void {
  const n = param.shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw new RangeError(
      `values for ${param.module}.${param.name} must have ${n} elements (shape ${
        JSON.stringify(param.shape)
      }): current length is ${data.length}`,
    );
  }
  const t = tf.tensor(param.fromTorch(data), [...param.tfShape], "float32");
  view.value(param).assign(t);
  t.dispose();
}
