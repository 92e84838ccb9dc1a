// A tracked range from a clipping range per block of a streaming histogram.
import type { StreamingHistogram } from "./streaming_histogram.ts";
import type { TrackedRange } from "./tracked_range.ts";

/**
 * Calls `clip(counts, range, b)` for every block with a non-zero range and intersects its
 * `[lo, hi]` with the block's exact minimum and maximum, in float32.
 */
export function clippedRange(
  h: StreamingHistogram,
  clip: (counts: Float64Array, range: number, block: number) => readonly [number, number],
): TrackedRange {
  const blocks = h.min.length;
  const min = new Float32Array(blocks);
  const max = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    if (h.range[b] === 0) continue;
    const [lo, hi] = clip(h.counts.subarray(b * h.bins, (b + 1) * h.bins), h.range[b], b);
    min[b] = Math.min(h.max[b], Math.max(h.min[b], Math.fround(lo)));
    max[b] = Math.max(h.min[b], Math.min(h.max[b], Math.fround(hi)));
  }
  return { shape: [...h.shape], min, max };
}
