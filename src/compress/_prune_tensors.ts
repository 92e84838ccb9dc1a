// Pruning a model with the pruning engine's `prune()`; the masked values feed the report.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { prune, type PruneResult } from "../pruning/prune.ts";
import { compressorFor } from "../config/algorithms.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";

/** Masks the configured parameters; returns the changed tensors and every warning. */
export async function pruneTensors(
  model: ModelGraph,
  configList: unknown,
  algorithm: string,
  progress: Progress,
  inputNorms?: Readonly<Record<string, Float32Array>>,
): Promise<{ changes: TensorChange[]; warnings: string[]; result: PruneResult }> {
  const pruner = compressorFor("pruning", algorithm).pruner!.name;
  progress("masks", 0, 2);
  const result = await prune(model, configList, {
    pruner,
    ...(inputNorms === undefined ? {} : { inputNorms }),
  });
  progress("masks", 1, 2);
  // One tensor at a time: its values and masked values are counted for the report and dropped,
  // so the run never holds the whole model twice.
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  for (const [i, t] of result.targets.entries()) {
    progress("report", i, result.targets.length);
    const module = modules.get(t.module);
    const ref: TensorRef | undefined = module?.params[t.target];
    const mask = result.masks[t.module]?.[t.target];
    if (module === undefined || ref === undefined || mask === undefined) continue;
    const before = await ref.data();
    const after = applyTargetMask(before, expandMask(mask), { method: t.setting.apply_method });
    changes.push(changeOf({
      module: t.module,
      target: t.target,
      type: module.type,
      granularity: t.setting.granularity,
      ref,
      before,
      after,
      bits: null,
    }));
  }
  progress("masks", 2, 2);
  return { changes, warnings: [...result.report.warnings], result };
}
