/**
 * `encodeTfjs`: a TensorFlow.js model written back as `model.json` and weight shards, with new
 * values for some weights stored the way tfjs stores them (float32, float16, affine uint8 or
 * uint16 per tensor); `tfjsQuantize`: the converter's affine quantization of one tensor.
 *
 * @module
 */

import { getKernels } from "../../kernels/default.ts";
import type { Kernels } from "../../kernels/types.ts";
import type { TfjsModel, TfjsQuantization, TfjsWeightSpec } from "./tfjs_types.ts";
import { tfjsSize } from "./read_tfjs.ts";

/** How a float32 weight is stored. */
export type TfjsStorage = "float32" | "float16" | "uint8" | "uint16";

/** The tfjs converter's default shard size: 4 MiB. */
export const TFJS_SHARD_BYTES = 4 * 1024 * 1024;

/** New values for one weight, in tfjs layout. */
export interface TfjsReplacement {
  /** The values (float32 weights: float values; int32 weights: integers). */
  readonly values: Float32Array | Int32Array;
  /** The storage of a float32 weight (default `float32`; int32 weights are stored as int32). */
  readonly storage?: TfjsStorage;
  /**
   * The affine grid of `uint8`/`uint16` storage, `value = code * scale + min`; computed from the
   * values like the converter does when absent.
   */
  readonly grid?: { readonly min: number; readonly scale: number };
}

/** Options of `encodeTfjs`. */
export interface EncodeTfjsOptions {
  /** The largest shard in bytes (default 4 MiB, the converter's). */
  readonly shardBytes?: number;
  /** The shard name prefix (default `group1`): shards are `<prefix>-shard<i>of<n>.bin`. */
  readonly prefix?: string;
  /** The F32 to F16 conversion (default `getKernels()`). */
  readonly kernels?: Pick<Kernels, "f32ToF16">;
}

/** A written model: `model.json` and its shards, by file name. */
export interface TfjsFiles {
  /** The bytes of `model.json`. */
  readonly modelJson: Uint8Array;
  /** The shard bytes by file name, in manifest order. */
  readonly shards: ReadonlyMap<string, Uint8Array>;
}

/**
 * The affine storage of a tensor as the tfjs converter computes it (`--quantize_uint8`,
 * `--quantize_uint16`): `scale = (max - min) / (2^bits - 1)`, the range nudged so that 0 is a
 * code when the range spans it (pruned zeros stay exactly 0), codes
 * `round((clip(v) - min) / scale)`; a constant tensor is all code 0 with scale 1.
 *
 * @param values The float values.
 * @param dtype `uint8` or `uint16`.
 * @param grid A grid to use instead of the computed one.
 * @returns The codes and the grid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tfjsQuantize } from "./write_tfjs.ts";
 *
 * const { codes, min, scale } = tfjsQuantize(Float32Array.of(-1, 0, 1.55), "uint8");
 * assert.equal(codes[1] * scale + min, 0);
 * assert.equal(codes[0], 0);
 * ```
 */
export function tfjsQuantize(
  values: Float32Array,
  dtype: "uint8" | "uint16",
  grid?: { readonly min: number; readonly scale: number },
): { codes: Uint8Array | Uint16Array; min: number; scale: number } {
  const qmax = dtype === "uint8" ? 255 : 65535;
  const codes = dtype === "uint8" ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let min: number;
  let scale: number;
  if (grid !== undefined) {
    ({ min, scale } = grid);
  } else {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (values.length === 0 || lo === hi) {
      return { codes, min: values.length === 0 ? 0 : lo, scale: 1 };
    }
    scale = (hi - lo) / qmax;
    min = lo;
    if (lo <= 0 && hi >= 0) {
      const zero = Math.round(-lo / scale);
      min = -zero * scale;
    }
  }
  const max = min + qmax * scale;
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(max, Math.max(min, values[i]));
    codes[i] = Math.min(qmax, Math.max(0, Math.round((v - min) / scale)));
  }
  return { codes, min, scale };
}

/**
 * Whether every value is exactly `code * scale + min` for a code of the grid, as tfjs decodes
 * it (double-precision arithmetic, then float32; `-0` and `0` count as equal).
 *
 * @param values The float values.
 * @param dtype `uint8` or `uint16`.
 * @param grid The grid.
 * @returns `true` when affine storage on this grid reproduces the values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onTfjsGrid } from "./write_tfjs.ts";
 *
 * assert.equal(onTfjsGrid(Float32Array.of(-0.5, 0, 1), "uint8", { min: -0.5, scale: 0.5 }), true);
 * assert.equal(onTfjsGrid(Float32Array.of(0.3), "uint8", { min: 0, scale: 0.5 }), false);
 * ```
 */
