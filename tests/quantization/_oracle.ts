// Loading the NNI oracle's quantization cases: expected files, weights and module lists.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ModuleInfo } from "../../src/config/types.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import type { FloatTensor } from "../../src/quantization/track_parameter_ranges.ts";
import { oracleModules } from "../config/_oracle.ts";

const ROOT = new URL("../nni_oracle/", import.meta.url);

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface QuantCase {
  readonly id: string;
  readonly algorithm: string;
  readonly configList: unknown[];
  readonly registry: Json;
  readonly modules: ModuleInfo[];
  readonly weights: Map<string, FloatTensor>;
  readonly expected: Json;
}

export function quantCaseIds(): string[] {
  return readdirSync(fileURLToPath(new URL("cases/", ROOT)))
    .filter((f) => f.startsWith("q") && f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

const weightFiles = new Map<string, Map<string, FloatTensor>>();

export function loadWeights(file: string): Map<string, FloatTensor> {
  let out = weightFiles.get(file);
  if (out !== undefined) return out;
  out = new Map();
  const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL(`expected/${file}`, ROOT))));
  for (const t of readSafetensors(bytes).tensors) {
    if (t.dtype !== "F32") continue;
    out.set(t.name, { data: new Float32Array(t.data.slice().buffer), shape: t.shape });
  }
  weightFiles.set(file, out);
  return out;
}

export function loadExpected(id: string): Json {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`expected/${id}.json`, ROOT)), "utf8"));
}

export function loadQuantCase(id: string): QuantCase {
  const expected = loadExpected(id);
  const c = expected.case;
  const modules = oracleModules(expected);
  return {
    id,
    algorithm: c.algorithm,
    configList: c.config_list,
    registry: c.register ?? undefined,
    modules,
    weights: loadWeights(expected.weights.file.replace(/^.*expected\//, "")),
    expected,
  };
}

/** The float32 values of an encoded tensor (`values` or `head`), NaN/Infinity strings decoded. */
export function encValues(enc: Json): Float32Array {
  const vals = (enc.values ?? enc.head) as (number | string)[];
  return Float32Array.from(vals.map((v) => typeof v === "string" ? Number(v) : v));
}

/** sha256 hex of a typed array's bytes. */
export function sha256(view: ArrayBufferView): string {
  return createHash("sha256")
    .update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength))
    .digest("hex");
}

/** Int64 little-endian bytes of integer codes (the oracle stores codes as int64). */
export function asInt64(codes: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = BigInt(codes[i]);
  return out;
}
