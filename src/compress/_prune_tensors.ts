// Pruning a model with the pruning engine's `prune()`; the masked values feed the report.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { prune, type PruneResult } from "../pruning/prune.ts";
import { compressorFor } from "../config/algorithms.ts";
import type { Progress, TensorChange } from "./_tensor_change.ts";

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
  const masked = await result.apply();
  progress("masks", 2, 2);
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  for (const t of result.targets) {
    const module = modules.get(t.module);
    const ref: TensorRef | undefined = module?.params[t.target];
    const after = ref && masked.get(ref.name);
    if (module === undefined || ref === undefined || after === undefined) continue;
    changes.push({
      module: t.module,
      target: t.target,
      type: module.type,
      granularity: t.setting.granularity,
      ref,
      before: await ref.data(),
      after,
      bits: null,
    });
  }
  return { changes, warnings: [...result.report.warnings], result };
}
