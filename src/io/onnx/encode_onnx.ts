/**
 * Writing ONNX models: the original bytes are copied unchanged except for replaced tensors,
 * whose enclosing messages get new length prefixes. Every node, attribute, opset, metadata
 * entry, unknown field and unchanged tensor stays byte-for-byte as it was.
 *
 * @module
 */

import type { OnnxModel } from "./onnx_types.ts";
import { emitPatch, planReplacements } from "./_replace_tensors.ts";

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
  const { root, external } = planReplacements(model, replacements, options);
  const bytes = root.children.size === 0 ? model.bytes.slice() : emitPatch(model, root);
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
