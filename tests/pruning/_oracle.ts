// Loading the NNI oracle's pruning cases for the pruning tests: weights, NNI's target spaces (in
// NNI's order) and the expected results, plus helpers to compare masks bit for bit.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import type { PrunerName, PruningTarget } from "../../src/pruning/types.ts";

const ROOT = new URL("../nni_oracle/", import.meta.url);

// deno-lint-ignore no-explicit-any
export type Json = any;

/** The ids of the pruning cases (`p*`) and of the speedup cases (`s*`). */
export function caseIds(prefix: "p" | "s"): string[] {
  return readdirSync(fileURLToPath(new URL("cases/", ROOT)))
    .filter((f) => f.startsWith(prefix) && f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** The expected file of a case. */
export function loadExpected(id: string): Json {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`expected/${id}.json`, ROOT)), "utf8"));
}

const weightCache = new Map<string, Map<string, Float32Array>>();

/** The float32 tensors of a weights file of the oracle, by state_dict key. */
export function loadWeights(file: string): Map<string, Float32Array> {
  let map = weightCache.get(file);
  if (map) return map;
  const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL(`expected/${file}`, ROOT))));
  map = new Map();
  for (const t of readSafetensors(bytes, { file }).tensors) {
    if (t.dtype !== "F32") continue;
    map.set(t.name, new Float32Array(t.data.slice().buffer));
  }
  weightCache.set(file, map);
  return map;
}

/** The pruner of an oracle algorithm name. */
export function prunerOf(algorithm: string): PrunerName {
  const table: Record<string, PrunerName> = {
    LevelPruner: "level",
    L1NormPruner: "l1",
    L2NormPruner: "l2",
    FPGMPruner: "fpgm",
  };
  const p = table[algorithm];
  if (p === undefined) throw new Error(`no pruner for ${algorithm}`);
  return p;
}

/** NNI's target spaces as pruning targets, in NNI's iteration order. */
export function targetsOf(expected: Json): PruningTarget[] {
  const out: PruningTarget[] = [];
  for (const [module, ts] of Object.entries(expected.compressor.target_spaces as Json)) {
    for (const [target, space] of Object.entries(ts as Json)) {
      const s = space as Json;
      out.push({ module, target, kind: s.type, setting: s.setting, shape: s.shape ?? null });
    }
  }
  return out;
}

/** Whether a target is active (has a ratio or a threshold). */
export function isActive(t: PruningTarget): boolean {
  return t.setting.sparse_ratio != null || t.setting.sparse_threshold != null;
}

/** `numpy.packbits(mask != 0, bitorder='little')` as base64. */
export function bitsB64(mask: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3] |= 1 << (i & 7);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The sha256 of a float32 array's little-endian bytes, in hex. */
export function sha256(values: Float32Array): string {
  return createHash("sha256")
    .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
    .digest("hex");
}

/** The float32 numbers of an encoded tensor (`values` or `head`). */
export function encodedValues(enc: Json): number[] {
  const v = enc.values ?? enc.head;
  return v.map((x: number | string) =>
    x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x
  );
}
