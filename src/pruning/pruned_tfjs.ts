/**
 * `prunedTfjs`: a pruned TensorFlow.js model, written back as `model.json` and shards.
 *
 * @module
 */

import {
  encodeTfjs,
  onTfjsGrid,
  type TfjsFiles,
  type TfjsReplacement,
} from "../io/tfjs/write_tfjs.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toTfjsLayout } from "../model/tfjs_model.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { expandMask } from "./expand_mask.ts";
import { maskedItems } from "./_masked_params.ts";
import { PruningError } from "./pruning_error.ts";
import type { PrunedModel } from "./types.ts";

/** Options of `prunedTfjs`. */
export interface PrunedTfjsOptions {
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /** The largest shard in bytes (default 4 MiB, the converter's). */
  readonly shardBytes?: number;
}

/**
 * Writes the masks of a pruning run into the TensorFlow.js model the view was built from.
 * Masked weights keep their storage: float32 and float16 weights are re-encoded as such;
 * `uint8`/`uint16` weights keep their grid (`min`, `scale`) when every masked value lies on it
 * (the converter nudges the grid so that 0 is a code), else get the converter's grid of the
 * masked values. Every other weight is copied byte for byte. All weights go into one manifest
 * group cut into shards of `shardBytes`.
 *
 * @param source The decoded model (`model.source.tfjs` of a `tfjsModel` view).
 * @param pruned The model view, targets and masks (a `prune()` result).
 * @param options Kernels and shard size.
 * @returns `model.json` and the shards.
 * @throws {PruningError} Code `activation_target` for activation masks (a tfjs file has no place
 * for them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs, tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsModel } from "../model/tfjs_model.ts";
 * import { prune } from "./prune.ts";
 * import { prunedTfjs } from "./pruned_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "layers-model",
 *   modelTopology: { class_name: "Sequential", config: { name: "s", layers: [
 *     { class_name: "Dense", config: { name: "fc" } }] } },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "fc/kernel", shape: [2, 1], dtype: "float32" }] }],
 * });
 * const source = readTfjs(json, new Map([["w.bin", new Uint8Array(Float32Array.of(1, 3).buffer)]]));
 * const result = await prune(tfjsModel(source), [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
 * const out = await prunedTfjs(source, result);
 * assert.deepEqual([...tfjsWeightValues(readTfjs(out.modelJson, out.shards).weights[0])], [0, 3]);
 * ```
 */
export async function prunedTfjs(
  source: TfjsModel,
  pruned: PrunedModel,
  options: PrunedTfjsOptions = {},
): Promise<TfjsFiles> {
  const kernels = options.kernels ?? getKernels();
  const { params, activations } = maskedItems(pruned);
  if (activations.length > 0) {
    const t = activations[0].target;
    throw new PruningError(
      "activation_target",
      "a TensorFlow.js model file has no place for an activation mask",
      { module: t.module, target: t.target, configIndex: t.configIndex },
    );
  }
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  const replacements = new Map<string, TfjsReplacement>();
  for (const item of params) {
    const ref = item.ref!;
    const spec = specs.get(ref.name);
    if (spec === undefined) {
      throw new RangeError(
        `"source" must hold every masked weight: ${JSON.stringify(ref.name)} is missing`,
      );
    }
    const masked = applyTargetMask(await ref.data(), expandMask(item.mask, { kernels }), {
      method: item.target.setting.apply_method,
      kernels,
    });
    const values = toTfjsLayout(ref, masked);
    const q = spec.quantization;
    if (spec.dtype === "int32") {
      replacements.set(ref.name, { values: Int32Array.from(values, Math.round) });
    } else if (q === undefined || q.dtype === "float16") {
      replacements.set(ref.name, { values, storage: q === undefined ? "float32" : "float16" });
    } else {
      const grid = { min: q.min!, scale: q.scale! };
      const keep = onTfjsGrid(values, q.dtype, grid);
      replacements.set(ref.name, { values, storage: q.dtype, ...(keep ? { grid } : {}) });
    }
  }
  return encodeTfjs(source, replacements, { shardBytes: options.shardBytes, kernels });
}
