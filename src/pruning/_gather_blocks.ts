/**
 * Gathers the elements of every block of a layout into consecutive rows.
 *
 * @module
 */

import type { BlockLayout } from "./types.ts";

/**
 * The elements of each block, block after block (block-grid order), each block's elements in
 * row-major order within the block. Returns `data` itself when blocks are already contiguous
 * (every dim after the first non-trivial grid dim is a whole dim).
 *
 * @param data the target's values
 * @param layout the block layout
 * @returns `gridSize * blockSize` values
 */
export function gatherBlocks(data: Float32Array, layout: BlockLayout): Float32Array {
  const { shape, grid } = layout;
  const rank = shape.length;
  // Contiguous when every dim after the last dim with grid > 1 is a whole dim and every dim
  // before it has block length 1.
  let last = -1;
  for (let d = 0; d < rank; d++) if (grid[d] > 1) last = d;
  let contiguous = true;
  for (let d = 0; d < rank; d++) {
    if (d < last && grid[d] !== shape[d]) contiguous = false;
    if (d > last && grid[d] !== 1) contiguous = false;
  }
  if (contiguous) return data;
  const block = shape.map((s, d) => s / grid[d]);
  const gridStride = new Array<number>(rank);
  const blockStride = new Array<number>(rank);
  for (let d = rank - 1, g = 1, b = 1; d >= 0; d--) {
    gridStride[d] = g;
    blockStride[d] = b;
    g *= grid[d];
    b *= block[d];
  }
  const out = new Float32Array(data.length);
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < data.length; i++) {
    let id = 0;
    let pos = 0;
    for (let d = 0; d < rank; d++) {
      id += Math.floor(coord[d] / block[d]) * gridStride[d];
      pos += (coord[d] % block[d]) * blockStride[d];
    }
    out[id * layout.blockSize + pos] = data[i];
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return out;
}
