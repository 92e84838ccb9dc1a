// A model's parameters in PyTorch layout, with optional masks applied.

import type { TfModelView, TfParam } from "./types.ts";

/** Masks in PyTorch layout by module, then parameter (1 keeps), as `TrainingPruner.masks()`. */
export type ParamMasks = Readonly<Record<string, Readonly<Record<string, Uint8Array>>>>;

/** The value of `p` in PyTorch layout, times its mask if one is given. */
export function maskedValue(view: TfModelView, p: TfParam, masks?: ParamMasks): Float32Array {
  const data = p.toTorch(view.value(p).dataSync() as Float32Array);
  const mask = masks?.[p.module]?.[p.name];
  if (mask === undefined) return data;
  if (mask.length !== data.length) {
    throw new RangeError(
      `the mask of ${p.module}.${p.name} must have ${data.length} elements (shape ${
        JSON.stringify(p.shape)
      }): current length is ${mask.length}`,
    );
  }
  for (let i = 0; i < data.length; i++) if (mask[i] === 0) data[i] = 0;
  return data;
}
