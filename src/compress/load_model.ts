/**
 * `loadModel`: a model file in memory, seen as modules, in either supported format.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { inlineExternalData } from "../io/onnx/inline_external_data.ts";
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
    | {
      readonly format: "onnx";
      readonly onnx: OnnxModel;
      /**
       * For a model stored with external data files: the `.onnx` file's size and each data
       * file's size by location. When the data files were given to `loadModel`, `bytes` and
       * `onnx` hold the model with those tensors inline (`inlineExternalData`); a listing that
       * only checked the files (`readModelFile`'s `readExternalData: false`) leaves them there.
       */
      readonly external?: {
        readonly modelBytes: number;
        readonly files: ReadonlyMap<string, number>;
      };
    }
    | { readonly format: "safetensors"; readonly safetensors: SafetensorsFile }
    | {
      readonly format: "tfjs";
      readonly tfjs: TfjsModel;
      readonly files: ReadonlyMap<string, Uint8Array>;
    }
  );

/**
 * The bytes a model takes to download: its file, for TensorFlow.js `model.json` and every
 * shard, for ONNX with external data the `.onnx` file and its data files.
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
  if (model.format === "onnx" && model.external !== undefined) {
    let n = model.external.modelBytes;
    for (const size of model.external.files.values()) n += size;
    return n;
  }
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

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /** The weight shards of a TensorFlow.js `model.json` by name (default none). */
  readonly shards?: ReadonlyMap<string, Uint8Array>;
  /**
   * The external data files of an ONNX model by `location` (a location with folders is also
   * found by its file name alone). Their tensors are checked and moved into the model
   * (`inlineExternalData`); the data files' sizes count in `modelFileBytes`.
   */
  readonly externalData?: ReadonlyMap<string, Uint8Array>;
}

/**
 * Decodes a model file held in memory. A TensorFlow.js model is its `model.json` bytes and its
 * shards by the names the manifest gives; an ONNX model that keeps tensors in external data
 * files needs those files (`options.externalData`), else reading those tensors fails with a
 * message that names the tensor and its file.
 *
 * @param bytes The file bytes.
 * @param name The file name (format detection and error messages).
 * @param options The shards of a TensorFlow.js model (or the shards map itself, as before) and
 * the external data files of an ONNX model.
 * @returns The model with its module view.
 * @throws {ModelFormatError} When the file cannot be decoded (names the file and byte offset),
 * or an external data file is missing or too short for a tensor (names the data file, the
 * tensor and the offset).
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
  options: ReadonlyMap<string, Uint8Array> | LoadModelOptions = {},
): LoadedModel {
  const { shards = new Map(), externalData } = options instanceof Map
    ? { shards: options as ReadonlyMap<string, Uint8Array>, externalData: undefined }
    : options as LoadModelOptions;
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
  const stored = decodeOnnx(bytes, { file: name });
  const locations = new Set<string>();
  for (const t of stored.tensors) {
    if (t.storage.kind === "external") locations.add(t.storage.location);
  }
  if (locations.size === 0 || externalData === undefined) {
    return { name, bytes, format: "onnx", onnx: stored, graph: onnxModel(stored) };
  }
  const onnx = inlineExternalData(stored, externalData);
  const files = new Map<string, number>();
  for (const location of locations) {
    const base = location.slice(
      Math.max(location.lastIndexOf("/"), location.lastIndexOf("\\")) + 1,
    );
    const file = externalData.get(location) ?? externalData.get(location.replace(/\\/g, "/")) ??
      externalData.get(base);
    files.set(location, file?.length ?? 0);
  }
  return {
    name,
    bytes: onnx.bytes,
    format: "onnx",
    onnx,
    graph: onnxModel(onnx),
    external: { modelBytes: bytes.length, files },
  };
}
