/**
 * `parseShardSize`: the sizes `--max-shard-size` takes.
 *
 * @module
 */

/**
 * Parses a shard size (`--max-shard-size`): bytes (`500000000`), or a number with a unit —
 * decimal `KB`, `MB`, `GB`, `TB` (as Hugging Face: `5GB` = 5 * 10^9) or binary `KiB`, `MiB`,
 * `GiB`, `TiB`, in any case.
 *
 * @param text The size.
 * @returns The bytes, or `undefined` when `text` is not a positive size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseShardSize } from "./parse_shard_size.ts";
 *
 * assert.equal(parseShardSize("5GB"), 5e9);
 * assert.equal(parseShardSize("500MB"), 5e8);
 * assert.equal(parseShardSize("2GiB"), 2 ** 31);
 * assert.equal(parseShardSize("1048576"), 1048576);
 * assert.equal(parseShardSize("big"), undefined);
 * ```
 */
export function parseShardSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? "B").toUpperCase();
  const scale: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
    TIB: 2 ** 40,
  };
  const n = Math.floor(Number(m[1]) * scale[unit]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
