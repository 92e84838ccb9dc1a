// The per-layer lines of a report from the changed tensors.
import type { LayerReport } from "../report/types.ts";
import type { TensorChange } from "./_tensor_change.ts";

/** One report line per changed tensor. */
export function layerReport(c: TensorChange): LayerReport {
  const n = c.elements;
  const g = c.granularity;
  return {
    module: c.module,
    target: c.target,
    type: c.type,
    shape: [...c.ref.shape],
    elements: n,
    sparsityBefore: n === 0 ? 0 : c.zerosBefore / n,
    sparsity: n === 0 ? 0 : c.zerosAfter / n,
    bits: c.bits,
    dtype: c.ref.dtype,
    granularity: g === undefined || g === null
      ? null
      : typeof g === "string"
      ? g
      : JSON.stringify(g),
  };
}
