/**
 * `runWithHooks`: runs code with the hooks of training parts installed on a model's layers.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext, TrainingPart } from "./training_part.ts";
import type { TfModelView } from "./types.ts";

/** Replaces a method on one object; the returned function puts the original back. */
function patch(obj: Record<string, unknown>, key: string, value: unknown): () => void {
  const own = Object.getOwnPropertyDescriptor(obj, key);
  obj[key] = value;
  return () => {
    if (own === undefined) delete obj[key];
    else Object.defineProperty(obj, key, own);
  };
}

/**
 * Runs `fn` with the parts' `param`, `input` and `output` hooks installed on the layers of the
 * view's model, and removes them afterwards (also when `fn` throws): the model is left as it
 * was. Parameters read through the hooks keep their gradient path to the variables.
 *
 * @param view the model view from `describeTfModel`
 * @param parts the training parts, applied in order
 * @param ctx whether the forward pass trains
 * @param fn the code to run (typically `model.apply(x, { training })`)
 * @returns what `fn` returns
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 * import { runWithHooks } from "./run_with_hooks.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], name: "fc", useBias: false })] });
 * const view = describeTfModel(model);
 * const zero = { name: "zero", param: (_p: unknown, v: tf.Tensor) => tf.mul(v, 0) };
 * const y = runWithHooks(view, [zero], { training: false }, () => model.apply(tf.ones([1, 1])) as tf.Tensor);
 * assert.equal(y.dataSync()[0], 0);
 * assert.notEqual((model.apply(tf.ones([1, 1])) as tf.Tensor).dataSync()[0], 0);
 * ```
 */
export function runWithHooks<T>(
  view: TfModelView,
  parts: readonly TrainingPart[],
  ctx: ForwardContext,
  fn: () => T,
): T {
  const paramParts = parts.filter((p) => p.param !== undefined);
  const ioParts = parts.filter((p) => p.input !== undefined || p.output !== undefined);
  const restore: (() => void)[] = [];
  try {
    if (paramParts.length > 0) {
      for (const p of view.params) {
        const raw = view.value(p) as tf.Tensor;
        const read = () => paramParts.reduce((t, part) => part.param!(p, t, ctx), raw);
        restore.push(patch(p.variable as unknown as Record<string, unknown>, "read", read));
      }
    }
    if (ioParts.length > 0) {
      for (const [name, layer] of view.layers) {
        const l = layer as unknown as {
          call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor | tf.Tensor[];
        };
        const call = l.call;
        const hooked = (inputs: tf.Tensor | tf.Tensor[], kwargs: unknown) => {
          const list = Array.isArray(inputs) ? inputs : [inputs];
          const hookedIn = list.map((x, i) =>
            ioParts.reduce((t, part) => part.input ? part.input(name, i, t, ctx) : t, x)
          );
          const out = call.call(layer, Array.isArray(inputs) ? hookedIn : hookedIn[0], kwargs);
          const outs = Array.isArray(out) ? out : [out];
          const hookedOut = outs.map((y, i) =>
            ioParts.reduce((t, part) => part.output ? part.output(name, i, t, ctx) : t, y)
          );
          return Array.isArray(out) ? hookedOut : hookedOut[0];
        };
        restore.push(patch(layer as unknown as Record<string, unknown>, "call", hooked));
      }
    }
    return fn();
  } finally {
    for (const r of restore.reverse()) r();
  }
}
