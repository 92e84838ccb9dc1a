/**
 * The block of every element of a tensor, for the block kernels of the reference
 * implementation.
 *
 * @module
 */

import type { BlockGrid } from "./validate.ts";

/**
 * The block-grid index (row-major over the grid) of every element of a tensor, in the tensor's
 * row-major order. Element coordinates are walked like an odometer; the block of coordinate
 * `c` along dim `d` is `floor(c / block[d])`.
 *
 * @param layout A block grid from `blockGrid()`.
 * @returns One block index per element.
 */
export function blockIds(layout: BlockGrid): Uint32Array {
  const { shape, block, grid, size } = layout;
  const rank = shape.length;
  const gridStride: number[] = new Array(rank);
  for (let d = rank - 1, stride = 1; d >= 0; d--) {
    gridStride[d] = stride;
    stride *= grid[d];
  }
  const ids = new Uint32Array(size);
  const coord: number[] = new Array(rank).fill(0);
  for (let i = 0; i < size; i++) {
    let id = 0;
    for (let d = 0; d < rank; d++) id += Math.floor(coord[d] / block[d]) * gridStride[d];
    ids[i] = id;
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return ids;
}
