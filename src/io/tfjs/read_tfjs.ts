/**
 * `readTfjs`: a TensorFlow.js `model.json` and its weight shards, decoded; `tfjsWeightValues`:
 * a weight's values, dequantized exactly as tfjs does.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";
import type {
  TfjsDType,
  TfjsModel,
  TfjsQuantization,
  TfjsWeight,
  TfjsWeightSpec,
} from "./tfjs_types.ts";

const DTYPE_SIZE: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Options of `readTfjs`. */
export interface ReadTfjsOptions {
  /** The name of `model.json` for error messages (default `"model.json"`). */
  readonly file?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The shard bytes a manifest path names: by the exact path, else by its last segment. */
function shardFor(
  shards: ReadonlyMap<string, Uint8Array>,
  path: string,
): Uint8Array | undefined {
  const exact = shards.get(path);
  if (exact !== undefined) return exact;
  const base = path.slice(path.lastIndexOf("/") + 1);
  return shards.get(base) ?? shards.get(uriDecoded(base));
}

/**
 * A shard path with its %-escapes decoded (tfjs writes paths as URL parts), or as it is when it
 * holds a `%` that is no escape (a file named `50%.bin`).
 */
export function uriDecoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function checkSpec(raw: unknown, at: string, file: string): TfjsWeightSpec {
  const fail = (problem: string): never => {
    throw new ModelFormatError(problem, { file, field: at });
  };
  if (!isRecord(raw)) fail(`a weight entry must be an object: current value is ${typeof raw}`);
  const spec = raw as Record<string, unknown>;
  if (typeof spec.name !== "string") {
    fail(`"name" must be a string: current value is ${JSON.stringify(spec.name)}`);
  }
  const shape = spec.shape;
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
  ) {
    fail(
      `"shape" of ${JSON.stringify(spec.name)} must list non-negative integers: current value is ${
        JSON.stringify(shape)
      }`,
    );
  }
  const dtype = spec.dtype;
  if (
    dtype !== "float32" && dtype !== "int32" && dtype !== "bool" && dtype !== "string" &&
    dtype !== "complex64"
  ) {
    fail(
      `"dtype" of ${
        JSON.stringify(spec.name)
      } must be float32, int32, bool, string or complex64: current value is ${
        JSON.stringify(dtype)
      }`,
    );
  }
  const q = spec.quantization;
  if (q !== undefined) {
    if (!isRecord(q) || (q.dtype !== "uint8" && q.dtype !== "uint16" && q.dtype !== "float16")) {
      fail(
        `"quantization.dtype" of ${
          JSON.stringify(spec.name)
        } must be uint8, uint16 or float16: current value is ${
          JSON.stringify(isRecord(q) ? q.dtype : q)
        }`,
      );
    }
    const qr = q as Record<string, unknown>;
    if (qr.dtype === "float16" && dtype !== "float32") {
      fail(
        `float16 quantization of ${
          JSON.stringify(spec.name)
        } needs dtype float32: current value is ${dtype}`,
      );
    }
    if (qr.dtype !== "float16") {
      if (typeof qr.min !== "number" || typeof qr.scale !== "number") {
        fail(
          `${qr.dtype} quantization of ${
            JSON.stringify(spec.name)
          } needs numbers "min" and "scale": current values are ${JSON.stringify(qr.min)} and ${
            JSON.stringify(qr.scale)
          }`,
        );
      }
      if (dtype !== "float32" && dtype !== "int32") {
        fail(
          `${qr.dtype} quantization of ${
            JSON.stringify(spec.name)
          } needs dtype float32 or int32: current value is ${dtype}`,
        );
      }
    }
  }
  return spec as unknown as TfjsWeightSpec;
}

