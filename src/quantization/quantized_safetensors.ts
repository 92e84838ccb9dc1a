/**
 * `quantizedSafetensors` and `readQuantizedSafetensors`: integer weights with their scales and
 * zero points in a safetensors file.
 *
 * Layout (all tensors in PyTorch layout, named `<module>.<param>`; the root module's params
 * have no prefix):
 * - `<name>`: the integer codes — `I8`/`U8` for 5 to 8 bits, `I16`/`U16` for 9 to 16 bits,
 *   and for 2 to 4 bits `U8` with two codes per byte along the last dim (element `2j` of a row
 *   in the low nibble of byte `j`, signed codes as two's-complement nibbles, an odd row ending
 *   with a zero high nibble), shape `[..., ceil(last / 2)]`;
 * - `<name>_scale`: `F32` scales in the block-grid shape (NNI's keepdim shape: `[]` per tensor,
 *   `[out, 1]` per output channel, `[out / b0, in / b1]` for blocks);
 * - `<name>_zero_point`: zero points, same shape as the scales, in the unpacked code dtype;
 * - every other parameter as stored (its dtype; float32 when the file layout differs);
 * - `__metadata__`: `"nncompress.format": "quantized-v1"` and `"nncompress.quantization"`, a
 *   JSON object with one entry per quantized tensor: `quant_dtype`, `quant_scheme`,
 *   `granularity`, `kernel` (block length per dim, -1 = whole dim), `shape`, `qmin`, `qmax`,
 *   `packing` (`"int4_low_nibble_first"` or `"none"`).
 * Dequantize with `(code - zero_point) * scale`, each block's values repeated over its block.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { IntCodes, QuantParams } from "../kernels/types.ts";
import {
  type ByteSink,
  collectSafetensors,
  safetensorsLayout,
  type SafetensorsStreamInput,
  streamSafetensors,
} from "../io/safetensors/write_safetensors.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import type { DType } from "../tensor/dtype.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import type { Granularity } from "../config/types.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import { packRows, unpackRows } from "./_pack_rows.ts";
import { throwIfUnmatched } from "./_param_ref.ts";

/** Options of `quantizedSafetensors`. */
export interface QuantizedSafetensorsOptions extends QuantizeOptions {
  /** Extra `__metadata__` entries (the format keys win). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Options of `streamQuantizedSafetensors`. */
export interface StreamQuantizedOptions extends QuantizedSafetensorsOptions {
  /**
   * Called with each quantized tensor's values before (float32, PyTorch layout) and its codes as
   * it is written, so a report needs no second pass over the model.
   */
  readonly onQuantized?: (param: TargetQuantParams, before: Float32Array, codes: IntCodes) => void;
  /**
   * Produces a quantized tensor's stored codes in place of this thread (for instance on worker
   * threads): it must return what `quantizedCodeBytes` gives for the tensor's values.
   * `onQuantized` is not called for them.
   */
  readonly codeBytes?: (param: TargetQuantParams, ref: TensorRef) => Promise<Uint8Array>;
  /**
   * The tensors whose codes are in the sink's file already, at the offsets `quantizedLayout`
   * gives (written with `ByteSink.writeAt` while the other ranges were tracked): passed over,
   * not produced again. Names are the codes' (the parameter's own name).
   */
  readonly written?: ReadonlySet<string>;
}

/** Metadata of one quantized tensor in the file. */
export interface QuantizedTensorInfo {
  /** The configured `quant_dtype`. */
  readonly quant_dtype: string;
  /** The configured `quant_scheme` (`null`: symmetric). */
  readonly quant_scheme: string | null;
  /** The configured `granularity` (`null`: per tensor). */
  readonly granularity: Granularity | null;
  /** The block shape of one scale (`-1`: the whole dim). */
  readonly kernel: readonly number[];
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** The smallest code. */
  readonly qmin: number;
  /** The largest code. */
  readonly qmax: number;
  /** How codes are packed: two 4-bit codes per byte, or one code per element. */
  readonly packing: "int4_low_nibble_first" | "none";
}

/** A quantized tensor read back: unpacked codes and the parameters to dequantize them. */
export interface QuantizedTensor {
  /** The tensor name. */
  readonly name: string;
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** The unpacked integer codes. */
  readonly codes: IntCodes;
  /** Scales and zero points. */
  readonly params: QuantParams;
  /** The stored metadata. */
  readonly info: QuantizedTensorInfo;
}

const FORMAT = "quantized-v1";

function codeDType(bits: number, signed: boolean): DType {
  if (bits <= 4) return "U8";
  if (bits <= 8) return signed ? "I8" : "U8";
  return signed ? "I16" : "U16";
}

function asDType(codes: IntCodes, dtype: DType): ArrayBufferView {
  if (dtype === "U16") return Uint16Array.from(codes);
  if (dtype === "I16") return codes instanceof Int16Array ? codes : Int16Array.from(codes);
  if (dtype === "I8") return codes instanceof Int8Array ? codes : Int8Array.from(codes);
  return codes instanceof Uint8Array ? codes : Uint8Array.from(codes);
}

/**
 * A safetensors file with the model's configured parameters as integer codes plus scales and
 * zero points (layout in the module doc), and every other parameter as stored.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights` (input/output targets are ignored).
 * @param options The kernels to use and extra metadata.
 * @returns The file bytes.
 * @throws {QuantizationError} Code `missing_tensor` when a parameter target is not in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizedSafetensors, readQuantizedSafetensors } from "./quantized_safetensors.ts";
 *
 * const weight = {
 *   name: "w", dtype: "F32" as const, shape: [1, 3], fileShape: [1, 3],
 *   data: () => Promise.resolve(Float32Array.of(0.5, -1, 0.25)),
 *   bytes: () => Promise.resolve(new Uint8Array(12)),
 * };
 * const model = { format: "safetensors" as const, metadata: {}, modules: [{ name: "fc", type: "Linear", params: { weight } }] };
 * const bytes = await quantizedSafetensors(model, [{
 *   module: "fc", target: "weight", kind: "parameter", configIndex: 0, quantDtype: "int4", bits: 4,
 *   quantScheme: null, granularity: null, shape: [1, 3], gridShape: [], kernel: [-1, -1], qmin: -7,
 *   qmax: 7, trackedMin: Float32Array.of(-1), trackedMax: Float32Array.of(0.5),
 *   scale: Float32Array.of(0.125), zeroPoint: Float32Array.of(0),
 * }]);
 * const [t] = readQuantizedSafetensors(bytes).quantized;
 * assert.deepEqual([...t.codes], [4, -7, 2]);
 * ```
 */
export async function quantizedSafetensors(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QuantizedSafetensorsOptions = {},
): Promise<Uint8Array> {
  const { inputs, metadata } = quantizedInputs(model, params, options);
  return await collectSafetensors(inputs, { metadata });
}

/**
 * Streams the file of `quantizedSafetensors` to a sink one tensor at a time (each tensor's data
 * read, quantized and written in turn), so a model opened lazily (`openSafetensors`) of any size
 * is written in the memory of one tensor. The bytes are those of `quantizedSafetensors`.
 *
 * @param model The model the parameters were computed on.
 * @param params Parameters from `quantizeWeights` (input/output targets are ignored).
 * @param sink Where the bytes go (`writeFileAtomic`'s sink, or any collector).
 * @param options The kernels, extra metadata, and `onQuantized`, called with each quantized
 * tensor's values before (float32, PyTorch layout) and its codes as it is written.
 * @returns The number of bytes written.
 * @throws {QuantizationError} Code `missing_tensor` when a parameter target is not in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { quantizedSafetensors, streamQuantizedSafetensors } from "./quantized_safetensors.ts";
 *
 * const model = safetensorsModel(readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: Float32Array.of(0.5, -1, 0.25, 2) },
 * ])));
 * const { params } = await quantizeWeights(model, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }]);
 * const chunks: Uint8Array[] = [];
 * await streamQuantizedSafetensors(model, params, { write: (c) => void chunks.push(c.slice()) });
 * const streamed = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
 * chunks.reduce((at, c) => (streamed.set(c, at), at + c.length), 0);
 * assert.deepEqual(streamed, await quantizedSafetensors(model, params));
 * ```
 */
export async function streamQuantizedSafetensors(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  sink: ByteSink,
  options: StreamQuantizedOptions = {},
): Promise<number> {
  const { inputs, metadata } = quantizedInputs(model, params, options);
  return await streamSafetensors(inputs, sink, { metadata });
}

/**
 * Where `streamQuantizedSafetensors` puts each tensor of `model` quantized with `params`: byte
 * offsets by name, and the file's size. The layout depends on the parameters' configuration
 * (dtype, scheme, granularity and block grid), not on their scales and zero points.
 *
 * @param model The model.
 * @param params The parameters (only their configuration is read).
 * @param options The extra metadata.
 * @returns The offsets by tensor name and the file's size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { quantizedLayout, quantizedSafetensors } from "./quantized_safetensors.ts";
 *
 * const file = writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, -2, 3, 4]) },
 * ]);
 * const model = safetensorsModel(readSafetensors(file));
 * const { params } = await quantizeWeights(model, [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" },
 * ]);
 * const bytes = await quantizedSafetensors(model, params);
 * const { offsets, size } = quantizedLayout(model, params);
 * assert.equal(size, bytes.length);
 * assert.equal(offsets.size, 3);
 * ```
 */
export function quantizedLayout(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: { readonly metadata?: Readonly<Record<string, string>> } = {},
): { offsets: Map<string, number>; size: number } {
  const { inputs, metadata } = quantizedInputs(model, params, options);
  return safetensorsLayout(inputs, { metadata });
}

/** The shape of a tensor's stored codes: two 4-bit codes per byte along the last dim. */
function codeShape(shape: readonly number[], bits: number): readonly number[] {
  if (bits > 4) return shape;
  if (shape.length === 0) return [1];
  return [...shape.slice(0, -1), Math.ceil(shape[shape.length - 1] / 2)];
}

/** Options of `quantizedCodeBytes`. */
export interface QuantizedCodeBytesOptions extends QuantizeOptions {
  /** Called with the values and their codes before they are encoded. */
  readonly onQuantized?: (param: TargetQuantParams, before: Float32Array, codes: IntCodes) => void;
  /**
   * A buffer the codes may be written into (`quantizeTensor`'s `into`): one a streamed run wrote
   * already, reused when it has exactly the codes' size.
   */
  readonly into?: ArrayBuffer;
}

/**
 * A quantized tensor's codes as `streamQuantizedSafetensors` stores them (layout in the module
 * doc): `I8`/`U8` or `I16`/`U16` elements, or two 4-bit codes per byte.
 *
 * @param values The tensor's values (float32, PyTorch layout).
 * @param shape Its dims.
 * @param p Its quantization parameters (from `quantizeWeights`).
 * @param options The kernels, and a callback that sees the codes.
 * @returns The stored bytes.
 * @throws {RangeError} When the values do not fit the shape or the parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantizedCodeBytes } from "./quantized_safetensors.ts";
 *
 * const p = { module: "fc", target: "weight", kind: "parameter" as const, quantDtype: "int8",
 *   quantScheme: "symmetric", granularity: "default", bits: 8, kernel: [-1], gridShape: [],
 *   scale: Float32Array.of(0.5), zeroPoint: Float32Array.of(0), qmin: -127, qmax: 127, configIndex: 0 };
 * const bytes = quantizedCodeBytes(Float32Array.of(1, -2), [2], p as never);
 * assert.deepEqual([...new Int8Array(bytes.buffer, bytes.byteOffset, 2)], [2, -4]);
 * ```
 */
export function quantizedCodeBytes(
  values: Float32Array,
  shape: readonly number[],
  p: TargetQuantParams,
  options: QuantizedCodeBytesOptions = {},
): Uint8Array {
  const kernels = options.kernels ?? getKernels();
  const { signed } = quantDtypeRange(p.quantDtype);
  const codes = quantizeTensor(values, shape, p, {
    kernels,
    ...(options.into === undefined ? {} : { into: options.into }),
  });
  options.onQuantized?.(p, values, codes);
  if (p.bits <= 4) return packRows(codes, shape, signed, kernels).bytes;
  const stored = asDType(codes, codeDType(p.bits, signed));
  return new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength);
}

