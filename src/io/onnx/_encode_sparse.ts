/** Encoding a replaced sparse tensor as a SparseTensorProto of its non-zero elements. */

import { DTYPE_BYTES } from "../../tensor/dtype.ts";
import type { OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxModel, OnnxTensor } from "./onnx_types.ts";
import { encodeTensor } from "./_encode_tensor.ts";
import { forEachField } from "./_wire.ts";
import { concat, intField, lenField } from "./proto_writer.ts";

/**
 * A SparseTensorProto holding the elements of `r.bytes` that are not all-zero bytes: the
 * values tensor keeps its fields (name, data type, …) with new `raw_data` and dims `[NNZ]`;
 * the indices are written as INT64 in the layout the tensor had (linear `[NNZ]` or coordinates
 * `[NNZ, rank]`); other fields are copied in order.
 */
export function encodeSparse(model: OnnxModel, t: OnnxTensor, r: OnnxReplacement): Uint8Array {
  if (t.storage.kind !== "sparse" || t.dtype === undefined) throw new Error("unreachable");
  const { values, indices } = t.storage;
  for (const part of [values, indices]) {
    if (part.storage.kind === "external") {
      throw new RangeError(
        `sparse tensor ${
          JSON.stringify(t.name)
        } keeps its values or indices in an external file, which replacing does not support`,
      );
    }
  }
  const size = DTYPE_BYTES[t.dtype];
  const dims = r.dims ?? t.dims;
  const count = r.bytes.length / size;
  const positions: number[] = [];
  for (let i = 0; i < count; i++) {
    for (let b = i * size; b < (i + 1) * size; b++) {
      if (r.bytes[b] !== 0) {
        positions.push(i);
        break;
      }
    }
  }
  const nnz = positions.length;
  const nonZero = new Uint8Array(nnz * size);
  positions.forEach((p, k) => nonZero.set(r.bytes.subarray(p * size, (p + 1) * size), k * size));
  const coordinates = indices.dims.length === 2;
  const idx = new BigInt64Array(coordinates ? nnz * dims.length : nnz);
  positions.forEach((p, k) => {
    if (!coordinates) return void (idx[k] = BigInt(p));
    for (let d = dims.length - 1; d >= 0; d--) {
      idx[k * dims.length + d] = BigInt(p % dims[d]);
      p = Math.floor(p / dims[d]);
    }
  });
  const idxBytes = new Uint8Array(idx.buffer);
  const idxDims = coordinates ? [nnz, dims.length] : [nnz];
  const idxProto = concat([
    ...idxDims.map((d) => intField(1, d)),
    intField(2, 7), // INT64
    lenField(9, idxBytes),
  ]);
  const parts: (Uint8Array | number[])[] = [];
  let wroteDims = false;
  forEachField(model, t.span.start, t.span.end, t.path, (f) => {
    if (f.number === 1) {
      parts.push(lenField(1, encodeTensor(model, values, { bytes: nonZero, dims: [nnz] })));
    } else if (f.number === 2) parts.push(lenField(2, idxProto));
    else if (f.number === 3) {
      if (!wroteDims) { for (const d of dims) parts.push(intField(3, d)); }
      wroteDims = true;
    } else parts.push(model.bytes.subarray(f.tagStart, f.end));
  });
  if (!wroteDims) { for (const d of dims) parts.push(intField(3, d)); }
  return concat(parts);
}
