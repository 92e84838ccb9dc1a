/**
 * Rule 5 of the sparsity pipeline: `align` (a target's mask follows another target's mask).
 *
 * @module
 */

import { contextOf, keyOf, type Pipeline, split } from "./_pipeline.ts";
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
    const rawMask = k.blockExpand(src.blocks, raw, kernel);
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
    let reduced: Uint8Array = rawMask;
    let reducedShape = raw;
    if (keep.size < nd) {
      const anyKernel = raw.map((_, d) => (keep.has(d) ? 1 : -1));
      const sums = k.blockReduce(Float32Array.from(rawMask), raw, anyKernel, "maxabs");
      reduced = new Uint8Array(sums.length);
      for (let i = 0; i < sums.length; i++) reduced[i] = sums[i] !== 0 ? 1 : 0;
      reducedShape = raw.filter((_, d) => keep.has(d));
    }
    const layout = p.layoutOf(t);
    const full = broadcastOnto(p, reduced, reducedShape, layout.shape, t);
    let blocks = full;
    let rawShape: readonly number[] = reducedShape;
    if (layout.blockSize > 1) {
      rawShape = layout.raw;
      const anyKept = k.blockReduce(Float32Array.from(full), layout.shape, layout.kernel, "maxabs");
      blocks = new Uint8Array(anyKept.length);
      for (let i = 0; i < anyKept.length; i++) blocks[i] = anyKept[i] !== 0 ? 1 : 0;
    }
    p.merge(t, blocks, rawShape);
  }
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