/** The tensors of a quantized file, each produced when it is written, with the metadata. */
function quantizedInputs(
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: StreamQuantizedOptions,
): { inputs: SafetensorsStreamInput[]; metadata: Record<string, string> } {
  const byTarget = new Map(
    params.filter((p) => p.kind === "parameter").map((p) => [`${p.module}\u0000${p.target}`, p]),
  );
  const tensors: SafetensorsStreamInput[] = [];
  const infos: Record<string, QuantizedTensorInfo> = {};
  for (const m of model.modules) {
    for (const [pname, ref] of Object.entries(m.params)) {
      const name = m.name === "" ? pname : `${m.name}.${pname}`;
      const p = byTarget.get(`${m.name}\u0000${pname}`);
      if (p === undefined) {
        tensors.push(
          ref.transpose === undefined
            ? { name, dtype: ref.dtype, shape: ref.shape, data: () => ref.bytes() }
            : { name, dtype: "F32", shape: ref.shape, data: () => ref.data() },
        );
        continue;
      }
      byTarget.delete(`${m.name}\u0000${pname}`);
      const { signed } = quantDtypeRange(p.quantDtype);
      const dtype = codeDType(p.bits, signed);
      const produce = options.codeBytes;
      tensors.push({
        name,
        dtype,
        shape: codeShape(ref.shape, p.bits),
        ...(options.written?.has(name) ? { written: true } : {}),
        data: produce !== undefined
          ? () => produce(p, ref)
          : async () => quantizedCodeBytes(await ref.data(), ref.shape, p, options),
      });
      const zpType = p.bits <= 4 ? (signed ? "I8" : "U8") : dtype;
      const zp = p.zeroPoint.length === 0 ? new Int32Array(0) : Int32Array.from(p.zeroPoint);
      tensors.push({
        name: `${name}_scale`,
        dtype: "F32",
        shape: p.gridShape,
        data: () => p.scale,
      });
      tensors.push({
        name: `${name}_zero_point`,
        dtype: zpType,
        shape: p.gridShape,
        data: () => asDType(zp, zpType),
      });
      infos[name] = {
        quant_dtype: p.quantDtype,
        quant_scheme: p.quantScheme,
        granularity: p.granularity,
        kernel: p.kernel,
        shape: ref.shape,
        qmin: p.qmin,
        qmax: p.qmax,
        packing: p.bits <= 4 ? "int4_low_nibble_first" : "none",
      };
    }
  }
  throwIfUnmatched(byTarget.values());
  return {
    inputs: tensors,
    metadata: {
      ...options.metadata,
      "nncompress.format": FORMAT,
      "nncompress.quantization": JSON.stringify(infos),
    },
  };
}