/**
 * Decodes a TensorFlow.js model: `model.json` and the shards of its `weightsManifest`. Each
 * manifest group's shards are concatenated in the order of its `paths` and its weights follow
 * one another from byte 0, as tfjs lays them out; quantized weights keep their stored codes
 * (`tfjsWeightValues` dequantizes them). Graph models (`modelTopology.node`) and layers models
 * (`modelTopology.model_config` or `class_name`) are told apart by `format` or the topology; a
 * JSON list of weight groups is a weights manifest alone (kind `weights-manifest`, as face-api.js
 * ships its weights: the network is built in code, so there is no topology).
 *
 * @param modelJson The bytes (or text) of `model.json`.
 * @param shards The shard bytes by the path the manifest gives (`group1-shard1of2.bin`); a
 * manifest path is also found by its last segment.
 * @param options The file name for error messages.
 * @returns The model: its parsed JSON and every weight's stored bytes.
 * @throws {ModelFormatError} When the JSON is invalid, a manifest entry is malformed, a shard is
 * missing or too short (names the file, the weight and the byte offset in its group).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs, tfjsWeightValues } from "./read_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [
 *     { name: "w", shape: [2], dtype: "float32", quantization: { dtype: "uint8", min: -1, scale: 0.5 } },
 *   ] }],
 * });
 * const model = readTfjs(new TextEncoder().encode(json), new Map([["w.bin", Uint8Array.of(0, 4)]]));
 * assert.deepEqual([...tfjsWeightValues(model.weights[0])], [-1, 1]);
 * ```
 */
export function readTfjs(
  modelJson: Uint8Array | string,
  shards: ReadonlyMap<string, Uint8Array>,
  options: ReadTfjsOptions = {},
): TfjsModel {
  const file = options.file ?? "model.json";
  const text = typeof modelJson === "string" ? modelJson : new TextDecoder().decode(modelJson);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError("model.json is not valid JSON", { file, cause: e });
  }
  let kind: TfjsModel["kind"];
  let model: Record<string, unknown>;
  if (Array.isArray(json)) {
    // A weights manifest alone (face-api.js's `*-weights_manifest.json`): a list of groups.
    kind = "weights-manifest";
    model = { weightsManifest: json };
  } else if (!isRecord(json)) {
    throw new ModelFormatError(
      "model.json must hold a JSON object (a model) or a list of weight groups (a weights manifest)",
      { file },
    );
  } else {
    model = json;
    const topology = model.modelTopology;
    if (model.format === "graph-model" || model.format === "layers-model") kind = model.format;
    else if (isRecord(topology) && Array.isArray(topology.node)) kind = "graph-model";
    else if (isRecord(topology) && ("model_config" in topology || "class_name" in topology)) {
      kind = "layers-model";
    } else {
      throw new ModelFormatError(
        '"modelTopology" must be a graph (with "node") or a layers model (with "model_config" or "class_name")',
        { file, field: "modelTopology" },
      );
    }
  }
  const manifest = model.weightsManifest ?? [];
  if (!Array.isArray(manifest)) {
    throw new ModelFormatError(
      `"weightsManifest" must be a list of groups: current value is ${typeof manifest}`,
      { file, field: "weightsManifest" },
    );
  }
  const weights: TfjsWeight[] = [];
  manifest.forEach((group: unknown, g: number) => {
    const at = `weightsManifest[${g}]`;
    if (
      !isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights) ||
      !group.paths.every((p) => typeof p === "string")
    ) {
      throw new ModelFormatError('a manifest group must have "paths" (strings) and "weights"', {
        file,
        field: at,
      });
    }
    const parts = (group.paths as string[]).map((p) => {
      const bytes = shardFor(shards, p);
      if (bytes === undefined) {
        throw new ModelFormatError(`the weight shard "${p}" is missing`, {
          file,
          field: `${at}.paths`,
        });
      }
      return bytes;
    });
    const data = parts.length === 1 ? parts[0] : concat(parts);
    let offset = 0;
    (group.weights as unknown[]).forEach((raw, i) => {
      const spec = checkSpec(raw, `${at}.weights[${i}]`, file);
      const length = byteLength(spec, data, offset, file);
      if (offset + length > data.length) {
        throw new ModelFormatError(
          `the weight needs ${length} bytes from byte ${offset} of group ${g}, whose shards (${
            (group.paths as string[]).join(", ")
          }) hold ${data.length} bytes`,
          { file, field: spec.name, offset },
        );
      }
      weights.push({ spec, bytes: data.subarray(offset, offset + length), group: g, offset });
      offset += length;
    });
  });
  return { kind, json: model, weights, file };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The element count of a shape. */
