/**
 * Reading the stored values of an ONNX tensor as little-endian bytes.
 *
 * @module
 */

import { DTYPE_BYTES } from "../../tensor/dtype.ts";
import { ModelFormatError } from "../model_format_error.ts";
import type { RandomAccessSource } from "../random_access.ts";
import type { OnnxModel, OnnxTensor } from "./onnx_types.ts";
import { sparseToDense } from "./_sparse_dense.ts";
import { onnxStoredBytes } from "../../tensor/onnx_data_type.ts";
import { FIXED32, FIXED64, LEN, readVarint, VARINT } from "./_wire.ts";

/** The file bytes a tensor's offsets refer to (an `OnnxModel` or an `OnnxTensorFile`). */
export type OnnxBytes = Pick<OnnxModel, "bytes" | "file">;

/** Options of `readOnnxTensor`. */
export interface ReadOnnxTensorOptions {
  /**
   * Opens an external data file by its `location` (relative to the model's folder); required
   * for tensors stored outside the model file (see `openOnnxExternalData` in `fs.ts`).
   */
  readonly external?: (location: string) => RandomAccessSource | Promise<RandomAccessSource>;
}

function typedValues(model: OnnxBytes, t: OnnxTensor, count: number, size: number): Uint8Array {
  if (t.storage.kind !== "typed") throw new Error("unreachable");
  const out = new Uint8Array(count * size);
  const view = new DataView(out.buffer);
  const ctx = { bytes: model.bytes, file: model.file };
  let n = 0;
  const bad = (offset: number, problem: string) =>
    new ModelFormatError(problem, { file: model.file, field: t.name || t.path, offset });
  const put = (start: number, end: number) => {
    if (n >= count) throw bad(start, `holds more than the ${count} values of dims [${t.dims}]`);
    let big = 0n;
    for (let i = end - 1; i >= start; i--) big = (big << 7n) | BigInt(model.bytes[i] & 0x7f);
    const bits = BigInt.asUintN(size * 8, big);
    if (size === 8) view.setBigUint64(n * 8, bits, true);
    else if (size === 4) view.setUint32(n * 4, Number(bits), true);
    else if (size === 2) view.setUint16(n * 2, Number(bits), true);
    else out[n] = Number(bits);
    n++;
  };
  for (const f of t.storage.fields) {
    const width = f.number === 4 ? 4 : f.number === 10 ? 8 : 0;
    const src = model.bytes;
    if (width > 0) {
      const from = f.start;
      if (
        (f.end - from) % width !== 0 ||
        (f.wire !== LEN && f.wire !== (width === 4 ? FIXED32 : FIXED64))
      ) {
        throw bad(f.tagStart, `field ${f.number} has a bad length or wire type`);
      }
      for (let p = from; p < f.end; p += width) {
        if (n >= count) throw bad(p, `holds more than the ${count} values of dims [${t.dims}]`);
        out.set(src.subarray(p, p + width), n * width);
        n++;
      }
    } else if (f.wire === VARINT) {
      put(f.start, f.end);
    } else if (f.wire === LEN) {
      for (let p = f.start; p < f.end;) {
        const next = readVarint(ctx, p, f.end, t.name || t.path)[1];
        put(p, next);
        p = next;
      }
    } else throw bad(f.tagStart, `field ${f.number} has wire type ${f.wire}`);
  }
  if (n !== count) throw bad(t.span.start, `holds ${n} values but dims [${t.dims}] need ${count}`);
  return out;
}

function noDType(t: OnnxTensor): TypeError {
  return new TypeError(
    `tensor ${
      JSON.stringify(t.name)
    } has ONNX data type ${t.dataType}, which is not stored as fixed-size numbers`,
  );
}

/**
 * Reads a tensor's values as little-endian bytes of its dtype. Raw data are returned as a view
 * into the model bytes (no copy); typed fields (`float_data`, `int32_data`, …) are packed into a
 * new array; external data are read from the source `options.external` opens. Types without a
 * `DType` come back as stored (FLOAT8 FNUZ: a byte each; 4-bit types: packed pairs; see
 * `readOnnxValues` for numbers). A sparse tensor
 * (`sparse_initializer`, `sparse_value`) is expanded into new dense bytes, zero where no value
 * is listed (linear `[NNZ]` or coordinate `[NNZ, rank]` indices, at most 2^31 - 1 bytes).
 *
 * @param model The decoded model (or tensor file).
 * @param tensor One of `model.tensors` (or the file's `tensor`).
 * @param options How to open external data files.
 * @returns The bytes (do not modify them).
 * @throws {ModelFormatError} When the stored values do not match the dims, the external range
 * is outside its file, or a sparse index is outside the dims.
 * @throws {TypeError} When the tensor is external and no `external` opener is given, or its
 * data type is not stored as fixed-size numbers (STRING, complex).
 *
 * @example
 * ```ts ignore
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { readOnnxTensor } from "./read_onnx_tensor.ts";
 * const model = decodeOnnx(await Deno.readFile("model.onnx"));
 * const first = await readOnnxTensor(model, model.tensors[0]);
 * ```
 */
export async function readOnnxTensor(
  model: OnnxBytes,
  tensor: OnnxTensor,
  options: ReadOnnxTensorOptions = {},
): Promise<Uint8Array> {
  const s = tensor.storage;
  if (s.kind === "raw") return model.bytes.subarray(s.start, s.end);
  if (s.kind === "sparse") {
    if (tensor.dtype === undefined) throw noDType(tensor);
    const values = await readOnnxTensor(model, s.values, options);
    const indices = await readOnnxTensor(model, s.indices, options);
    return sparseToDense(model.file, tensor, values, indices);
  }
  const elements = tensor.dims.reduce((a, b) => a * b, 1);
  const bytes = onnxStoredBytes(tensor.dataType, elements);
  if (bytes === undefined) throw noDType(tensor);
  // Types without a DType are stored one byte (FLOAT8 FNUZ) or one packed byte pair per value.
  const size = tensor.dtype === undefined ? 1 : DTYPE_BYTES[tensor.dtype];
  const count = bytes / size;
  if (s.kind === "typed") return typedValues(model, tensor, count, size);
  if (options.external === undefined) {
    throw new TypeError(
      `tensor ${JSON.stringify(tensor.name)} is stored in ${
        JSON.stringify(s.location)
      }: pass options.external`,
    );
  }
  const source = await options.external(s.location);
  const length = s.length ?? bytes;
  if (length !== bytes || s.offset + length > source.size) {
    throw new ModelFormatError(
      `external range [${s.offset}, ${s.offset + length}) of ${
        JSON.stringify(s.location)
      } (${source.size} bytes) does not hold ${
        tensor.dtype ?? `data type ${tensor.dataType}`
      } [${tensor.dims}]`,
      { file: model.file, field: tensor.name, offset: tensor.span.start },
    );
  }
  return await source.read(s.offset, length);
}