// A copy of the bytes in a buffer of their own: `Uint8Array.prototype.slice`, because a Node
// `Buffer`'s own `slice` is a view into its (pooled) buffer.
function own(data: Uint8Array): ArrayBuffer {
  return Uint8Array.prototype.slice.call(data).buffer as ArrayBuffer;
}

function floats(data: Uint8Array): Float32Array {
  return new Float32Array(own(data));
}

function ints(data: Uint8Array, dtype: DType): Float32Array {
  const b = own(data);
  const view = dtype === "I8"
    ? new Int8Array(b)
    : dtype === "U8"
    ? new Uint8Array(b)
    : dtype === "I16"
    ? new Int16Array(b)
    : new Uint16Array(b);
  return Float32Array.from(view);
}

/**
 * Reads a file written by `quantizedSafetensors`: the quantized tensors with unpacked codes and
 * their parameters (ready for `dequantizeTensor`), and the names of the other tensors.
 *
 * @param bytes The file.
 * @param options The kernels to use (for 4-bit unpacking).
 * @returns The quantized tensors, in file order, and the other tensor names.
 * @throws {ModelFormatError} When the file is not a safetensors file, lacks the quantization
 * metadata or a scale or zero point tensor, or a tensor has the wrong number of codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { readQuantizedSafetensors } from "./quantized_safetensors.ts";
 *
 * const plain = writeSafetensors([{ name: "w", dtype: "U8", shape: [1], data: Uint8Array.of(1) }]);
 * assert.throws(() => readQuantizedSafetensors(plain), /quantized-v1/);
 * ```
 */
