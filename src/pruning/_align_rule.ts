/**
 * Rule 5 of the sparsity pipeline: `align` (a target's mask follows another target's mask).
 *
 * @module
 */

import { contextOf, keyOf, type Pipeline, split } from "./_pipeline.ts";
import { blockGrid } from "../kernels/validate.ts";
import { maskBits } from "./packed_mask.ts";
import { PruningError } from "./pruning_error.ts";
import type { PruningTarget } from "./types.ts";

/**
 * Every remaining target with an `align` setting: the source mask (the merged mask of
 * `align.module_name` (this module when null) / `align.target_name`, in NNI's compact shape) is
 * reduced over every dim not in `align.dims` (negative dims count from the end): an output
 * position is kept if any element of its slice is kept. The result is broadcast onto the target
 * (trailing dims aligned, like NNI's `copy_`), and when the target has blocks, a block is kept if
 * any of its elements is.
 *
 * Deviations (DESIGN.md): B9 — a source whose dims are all in `align.dims` (a 1-D BatchNorm
 * weight) is not reduced at all, so its mask reaches the bias (NNI reduces it to one scalar);
 * B14 — a source without a mask (an inactive weight) leaves the target unpruned with a warning
 * (NNI fails an assertion).
 */
export function alignRule(p: Pipeline, pool: readonly PruningTarget[]): void {
  const [selected] = split(pool, (t) => t.setting.align != null);
  for (const t of selected) {
    const align = t.setting.align!;
    const srcModule = align.module_name ?? t.module;
    const src = p.masks.get(keyOf(srcModule, align.target_name));
    if (src === undefined) {
      p.warnings.push({
        code: "align_source_missing",
        module: t.module,
        target: t.target,
        message:
          `${t.module}.${t.target} is aligned to ${srcModule}.${align.target_name}, which has no mask (no sparse_ratio or sparse_threshold): left unpruned`,
      });
      continue;
    }
    const k = p.kernels;
    const { raw, kernel } = src.layout;
    const elementwise = kernel.every((n) => n === 1);
    const nd = raw.length;
    const keep = new Set<number>();
    for (const d of align.dims) {
      if (!Number.isInteger(d) || d < -nd || d >= nd) {
        throw new PruningError(
          "granularity",
          `"align.dims" must hold dims of the ${nd}-D source mask: current value is ${
            JSON.stringify(align.dims)
          }`,
          contextOf(t),
        );
      }
      keep.add(d < 0 ? d + nd : d);
    }
    // Element-wise blocks are the raw mask already (it is only read here). A mask held as bits
    // is reduced on its bits: unpacking a large weight's mask for each aligned bias took longer
    // than selecting it (a 16.7M-element weight: about 50 ms per bias).
    const bits = elementwise && keep.size < nd ? maskBits(src) : undefined;
    const rawMask = bits !== undefined
      ? bits
      : elementwise
      ? src.blocks
      : k.blockExpand(src.blocks, raw, kernel);
    let reduced: Uint8Array = rawMask;
    let reducedShape = raw;
    if (keep.size < nd) {
      const anyKernel = raw.map((_, d) => (keep.has(d) ? 1 : -1));
      reduced = anyKept(rawMask, raw, anyKernel, bits !== undefined);
      reducedShape = raw.filter((_, d) => keep.has(d));
    }
    const layout = p.layoutOf(t);
    const full = broadcastOnto(p, reduced, reducedShape, layout.shape, t);
    let blocks = full;
    let rawShape: readonly number[] = reducedShape;
    if (layout.blockSize > 1) {
      rawShape = layout.raw;
      blocks = anyKept(full, layout.shape, layout.kernel, false);
    }
    p.merge(t, blocks, rawShape);
  }
}

/**
 * 1 for each block of `mask` (0/1, `shape`, blocks of `kernel` as `blockReduce` takes them) with
 * any element kept: `blockReduce(..., "maxabs") !== 0` on the mask as float32, without the
 * float32 copy and the per-element block ids (both four times the mask's size), row by row.
 */
function anyKept(
  mask: Uint8Array,
  shape: readonly number[],
  kernel: readonly number[],
  packed: boolean,
): Uint8Array {
  const size = shape.reduce((a, b) => a * b, 1);
  if (packed && mask.length !== (size + 7) >> 3) {
    throw new RangeError(`the mask has ${mask.length} bytes for ${size} bits`);
  }
  const { block, grid, gridSize } = blockGrid(shape, kernel, packed ? size : mask.length, "mask");
  const out = new Uint8Array(gridSize);
  const rank = shape.length;
  if (rank === 0) {
    out[0] = (packed ? mask[0] & 1 : mask[0]) !== 0 ? 1 : 0;
    return out;
  }
  const gridStride: number[] = new Array(rank);
  for (let d = rank - 1, stride = 1; d >= 0; d--) {
    gridStride[d] = stride;
    stride *= grid[d];
  }
  const last = shape[rank - 1];
  const lastBlock = block[rank - 1];
  const coord: number[] = new Array(rank).fill(0);
  for (let at = 0; at < size; at += last) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += Math.floor(coord[d] / block[d]) * gridStride[d];
    // A block already kept is not scanned again, and a scan stops at the first kept element:
    // a pruned mask at 50% costs a few reads per block, not one per element.
    for (let s = 0, b = base; s < last; s += lastBlock, b++) {
      if (out[b] !== 0) continue;
      const end = at + Math.min(s + lastBlock, last);
      for (let i = at + s; i < end; i++) {
        // (Bit `i % 8` of byte `i >> 3` when packed: the test is the same for the whole scan.)
        if ((packed ? (mask[i >> 3] >> (i & 7)) & 1 : mask[i]) !== 0) {
          out[b] = 1;
          break;
        }
      }
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return out;
}

function broadcastOnto(
  p: Pipeline,
  values: Uint8Array,
  from: readonly number[],
  to: readonly number[],
  t: PruningTarget,
): Uint8Array {
  const fail = (): never => {
    throw new PruningError(
      "granularity",
      `the aligned mask of shape ${
        JSON.stringify(from)
      } cannot be broadcast onto the target shape ${JSON.stringify(to)}`,
      contextOf(t),
    );
  };
  const trimmed = [...from];
  while (trimmed.length > to.length && trimmed[0] === 1) trimmed.shift();
  if (trimmed.length > to.length) fail();
  const padded = [...new Array<number>(to.length - trimmed.length).fill(1), ...trimmed];
  const kernel = padded.map((s, d) => {
    if (s === to[d]) return 1;
    if (s === 1) return -1;
    return fail();
  });
  return p.kernels.blockExpand(values, to, kernel);
}