export function onTfjsGrid(
  values: Float32Array,
  dtype: "uint8" | "uint16",
  grid: { readonly min: number; readonly scale: number },
): boolean {
  const { codes } = tfjsQuantize(values, dtype, grid);
  const check = new Float32Array(1);
  for (let i = 0; i < values.length; i++) {
    check[0] = codes[i] * grid.scale + grid.min;
    const v = values[i];
    if (!(check[0] === v || (Number.isNaN(check[0]) && Number.isNaN(v)))) return false;
  }
  return true;
}

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function encodeWeight(
  spec: TfjsWeightSpec,
  replacement: TfjsReplacement,
  kernels: Pick<Kernels, "f32ToF16"> | undefined,
): { spec: TfjsWeightSpec; bytes: Uint8Array } {
  const n = tfjsSize(spec.shape);
  const { values } = replacement;
  if (values.length !== n) {
    throw new RangeError(
      `the new values of weight ${
        JSON.stringify(spec.name)
      } must have ${n} elements for shape [${spec.shape}]: current value is ${values.length}`,
    );
  }
  const { quantization: _old, ...base } = spec;
  if (spec.dtype === "int32") {
    return { spec: base, bytes: bytesOf(Int32Array.from(values)) };
  }
  if (spec.dtype !== "float32") {
    throw new RangeError(
      `weight ${
        JSON.stringify(spec.name)
      } has dtype ${spec.dtype}: only float32 and int32 weights take new values`,
    );
  }
  const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
  const storage = replacement.storage ?? "float32";
  if (storage === "float32") return { spec: base, bytes: bytesOf(f32.slice()) };
  if (storage === "float16") {
    const half = (kernels ?? getKernels()).f32ToF16(f32);
    const quantization: TfjsQuantization = { dtype: "float16" };
    return { spec: { ...base, quantization }, bytes: bytesOf(half) };
  }
  const { codes, min, scale } = tfjsQuantize(f32, storage, replacement.grid);
  const quantization: TfjsQuantization = {
    dtype: storage,
    min,
    scale,
    original_dtype: "float32",
  };
  return { spec: { ...base, quantization }, bytes: bytesOf(codes) };
}

/**
 * Writes a tfjs model back: every weight in one manifest group, in manifest order, unchanged
 * weights with their stored bytes and quantization as read, replaced ones encoded in the storage
 * their replacement asks for; the concatenated bytes are cut into shards of at most
 * `shardBytes` (a weight may span two shards, as the converter writes them). Every other field
 * of `model.json` is kept as read; a weights manifest alone is written as a list of groups.
 *
 * @param model A model from `readTfjs`.
 * @param replacements New values by weight name, in tfjs layout.
 * @param options Shard size, shard name prefix and kernels.
 * @returns `model.json` and the shards.
 * @throws {RangeError} When a replacement names no weight, has the wrong length or targets a
 * weight that is not float32 or int32; when `shardBytes` is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs, tfjsWeightValues } from "./read_tfjs.ts";
 * import { encodeTfjs } from "./write_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model", modelTopology: { node: [] },
 *   weightsManifest: [{ paths: ["a.bin"], weights: [{ name: "w", shape: [3], dtype: "float32" }] }],
 * });
 * const model = readTfjs(json, new Map([["a.bin", new Uint8Array(Float32Array.of(0, 0.5, 1).buffer)]]));
 * const out = encodeTfjs(model, new Map([["w", { values: Float32Array.of(0, 0.5, 1), storage: "float16" as const }]]));
 * const back = readTfjs(out.modelJson, out.shards);
 * assert.equal(back.weights[0].bytes.length, 6);
 * assert.deepEqual([...tfjsWeightValues(back.weights[0])], [0, 0.5, 1]);
 * ```
 */
export function encodeTfjs(
  model: TfjsModel,
  replacements: ReadonlyMap<string, TfjsReplacement>,
  options: EncodeTfjsOptions = {},
): TfjsFiles {
  const shardBytes = options.shardBytes ?? TFJS_SHARD_BYTES;
  if (!Number.isSafeInteger(shardBytes) || shardBytes <= 0) {
    throw new RangeError(
      `"shardBytes" must be a positive integer: current value is ${shardBytes}`,
    );
  }
  const names = new Set(model.weights.map((w) => w.spec.name));
  for (const name of replacements.keys()) {
    if (!names.has(name)) {
      throw new RangeError(`the model has no weight ${JSON.stringify(name)} to replace`);
    }
  }
  const specs: TfjsWeightSpec[] = [];
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const w of model.weights) {
    const r = replacements.get(w.spec.name);
    const { spec, bytes } = r === undefined
      ? { spec: w.spec, bytes: w.bytes }
      : encodeWeight(w.spec, r, options.kernels);
    specs.push(spec);
    parts.push(bytes);
    total += bytes.length;
  }
  const count = Math.max(1, Math.ceil(total / shardBytes));
  const prefix = options.prefix ?? "group1";
  const shards = new Map<string, Uint8Array>();
  let part = 0;
  let partAt = 0;
  for (let s = 0; s < count; s++) {
    const size = Math.min(shardBytes, total - s * shardBytes);
    const shard = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const p = parts[part];
      const take = Math.min(size - at, p.length - partAt);
      shard.set(p.subarray(partAt, partAt + take), at);
      at += take;
      partAt += take;
      if (partAt === p.length) {
        part++;
        partAt = 0;
      }
    }
    shards.set(`${prefix}-shard${s + 1}of${count}.bin`, shard);
  }
  const manifest = [{ paths: [...shards.keys()], weights: specs }];
  // A weights manifest alone is written as it was read: the list of groups.
  const json = model.kind === "weights-manifest"
    ? manifest
    : { ...model.json, weightsManifest: manifest };
  return { modelJson: new TextEncoder().encode(JSON.stringify(json)), shards };
}

