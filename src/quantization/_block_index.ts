// The block of a flat element index under a block kernel (the `Kernels` convention).

/** Returns a function from a row-major element index to its block-grid index. */
export function blockIndexer(
  shape: readonly number[],
  kernel: readonly number[],
): (i: number) => number {
  const n = shape.length;
  const block = kernel.map((k, d) => (k === -1 ? shape[d] : k));
  if (n === 0 || block.every((b, d) => d === 0 || b === shape[d])) {
    // Blocks along dim 0 only (per tensor, per output channel): contiguous runs.
    const run = block.reduce((a, b) => a * b, 1) || 1;
    return (i: number) => Math.floor(i / run);
  }
  const grid = block.map((b, d) => shape[d] / b);
  return (i: number) => {
    let rest = i;
    let g = 0;
    let stride = 1;
    for (let d = n - 1; d >= 0; d--) {
      const coord = rest % shape[d];
      rest = (rest - coord) / shape[d];
      g += Math.floor(coord / block[d]) * stride;
      stride *= grid[d];
    }
    return g;
  };
}
