/**
 * Writing ONNX models: the original bytes are copied unchanged except for replaced tensors,
 * whose enclosing messages get new length prefixes. Every node, attribute, opset, metadata
 * entry, unknown field and unchanged tensor stays byte-for-byte as it was.
 *
 * @module
 */

import { DTYPE_BYTES, elementCount } from "../../tensor/dtype.ts";
import type { OnnxModel, OnnxTensor, Span } from "./onnx_types.ts";
import { readVarint } from "./_wire.ts";
import { encodeTensor } from "./_encode_tensor.ts";
import { type Bytes, concat, varint } from "./proto_writer.ts";
import { encodeSparse } from "./_encode_sparse.ts";

/** New values for a stored tensor, in its file dtype and layout. */
export interface OnnxReplacement {
  /** The little-endian bytes of the tensor's dtype. */
  readonly bytes: Uint8Array;
  /** New dims (default: unchanged); the byte length must match them. */
  readonly dims?: readonly number[];
  /**
   * Where to store the values (default: where the tensor is now): `false` for `raw_data` in
   * the model file, or the `location` of an external data file (relative to the model's
   * folder) to store them there. Not supported for sparse tensors.
   */
  readonly external?: string | false;
}

/** Options of `encodeOnnxWithExternal`. */
export interface EncodeOnnxOptions {
  /**
   * The byte size of each external data file, by location: tensors that move into a file or
   * outgrow their range are appended after this. Default: the end of the last range the
   * model's tensors use in that file.
   */
  readonly externalSizes?: ReadonlyMap<string, number>;
}

/** Offsets of tensors appended to an external data file are multiples of this. */
export const EXTERNAL_ALIGNMENT = 4096;

interface Patch {
  readonly span: Span;
  readonly children: Map<number, Patch>;
  content?: Uint8Array;
}

function emit(model: OnnxModel, p: Patch): Uint8Array {
  if (p.content !== undefined) return p.content;
  const parts: Bytes[] = [];
  let at = p.span.start;
  for (const child of [...p.children.values()].sort((a, b) => a.span.tagStart - b.span.tagStart)) {
    const body = emit(model, child);
    const afterTag = readVarint(model, child.span.tagStart, child.span.end, "")[1];
    parts.push(model.bytes.subarray(at, afterTag), varint(body.length), body);
    at = child.span.end;
  }
  parts.push(model.bytes.subarray(at, p.span.end));
  return concat(parts);
}

/** New bytes for a tensor stored in an external data file, at its existing place. */
export interface ExternalPatch {
  /** The tensor name. */
  readonly name: string;
  /** The external file's `location` (relative to the model's folder). */
  readonly location: string;
  /** The byte offset of the tensor in that file. */
  readonly offset: number;
  /** The new bytes. */
  readonly bytes: Uint8Array;
  /** Whether the range is appended past the tensors the file held (a moved or grown tensor). */
  readonly appended?: boolean;
}

/** A model encoded with replacements: the model bytes and the external-data patches. */
export interface EncodedOnnx {
  /** The new `.onnx` bytes. */
  readonly bytes: Uint8Array;
  /** Replacements of tensors in external data files, to apply when copying those files. */
  readonly external: readonly ExternalPatch[];
}

/** The byte length of an external tensor's range. */
function storedLength(t: OnnxTensor): number {
  if (t.storage.kind !== "external") return 0;
  const count = t.dims.reduce((a, b) => a * b, 1);
  return t.storage.length ?? (t.dtype === undefined ? 0 : count * DTYPE_BYTES[t.dtype]);
}

/** Where new ranges of each external file start. */
function fileEnds(model: OnnxModel, options: EncodeOnnxOptions): Map<string, number> {
  const ends = new Map<string, number>();
  for (const t of model.tensors) {
    if (t.storage.kind !== "external") continue;
    const end = t.storage.offset + storedLength(t);
    ends.set(t.storage.location, Math.max(ends.get(t.storage.location) ?? 0, end));
  }
  for (const [location, size] of options.externalSizes ?? []) {
    ends.set(location, Math.max(ends.get(location) ?? 0, size));
  }
  return ends;
}

/**
 * Encodes a decoded model with some tensors replaced, including tensors stored in external
 * data files, and returns the bytes to write into those files as patches (`saveOnnx` applies
 * them while copying the files). An external tensor whose new bytes fit its range stays at its
 * offset (with a new `length` when it shrinks); one that grows, or moves into a file with
 * `external: "<location>"`, is appended at the end of that file at an offset aligned to
 * `EXTERNAL_ALIGNMENT` (4096) bytes; `external: false` moves it into the model as `raw_data`.
 * Unused bytes left behind in an external file are not reclaimed. See `encodeOnnx` for
 * everything else.
 *
 * @param model The decoded model.
 * @param replacements New values by tensor name.
 * @param options The sizes of the external files.
 * @returns The model bytes and the external patches.
 * @throws {RangeError} When a name is not a stored tensor, the byte length does not match the
 * dtype and dims, `external` is `""`, or a sparse tensor is asked to move.
 *
 * @example
 * ```ts
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { encodeOnnxWithExternal } from "./encode_onnx.ts";
 * // An ONNX model with one initializer "w" = [1, 2] (float32, raw_data), moved to "w.bin".
 * const w = [8, 2, 16, 1, 66, 1, 119, 74, 8, 0, 0, 128, 63, 0, 0, 0, 64];
 * const model = decodeOnnx(new Uint8Array([8, 8, 58, w.length + 2, 42, w.length, ...w]));
 * const bytes = new Uint8Array(new Float32Array([3, 4]).buffer);
 * const out = encodeOnnxWithExternal(model, new Map([["w", { bytes, external: "w.bin" }]]));
 * if (out.external[0].location !== "w.bin" || out.external[0].offset !== 0) throw new Error();
 * if (decodeOnnx(out.bytes).tensors[0].storage.kind !== "external") throw new Error();
 * ```
 */
