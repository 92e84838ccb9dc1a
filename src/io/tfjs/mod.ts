/**
 * TensorFlow.js model files (subpath `nncompress/tfjs`): `model.json` with its weight shards,
 * graph and layers models, every weight dtype and tfjs weight quantization (uint8/uint16 affine,
 * float16) read exactly as tfjs reads it, and written back in tfjs's own storage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeTfjs, readTfjs } from "./mod.ts";
 *
 * const weights = new Float32Array([1, 2, 3, 4]);
 * const json = new TextEncoder().encode(JSON.stringify({
 *   format: "graph-model",
 *   modelTopology: { node: [] },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "w", shape: [2, 2], dtype: "float32" }] }],
 * }));
 * const model = readTfjs(json, new Map([["w.bin", new Uint8Array(weights.buffer)]]));
 * assert.deepEqual(model.weights.map((w) => w.spec.name), ["w"]);
 * assert.ok(encodeTfjs(model, new Map()).modelJson.length > 0);
 * ```
 *
 * @module
 */

export { readTfjs, type ReadTfjsOptions, tfjsSize, tfjsWeightValues } from "./read_tfjs.ts";
export {
  encodeTfjs,
  type EncodeTfjsOptions,
  namedTfjsFiles,
  onTfjsGrid,
  TFJS_SHARD_BYTES,
  type TfjsFiles,
  tfjsQuantize,
  type TfjsReplacement,
  tfjsSaved,
  type TfjsStorage,
} from "./write_tfjs.ts";
export type {
  TfjsDType,
  TfjsModel,
  TfjsQuantization,
  TfjsWeight,
  TfjsWeightSpec,
} from "./tfjs_types.ts";
export { ModelFormatError } from "../model_format_error.ts";
