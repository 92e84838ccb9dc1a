/**
 * `prunerTargetMasks`: a training pruner's masks in the form of the pruning exporters.
 *
 * @module
 */

import { blockLayout } from "../pruning/block_layout.ts";
import type { TargetMask } from "../pruning/types.ts";
import type { TrainingPruner } from "./create_training_pruner.ts";
import type { TfModelView } from "./types.ts";

/**
 * The masks of a training pruner as `TargetMask`s (one value per element, PyTorch layout), by
 * module, then target — ready for `saveMasks` (the bit-packed mask sidecar of a pruned model),
 * next to the masked weights from `tfSafetensors(view, { masks: pruner.masks() })`.
 *
 * @param view the model view the pruner was created on
 * @param pruner the pruner (after at least one mask update)
 * @returns the masks
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { loadMasks } from "../pruning/load_masks.ts";
 * import { saveMasks } from "../pruning/save_masks.ts";
 * import { createTrainingPruner, describeTfModel, prunerTargetMasks } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [5], name: "fc" })] });
 * const view = describeTfModel(model);
 * const pruner = createTrainingPruner(view, [{ op_names: ["fc"], sparse_ratio: 0.5 }]);
 * pruner.updateMasks();
 * const back = loadMasks(saveMasks(prunerTargetMasks(view, pruner)));
 * assert.deepEqual([...back.fc.weight.blocks], [...pruner.masks().fc.weight]);
 * ```
 */
export function prunerTargetMasks(
  view: TfModelView,
  pruner: TrainingPruner,
): Record<string, Record<string, TargetMask>> {
  const out: Record<string, Record<string, TargetMask>> = {};
  for (const [module, byTarget] of Object.entries(pruner.masks())) {
    for (const [target, blocks] of Object.entries(byTarget)) {
      const p = view.params.find((q) => q.module === module && q.name === target)!;
      const layout = blockLayout(null, p.shape);
      (out[module] ??= {})[target] = { module, target, layout, blocks, rawShape: [...p.shape] };
    }
  }
  return out;
}
