/**
 * `readModelFile`: a model file read in chunks (with progress) and decoded.
 *
 * @module
 */

import { openFile } from "../io/fs.ts";
import { FileError } from "../io/file_error.ts";
import { readTfjsFiles } from "../io/tfjs/save_tfjs.ts";
import { type LoadedModel, loadModel } from "./load_model.ts";
import { isShardIndexPath } from "../io/safetensors/shard_index.ts";
import { readShardedModel } from "./sharded_checkpoint.ts";
import type { Progress } from "./_tensor_change.ts";

const CHUNK = 8 * 1024 * 1024;

/**
 * Reads a whole model file, reporting progress per 8 MiB, then decodes it. A TensorFlow.js
 * `model.json` (a path ending in `.json`) is read with the shards its manifest names, from the
 * same folder; a sharded safetensors checkpoint (`*.safetensors.index.json`) with its shards, as
 * one safetensors model (`readShardedModel`).
 *
 * @param path The file path.
 * @param progress Called with the bytes read so far.
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
export async function readModelFile(path: string, progress: Progress): Promise<LoadedModel> {
  if (isShardIndexPath(path)) return (await readShardedModel(path, progress)).model;
  if (path.toLowerCase().endsWith(".json")) {
    const { modelJson, shards } = await readTfjsFiles(path, (n) => progress("read", n, n));
    return loadModel(modelJson, path, shards);
  }
  let bytes: Uint8Array;
  try {
    const file = await openFile(path, { label: "model file" });
    try {
      bytes = new Uint8Array(file.size);
      for (let at = 0; at < file.size; at += CHUNK) {
        progress("read", at, file.size);
        const chunk = await file.read(at, Math.min(CHUNK, file.size - at));
        bytes.set(chunk, at);
      }
      progress("read", file.size, file.size);
    } finally {
      await file.close();
    }
  } catch (e) {
    throw FileError.from("read", "model file", path, e);
  }
  return loadModel(bytes, path);
}
