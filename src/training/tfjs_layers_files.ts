/**
 * `tfjsLayersFiles`: a trained TensorFlow.js layers model written back into the `model.json` and
 * weight shards it was loaded from.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import {
  encodeTfjs,
  type EncodeTfjsOptions,
  type TfjsFiles,
  type TfjsReplacement,
  type TfjsStorage,
} from "../io/tfjs/write_tfjs.ts";
import { maskedValue, type ParamMasks } from "./_masked_values.ts";
import type { TfModelView, TfParam } from "./types.ts";

/** Options of `tfjsLayersFiles`. */
export interface TfjsLayersFilesOptions extends EncodeTfjsOptions {
  /** Masks to apply (e.g. `pruner.masks()`): pruned weights are written as 0. */
  readonly masks?: ParamMasks;
  /**
   * New float32 values in PyTorch layout by parameter (`<module>.<param>`), e.g. the
   * fake-quantized weights of a QAT model (`fakeQuantizedTensors` on `tfModelGraph(view)`).
   */
  readonly replacements?: ReadonlyMap<string, Float32Array>;
  /**
   * The storage of every float weight; by default each weight keeps the storage it was loaded
   * with (`uint8`/`uint16` on a grid recomputed from its new values, `float16`, `float32`).
   */
  readonly storage?: TfjsStorage;
}

/** The tfjs storage a loaded weight had. */
function storedAs(model: TfjsModel, name: string): TfjsStorage {
  const spec = model.weights.find((w) => w.spec.name === name)?.spec;
  const q = spec?.quantization?.dtype;
  return q === "uint8" || q === "uint16" || q === "float16" ? q : "float32";
}

/**
 * Writes the current weights of a layers model loaded from `original` (a `model.json` read with
 * `readTfjs` and loaded with `loadLayersModel(tfjsMemoryHandler(tf, files))`) back into the same
 * files: the same topology, the same weight names and order, each weight in the storage it was
 * loaded with unless `options.storage` says otherwise, with masks or replacement values applied —
 * so a model pruned or quantized during training (AGP, distillation, QAT) is saved where the tfjs
 * runtime loads it. Variables the view does not map (a layer type without a PyTorch name) are
 * written as they are. A pruned weight in `uint8`/`uint16` keeps its zeros exactly (the grid is
 * nudged so that 0 is a code).
 *
 * @param view The model as modules (`describeTfModel` of the loaded model).
 * @param original The files it was loaded from.
 * @param options Masks, replacement values, storage, shard size.
 * @returns `model.json` and the shards.
 * @throws {RangeError} when a variable of the model has no weight in `original` (another model's
 *   files), or a mask or replacement does not fit its parameter or names none
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { readTfjs, tfjsWeightValues } from "../io/tfjs/mod.ts";
 * import { tfjsMemoryHandler } from "../compress/compare_tfjs.ts";
 * import { describeTfModel, tfjsLayersFiles } from "./mod.ts";
 *
 * // A Dense layer saved by tfjs itself, loaded back, and its first kernel value pruned.
 * const net = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const artifacts: tf.io.ModelArtifacts[] = [];
 * await net.save(tf.io.withSaveHandler(async (a) => {
 *   artifacts.push(a);
 *   return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
 * }));
 * const saved = artifacts[0];
 * const json = { format: "layers-model", modelTopology: saved.modelTopology,
 *   weightsManifest: [{ paths: ["w.bin"], weights: saved.weightSpecs }] };
 * const files = new Map([
 *   ["model.json", new TextEncoder().encode(JSON.stringify(json))],
 *   ["w.bin", new Uint8Array(saved.weightData as ArrayBuffer)],
 * ]);
 * const original = readTfjs(files.get("model.json")!, files);
 * const model = await tfl.loadLayersModel(tfjsMemoryHandler(tf, files));
 * const mask = Uint8Array.of(0, 1, 1, 1, 1, 1); // weight [2, 3] in PyTorch layout
 * const out = tfjsLayersFiles(describeTfModel(model), original, { masks: { fc: { weight: mask } } });
 * const back = readTfjs(out.modelJson, out.shards);
 * assert.equal(tfjsWeightValues(back.weights.find((w) => w.spec.name === "fc/kernel")!)[0], 0);
 * ```
 */
export function tfjsLayersFiles(
  view: TfModelView,
  original: TfjsModel,
  options: TfjsLayersFilesOptions = {},
): TfjsFiles {
  const byVariable = new Map<unknown, TfParam>(view.params.map((p) => [p.variable, p]));
  const names = new Set(original.weights.map((w) => w.spec.name));
  const unused = new Set(options.replacements?.keys() ?? []);
  const out = new Map<string, TfjsReplacement>();
  for (const v of view.model.weights) {
    const name = v.originalName;
    if (!names.has(name)) {
      throw new RangeError(
        `the model's variable ${JSON.stringify(name)} has no weight in the original files ` +
          `(weights are ${JSON.stringify([...names].slice(0, 8))}${names.size > 8 ? ", …" : ""})`,
      );
    }
    if (v.dtype !== "float32") {
      out.set(name, { values: v.read().dataSync() as Int32Array });
      continue;
    }
    const p = byVariable.get(v);
    let values: Float32Array;
    if (p === undefined) {
      values = Float32Array.from(v.read().dataSync() as Float32Array);
    } else {
      const key = `${p.module}.${p.name}`;
      const replaced = options.replacements?.get(key);
      unused.delete(key);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (replaced !== undefined && replaced.length !== n) {
        throw new RangeError(
          `the replacement of ${key} must have ${n} values (shape ${
            JSON.stringify(p.shape)
          }): current length is ${replaced.length}`,
        );
      }
      values = p.fromTorch(replaced ?? maskedValue(view, p, options.masks));
    }
    out.set(name, { values, storage: options.storage ?? storedAs(original, name) });
  }
  if (unused.size > 0) {
    throw new RangeError(`replacements name no parameter of the model: ${[...unused].join(", ")}`);
  }
  return encodeTfjs(original, out, options);
}
