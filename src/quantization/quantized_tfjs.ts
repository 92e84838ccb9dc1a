/**
 * `quantizedTfjs`: quantized weights written into a TensorFlow.js model in tfjs's own storage.
 *
 * @module
 */

import {
  encodeTfjs,
  onTfjsGrid,
  type TfjsFiles,
  type TfjsReplacement,
  type TfjsStorage,
} from "../io/tfjs/write_tfjs.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { toTfjsLayout } from "../model/tfjs_model.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { fakeQuantize } from "./fake_quantize.ts";
import { QuantizationError } from "./quantization_error.ts";
import { paramRef } from "./_param_ref.ts";

/** Options of `quantizedTfjs`. */
export interface QuantizedTfjsOptions {
  /**
   * `int` (default): each weight in the smallest tfjs storage that holds its quantized values
   * exactly — `uint8`/`uint16` codes on the target's own grid for per-tensor targets of at most
   * 8/16 bits, else `float16` when every value is a float16, else `float32`; `float`: the
   * quantized values in the weight's stored type (float32, float16, or uint8/uint16 with a grid
   * of their own).
   */
  readonly storage?: "int" | "float";
  /** The largest shard in bytes (default 4 MiB, the converter's). */
  readonly shardBytes?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** The written model, and one line for each weight stored otherwise than asked. */
export interface QuantizedTfjs extends TfjsFiles {
  /** The storage chosen per weight name. */
  readonly storages: ReadonlyMap<string, TfjsStorage>;
  /** Weights written fake-quantized because tfjs cannot store their codes. */
  readonly warnings: readonly string[];
}

/** Whether every value is exactly a float16. */
function exactHalf(values: Float32Array, kernels: Kernels): boolean {
  const back = kernels.f16ToF32(kernels.f32ToF16(values));
  for (let i = 0; i < values.length; i++) {
    if (!(back[i] === values[i] || (Number.isNaN(back[i]) && Number.isNaN(values[i])))) {
      return false;
    }
  }
  return true;
}

/**
 * Writes the quantized weights of a quantization run into the TensorFlow.js model the view was
 * built from. tfjs stores a weight as affine `uint8`/`uint16` codes with one `min` and `scale`
 * per tensor, or as `float16`; a per-tensor target of at most 8 (16) bits is stored as `uint8`
 * (`uint16`) codes on its own grid (`min = (qmin - zero_point) * scale`), which tfjs decodes to
 * exactly the fake-quantized values. Targets tfjs cannot store so (per channel, per block, or a
 * grid that does not reproduce the values) are written fake-quantized in the smallest storage
 * that holds them exactly, and `warnings` says so. Input/output targets are skipped, and so are
 * int32 and bool weights (with a warning).
 *
 * @param source The decoded model (`model.source.tfjs` of a `tfjsModel` view).
 * @param model The model view the parameters were computed on.
 * @param params Parameters from `quantize` (`result.params`).
 * @param options Storage, shard size and kernels.
 * @returns `model.json`, the shards, the storage per weight and warnings.
 * @throws {QuantizationError} Code `missing_tensor` when a target has no weight in the model.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsModel } from "../model/tfjs_model.ts";
 * import { quantize } from "./quantize.ts";
 * import { quantizedTfjs } from "./quantized_tfjs.ts";
 *
 * const json = JSON.stringify({
 *   format: "layers-model",
 *   modelTopology: { class_name: "Sequential", config: { name: "s", layers: [
 *     { class_name: "Dense", config: { name: "fc" } }] } },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "fc/kernel", shape: [2, 2], dtype: "float32" }] }],
 * });
 * const source = readTfjs(json, new Map([["w.bin", new Uint8Array(Float32Array.of(0.5, -1, 0.25, 2).buffer)]]));
 * const view = tfjsModel(source);
 * const result = await quantize(view, [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }]);
 * const out = await quantizedTfjs(source, view, result.params);
 * assert.equal(out.storages.get("fc/kernel"), "uint8");
 * assert.equal(out.shards.get("group1-shard1of1.bin")!.length, 4);
 * ```
 */
export async function quantizedTfjs(
  source: TfjsModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QuantizedTfjsOptions = {},
): Promise<QuantizedTfjs> {
  const kernels = options.kernels ?? getKernels();
  const storage = options.storage ?? "int";
  const specs = new Map(source.weights.map((w) => [w.spec.name, w.spec]));
  const replacements = new Map<string, TfjsReplacement>();
  const storages = new Map<string, TfjsStorage>();
  const warnings: string[] = [];
  for (const p of params) {
    if (p.kind !== "parameter") continue;
    const ref = paramRef(model, p.module, p.target, p.configIndex);
    const spec = specs.get(ref.name);
    if (spec === undefined) {
      throw new QuantizationError("missing_tensor", "the weight is not in the tfjs model", {
        module: p.module,
        target: p.target,
        configIndex: p.configIndex,
      });
    }
    if (spec.dtype !== "float32") {
      // Integer and bool constants (shapes, indices) keep their values.
      warnings.push(
        `${ref.name} (${p.module}.${p.target}): a ${spec.dtype} weight is not quantized; left as it is`,
      );
      continue;
    }
    const values = toTfjsLayout(ref, fakeQuantize(await ref.data(), ref.shape, p, { kernels }));
    let chosen: TfjsReplacement | undefined;
    if (storage === "float") {
      const q = spec.quantization;
      if (q === undefined || q.dtype === "float16") {
        chosen = { values, storage: q === undefined ? "float32" : "float16" };
      } else {
        const grid = { min: q.min!, scale: q.scale! };
        chosen = onTfjsGrid(values, q.dtype, grid)
          ? { values, storage: q.dtype, grid }
          : { values, storage: q.dtype };
      }
    } else {
      const perTensor = p.scale.length === 1 && p.bits <= 16;
      const dtype = p.bits <= 8 ? "uint8" : "uint16";
      if (perTensor) {
        const scale = p.scale[0];
        const grid = { min: (p.qmin - p.zeroPoint[0]) * scale, scale };
        if (onTfjsGrid(values, dtype, grid)) chosen = { values, storage: dtype, grid };
      }
      if (chosen === undefined) {
        const why = perTensor
          ? "its grid does not reproduce the quantized values in tfjs's arithmetic"
          : `tfjs stores one min and scale per tensor, the target has ${p.scale.length} (${
            p.granularity ?? "per tensor"
          } ${p.quantDtype})`;
        const fallback: TfjsStorage = exactHalf(values, kernels) ? "float16" : "float32";
        chosen = { values, storage: fallback };
        warnings.push(
          `${ref.name} (${p.module}.${p.target}): ${why}; written fake-quantized as ${fallback}`,
        );
      }
    }
    replacements.set(ref.name, chosen);
    storages.set(ref.name, chosen.storage!);
  }
  const files = encodeTfjs(source, replacements, { shardBytes: options.shardBytes, kernels });
  return { ...files, storages, warnings };
}
