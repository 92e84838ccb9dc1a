/** Decoding a SparseTensorProto into a lazy description of its dense tensor. */

import { elementCount } from "../../tensor/dtype.ts";
import { decodeTensor } from "./_decode_tensor.ts";
import type { OnnxTensor, Span } from "./onnx_types.ts";
import {
  expectWire,
  fail,
  type Field,
  forEachField,
  LEN,
  readInt64s,
  type WireContext,
} from "./_wire.ts";

/** ONNX data type codes allowed for sparse indices (INT64 by the spec; narrower ints accepted). */
const INDEX_TYPES = new Set([3, 5, 6, 7]);

/**
 * Decodes the SparseTensorProto whose field is `f`. The result is named after its `values`
 * tensor (or `nameOverride`), has the dense dims, and storage kind `"sparse"`.
 */
export function decodeSparseTensor(
  ctx: WireContext,
  f: Field,
  ancestors: readonly Span[],
  path: string,
  kind: OnnxTensor["kind"],
  nameOverride?: string,
): OnnxTensor {
  expectWire(ctx, f, LEN, path);
  const span: Span = { tagStart: f.tagStart, start: f.start, end: f.end };
  const here = [...ancestors, span];
  const dims: number[] = [];
  let values: OnnxTensor | undefined;
  let indices: OnnxTensor | undefined;
  forEachField(ctx, f.start, f.end, path, (g) => {
    if (g.number === 1) values = decodeTensor(ctx, g, here, `${path}.values`, kind, nameOverride);
    else if (g.number === 2) indices = decodeTensor(ctx, g, here, `${path}.indices`, kind);
    else if (g.number === 3) readInt64s(ctx, g, `${path}.dims`, dims);
  });
  if (values === undefined) return fail(ctx, path, f.start, "sparse tensor has no values");
  const name = values.name;
  const where = name === "" ? path : name;
  const count = elementCount(dims);
  if (count === undefined || dims.some((d) => d < 0)) {
    fail(ctx, where, f.start, `dims [${dims}] must be non-negative with a safe-integer product`);
  }
  const nnz = values.dims.length === 1 ? values.dims[0] : -1;
  if (nnz < 0 || nnz > count!) {
    fail(
      ctx,
      where,
      values.span.start,
      `values dims [${values.dims}] must be [NNZ] with NNZ <= ${count}`,
    );
  }
  if (indices === undefined) return fail(ctx, where, f.start, "sparse tensor has no indices");
  const id = indices.dims;
  const layoutOk = (id.length === 1 && id[0] === nnz) ||
    (id.length === 2 && id[0] === nnz && id[1] === dims.length);
  if (!layoutOk || !INDEX_TYPES.has(indices.dataType)) {
    fail(
      ctx,
      where,
      indices.span.start,
      `indices must be integers of dims [${nnz}] or [${nnz}, ${dims.length}]: they are type ${indices.dataType} [${id}]`,
    );
  }
  return {
    name,
    dataType: values.dataType,
    dtype: values.dtype,
    dims,
    span,
    ancestors: here,
    path,
    kind,
    storage: { kind: "sparse", values, indices },
  };
}
