/**
 * `blockLayout`: the block grid of a target for a granularity (NNI's padded `Scaling` kernel).
 *
 * @module
 */

import { PruningError, type PruningErrorContext } from "./pruning_error.ts";
import { scalingOf } from "./scaling_of.ts";
import type { BlockLayout, Granularity, TargetKind } from "./types.ts";

/**
 * The block layout of a target: NNI's kernel for the granularity, padded to the target's rank
 * (`out_channel` on a conv weight `[64, 32, 3, 3]` → kernel `[1, -1, -1, -1]`, grid
 * `[64, 1, 1, 1]`), checked to divide every dim. Element-wise (no granularity) is the kernel of
 * all 1s, grid = shape.
 *
 * @param granularity the resolved granularity, `null` for element-wise
 * @param shape the full target shape
 * @param options the target kind and, for messages, module/target/config index
 * @returns the layout
 * @throws {PruningError} when the kernel is longer than the rank or a block length does not
 *   divide its dim (message names module, target and config)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockLayout } from "./block_layout.ts";
 *
 * const layout = blockLayout([4, 4], [32, 16]);
 * assert.deepEqual(layout.grid, [8, 4]);
 * assert.deepEqual(blockLayout("out_channel", [24, 32]).raw, [24, 1]);
 * assert.throws(() => blockLayout([1, 1, 1, 1], [24, 32], { module: "fc1", target: "weight" }));
 * ```
 */
export function blockLayout(
  granularity: Granularity | null | undefined,
  shape: readonly number[],
  options: PruningErrorContext & { readonly kind?: TargetKind } = {},
): BlockLayout {
  const sc = scalingOf(granularity, options);
  let kernel: number[];
  if (sc === null) kernel = shape.map(() => 1);
  else {
    const k = sc.kernel_size;
    if (k.length > shape.length) {
      throw new PruningError(
        "block_rank",
        `kernel ${
          JSON.stringify(k)
        } has ${k.length} dims but the target has rank ${shape.length} (shape ${
          JSON.stringify(shape)
        })`,
        options,
      );
    }
    const pad = new Array<number>(shape.length - k.length).fill(sc.kernel_padding_val);
    kernel = sc.kernel_padding_mode === "front" ? [...pad, ...k] : [...k, ...pad];
  }
  const grid: number[] = [];
  const raw: number[] = [];
  let gridSize = 1;
  let blockSize = 1;
  for (let d = 0; d < shape.length; d++) {
    const k = kernel[d] === -1 ? shape[d] : kernel[d];
    if (k === 0 || shape[d] % k !== 0) {
      throw new PruningError(
        "block_divisor",
        `block length ${kernel[d]} does not divide dim ${d} (size ${shape[d]}) of shape ${
          JSON.stringify(shape)
        }`,
        options,
      );
    }
    grid.push(shape[d] / k);
    raw.push(kernel[d] === -1 ? 1 : shape[d]);
    gridSize *= shape[d] / k;
    blockSize *= k;
  }
  return { shape: [...shape], kernel, grid, gridSize, raw, blockSize };
}
