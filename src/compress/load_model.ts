/**
 * `loadModel`: a model file in memory, seen as modules, in either supported format.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { readSafetensors, type SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import { readTfjs } from "../io/tfjs/read_tfjs.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { tfjsModel } from "../model/tfjs_model.ts";

/**
 * A model file held in memory with its module view. A TensorFlow.js model is its `model.json`
 * (`bytes`) and every file by name (`files`: `model.json`, then the shards).
 */
export type LoadedModel =
  & { readonly name: string; readonly bytes: Uint8Array; readonly graph: ModelGraph }
  & (
    | { readonly format: "onnx"; readonly onnx: OnnxModel }
    | { readonly format: "safetensors"; readonly safetensors: SafetensorsFile }
    | {
      readonly format: "tfjs";
      readonly tfjs: TfjsModel;
      readonly files: ReadonlyMap<string, Uint8Array>;
    }
  );

/**
 * The bytes a model takes to download: its file, or for TensorFlow.js `model.json` and every
 * shard.
 *
 * @param model A model from `loadModel`.
 * @returns The byte count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadModel, modelFileBytes } from "./load_model.ts";
 *
 * const json = new TextEncoder().encode(JSON.stringify({ format: "graph-model", modelTopology: { node: [] },
 *   weightsManifest: [{ paths: ["a.bin"], weights: [{ name: "w", shape: [2], dtype: "float32" }] }] }));
 * const model = loadModel(json, "model.json", new Map([["a.bin", new Uint8Array(8)]]));
 * assert.equal(modelFileBytes(model), json.length + 8);
 * ```
 */
export function modelFileBytes(model: LoadedModel): number {
  if (model.format !== "tfjs") return model.bytes.length;
  let n = 0;
  for (const b of model.files.values()) n += b.length;
  return n;
}

/**
 * The format of a model file: by extension (`.onnx`, `.safetensors`, `.json` for a
 * TensorFlow.js `model.json`), else by content (a safetensors file starts with an 8-byte header
 * length followed by `{`; a `model.json` starts with `{`).
 *
 * @param bytes The file bytes.
 * @param name The file name.
 * @returns `onnx`, `safetensors` or `tfjs`.
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
export function detectFormat(
  bytes: Uint8Array,
  name: string,
): "onnx" | "safetensors" | "tfjs" {
  const lower = name.toLowerCase();
  if (lower.endsWith(".onnx")) return "onnx";
  if (lower.endsWith(".safetensors")) return "safetensors";
  if (lower.endsWith(".json")) return "tfjs";
  let first = 0;
  while (
    first < bytes.length &&
    (bytes[first] === 0x20 || bytes[first] === 0x0a || bytes[first] === 0x0d ||
      bytes[first] === 0x09)
  ) first++;
  if (bytes[first] === 0x7b) return "tfjs";
  const zeroHigh = bytes.length >= 9 && bytes[5] === 0 && bytes[6] === 0 && bytes[7] === 0;
  return zeroHigh && bytes[8] === 0x7b ? "safetensors" : "onnx";
}

/**
 * Decodes a model file held in memory. A TensorFlow.js model is its `model.json` bytes and its
 * shards by the names the manifest gives.
 *
 * @param bytes The file bytes.
 * @param name The file name (format detection and error messages).
 * @param shards The weight shards of a TensorFlow.js `model.json` by name (default none).
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
export function loadModel(
  bytes: Uint8Array,
  name: string,
  shards: ReadonlyMap<string, Uint8Array> = new Map(),
): LoadedModel {
  // A Node `Buffer` is a Uint8Array whose `slice()` shares memory instead of copying: decode a
  // plain view of the same bytes so every later copy is a real one.
  if (bytes.constructor !== Uint8Array) {
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  const format = detectFormat(bytes, name);
  if (format === "tfjs") {
    const tfjs = readTfjs(bytes, shards, { file: name });
    // Only the shards the manifest names count as the model's files.
    const files = new Map<string, Uint8Array>([["model.json", bytes]]);
    for (const group of (tfjs.json.weightsManifest ?? []) as { paths: string[] }[]) {
      for (const p of group.paths) {
        const shard = shards.get(p) ?? shards.get(p.slice(p.lastIndexOf("/") + 1));
        if (shard !== undefined) files.set(p, shard);
      }
    }
    return { name, bytes, format: "tfjs", tfjs, files, graph: tfjsModel(tfjs) };
  }
  if (format === "safetensors") {
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