export function encodeOnnxWithExternal(
  model: OnnxModel,
  replacements: ReadonlyMap<string, OnnxReplacement>,
  options: EncodeOnnxOptions = {},
): EncodedOnnx {
  const byName = new Map<string, OnnxTensor>();
  for (const t of model.tensors) if (!byName.has(t.name)) byName.set(t.name, t);
  const root: Patch = {
    span: { tagStart: 0, start: 0, end: model.bytes.length },
    children: new Map(),
  };
  const external: ExternalPatch[] = [];
  let ends: Map<string, number> | undefined;
  for (const [name, r] of replacements) {
    const t = byName.get(name);
    if (t === undefined) {
      throw new RangeError(
        `"replacements" must name stored tensors: ${JSON.stringify(name)} is not one`,
      );
    }
    const count = elementCount(r.dims ?? t.dims);
    const need = t.dtype === undefined || count === undefined ? -1 : count * DTYPE_BYTES[t.dtype];
    if (r.bytes.length !== need) {
      throw new RangeError(
        `replacement for ${
          JSON.stringify(name)
        } must have ${need} bytes: current value is ${r.bytes.length}`,
      );
    }
    const s = t.storage;
    if (r.external === "") {
      throw new RangeError(
        `"external" of ${
          JSON.stringify(name)
        } must be false or a file location: current value is ""`,
      );
    }
    if (s.kind === "sparse" && r.external !== undefined) {
      throw new RangeError(
        `replacement for ${JSON.stringify(name)} cannot set "external": it is a sparse tensor`,
      );
    }
    const location = r.external === false
      ? undefined
      : r.external ?? (s.kind === "external" ? s.location : undefined);
    let content: Uint8Array | undefined;
    if (s.kind === "sparse") content = encodeSparse(model, t, r);
    else if (location === undefined) content = encodeTensor(model, t, r);
    else {
      const inPlace = s.kind === "external" && s.location === location &&
        r.bytes.length <= storedLength(t);
      let offset: number;
      if (inPlace) offset = s.offset;
      else {
        ends ??= fileEnds(model, options);
        const end = ends.get(location) ?? 0;
        offset = Math.ceil(end / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
        ends.set(location, offset + r.bytes.length);
      }
      external.push({
        name,
        location,
        offset,
        bytes: r.bytes,
        ...(inPlace ? {} : { appended: true }),
      });
      const same = inPlace && r.bytes.length === storedLength(t) &&
        (r.dims ?? t.dims).join() === t.dims.join();
      if (!same) content = encodeTensor(model, t, r, { location, offset });
    }
    if (content === undefined) continue;
    let node = root;
    for (const sp of t.ancestors.slice(1)) {
      let next = node.children.get(sp.tagStart);
      if (next === undefined) {
        node.children.set(sp.tagStart, next = { span: sp, children: new Map() });
      }
      node = next;
    }
    node.content = content;
  }
  const bytes = root.children.size === 0 ? model.bytes.slice() : emit(model, root);
  return { bytes, external };
}

/**
 * Encodes a decoded model with some tensors replaced. A replaced tensor keeps its place
 * (initializer or `Constant` node, main graph or subgraph), name, dtype and every other field;
 * its values are written as `raw_data` (the ONNX-recommended form). Tensors are looked up by
 * name; when a name occurs more than once (a subgraph shadowing an outer name) the first in
 * file order is replaced. A sparse tensor (`sparse_initializer`, `sparse_value`) stays sparse:
 * its elements whose bytes are not all zero become the values, with INT64 indices in the
 * layout it had. With no replacements the output equals the input bytes.
 *
 * @param model The decoded model.
 * @param replacements New values by tensor name.
 * @returns The new file bytes.
 * @throws {RangeError} When a name is not a stored tensor, the byte length does not match the
 * dtype and dims, or the tensor lives (or is to be stored) in an external data file (use
 * `encodeOnnxWithExternal` or `saveOnnx`).
 *
 * @example
 * ```ts ignore
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { encodeOnnx } from "./encode_onnx.ts";
 * const model = decodeOnnx(await Deno.readFile("model.onnx"));
 * const same = encodeOnnx(model, new Map()); // byte-identical copy
 * ```
 */
export function encodeOnnx(
  model: OnnxModel,
  replacements: ReadonlyMap<string, OnnxReplacement>,
): Uint8Array {
  const { bytes, external } = encodeOnnxWithExternal(model, replacements);
  if (external.length > 0) {
    throw new RangeError(
      `tensor ${
        JSON.stringify(external[0].name)
      } is stored in an external file: use encodeOnnxWithExternal() or saveOnnx()`,
    );
  }
  return bytes;
}
