// Pruning a model with the pruning engine's `prune()`; the masked values feed the report.
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { applyTargetMask } from "../pruning/apply_target_mask.ts";
import { expandMask } from "../pruning/expand_mask.ts";
import { prune, type PruneResult } from "../pruning/prune.ts";
import { compressorFor } from "../config/algorithms.ts";
import { toFloat32 } from "../model/to_float32.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { type Progress, prunedChange, type TensorChange } from "./_tensor_change.ts";

/** Elements per piece when a parameter's zeros are counted piecewise. */
const PIECE = 1 << 20;

/**
 * Zeros of a parameter before and after its mask, counted over pieces of about a million
 * elements when its stored layout is PyTorch's: a few MiB of temporaries per tensor instead of
 * two float32 copies of it, which V8 collected late (`undefined` for transposed weights).
 */
async function maskedZeros(
  ref: TensorRef,
  mask: Uint8Array,
  method: "mul" | "add",
): Promise<{ before: number; after: number } | undefined> {
  if (ref.transpose !== undefined || !(ref.dtype in DTYPE_BYTES)) return undefined;
  const size = DTYPE_BYTES[ref.dtype as keyof typeof DTYPE_BYTES];
  const bytes = await ref.bytes();
  if (bytes.length !== mask.length * size) return undefined;
  let before = 0;
  let after = 0;
  for (let at = 0; at < mask.length; at += PIECE) {
    const end = Math.min(mask.length, at + PIECE);
    const values = toFloat32(bytes.subarray(at * size, end * size), ref.dtype);
    const masked = applyTargetMask(values, mask.subarray(at, end), { method });
    for (let i = 0; i < values.length; i++) {
      if (values[i] === 0) before++;
      if (masked[i] === 0) after++;
    }
  }
  return { before, after };
}

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
  inPlace?: (result: PruneResult) => ((ref: TensorRef, values: Float32Array) => void) | undefined,
  dependencyGroups?: "auto",
): Promise<
  { changes: TensorChange[]; warnings: string[]; result: PruneResult; writtenInPlace: boolean }
> {
  const pruner = compressorFor("pruning", algorithm).pruner!.name;
  progress("masks", 0, 2);
  const result = await prune(model, configList, {
    pruner,
    ...(inputNorms === undefined ? {} : { inputNorms }),
    ...(dependencyGroups === undefined ? {} : { dependencyGroups }),
  });
  progress("masks", 1, 2);
  // With an in-place writer each masked tensor goes straight into the file's bytes from the
  // same pass that counts it, so no tensor is masked twice and no copy of the file is made.
  const write = inPlace?.(result);
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
    const method = t.setting.apply_method || "mul";
    if (write === undefined && (method === "mul" || method === "add")) {
      const zeros = await maskedZeros(ref, expandMask(mask), method);
      if (zeros !== undefined) {
        changes.push({
          module: t.module,
          target: t.target,
          type: module.type,
          granularity: t.setting.granularity,
          ref,
          elements: ref.shape.reduce((a, b) => a * b, 1),
          zerosBefore: zeros.before,
          zerosAfter: zeros.after,
          bits: null,
        });
        continue;
      }
    }
    const before = await ref.data();
    const after = applyTargetMask(before, expandMask(mask), { method });
    if (write !== undefined && t.setting.apply_method !== "bypass") write(ref, after);
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
