/**
 * Target masks held as bits: one bit per block instead of one byte, so the masks of a large
 * model take an eighth of the memory (a global group over a 7B-parameter checkpoint: 0.8 GB,
 * not 6.7 GB). A packed mask is a `TargetMask` like any other; its `blocks` are unpacked (one
 * 0/1 byte per block, a new array) each time they are read, so read them once per use.
 *
 * @module
 */

import { countBits, packBits, unpackBits } from "./_mask_bits.ts";
import type { TargetMask } from "./types.ts";

/** Masks with at least this many blocks are held as bits by the sparsity pipeline. */
export const PACKED_MASK_BLOCKS = 2 ** 20;

/** A target mask's fields with its blocks as bits (as a packed mask crosses threads). */
export interface PackedMaskData extends Omit<TargetMask, "blocks"> {
  /** Bit `i % 8` of byte `i >> 3` is block `i` (1 keeps). */
  readonly bits: Uint8Array;
}

const BITS = new WeakMap<TargetMask, Uint8Array>();

/**
 * A target mask held as bits (`blocks` unpacked on each read).
 *
 * @param data The mask's fields and bits (`packBits` of its blocks), or its fields and blocks.
 * @returns The mask; `maskBits` gives its bits back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { maskBits, packedMask } from "./packed_mask.ts";
 *
 * const layout = blockLayout(null, [2, 5]);
 * const blocks = new Uint8Array([1, 0, 0, 1, 1, 1, 0, 0, 0, 1]);
 * const mask = packedMask({ module: "fc", target: "weight", layout, rawShape: [2, 5], blocks });
 * assert.deepEqual([...mask.blocks], [...blocks]);
 * assert.deepEqual([...maskBits(mask)!], [0b00111001, 0b10]);
 * ```
 */
export function packedMask(data: PackedMaskData | TargetMask): TargetMask {
  const bits = "bits" in data ? data.bits : packBits(data.blocks);
  const n = data.layout.gridSize;
  const mask = {
    module: data.module,
    target: data.target,
    layout: data.layout,
    get blocks(): Uint8Array {
      return unpackBits(bits, n);
    },
    rawShape: data.rawShape,
  };
  BITS.set(mask, bits);
  return mask;
}

/**
 * The bits of a mask from `packedMask` (shared, not copied); `undefined` for a mask of bytes.
 *
 * @param mask A target mask.
 * @returns Its bits, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { maskBits } from "./packed_mask.ts";
 *
 * const layout = blockLayout(null, [2]);
 * const mask = { module: "fc", target: "bias", layout, rawShape: [2], blocks: new Uint8Array([1, 0]) };
 * assert.equal(maskBits(mask), undefined);
 * ```
 */
export function maskBits(mask: TargetMask): Uint8Array | undefined {
  return BITS.get(mask);
}

/**
 * A mask as a task takes it across threads: a mask held as bits as its fields and bits (an
 * eighth of its blocks; `packedMask` makes it a mask again), any other as it is.
 *
 * @param mask A target mask.
 * @returns The mask, or its packed data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { packedMask, packedMaskData } from "./packed_mask.ts";
 *
 * const layout = blockLayout(null, [9]);
 * const mask = packedMask({ module: "fc", target: "w", layout, rawShape: [9], blocks: new Uint8Array(9).fill(1) });
 * const data = packedMaskData(mask);
 * assert.ok("bits" in data && !("blocks" in data));
 * assert.deepEqual([...packedMask(data).blocks], [...mask.blocks]);
 * ```
 */
export function packedMaskData(mask: TargetMask): TargetMask | PackedMaskData {
  const bits = maskBits(mask);
  return bits === undefined ? mask : {
    module: mask.module,
    target: mask.target,
    layout: mask.layout,
    rawShape: mask.rawShape,
    bits,
  };
}

/**
 * The kept blocks of a mask (counted on its bits when it is packed).
 *
 * @param mask A target mask.
 * @returns The number of blocks that are 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { keptBlocks, packedMask } from "./packed_mask.ts";
 *
 * const layout = blockLayout(null, [3, 3]);
 * const blocks = new Uint8Array([1, 0, 1, 1, 0, 0, 0, 1, 1]);
 * const mask = { module: "fc", target: "weight", layout, rawShape: [3, 3], blocks };
 * assert.equal(keptBlocks(mask), 5);
 * assert.equal(keptBlocks(packedMask(mask)), 5);
 * ```
 */
export function keptBlocks(mask: TargetMask): number {
  const bits = BITS.get(mask);
  if (bits !== undefined) return countBits(bits, mask.layout.gridSize);
  const m = mask.blocks;
  let kept = 0;
  // An index loop: `for...of` over a typed array is an iterator call per element.
  for (let i = 0; i < m.length; i++) kept += m[i] !== 0 ? 1 : 0;
  return kept;
}
