/**
 * `inlineExternalData`: an ONNX model with the tensors of its external data files moved into
 * the model as `raw_data`.
 *
 * @module
 */

import { onnxStoredBytes } from "../../tensor/onnx_data_type.ts";
import { ModelFormatError } from "../model_format_error.ts";
import { decodeOnnx } from "./decode_onnx.ts";
import { encodeOnnxWithExternal, type OnnxReplacement } from "./encode_onnx.ts";
import type { OnnxModel, OnnxTensor } from "./onnx_types.ts";

/** The folder part of a path, with its trailing separator (`""` for a bare file name). */
function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
}

/** The data file of `location` in `files`: by location, else by its file name alone. */
function dataFile<T>(files: ReadonlyMap<string, T>, location: string): T | undefined {
  const exact = files.get(location) ?? files.get(location.replace(/\\/g, "/"));
  if (exact !== undefined) return exact;
  const base = location.slice(Math.max(location.lastIndexOf("/"), location.lastIndexOf("\\")) + 1);
  return files.get(base);
}

/**
 * The range of an external tensor, checked against its data file's size: the location is
 * relative and inside the model's folder, the file was given, and `[offset, offset + length)`
 * lies in it and holds exactly the tensor's dtype and dims.
 */
function externalRange(
  model: OnnxModel,
  t: OnnxTensor,
  files: ReadonlyMap<string, { readonly length: number }>,
): { offset: number; length: number } {
  if (t.storage.kind !== "external") throw new Error("unreachable");
  const { location, offset } = t.storage;
  const where = { file: model.file, field: t.name, offset: t.span.start };
  if (
    location === "" || /^([\\/]|[A-Za-z]:)/.test(location) ||
    location.split(/[\\/]/).includes("..")
  ) {
    throw new ModelFormatError(
      `external data location ${
        JSON.stringify(location)
      } must be a relative path inside the model's folder`,
      where,
    );
  }
  const data = dataFile(files, location);
  if (data === undefined) {
    const given = files.size === 0
      ? "none was given"
      : `given: ${[...files.keys()].map((k) => JSON.stringify(k)).join(", ")}`;
    throw new ModelFormatError(
      `tensor ${JSON.stringify(t.name)} is stored in the external data file ${
        JSON.stringify(location)
      }, which is missing (${given}): pass the model's data files with it`,
      where,
    );
  }
  const elements = t.dims.reduce((a, b) => a * b, 1);
  const bytes = onnxStoredBytes(t.dataType, elements);
  if (bytes === undefined) {
    throw new ModelFormatError(
      `tensor ${
        JSON.stringify(t.name)
      } has ONNX data type ${t.dataType}, which cannot be read from an external data file here`,
      where,
    );
  }
  const length = t.storage.length ?? bytes;
  const file = folderOf(model.file) + location;
  if (length !== bytes) {
    throw new ModelFormatError(
      `tensor ${JSON.stringify(t.name)} (${
        t.dtype ?? `data type ${t.dataType}`
      } [${t.dims}]) needs ${bytes} bytes: its external length is ${length}`,
      { file, field: t.name, offset },
    );
  }
  if (offset + length > data.length) {
    throw new ModelFormatError(
      `external range [${offset}, ${offset + length}) of tensor ${
        JSON.stringify(t.name)
      } is past the end of the file (${data.length} bytes)`,
      { file, field: t.name, offset },
    );
  }
  return { offset, length };
}

/**
 * Checks every external tensor of a model against the sizes of its data files, without reading
 * them: the checks of `inlineExternalData` (`inspect` and `explain` of a model larger than
 * memory use this).
 *
 * @param model The decoded model.
 * @param sizes Each data file's size in bytes, by `location` (or file name).
 * @throws {ModelFormatError} As `inlineExternalData`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { encodeOnnxWithExternal } from "./encode_onnx.ts";
 * import { checkExternalData } from "./inline_external_data.ts";
 *
 * const w = new Uint8Array(new Float32Array([1, 2]).buffer);
 * const inline = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "add", opType: "Add", inputs: ["x", "w"], outputs: ["y"] }],
 *   initializers: [{ name: "w", dataType: 1, dims: [2], raw: w }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * }));
 * const split = encodeOnnxWithExternal(inline, new Map([["w", { bytes: w, external: "w.bin" }]]));
 * const model = decodeOnnx(split.bytes, { file: "m.onnx" });
 * checkExternalData(model, new Map([["w.bin", 8]]));
 * assert.throws(() => checkExternalData(model, new Map([["w.bin", 4]])), /past the end of the file \(4 bytes\)/);
 * ```
 */
export function checkExternalData(model: OnnxModel, sizes: ReadonlyMap<string, number>): void {
  const files = new Map([...sizes].map(([k, n]) => [k, { length: n }]));
  for (const t of model.tensors) if (t.storage.kind === "external") externalRange(model, t, files);
}

/**
 * Moves every tensor a model keeps in external data files into the model as `raw_data`, so that
 * the in-memory pipeline (pruning, quantization, onnxruntime sessions from bytes) sees a
 * self-contained model. Each tensor's range is checked before it is read: its location must be
 * relative and stay inside the model's folder (as the ONNX checker requires), its data file
 * must be among `files`, and `[offset, offset + length)` must lie inside that file and hold
 * exactly the tensor's dtype and dims. A model without external tensors comes back as it is.
 * The result is one protobuf message, so it must stay under 2 GiB for onnxruntime and other
 * protobuf readers (nncompress's own decoder has no such limit; see `moveToExternalData` to
 * split it again).
 *
 * @param model The decoded model (its `file` names it in errors; data paths are relative to it).
 * @param files The data files' bytes by `location`; a location with folders is also found by
 * its file name alone (what a browser's file picker gives).
 * @returns The decoded self-contained model (the same object when nothing was external).
 * @throws {ModelFormatError} When a location is unsafe, a data file is missing, or a range is
 * outside its file or does not match the tensor (names the data file, tensor and offset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { encodeOnnxWithExternal } from "./encode_onnx.ts";
 * import { inlineExternalData } from "./inline_external_data.ts";
 *
 * const w = new Uint8Array(new Float32Array([1, 2]).buffer);
 * const inline = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "add", opType: "Add", inputs: ["x", "w"], outputs: ["y"] }],
 *   initializers: [{ name: "w", dataType: 1, dims: [2], raw: w }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [2] } }],
 * }));
 * const split = encodeOnnxWithExternal(inline, new Map([["w", { bytes: w, external: "w.bin" }]]));
 * const model = decodeOnnx(split.bytes, { file: "m.onnx" });
 * const back = inlineExternalData(model, new Map([["w.bin", split.external[0].bytes]]));
 * assert.equal(back.tensors[0].storage.kind, "raw");
 * assert.throws(() => inlineExternalData(model, new Map()), /"w.bin", which is missing/);
 * ```
 */
export function inlineExternalData(
  model: OnnxModel,
  files: ReadonlyMap<string, Uint8Array>,
): OnnxModel {
  const replacements = new Map<string, OnnxReplacement>();
  for (const t of model.tensors) {
    if (t.storage.kind !== "external" || replacements.has(t.name)) continue;
    const { offset, length } = externalRange(model, t, files);
    const bytes = dataFile(files, t.storage.location)!.subarray(offset, offset + length);
    replacements.set(t.name, { bytes, external: false });
  }
  if (replacements.size === 0) return model;
  const { bytes } = encodeOnnxWithExternal(model, replacements);
  return decodeOnnx(bytes, { file: model.file });
}
