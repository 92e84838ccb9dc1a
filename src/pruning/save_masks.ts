/**
 * `saveMasks`: masks as a bit-packed safetensors sidecar.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { packBits } from "./_mask_bits.ts";
import { expandMask } from "./expand_mask.ts";
import type { TargetMask } from "./types.ts";

/** The `__metadata__` key under which the mask layouts are stored. */
export const MASKS_METADATA_KEY = "nncompress.masks";

/** Options of `saveMasks`. */
export interface SaveMasksOptions {
  /** More `__metadata__` entries to store (e.g. the model file the masks belong to). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * Writes masks as a safetensors file: one `U8` tensor per target, named `<module>.<target>`
 * (the target alone for the root module), holding the full-shape mask bit-packed (bit i of byte
 * j is element 8j + i of the row-major mask; 1 keeps), and under `__metadata__`
 * `"nncompress.masks"` a JSON map from tensor name to `{ shape, kernel, rawShape }` so that
 * `loadMasks` restores the block masks exactly.
 *
 * @param masks the masks by module, then target (from `generateMasks` or `prune`)
 * @param options extra metadata and the kernels
 * @returns the file bytes
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { loadMasks } from "./load_masks.ts";
 * import { saveMasks } from "./save_masks.ts";
 *
 * const layout = blockLayout("out_channel", [2, 4]);
 * const masks = { fc: { weight: { module: "fc", target: "weight", layout, blocks: new Uint8Array([0, 1]), rawShape: [2, 1] } } };
 * const bytes = saveMasks(masks);
 * assert.deepEqual([...loadMasks(bytes).fc.weight.blocks], [0, 1]);
 * ```
 */
export function saveMasks(
  masks: Readonly<Record<string, Readonly<Record<string, TargetMask>>>>,
  options: SaveMasksOptions = {},
): Uint8Array {
  const kernels = options.kernels ?? getKernels();
  const layouts: Record<string, unknown> = {};
  const tensors = [];
  for (const [module, targets] of Object.entries(masks)) {
    for (const [target, mask] of Object.entries(targets)) {
      const name = module === "" ? target : `${module}.${target}`;
      const bits = packBits(expandMask(mask, { kernels }));
      tensors.push({ name, dtype: "U8" as const, shape: [bits.length], data: bits });
      layouts[name] = {
        shape: mask.layout.shape,
        kernel: mask.layout.kernel,
        rawShape: mask.rawShape,
      };
    }
  }
  return writeSafetensors(tensors, {
    metadata: { ...options.metadata, [MASKS_METADATA_KEY]: JSON.stringify(layouts) },
  });
}
