// The per-layer lines of a report from the changed tensors.
import type { LayerReport } from "../report/types.ts";
import type { TensorChange } from "./_tensor_change.ts";

function zeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

/** One report line per changed tensor. */
export function layerReport(c: TensorChange): LayerReport {
  const n = c.after.length;
  const g = c.granularity;
  return {
    module: c.module,
    target: c.target,
    type: c.type,
    shape: [...c.ref.shape],
    elements: n,
    sparsityBefore: n === 0 ? 0 : zeros(c.before) / n,
    sparsity: n === 0 ? 0 : zeros(c.after) / n,
    bits: c.bits,
    dtype: c.ref.dtype,
    granularity: g === undefined || g === null
      ? null
      : typeof g === "string"
      ? g
      : JSON.stringify(g),
  };
}
