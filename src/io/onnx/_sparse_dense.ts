/** Scattering the values of a sparse tensor into its dense bytes. */

import { DTYPE_BYTES } from "../../tensor/dtype.ts";
import { ModelFormatError } from "../model_format_error.ts";
import type { OnnxTensor } from "./onnx_types.ts";

/** The largest dense tensor a sparse one may expand to (bytes). */
const MAX_DENSE_BYTES = 2 ** 31 - 1;

const INDEX_BYTES: Readonly<Record<number, number>> = { 3: 1, 5: 2, 6: 4, 7: 8 };

/** Reads integer `i` of little-endian index bytes of ONNX type `dataType`. */
function index(view: DataView, dataType: number, i: number): number {
  switch (dataType) {
    case 3:
      return view.getInt8(i);
    case 5:
      return view.getInt16(i * 2, true);
    case 6:
      return view.getInt32(i * 4, true);
  }
  return Number(view.getBigInt64(i * 8, true));
}

/**
 * The dense little-endian bytes of sparse tensor `t`, given the bytes of its values and indices.
 * Elements not listed are zero bytes; indices must lie inside the dims.
 */
export function sparseToDense(
  file: string,
  t: OnnxTensor,
  values: Uint8Array,
  indices: Uint8Array,
): Uint8Array {
  if (t.storage.kind !== "sparse" || t.dtype === undefined) throw new Error("unreachable");
  const size = DTYPE_BYTES[t.dtype];
  const count = t.dims.reduce((a, b) => a * b, 1);
  const idx = t.storage.indices;
  const bad = (problem: string) =>
    new ModelFormatError(problem, { file, field: t.name || t.path, offset: idx.span.start });
  if (count * size > MAX_DENSE_BYTES) {
    throw bad(`dense ${t.dtype} [${t.dims}] would take more than ${MAX_DENSE_BYTES} bytes`);
  }
  const nnz = t.storage.values.dims[0];
  const width = INDEX_BYTES[idx.dataType];
  if (indices.length !== idx.dims.reduce((a, b) => a * b, 1) * width) {
    throw bad(`indices hold ${indices.length} bytes, not ${idx.dims} values of ${width} bytes`);
  }
  const out = new Uint8Array(count * size);
  const view = new DataView(indices.buffer, indices.byteOffset, indices.byteLength);
  const rank = t.dims.length;
  const coordinates = idx.dims.length === 2;
  for (let k = 0; k < nnz; k++) {
    let at = 0;
    if (coordinates) {
      for (let d = 0; d < rank; d++) {
        const c = index(view, idx.dataType, k * rank + d);
        if (!(c >= 0 && c < t.dims[d])) {
          throw bad(`index [${k}, ${d}] is ${c}, outside dim ${d} of [${t.dims}]`);
        }
        at = at * t.dims[d] + c;
      }
    } else {
      at = index(view, idx.dataType, k);
      if (!(at >= 0 && at < count)) throw bad(`index ${k} is ${at}, outside [0, ${count})`);
    }
    out.set(values.subarray(k * size, (k + 1) * size), at * size);
  }
  return out;
}
