/**
 * `saveTfjsFiles`: a TensorFlow.js model written to disk (`model.json` beside its shards),
 * each file atomically; `readTfjsFile`: one read from disk. File-system access through
 * `src/io/fs.ts`; not part of the browser-safe core.
 *
 * @module
 */

import { FileError } from "../file_error.ts";
import { readFile, writeFileAtomic } from "../fs.ts";
import { ModelFormatError } from "../model_format_error.ts";
import { readTfjs, uriDecoded } from "./read_tfjs.ts";
import type { TfjsModel } from "./tfjs_types.ts";
import { namedTfjsFiles, tfjsManifestOf } from "./write_tfjs.ts";

/** The folder part of a path (`""` for a bare name), with its trailing separator. */
function folderOf(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut < 0 ? "" : path.slice(0, cut + 1);
}

/**
 * Writes `model.json` to `path` and every shard beside it, each through a temporary file renamed
 * into place (a file is never half-written); the shards first, `model.json` last, so that the
 * `model.json` in place always names shards that are there. When the file is not named
 * `model.json`, its shards are renamed after it (`small.json` -> `small-shard1of2.bin`, the
 * manifest patched to match), so that writing a second model into the folder of the first never
 * replaces the first one's shards; a weights manifest `<name>-weights_manifest.json` (face-api.js)
 * takes `<name>-shard1of1.bin`.
 *
 * @param path The path of `model.json` (any name ending in `.json`).
 * @param files Every file by name: `model.json` (the `files` of a `save()` result, or of
 * `tfjsSaved`) and the shards, named as `model.json` refers to them.
 * @returns Nothing; resolves when every file is in place.
 * @throws {RangeError} When `files` has no `model.json`, or a shard name leaves the folder.
 * @throws {FileError} When a file cannot be written (names the path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjsFile, saveTfjsFiles } from "./save_tfjs.ts";
 *
 * const json = JSON.stringify({ format: "graph-model", modelTopology: { node: [] },
 *   weightsManifest: [{ paths: ["a.bin"], weights: [{ name: "w", shape: [1], dtype: "float32" }] }] });
 * const dir = await Deno.makeTempDir();
 * await saveTfjsFiles(`${dir}/model.json`, new Map([
 *   ["model.json", new TextEncoder().encode(json)], ["a.bin", new Uint8Array(4)],
 * ]));
 * assert.equal((await readTfjsFile(`${dir}/model.json`)).weights.length, 1);
 * ```
 */
export async function saveTfjsFiles(
  path: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  const folder = folderOf(path);
  const base = path.slice(folder.length);
  const named = namedTfjsFiles(base, files);
  const json = named.get(base)!;
  for (const [name, bytes] of named) {
    if (name === base) continue;
    if (name.includes("/") || name.includes("\\") || name === "." || name === "..") {
      throw new RangeError(`a shard name must be a plain file name: current value is ${name}`);
    }
    await writeFileAtomic(folder + name, bytes, { label: "weight shard" });
  }
  await writeFileAtomic(path, json);
}

/**
 * Reads the files of a TensorFlow.js model from disk: `model.json` at `path` and the shards its
 * manifest names, from the same folder.
 *
 * @param path The path of `model.json`.
 * @param onRead Called after each file with the bytes read so far and the file count.
 * @returns The bytes of `model.json` and the shards by the path the manifest gives.
 * @throws {FileError} When `model.json` or a shard cannot be read (names the path).
 * @throws {ModelFormatError} When `model.json` is not JSON.
 *
 * @example
 * ```ts ignore
 * import { readTfjsFiles } from "./save_tfjs.ts";
 * const { modelJson, shards } = await readTfjsFiles("models/face/model.json");
 * ```
 */
export async function readTfjsFiles(
  path: string,
  onRead: (bytes: number) => void = () => {},
): Promise<{ modelJson: Uint8Array; shards: Map<string, Uint8Array> }> {
  let json: Uint8Array;
  try {
    json = await readFile(path);
  } catch (e) {
    throw FileError.from("read", "model file", path, e);
  }
  let total = json.length;
  onRead(total);
  let manifest: unknown[];
  try {
    manifest = tfjsManifestOf(JSON.parse(new TextDecoder().decode(json)));
  } catch (e) {
    throw new ModelFormatError("model.json is not valid JSON", { file: path, cause: e });
  }
  const shards = new Map<string, Uint8Array>();
  const folder = folderOf(path);
  for (const group of manifest as { paths?: unknown }[]) {
    for (const p of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof p !== "string" || shards.has(p)) continue;
      const relative = p.replace(/^\.\//, "");
      const shardPath = folder + uriDecoded(relative);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(shardPath);
      } catch (e) {
        // A name that only looks escaped (`a%20b.bin` on disk as it is).
        const raw = folder + relative;
        const fail = () => FileError.from("read", "weight shard", shardPath, e);
        if (raw === shardPath) throw fail();
        bytes = await readFile(raw).catch(() => Promise.reject(fail()));
      }
      total += bytes.length;
      onRead(total);
      shards.set(p, bytes);
    }
  }
  return { modelJson: json, shards };
}

/**
 * Reads and decodes a TensorFlow.js model from disk (`readTfjsFiles`, then `readTfjs`).
 *
 * @param path The path of `model.json`.
 * @returns The decoded model.
 * @throws {FileError} When `model.json` or a shard cannot be read (names the path).
 * @throws {ModelFormatError} When the model cannot be decoded.
 *
 * @example
 * ```ts ignore
 * import { readTfjsFile } from "./save_tfjs.ts";
 * const model = await readTfjsFile("models/face/model.json");
 * ```
 */
export async function readTfjsFile(path: string): Promise<TfjsModel> {
  const { modelJson, shards } = await readTfjsFiles(path);
  return readTfjs(modelJson, shards, { file: path });
}