export function readQuantizedSafetensors(
  bytes: Uint8Array,
  options: QuantizeOptions = {},
): { quantized: QuantizedTensor[]; others: string[] } {
  const kernels = options.kernels ?? getKernels();
  const file = readSafetensors(bytes);
  // The header's JSON starts at byte 8; a tensor's data at its offset in `bytes`.
  const header = (field: string) => ({ field, offset: 8 });
  const format = file.metadata["nncompress.format"];
  if (format !== FORMAT) {
    throw new ModelFormatError(
      `the metadata must have "nncompress.format": "${FORMAT}": current value is ${
        JSON.stringify(format ?? null)
      }`,
      header("nncompress.format"),
    );
  }
  let infos: Record<string, QuantizedTensorInfo>;
  try {
    infos = JSON.parse(file.metadata["nncompress.quantization"] ?? "{}");
  } catch (e) {
    throw new ModelFormatError(`"nncompress.quantization" is not JSON: ${(e as Error).message}`, {
      ...header("nncompress.quantization"),
      cause: e,
    });
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (t === undefined) {
      throw new ModelFormatError(
        `the tensor listed in "nncompress.quantization" is not in the file`,
        header(name),
      );
    }
    return t;
  };
  const quantized: QuantizedTensor[] = [];
  const used = new Set<string>();
  for (const [name, info] of Object.entries(infos)) {
    const t = get(name);
    const { signed } = quantDtypeRange(info.quant_dtype);
    const n = info.shape.reduce((a, b) => a * b, 1);
    let codes: IntCodes;
    if (info.packing === "int4_low_nibble_first") {
      codes = unpackRows(t.data, info.shape, signed, kernels);
    } else {
      const f = ints(t.data, t.dtype);
      codes = t.dtype === "U16"
        ? Int32Array.from(f)
        : (t.dtype === "I16"
          ? Int16Array.from(f)
          : signed
          ? Int8Array.from(f)
          : Uint8Array.from(f));
    }
    if (codes.length !== n) {
      throw new ModelFormatError(
        `shape ${JSON.stringify(info.shape)} needs ${n} codes: current count is ${codes.length}`,
        { field: name, offset: t.data.byteOffset - bytes.byteOffset },
      );
    }
    const scale = get(`${name}_scale`);
    const zp = get(`${name}_zero_point`);
    quantized.push({
      name,
      shape: info.shape,
      codes,
      info,
      params: {
        kernel: info.kernel,
        scale: floats(scale.data),
        zeroPoint: ints(zp.data, zp.dtype),
        qmin: info.qmin,
        qmax: info.qmax,
      },
    });
    for (const k of [name, `${name}_scale`, `${name}_zero_point`]) used.add(k);
  }
  const others = file.tensors.map((t) => t.name).filter((x) => !used.has(x));
  return { quantized, others };
}
