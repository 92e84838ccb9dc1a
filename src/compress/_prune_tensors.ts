// Pruning a model with the pruning engine's `prune()`; the masked values feed the report.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { prune, type PruneOptions, type PruneResult } from "../pruning/prune.ts";
import type { InPlaceWriter } from "../pruning/pruned_safetensors.ts";
import { compressorFor } from "../config/algorithms.ts";
import { storedFloat32 } from "../model/stored_float32.ts";
import { type Progress, prunedChange, type TensorChange, zeros } from "./_tensor_change.ts";

/**
 * Masks the configured parameters; returns the changed tensors and every warning. `inPlace`, when
 * given, may return a writer that stores each masked tensor into the file as it is counted.
 */
export async function pruneTensors(
  model: ModelGraph,
  configList: unknown,
  algorithm: string,
  progress: Progress,
  inputNorms?: Readonly<Record<string, Float32Array>>,
  inPlace?: (result: PruneResult) => InPlaceWriter | undefined,
  dependencyGroups?: "auto",
  metricOf?: PruneOptions["metricOf"],
): Promise<
  { changes: TensorChange[]; warnings: string[]; result: PruneResult; writtenInPlace: boolean }
> {
  const pruner = compressorFor("pruning", algorithm).pruner!.name;
  progress("masks", 0, 2);
  const result = await prune(model, configList, {
    pruner,
    ...(inputNorms === undefined ? {} : { inputNorms }),
    ...(dependencyGroups === undefined ? {} : { dependencyGroups }),
    ...(metricOf === undefined ? {} : { metricOf }),
  });
  progress("masks", 1, 2);
  // With an in-place writer each masked tensor goes straight into the file's bytes from the
  // same pass that counts it, so no tensor is masked twice and no copy of the file is made.
  const write = inPlace?.(result);
  // One tensor at a time: its values and masked values are counted for the report and dropped,
  // so the run never holds the whole model twice.
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  let scratch = new Float32Array(0);
  for (const [i, t] of result.targets.entries()) {
    progress("report", i, result.targets.length);
    const module = modules.get(t.module);
    const ref: TensorRef | undefined = module?.params[t.target];
    const mask = result.masks[t.module]?.[t.target];
    if (module === undefined || ref === undefined || mask === undefined) continue;
    const method = t.setting.apply_method;
    // An element-wise mask is its own full mask (applying it does not change it).
    const full = mask.layout.blockSize === 1 ? mask.blocks : expandMask(mask);
    if (write !== undefined && method !== "bypass") {
      // In place: the values are masked where they are (in the file when stored as aligned
      // F32), counting zeros before and after, so no tensor-sized temporary is left to collect.
      const stored = write.view(ref);
      const values = stored ?? await ref.data();
      const zerosBefore = zeros(values);
      applyTargetMask(values, full, { method, out: values });
      if (stored === undefined) write(ref, values);
      changes.push(prunedChange(t, module.type, ref, zerosBefore, values));
      continue;
    }
    // Only counted: the values are read where they are stored when they can be, else into a
    // scratch array, and masked into another, both reused (as the quantization report does), so
    // no tensor-sized temporary per target waits for the collector.
    const n = full.length;
    if (scratch.length < 2 * n) scratch = new Float32Array(2 * n);
    const before = await storedFloat32(ref) ?? await ref.data(scratch.subarray(n, 2 * n));
    const after = applyTargetMask(before, full, { method, out: scratch.subarray(0, n) });
    changes.push(prunedChange(t, module.type, ref, before, after));
  }
  progress("masks", 2, 2);
  return {
    changes,
    warnings: [...result.report.warnings],
    result,
    writtenInPlace: write !== undefined,
  };
}