/**
 * The files of a written model as one value: the bytes of `model.json`, with every file by name
 * in `files` (`model.json` first, then the shards).
 *
 * @param files A written model (`encodeTfjs`).
 * @returns The `model.json` bytes carrying `files`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tfjsSaved } from "./write_tfjs.ts";
 *
 * const saved = tfjsSaved({ modelJson: Uint8Array.of(123, 125), shards: new Map([["a.bin", Uint8Array.of(1)]]) });
 * assert.deepEqual([...saved.files.keys()], ["model.json", "a.bin"]);
 * assert.equal(saved.length, 2);
 * ```
 */
export function tfjsSaved(
  files: TfjsFiles,
): Uint8Array & { readonly files: ReadonlyMap<string, Uint8Array> } {
  const all = new Map<string, Uint8Array>([["model.json", files.modelJson], ...files.shards]);
  return Object.assign(files.modelJson.slice(), { files: all });
}

/**
 * The weight groups of a parsed `model.json`, or of a weights manifest alone (a list).
 *
 * @param json The parsed JSON.
 * @returns Its groups (none when it has no manifest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tfjsManifestOf } from "./write_tfjs.ts";
 *
 * assert.equal(tfjsManifestOf({ weightsManifest: [{ paths: [], weights: [] }] }).length, 1);
 * assert.equal(tfjsManifestOf([{ paths: [], weights: [] }]).length, 1);
 * ```
 */
export function tfjsManifestOf(json: unknown): unknown[] {
  const groups = Array.isArray(json)
    ? json
    : (json as { weightsManifest?: unknown } | null)?.weightsManifest;
  return Array.isArray(groups) ? groups : [];
}

/**
 * The files of a written model (`model.json` and its shards) named for saving as `name`: the
 * JSON first, under `name`; unless `name` is `model.json`, the shards renamed after it
 * (`small.json` -> `small-shard1of2.bin`; a weights manifest `<name>-weights_manifest.json`, as
 * face-api.js names them, -> `<name>-shard1of1.bin`) and the manifest patched to match, so that
 * a second model saved into the folder of the first never replaces the first one's shards.
 *
 * @param name The file name of the JSON (no folder).
 * @param files `model.json` and the shards, as `encodeTfjs` or `tfjsSaved` give them.
 * @returns Every file by its new name, the JSON first.
 * @throws {RangeError} When `files` has no `model.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namedTfjsFiles } from "./write_tfjs.ts";
 *
 * const json = JSON.stringify([{ paths: ["group1-shard1of1.bin"], weights: [] }]);
 * const named = namedTfjsFiles("faces-weights_manifest.json", new Map([
 *   ["model.json", new TextEncoder().encode(json)], ["group1-shard1of1.bin", new Uint8Array(4)],
 * ]));
 * assert.deepEqual([...named.keys()], ["faces-weights_manifest.json", "faces-shard1of1.bin"]);
 * ```
 */
export function namedTfjsFiles(
  name: string,
  files: ReadonlyMap<string, Uint8Array>,
): Map<string, Uint8Array> {
  const json = files.get("model.json");
  if (json === undefined) {
    throw new RangeError(
      `"files" must hold model.json: current names are ${JSON.stringify([...files.keys()])}`,
    );
  }
  const shards = [...files].filter(([n]) => n !== "model.json");
  const stem = name.replace(/\.json$/i, "").replace(/-weights_manifest$/i, "");
  if (stem === "model" || stem === "") return new Map([[name, json], ...shards]);
  const names = new Map(
    shards.map(([n], i) => [n, `${stem}-shard${i + 1}of${shards.length}.bin`]),
  );
  const parsed = JSON.parse(new TextDecoder().decode(json));
  for (const group of tfjsManifestOf(parsed) as { paths: string[] }[]) {
    group.paths = group.paths.map((p) => names.get(p) ?? p);
  }
  return new Map([
    [name, new TextEncoder().encode(JSON.stringify(parsed))],
    ...shards.map(([n, b]) => [names.get(n)!, b] as const),
  ]);
}
