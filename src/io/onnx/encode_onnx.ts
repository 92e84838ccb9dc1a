/**
 * Writing ONNX models: the original bytes are copied unchanged except for replaced tensors,
 * whose enclosing messages get new length prefixes. Every node, attribute, opset, metadata
 * entry, unknown field and unchanged tensor stays byte-for-byte as it was.
 *
 * @module
 */

import { DTYPE_BYTES, elementCount } from "../../model/dtype.ts";
import type { OnnxModel, OnnxTensor, Span } from "./onnx_types.ts";
import { forEachField, readVarint } from "./_wire.ts";

/** New values for a stored tensor, in its file dtype and layout. */
export interface OnnxReplacement {
  /** The little-endian bytes of the tensor's dtype. */
  readonly bytes: Uint8Array;
  /** New dims (default: unchanged); the byte length must match them. */
  readonly dims?: readonly number[];
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

function concat(parts: readonly (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

/** A TensorProto with the same fields in the same order, data in `raw_data` and new dims. */
function encodeTensor(model: OnnxModel, t: OnnxTensor, r: OnnxReplacement): Uint8Array {
  const parts: (Uint8Array | number[])[] = [];
  let wroteDims = false;
  let wroteData = false;
  const dims = () => {
    if (wroteDims) return;
    wroteDims = true;
    for (const d of r.dims ?? t.dims) parts.push([0x08, ...varint(d)]);
  };
  const data = () => {
    if (wroteData) return;
    wroteData = true;
    parts.push([0x4a, ...varint(r.bytes.length)], r.bytes);
  };
  forEachField(model, t.span.start, t.span.end, t.path, (f) => {
    if (f.number === 1) dims();
    else if ([4, 5, 6, 7, 9, 10, 11].includes(f.number)) data();
    else parts.push(model.bytes.subarray(f.tagStart, f.end));
  });
  dims();
  data();
  return concat(parts);
}

interface Patch {
  readonly span: Span;
  readonly children: Map<number, Patch>;
  content?: Uint8Array;
}

function emit(model: OnnxModel, p: Patch): Uint8Array {
  if (p.content !== undefined) return p.content;
  const parts: (Uint8Array | number[])[] = [];
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
  /** The new bytes (same length as the stored ones). */
  readonly bytes: Uint8Array;
}

/** A model encoded with replacements: the model bytes and the external-data patches. */
export interface EncodedOnnx {
  /** The new `.onnx` bytes. */
  readonly bytes: Uint8Array;
  /** Replacements of tensors in external data files, to apply when copying those files. */
  readonly external: readonly ExternalPatch[];
}

/**
 * Encodes a decoded model with some tensors replaced, including tensors stored in external
 * data files: those keep their location, offset and length (so their replacement must keep the
 * dims) and are returned as patches for the external files (`saveOnnx` applies them while
 * copying the files). See `encodeOnnx` for everything else.
 *
 * @param model The decoded model.
 * @param replacements New values by tensor name.
 * @returns The model bytes and the external patches.
 * @throws {RangeError} When a name is not a stored tensor, the byte length does not match the
 * dtype and dims, or an external tensor's dims change.
 *
 * @example
 * ```ts ignore
 * import { encodeOnnxWithExternal } from "./encode_onnx.ts";
 * const { bytes, external } = encodeOnnxWithExternal(model, new Map([["w", { bytes: newBytes }]]));
 * ```
 */
export function encodeOnnxWithExternal(
  model: OnnxModel,
  replacements: ReadonlyMap<string, OnnxReplacement>,
): EncodedOnnx {
  const byName = new Map<string, OnnxTensor>();
  for (const t of model.tensors) if (!byName.has(t.name)) byName.set(t.name, t);
  const root: Patch = {
    span: { tagStart: 0, start: 0, end: model.bytes.length },
    children: new Map(),
  };
  const external: ExternalPatch[] = [];
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
    if (t.storage.kind === "external") {
      if (r.dims !== undefined && r.dims.join() !== t.dims.join()) {
        throw new RangeError(
          `replacement for ${
            JSON.stringify(name)
          } must keep dims [${t.dims}]: the tensor is stored in an external file`,
        );
      }
      external.push({
        name,
        location: t.storage.location,
        offset: t.storage.offset,
        bytes: r.bytes,
      });
      continue;
    }
    let node = root;
    for (const s of t.ancestors.slice(1)) {
      let next = node.children.get(s.tagStart);
      if (next === undefined) {
        node.children.set(s.tagStart, next = { span: s, children: new Map() });
      }
      node = next;
    }
    node.content = encodeTensor(model, t, r);
  }
  const bytes = root.children.size === 0 ? model.bytes.slice() : emit(model, root);
  return { bytes, external };
}

/**
 * Encodes a decoded model with some tensors replaced. A replaced tensor keeps its place
 * (initializer or `Constant` node, main graph or subgraph), name, dtype and every other field;
 * its values are written as `raw_data` (the ONNX-recommended form). Tensors are looked up by
 * name; when a name occurs more than once (a subgraph shadowing an outer name) the first in
 * file order is replaced. With no replacements the output equals the input bytes.
 *
 * @param model The decoded model.
 * @param replacements New values by tensor name.
 * @returns The new file bytes.
 * @throws {RangeError} When a name is not a stored tensor, the byte length does not match the
 * dtype and dims, or the tensor lives in an external data file (use `encodeOnnxWithExternal`
 * or `saveOnnx`).
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
