/**
 * Sharded safetensors checkpoints: the `model.safetensors.index.json` that maps each tensor to
 * the shard file holding it (`{"metadata": {"total_size": N}, "weight_map": {name: file}}`, the
 * layout `transformers` and `huggingface_hub` write), parsed, validated and written.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";

/** A parsed shard index. */
export interface ShardIndex {
  /** The index's `metadata` object as it was (`total_size` and any other keys). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Each tensor's shard file, in the index's order. */
  readonly weightMap: ReadonlyMap<string, string>;
  /** The shard files, each once, in order of first appearance in `weight_map`. */
  readonly shards: readonly string[];
}

/**
 * Whether a path names a sharded safetensors checkpoint's index (`*.safetensors.index.json`).
 *
 * @param path A file path or name.
 * @returns `true` for an index path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isShardIndexPath } from "./shard_index.ts";
 * assert.equal(isShardIndexPath("ckpt/model.safetensors.index.json"), true);
 * assert.equal(isShardIndexPath("web/model.json"), false);
 * ```
 */
export function isShardIndexPath(path: string): boolean {
  return path.toLowerCase().endsWith(".safetensors.index.json");
}

/** Whether a shard name is a plain file name of the index's folder (no folder, no `..`). */
function plainShardName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[\\/]/.test(name) &&
    !name.includes("\u0000") &&
    name.toLowerCase().endsWith(".safetensors");
}

/**
 * Validates a decoded shard index. Shard files must be plain names ending in `.safetensors`, in
 * the index's own folder: a name with a folder or `..` is refused, so an index can never point
 * a reader or writer outside its folder.
 *
 * @param json The decoded JSON.
 * @param file The index's name, for messages.
 * @returns The index.
 * @throws {ModelFormatError} When it is not an index (names the field and the value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShardIndex } from "./shard_index.ts";
 * const index = parseShardIndex({
 *   metadata: { total_size: 24 },
 *   weight_map: { "a.weight": "m-1.safetensors", "b.weight": "m-2.safetensors", "a.bias": "m-1.safetensors" },
 * }, "m.safetensors.index.json");
 * assert.deepEqual(index.shards, ["m-1.safetensors", "m-2.safetensors"]);
 * assert.throws(() => parseShardIndex({ weight_map: { w: "../x.safetensors" } }, "i.json"), /weight_map/);
 * ```
 */
export function parseShardIndex(json: unknown, file: string): ShardIndex {
  const fail = (field: string, problem: string) => new ModelFormatError(problem, { file, field });
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw fail("", "a shard index must be a JSON object with a weight_map");
  }
  const record = json as Record<string, unknown>;
  const map = record.weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw fail("weight_map", "a shard index must have a weight_map object (tensor name → file)");
  }
  const metadata = record.metadata ?? {};
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw fail("metadata", "metadata must be an object");
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== "string" || !plainShardName(shard)) {
      throw fail(
        `weight_map[${JSON.stringify(name)}]`,
        `a shard must be a file name ending in .safetensors in the index's folder: current value is ${
          JSON.stringify(shard)?.slice(0, 200)
        }`,
      );
    }
    weightMap.set(name, shard);
    if (!seen.has(shard)) {
      seen.add(shard);
      shards.push(shard);
    }
  }
  if (weightMap.size === 0) throw fail("weight_map", "weight_map names no tensor");
  return { metadata: metadata as Record<string, unknown>, weightMap, shards };
}

/**
 * The text of a shard index: `metadata` with `total_size` (the bytes of tensor data over all
 * shards, as `transformers` counts it) and `weight_map` sorted by tensor name, as `transformers`
 * writes it.
 *
 * @param weightMap Each tensor's shard file.
 * @param totalSize The bytes of tensor data over all shards.
 * @param metadata Other metadata keys to keep (`total_size` is replaced).
 * @returns The JSON text, ending with a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardIndexText } from "./shard_index.ts";
 * const text = shardIndexText(new Map([["b", "m-2.safetensors"], ["a", "m-1.safetensors"]]), 40);
 * assert.deepEqual(Object.keys(JSON.parse(text).weight_map), ["a", "b"]);
 * assert.equal(JSON.parse(text).metadata.total_size, 40);
 * ```
 */
export function shardIndexText(
  weightMap: ReadonlyMap<string, string>,
  totalSize: number,
  metadata: Readonly<Record<string, unknown>> = {},
): string {
  const sorted = [...weightMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(
    { metadata: { ...metadata, total_size: totalSize }, weight_map: Object.fromEntries(sorted) },
    null,
    2,
  ) + "\n";
}
