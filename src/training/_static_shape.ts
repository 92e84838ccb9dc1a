// The static shapes of a layer's inputs and outputs, from the built model's symbolic tensors.

import type { TfLayer } from "./types.ts";

type Symbolic = { readonly shape: (number | null)[] };

/** The layer's symbolic inputs or outputs (empty when unknown, e.g. a layer used twice). */
function tensors(layer: TfLayer, kind: string): Symbolic[] {
  try {
    const v = (kind === "input" ? layer.input : layer.output) as unknown as
      | Symbolic
      | Symbolic[];
    return Array.isArray(v) ? v : [v];
  } catch {
    return [];
  }
}

/** The static shape of a layer's input or output `index` (batch dim `null`), if known. */
export function staticShape(
  layer: TfLayer,
  kind: string,
  index: number,
): (number | null)[] | undefined {
  const shape = tensors(layer, kind)[index]?.shape;
  return shape === undefined ? undefined : [...shape];
}

/** The number of inputs or outputs of a layer (`Infinity` when unknown). */
export function tensorCount(layer: TfLayer, kind: string): number {
  const n = tensors(layer, kind).length;
  return n === 0 ? Infinity : n;
}
