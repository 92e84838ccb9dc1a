/**
 * `loadMasks`: masks from a bit-packed safetensors sidecar written by `saveMasks`.
 *
 * @module
 */

import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { unpackBits } from "./_mask_bits.ts";
import { MASKS_METADATA_KEY } from "./save_masks.ts";
import type { BlockLayout, TargetMask } from "./types.ts";

/** Options of `loadMasks`. */
export interface LoadMasksOptions {
  /** The file name for error messages. */
  readonly file?: string;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/**
 * Reads masks saved by `saveMasks`: every mask comes back with its block layout (so
 * `expandMask`, `applyTargetMask` and reports work as on fresh masks).
 *
 * @param bytes the safetensors file
 * @param options the file name for messages and the kernels
 * @returns the masks by module, then target
 * @throws {ModelFormatError} for an unreadable safetensors file
 * @throws {TypeError} when the file has no mask metadata or a tensor disagrees with it
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 * import { loadMasks } from "./load_masks.ts";
 * import { saveMasks } from "./save_masks.ts";
 *
 * const layout = blockLayout(null, [3]);
 * const bytes = saveMasks({ "": { bias: { module: "", target: "bias", layout, blocks: new Uint8Array([1, 0, 1]), rawShape: [3] } } });
 * assert.deepEqual([...loadMasks(bytes)[""].bias.blocks], [1, 0, 1]);
 * ```
 */
export function loadMasks(
  bytes: Uint8Array,
  options: LoadMasksOptions = {},
): Record<string, Record<string, TargetMask>> {
  const file = options.file ?? "<memory>";
  const { tensors, metadata } = readSafetensors(bytes, { file });
  const json = metadata[MASKS_METADATA_KEY];
  if (json === undefined) {
    throw new TypeError(`${file}: no "${MASKS_METADATA_KEY}" metadata: not a masks file`);
  }
  const layouts = JSON.parse(json) as Record<
    string,
    { shape: number[]; kernel: number[]; rawShape: number[] }
  >;
  const kernels = options.kernels ?? getKernels();
  const out: Record<string, Record<string, TargetMask>> = {};
  for (const t of tensors) {
    const info = layouts[t.name];
    const numel = info?.shape.reduce((a, b) => a * b, 1);
    if (info === undefined || t.dtype !== "U8" || t.data.length !== Math.ceil(numel / 8)) {
      throw new TypeError(`${file}: tensor "${t.name}" is not a mask described by the metadata`);
    }
    const dot = t.name.lastIndexOf(".");
    const module = dot < 0 ? "" : t.name.slice(0, dot);
    const target = t.name.slice(dot + 1);
    const layout = layoutOf(info.shape, info.kernel);
    const full = unpackBits(t.data, numel);
    // every element of a block carries the block's value: the block maximum reads it back
    const blocks = layout.blockSize === 1 ? full : Uint8Array.from(
      kernels.blockReduce(Float32Array.from(full), layout.shape, layout.kernel, "maxabs"),
    );
    (out[module] ??= {})[target] = { module, target, layout, blocks, rawShape: info.rawShape };
  }
  return out;
}

function layoutOf(shape: readonly number[], kernel: readonly number[]): BlockLayout {
  const grid = shape.map((s, d) => (kernel[d] === -1 ? 1 : s / kernel[d]));
  const raw = shape.map((s, d) => (kernel[d] === -1 ? 1 : s));
  const gridSize = grid.reduce((a, b) => a * b, 1);
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape, kernel, grid, gridSize, raw, blockSize: gridSize === 0 ? 0 : size / gridSize };
}
