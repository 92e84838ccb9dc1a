// Planning tensor replacements: which enclosing messages of a model get new content (a tree of
// patches keyed by the offset of each message's tag) and which bytes go to external data files.
// `encodeOnnxWithExternal` emits the tree as it is; `editOnnx` walks the main graph around it.
import { DTYPE_BYTES, elementCount } from "../../tensor/dtype.ts";
import type { OnnxModel, OnnxTensor, Span } from "./onnx_types.ts";
import { readVarint } from "./_wire.ts";
import { encodeTensor } from "./_encode_tensor.ts";
import { type Bytes, concat, varint } from "./proto_writer.ts";
import { encodeSparse } from "./_encode_sparse.ts";
import {
  type EncodeOnnxOptions,
  EXTERNAL_ALIGNMENT,
  type ExternalPatch,
  type OnnxReplacement,
} from "./encode_onnx.ts";

/** New content for a message, or for some of the messages it encloses. */
export interface Patch {
  readonly span: Span;
  readonly children: Map<number, Patch>;
  content?: Uint8Array;
}

/** The content of the message of `p`, with its patched descendants re-encoded. */
export function emitPatch(model: OnnxModel, p: Patch): Uint8Array {
  if (p.content !== undefined) return p.content;
  const parts: Bytes[] = [];
  let at = p.span.start;
  for (const child of [...p.children.values()].sort((a, b) => a.span.tagStart - b.span.tagStart)) {
    const body = emitPatch(model, child);
    const afterTag = readVarint(model, child.span.tagStart, child.span.end, "")[1];
    parts.push(model.bytes.subarray(at, afterTag), varint(body.length), body);
    at = child.span.end;
  }
  parts.push(model.bytes.subarray(at, p.span.end));
  return concat(parts);
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

/** The patch tree of some tensor replacements and the bytes they put in external files. */
export function planReplacements(
  model: OnnxModel,
  replacements: ReadonlyMap<string, OnnxReplacement>,
  options: EncodeOnnxOptions,
): { root: Patch; external: ExternalPatch[] } {
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
  return { root, external };
}
