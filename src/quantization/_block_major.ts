// The values of each block of a tensor, stored block after block (for per-block histograms).
import { blockIndexer } from "./_block_index.ts";

/** `values` holds block 0's elements, then block 1's, …; every block has `blockSize` elements. */
export interface BlockMajor {
  readonly values: Float32Array;
  readonly blockSize: number;
}

/**
 * Reorders `data` so that each block's elements are contiguous (in row-major order within the
 * block). Copies contiguous runs: the trailing dims a block covers whole, times the block length
 * along the dim before them. Returns `data` itself when the blocks already are contiguous.
 */
export function blockMajor(
  data: Float32Array,
  shape: readonly number[],
  kernel: readonly number[],
  blocks: number,
): BlockMajor {
  const blockSize = blocks === 0 ? 0 : data.length / blocks;
  let run = 1;
  let d = shape.length - 1;
  while (d >= 0 && (kernel[d] === -1 || kernel[d] === shape[d])) run *= shape[d--];
  if (d >= 0) run *= kernel[d];
  if (blocks <= 1 || run >= blockSize) return { values: data, blockSize };
  const values = new Float32Array(data.length);
  const fill = new Float64Array(blocks);
  const blockOf = blockIndexer(shape, kernel);
  for (let at = 0; at < data.length; at += run) {
    const b = blockOf(at);
    values.set(data.subarray(at, at + run), b * blockSize + fill[b]);
    fill[b] += run;
  }
  return { values, blockSize };
}
