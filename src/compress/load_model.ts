/**
 * `loadModel`: a model file in memory, seen as modules, in either supported format.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { readSafetensors, type SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";

/** A model file held in memory with its module view. */
export type LoadedModel =
  & { readonly name: string; readonly bytes: Uint8Array; readonly graph: ModelGraph }
  & (
    | { readonly format: "onnx"; readonly onnx: OnnxModel }
    | { readonly format: "safetensors"; readonly safetensors: SafetensorsFile }
  );

/**
 * The format of a model file: by extension (`.onnx`, `.safetensors`), else by content (a
 * safetensors file starts with an 8-byte header length followed by `{`).
 *
 * @param bytes The file bytes.
 * @param name The file name.
 * @returns `onnx` or `safetensors`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectFormat } from "./load_model.ts";
 *
 * assert.equal(detectFormat(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 123, 125]), "x.bin"), "safetensors");
 * assert.equal(detectFormat(new Uint8Array([8, 7]), "model.onnx"), "onnx");
 * ```
 */
export function detectFormat(bytes: Uint8Array, name: string): "onnx" | "safetensors" {
  const lower = name.toLowerCase();
  if (lower.endsWith(".onnx")) return "onnx";
  if (lower.endsWith(".safetensors")) return "safetensors";
  const zeroHigh = bytes.length >= 9 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
  return zeroHigh && bytes[8] === 0x7b ? "safetensors" : "onnx";
}

/**
 * Decodes a model file held in memory.
 *
 * @param bytes The file bytes.
 * @param name The file name (format detection and error messages).
 * @returns The model with its module view.
 * @throws {ModelFormatError} When the file cannot be decoded (names the file and byte offset).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { loadModel } from "./load_model.ts";
 *
 * const bytes = writeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array(4) }]);
 * const model = loadModel(bytes, "m.safetensors");
 * assert.equal(model.graph.modules[0].type, "Linear");
 * ```
 */
export function loadModel(bytes: Uint8Array, name: string): LoadedModel {
  // A Node `Buffer` is a Uint8Array whose `slice()` shares memory instead of copying: decode a
  // plain view of the same bytes so every later copy is a real one.
  if (bytes.constructor !== Uint8Array) {
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (detectFormat(bytes, name) === "safetensors") {
    const safetensors = readSafetensors(bytes, { file: name });
    return {
      name,
      bytes,
      format: "safetensors",
      safetensors,
      graph: safetensorsModel(safetensors),
    };
  }
  const onnx = decodeOnnx(bytes, { file: name });
  return { name, bytes, format: "onnx", onnx, graph: onnxModel(onnx) };
}
