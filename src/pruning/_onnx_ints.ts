// Small integer constants of an ONNX graph (shapes, split sizes, slice bounds).
import type { OnnxModel, OnnxTensor } from "../io/onnx/onnx_types.ts";

/** Integer values of a small constant tensor (INT64/INT32/float), or undefined. */
export function intsOf(onnx: OnnxModel, t: OnnxTensor | undefined): number[] | undefined {
  if (t === undefined || t.storage.kind !== "raw") return undefined;
  const { start, end } = t.storage;
  const view = new DataView(onnx.bytes.buffer, onnx.bytes.byteOffset + start, end - start);
  const n = t.dims.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (t.dtype === "I64") out.push(Number(view.getBigInt64(8 * i, true)));
    else if (t.dtype === "I32") out.push(view.getInt32(4 * i, true));
    else if (t.dtype === "F32") out.push(view.getFloat32(4 * i, true));
    else return undefined;
  }
  return out;
}
