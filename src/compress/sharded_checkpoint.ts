/**
 * Sharded safetensors checkpoints on disk (`model.safetensors.index.json` and its shards): read
 * as one model, opened lazily shard by shard, and written back with the same shard layout.
 *
 * @module
 */

import { FileError } from "../io/file_error.ts";
import { type FileSource, openFile, readFileBounded, writeFileAtomic } from "../io/fs.ts";
import { jsonText } from "../io/json_text.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import { type LazySafetensors, openSafetensors } from "../io/safetensors/open_safetensors.ts";
import type { SafetensorsEntry } from "../io/safetensors/parse_header.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { parseShardIndex, type ShardIndex, shardIndexText } from "../io/safetensors/shard_index.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { type LoadedModel, loadModel } from "./load_model.ts";
import type { Progress } from "./_tensor_change.ts";

/** The largest shard index read (the index of a 400B-parameter model is about 4 MB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** A shard index read from disk. */
export interface ShardIndexFile {
  /** The index's path. */
  readonly path: string;
  /** Its folder, with a trailing separator (or `""`). */
  readonly folder: string;
  /** The parsed index. */
  readonly index: ShardIndex;
}

function folderOf(path: string): string {
  return path.slice(0, Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The name of an index without `.safetensors.index.json` (`model`). */
function stemOf(path: string): string {
  return path.slice(folderOf(path).length).replace(/\.safetensors\.index\.json$/i, "");
}

/**
 * Reads and validates a shard index file (bounded; shard names must be plain files of its
 * folder).
 *
 * @param path The `*.safetensors.index.json` path.
 * @returns The index and its folder.
 * @throws {FileError} When the file cannot be read or is not JSON.
 * @throws {ModelFormatError} When it is not a shard index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readShardIndexFile } from "./sharded_checkpoint.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/m.safetensors.index.json`, JSON.stringify({ weight_map: { w: "m-1.safetensors" } }));
 * const { index, folder } = await readShardIndexFile(`${dir}/m.safetensors.index.json`);
 * assert.deepEqual(index.shards, ["m-1.safetensors"]);
 * assert.equal(folder, `${dir}/`);
 * ```
 */
export async function readShardIndexFile(path: string): Promise<ShardIndexFile> {
  const bytes = await readFileBounded(path, { maxBytes: MAX_INDEX_BYTES, label: "shard index" });
  const index = parseShardIndex(jsonText(bytes, "shard index", path), path);
  return { path, folder: folderOf(path), index };
}

/**
 * The output shard names for writing a checkpoint's shards next to `outputIndex`: the same names
 * when the output index has the input's name (`model.safetensors.index.json` in another folder),
 * else each name with the input's stem replaced by the output's
 * (`model-00001-of-00002.safetensors` → `pruned-00001-of-00002.safetensors`), so a second
 * checkpoint written into the folder of the first never replaces the first one's shards.
 *
 * @param input The input index file.
 * @param outputIndex The output index path.
 * @returns Each input shard's output name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { outputShardNames } from "./sharded_checkpoint.ts";
 * const input = {
 *   path: "ckpt/model.safetensors.index.json",
 *   folder: "ckpt/",
 *   index: { metadata: {}, weightMap: new Map([["w", "model-1-of-1.safetensors"]]), shards: ["model-1-of-1.safetensors"] },
 * };
 * assert.equal(outputShardNames(input, "ckpt/small.safetensors.index.json").get("model-1-of-1.safetensors"), "small-1-of-1.safetensors");
 * assert.equal(outputShardNames(input, "out/model.safetensors.index.json").get("model-1-of-1.safetensors"), "model-1-of-1.safetensors");
 * ```
 */
export function outputShardNames(
  input: ShardIndexFile,
  outputIndex: string,
): Map<string, string> {
  const from = stemOf(input.path);
  const to = stemOf(outputIndex);
  const names = new Map<string, string>();
  for (const shard of input.index.shards) {
    if (from === to) names.set(shard, shard);
    else if (from !== "" && shard.startsWith(from)) names.set(shard, to + shard.slice(from.length));
    else names.set(shard, `${to}-${shard}`);
  }
  return names;
}

/** A checkpoint's shards opened lazily, and one view over all of them. */
export interface OpenedCheckpoint {
  /** The index file. */
  readonly index: ShardIndexFile;
  /** Each shard, in the index's order, with its path and lazy view. */
  readonly shards: readonly { name: string; path: string; lazy: LazySafetensors }[];
  /** Every tensor of every shard, read on demand (metadata: the first shard's). */
  readonly all: LazySafetensors;
  /** The bytes of every shard file together. */
  readonly fileBytes: number;
  /** Closes every shard file. */
  close(): Promise<void>;
}

/**
 * Opens every shard of a checkpoint lazily (headers only) and checks the index against them:
 * each tensor the index names must be in the shard it names, and no tensor may be in two
 * shards.
 *
 * @param path The `*.safetensors.index.json` path.
 * @returns The shards and one view over them; `close()` them when done.
 * @throws {FileError} When the index or a shard cannot be read.
 * @throws {ModelFormatError} When a shard is not safetensors or does not match the index.
 *
 * @example
 * ```ts ignore
 * import { openShardedCheckpoint } from "./sharded_checkpoint.ts";
 * const ckpt = await openShardedCheckpoint("llm/model.safetensors.index.json");
 * try { console.log(ckpt.all.entries.length); } finally { await ckpt.close(); }
 * ```
 */
export async function openShardedCheckpoint(path: string): Promise<OpenedCheckpoint> {
  const index = await readShardIndexFile(path);
  const sources: FileSource[] = [];
  const close = async () => {
    for (const s of sources) await s.close().catch(() => {});
  };
  try {
    const shards: { name: string; path: string; lazy: LazySafetensors }[] = [];
    let fileBytes = 0;
    for (const name of index.index.shards) {
      const shardPath = index.folder + name;
      const source = await openFile(shardPath, { label: "model shard" }).catch((e) => {
        throw FileError.from("read", "model shard", shardPath, e);
      });
      sources.push(source);
      fileBytes += source.size;
      shards.push({
        name,
        path: shardPath,
        lazy: await openSafetensors(source, { file: shardPath }),
      });
    }
    const owner = new Map<string, number>();
    const entries: SafetensorsEntry[] = [];
    for (const [i, shard] of shards.entries()) {
      for (const e of shard.lazy.entries) {
        const before = owner.get(e.name);
        if (before !== undefined) {
          throw new ModelFormatError(
            `tensor is in two shards: "${shards[before].name}" and "${shard.name}"`,
            { file: shard.path, field: e.name },
          );
        }
        owner.set(e.name, i);
        entries.push(e);
      }
    }
    for (const [name, shard] of index.index.weightMap) {
      const at = owner.get(name);
      if (at === undefined || shards[at].name !== shard) {
        throw new ModelFormatError(
          at === undefined
            ? `the index maps tensor to "${shard}", which does not hold it (no shard does)`
            : `the index maps tensor to "${shard}", but it is in "${shards[at].name}"`,
          { file: path, field: `weight_map[${JSON.stringify(name)}]` },
        );
      }
    }
    return {
      index,
      shards,
      all: {
        entries,
        metadata: shards[0].lazy.metadata,
        dataOffset: 0,
        read(name) {
          const at = owner.get(name);
          if (at === undefined) {
            return Promise.reject(
              new RangeError(
                `"name" must be a tensor of the checkpoint: current value is ${
                  JSON.stringify(name)
                }`,
              ),
            );
          }
          return shards[at].lazy.read(name);
        },
      },
      fileBytes,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Reads a whole sharded checkpoint into memory as one safetensors model (the tensors of every
 * shard in the index's order, metadata of the first shard), for the commands that hold a model
 * in memory (`inspect`, `explain`, `quantize`). Pruning streams it instead
 * (`pruneSafetensorsFile`).
 *
 * @param path The `*.safetensors.index.json` path.
 * @param progress Called with the bytes read so far.
 * @returns The model (its name is `path`) and the index file.
 * @throws {FileError} When the index or a shard cannot be read.
 * @throws {ModelFormatError} When a shard is not safetensors or does not match the index.
 *
 * @example
 * ```ts ignore
 * import { readShardedModel } from "./sharded_checkpoint.ts";
 * const { model } = await readShardedModel("llm/model.safetensors.index.json", () => {});
 * ```
 */
export async function readShardedModel(
  path: string,
  progress: Progress,
): Promise<{ model: LoadedModel; index: ShardIndexFile }> {
  const ckpt = await openShardedCheckpoint(path);
  try {
    let done = 0;
    const tensors = [];
    for (const shard of ckpt.shards) {
      for (const e of shard.lazy.entries) {
        const data = await shard.lazy.read(e.name);
        done += data.length;
        progress("read", done, ckpt.fileBytes);
        tensors.push({ name: e.name, dtype: e.dtype, shape: e.shape, data });
      }
    }
    const metadata = ckpt.all.metadata;
    const bytes = writeSafetensors(
      tensors,
      Object.keys(metadata).length === 0 ? {} : { metadata: { ...metadata } },
    );
    return { model: loadModel(bytes, path.replace(/\.index\.json$/i, "")), index: ckpt.index };
  } finally {
    await ckpt.close();
  }
}

/** The shard of a tensor that the input index does not name: that of its longest named prefix. */
function shardFor(name: string, weightMap: ReadonlyMap<string, string>, last: string): string {
  const known = weightMap.get(name);
  if (known !== undefined) return known;
  for (let end = name.length - 1; end > 0; end--) {
    const shard = weightMap.get(name.slice(0, end));
    if (shard !== undefined) return shard;
  }
  return last;
}

/**
 * Splits one safetensors file (the output of compressing a sharded checkpoint read with
 * `readShardedModel`) into the input's shard layout: each tensor goes to the shard its name had
 * in the input index, a new tensor (e.g. `fc.weight_scale`) to the shard of the longest tensor
 * name it starts with. Returns every file by name, the index first (named after `outputIndex`).
 *
 * @param bytes The compressed single file.
 * @param input The input index file.
 * @param outputIndex The output index path (its file name and stem name the shards).
 * @returns The files by name: the index, then each shard.
 * @throws {ModelFormatError} When `bytes` is not safetensors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { splitIntoShards } from "./sharded_checkpoint.ts";
 * const f32 = (n: number) => new Float32Array(n);
 * const bytes = writeSafetensors([
 *   { name: "a.weight", dtype: "F32", shape: [2], data: f32(2) },
 *   { name: "a.weight_scale", dtype: "F32", shape: [1], data: f32(1) },
 *   { name: "b.weight", dtype: "F32", shape: [2], data: f32(2) },
 * ]);
 * const input = { path: "m.safetensors.index.json", folder: "", index: {
 *   metadata: {}, shards: ["m-1.safetensors", "m-2.safetensors"],
 *   weightMap: new Map([["a.weight", "m-1.safetensors"], ["b.weight", "m-2.safetensors"]]),
 * } };
 * const files = splitIntoShards(bytes, input, "q.safetensors.index.json");
 * assert.deepEqual([...files.keys()], ["q.safetensors.index.json", "q-1.safetensors", "q-2.safetensors"]);
 * const index = JSON.parse(new TextDecoder().decode(files.get("q.safetensors.index.json")));
 * assert.equal(index.weight_map["a.weight_scale"], "q-1.safetensors");
 * assert.equal(index.metadata.total_size, 20);
 * ```
 */
export function splitIntoShards(
  bytes: Uint8Array,
  input: ShardIndexFile,
  outputIndex: string,
): Map<string, Uint8Array> {
  const file = readSafetensors(bytes);
  const names = outputShardNames(input, outputIndex);
  const { weightMap, shards } = input.index;
  const last = shards[shards.length - 1];
  const groups = new Map<string, typeof file.tensors[number][]>(shards.map((s) => [s, []]));
  const outMap = new Map<string, string>();
  let total = 0;
  for (const t of file.tensors) {
    const shard = shardFor(t.name, weightMap, last);
    groups.get(shard)!.push(t);
    outMap.set(t.name, names.get(shard)!);
    total += t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
  }
  const metadata = Object.keys(file.metadata).length === 0 ? {} : { metadata: file.metadata };
  const files = new Map<string, Uint8Array>();
  const indexName = outputIndex.slice(folderOf(outputIndex).length);
  files.set(
    indexName,
    new TextEncoder().encode(shardIndexText(outMap, total, input.index.metadata)),
  );
  for (const shard of shards) {
    files.set(names.get(shard)!, writeSafetensors(groups.get(shard)!, metadata));
  }
  return files;
}

/**
 * Writes a checkpoint's files (from `splitIntoShards`): each shard atomically into the output
 * index's folder, then the index, so an index on disk always names shards that are complete.
 *
 * @param outputIndex The output index path.
 * @param files The index (first) and the shards, by name.
 * @returns Nothing; resolves when every file is in place.
 * @throws {FileError} When a file cannot be written (names the path).
 *
 * @example
 * ```ts ignore
 * import { splitIntoShards, writeShardedFiles } from "./sharded_checkpoint.ts";
 * await writeShardedFiles("out/model.safetensors.index.json", files);
 * ```
 */
export async function writeShardedFiles(
  outputIndex: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  const folder = folderOf(outputIndex);
  const [[, index], ...shards] = [...files];
  for (const [name, bytes] of shards) {
    await writeFileAtomic(folder + name, bytes, { label: "model shard" });
  }
  await writeFileAtomic(outputIndex, index, { label: "shard index" });
}
