/**
 * `readModelFile`: a model file read in chunks (with progress) and decoded.
 *
 * @module
 */

import { externalDataFiles, type FileSource, openFile } from "../io/fs.ts";
import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { checkExternalData } from "../io/onnx/inline_external_data.ts";
import { FileError } from "../io/file_error.ts";
import { readTfjsFiles } from "../io/tfjs/save_tfjs.ts";
import { detectFormat, type LoadedModel, loadModel } from "./load_model.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import { isShardIndexPath } from "../io/safetensors/shard_index.ts";
import { readShardedModel } from "./sharded_checkpoint.ts";
import type { Progress } from "./_tensor_change.ts";

const CHUNK = 8 * 1024 * 1024;

/** Reads a whole file in 8 MiB chunks, reporting progress. */
async function readAll(
  file: FileSource,
  path: string,
  progress: (at: number, size: number) => void,
) {
  const bytes = new Uint8Array(file.size);
  for (let at = 0; at < file.size; at += CHUNK) {
    progress(at, file.size);
    const part = bytes.subarray(at, Math.min(at + CHUNK, file.size));
    if (await file.readInto(at, part) < part.length) {
      throw new FileError(
        "read",
        `cannot read "${path}": it ended before byte ${
          part.length + at
        } while it was read (changed by another program?)`,
        path,
      );
    }
  }
  progress(file.size, file.size);
  return bytes;
}

/**
 * The external data files an ONNX model refers to, read from the model's folder (locations
 * that are absolute or leave the folder are refused), or `undefined` when it has none.
 */
async function readExternalData(
  path: string,
  bytes: Uint8Array,
  progress: Progress,
  read: boolean,
): Promise<Map<string, Uint8Array | number> | undefined> {
  // Each data file with the first tensor it holds (for messages).
  const locations = new Map<string, string>();
  for (const t of decodeOnnx(bytes, { file: path }).tensors) {
    if (t.storage.kind === "external" && !locations.has(t.storage.location)) {
      locations.set(t.storage.location, t.name);
    }
  }
  if (locations.size === 0) return undefined;
  const files = externalDataFiles(path);
  const out = new Map<string, Uint8Array | number>();
  try {
    for (const location of locations.keys()) {
      let file: FileSource;
      try {
        file = await files.open(location);
      } catch (e) {
        if (e instanceof ModelFormatError) throw e;
        const base = FileError.from("read", "file", folderOf(path) + location, e);
        const reason = base.message.slice(base.message.lastIndexOf(": ") + 2);
        throw new FileError(
          base.code,
          `cannot read external data file "${base.path}" (${path} keeps tensor ${
            JSON.stringify(locations.get(location))
          } there): ${reason}`,
          base.path,
          { cause: e },
        );
      }
      out.set(
        location,
        read
          ? await readAll(file, folderOf(path) + location, (at, size) => progress("read", at, size))
          : file.size,
      );
    }
  } finally {
    await files.close();
  }
  return out;
}

function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
}

/** Options of `readModelFile`. */
export interface ReadModelFileOptions {
  /**
   * Read an ONNX model's external data files and move their tensors into the model (default
   * `true`). With `false` only their sizes are read and every range checked against them (for
   * listings of models larger than memory); the tensors stay in their files, so the model can be
   * inspected and explained, not compressed.
   */
  readonly readExternalData?: boolean;
}

/**
 * The error for a protobuf file whose field 1 is length-delimited: never an ONNX model (its
 * field 1 is the varint `ir_version`), but what a TensorFlow GraphDef begins with (its nodes):
 * tfjs-converter 0.x's `tensorflowjs_model.pb` (beside a `weights_manifest.json`) or a frozen
 * graph, which packages such as handtrack.js still ship.
 */
function graphDefError(path: string): ModelFormatError {
  return new ModelFormatError(
    "this is not an ONNX model (its field 1 is length-delimited, where ONNX begins with the " +
      "varint ir_version) but most likely a TensorFlow GraphDef, such as the " +
      "tensorflowjs_model.pb of tensorflowjs_converter before 1.0 or a frozen graph: convert " +
      "the model with tensorflowjs_converter 1.0 or later to a model.json and its shards, which " +
      "nncompress reads",
    { file: path, offset: 0 },
  );
}

/**
 * Reads a whole model file, reporting progress per 8 MiB, then decodes it. A TensorFlow.js
 * `model.json` (a path ending in `.json`) is read with the shards its manifest names, from the
 * same folder; a sharded safetensors checkpoint (`*.safetensors.index.json`) with its shards, as
 * one safetensors model (`readShardedModel`). An ONNX model's external data files are read from
 * the model's folder (each `location` must stay inside it) and their tensors checked and moved
 * into the model (`loadModel`'s `externalData`), unless `options.readExternalData` is `false`.
 *
 * @param path The file path.
 * @param progress Called with the bytes read so far.
 * @param options Whether to read external data files.
 * @returns The decoded model.
 * @throws {FileError} When the file cannot be opened or read (names the path).
 * @throws {ModelFormatError} When it cannot be decoded (names the file and byte offset).
 *
 * @example
 * ```ts ignore
 * import { readModelFile } from "./read_model_file.ts";
 * const model = await readModelFile("model.onnx", () => {});
 * ```
 */
export async function readModelFile(
  path: string,
  progress: Progress,
  options: ReadModelFileOptions = {},
): Promise<LoadedModel> {
  if (isShardIndexPath(path)) return (await readShardedModel(path, progress)).model;
  if (path.toLowerCase().endsWith(".json")) {
    const { modelJson, shards } = await readTfjsFiles(path, (n) => progress("read", n, n));
    return loadModel(modelJson, path, shards);
  }
  let bytes: Uint8Array;
  try {
    const file = await openFile(path, { label: "model file" });
    try {
      bytes = await readAll(file, path, (at, size) => progress("read", at, size));
    } finally {
      await file.close();
    }
  } catch (e) {
    throw FileError.from("read", "model file", path, e);
  }
  if (detectFormat(bytes, path) !== "onnx") return loadModel(bytes, path);
  if (bytes[0] === 0x0a) throw graphDefError(path);
  const read = options.readExternalData ?? true;
  const external = await readExternalData(path, bytes, progress, read);
  if (external === undefined) return loadModel(bytes, path);
  if (read) {
    return loadModel(bytes, path, { externalData: external as Map<string, Uint8Array> });
  }
  const sizes = external as Map<string, number>;
  const model = loadModel(bytes, path);
  if (model.format !== "onnx") return model;
  checkExternalData(model.onnx, sizes);
  return { ...model, external: { modelBytes: bytes.length, files: sizes } };
}