export function tfjsSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The stored byte length of a weight starting at `offset` of its group's bytes. */
function byteLength(spec: TfjsWeightSpec, data: Uint8Array, offset: number, file: string): number {
  const size = tfjsSize(spec.shape);
  if (spec.quantization !== undefined) return size * DTYPE_SIZE[spec.quantization.dtype];
  if (spec.dtype !== "string") return size * DTYPE_SIZE[spec.dtype];
  // Strings: each is a little-endian uint32 byte count followed by the bytes.
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = offset;
  for (let i = 0; i < size; i++) {
    if (at + 4 > data.length) {
      throw new ModelFormatError(`string ${i} of ${size} runs past the end of its group`, {
        file,
        field: spec.name,
        offset: at,
      });
    }
    at += 4 + view.getUint32(at, true);
  }
  return at - offset;
}

let halfTable: Float32Array | undefined;

/** Every float16 bit pattern as float32 (exact: subnormals, infinities and NaN included). */
function halfToFloat(): Float32Array {
  if (halfTable !== undefined) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    table[h] = exp === 0
      ? sign * frac * 2 ** -24
      : exp === 31
      ? (frac === 0 ? sign * Infinity : NaN)
      : sign * (1024 + frac) * 2 ** (exp - 25);
  }
  return (halfTable = table);
}

/** The stored codes of a quantized weight (little-endian). */
function codesOf(bytes: Uint8Array, q: TfjsQuantization): Uint8Array | Uint16Array {
  if (q.dtype === "uint8") return bytes;
  const n = bytes.length >> 1;
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  return new Uint16Array(bytes.slice().buffer, 0, n);
}

/**
 * The values of a weight as tfjs builds its tensor: affine codes become `code * scale + min`
 * (computed in double precision, then stored as float32; int32 weights are rounded), float16
 * codes become float32 exactly, unquantized float32, int32 and bool bytes are read as they are.
 *
 * @param weight A weight of `readTfjs`.
 * @returns Float32 values for float32 weights, Int32 for int32, Uint8 (0/1) for bool.
 * @throws {TypeError} For string and complex64 weights, which have no numeric view here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tfjsWeightValues } from "./read_tfjs.ts";
 *
 * const weight = {
 *   spec: { name: "w", shape: [2], dtype: "float32" as const, quantization: { dtype: "float16" as const } },
 *   bytes: Uint8Array.of(0x00, 0x3c, 0x00, 0xc0), group: 0, offset: 0,
 * };
 * assert.deepEqual([...tfjsWeightValues(weight)], [1, -2]);
 * ```
 */
export function tfjsWeightValues(weight: TfjsWeight): Float32Array | Int32Array | Uint8Array {
  const { spec, bytes } = weight;
  const q = spec.quantization;
  if (q !== undefined) {
    const codes = codesOf(bytes, q);
    if (q.dtype === "float16") {
      const table = halfToFloat();
      const out = new Float32Array(codes.length);
      for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
      return out;
    }
    const scale = q.scale!;
    const min = q.min!;
    if (spec.dtype === "int32") {
      const out = new Int32Array(codes.length);
      for (let i = 0; i < codes.length; i++) out[i] = Math.round(codes[i] * scale + min);
      return out;
    }
    // One float32 per code value: the same double-precision `v * scale + min` tfjs computes.
    const lut = new Float32Array(q.dtype === "uint8" ? 256 : 65536);
    for (let v = 0; v < lut.length; v++) lut[v] = v * scale + min;
    const out = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) out[i] = lut[codes[i]];
    return out;
  }
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const n = tfjsSize(spec.shape);
  switch (spec.dtype as TfjsDType) {
    case "float32":
      return new Float32Array(aligned.buffer, aligned.byteOffset, n).slice();
    case "int32":
      return new Int32Array(aligned.buffer, aligned.byteOffset, n).slice();
    case "bool":
      return bytes.slice();
  }
  throw new TypeError(
    `weight ${JSON.stringify(spec.name)} has dtype ${spec.dtype}, which has no numeric values`,
  );
}
