// The parameter targets whose stored values a mask changes, with their tensors, and their
// masked values in the file's dtype and layout.
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { expandMask } from "./expand_mask.ts";
import { PruningError } from "./pruning_error.ts";
import type { PrunedModel, PruningTarget, TargetMask } from "./types.ts";

/** A masked target and what it masks. */
export interface MaskedItem {
  readonly target: PruningTarget;
  readonly mask: TargetMask;
  /** The tensor of a parameter target. */
  readonly ref?: TensorRef;
}

/**
 * The masked targets (apply_method `bypass` left out: it never changes a value), split into
 * parameters (with their tensor) and activations.
 */
export function maskedItems(
  pruned: PrunedModel,
): { params: MaskedItem[]; activations: MaskedItem[] } {
  const byName = new Map(pruned.model.modules.map((m) => [m.name, m]));
  const params: MaskedItem[] = [];
  const activations: MaskedItem[] = [];
  for (const target of pruned.targets) {
    const mask = pruned.masks[target.module]?.[target.target];
    if (mask === undefined || target.setting.apply_method === "bypass") continue;
    if (target.kind !== "parameter") {
      activations.push({ target, mask });
      continue;
    }
    const ref = byName.get(target.module)?.params[target.target];
    if (ref === undefined) {
      throw new PruningError("activation_target", "the model has no tensor for this target", {
        module: target.module,
        target: target.target,
        configIndex: target.configIndex,
      });
    }
    params.push({ target, mask, ref });
  }
  return { params, activations };
}

/** Sees a masked parameter's values before and after its mask (PyTorch layout, float32). */
export type MaskedObserver = (
  target: PruningTarget,
  before: Float32Array,
  after: Float32Array,
) => void;

/** The masked values of a parameter in its file dtype and layout. */
export async function maskedBytes(
  item: MaskedItem,
  kernels: Kernels,
  observe?: MaskedObserver,
): Promise<Uint8Array> {
  const ref = item.ref!;
  const before = await ref.data();
  const values = applyTargetMask(before, expandMask(item.mask, { kernels }), {
    method: item.target.setting.apply_method,
    kernels,
  });
  observe?.(item.target, before, values);
  return toFileBytes(ref, values, kernels);
}
