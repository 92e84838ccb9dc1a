// A large global group selected from summaries of its members' metrics gives the masks of the
// in-memory selection: ties across members, summaries taken out of order (as worker threads
// return them), masks held as bits, a threshold bin too full to list (a third pass for those
// members only), NaN metrics and a NaN threshold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { getKernels } from "../kernels/default.ts";
import { generateMasks } from "./generate_masks.ts";
import { generateMasksStreaming } from "./generate_masks_streaming.ts";
import {
  type MetricSummary,
  orderKey,
  summarizeMetric,
  summaryCandidates,
} from "./metric_summary.ts";
import { PACKED_MASK_BLOCKS } from "./packed_mask.ts";
import type { PruningTarget } from "./types.ts";

function group(sizes: readonly number[], ratio: number): PruningTarget[] {
  return sizes.map((n, i) => ({
    module: `m${i}`,
    target: "weight",
    kind: "parameter",
    shape: [n],
    setting: { sparse_ratio: ratio, global_group_id: 0 },
  }));
}

/** Streamed with summaries taken in reverse order, then in memory: the same masks. */
async function compare(
  targets: readonly PruningTarget[],
  metrics: readonly Float32Array[],
): Promise<{ reads: Map<string, number>; summaries: string[] }> {
  const byModule = new Map(targets.map((t, i) => [t.module, metrics[i]]));
  const reads = new Map<string, number>();
  const summaries: string[] = [];
  const read = (t: PruningTarget) => {
    reads.set(t.module, (reads.get(t.module) ?? 0) + 1);
    return Promise.resolve(byModule.get(t.module)!);
  };
  const waits: (() => void)[] = [];
  const summarize = (t: PruningTarget, summary: MetricSummary) => {
    summaries.push(`${summary.kind} ${t.module}`);
    const result = summarizeMetric(byModule.get(t.module)!, summary, { kernels: getKernels() })!;
    // Answered in reverse order once every member of the batch has asked.
    return new Promise<typeof result>((resolve) => {
      waits.push(() => resolve(result));
      queueMicrotask(() => {
        while (waits.length > 0) waits.pop()!();
      });
    });
  };
  const streamed = await generateMasksStreaming(read, targets, { inMemoryEntries: 0, summarize });
  const oneThread = await generateMasksStreaming(read, targets, { inMemoryEntries: 0 });
  const all: Record<string, Record<string, Float32Array>> = {};
  for (const [i, t] of targets.entries()) all[t.module] = { weight: metrics[i] };
  const inMemory = generateMasks(all, targets);
  for (const t of targets) {
    const want = inMemory.masks[t.module].weight.blocks;
    assert.deepEqual(streamed.masks[t.module].weight.blocks, want, t.module);
    assert.deepEqual(oneThread.masks[t.module].weight.blocks, want, t.module);
  }
  return { reads, summaries };
}

test("a global group selected from summaries keeps ties across members like the in-memory selection", async () => {
  const sizes = [40, 64, 1, 33];
  // Few distinct values: the threshold is tied across every member.
  const metrics = sizes.map((n, m) => Float32Array.from({ length: n }, (_, i) => (i * 7 + m) % 5));
  for (const ratio of [0.1, 0.35, 0.5, 0.81, 0.99]) {
    const { reads, summaries } = await compare(group(sizes, ratio), metrics);
    // Two passes, each asking for every member at once.
    assert.deepEqual(summaries, [
      ...sizes.map((_, i) => `high m${i}`),
      ...sizes.map((_, i) => `low m${i}`),
    ]);
    // On one thread, each member is read twice.
    assert.deepEqual([...reads.values()], [2, 2, 2, 2]);
  }
});

test("a global group selected from summaries of masks held as bits, with a threshold bin too full to list", async () => {
  const n = PACKED_MASK_BLOCKS + 3;
  assert.ok(summaryCandidates(n) < n / 2);
  // m0: every value equal (its bin cannot be listed); m1: spread values; m2: half of them
  // equal to m0's value.
  const m0 = new Float32Array(n).fill(0.75);
  const m1 = Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000003) / 1000003);
  const m2 = Float32Array.from({ length: 5000 }, (_, i) => (i % 2 ? 0.75 : i / 5000));
  let thirdPasses = 0;
  for (const ratio of [0.2, 0.45, 0.6]) {
    const { summaries } = await compare(group([n, n, 5000], ratio), [m0, m1, m2]);
    const masks = summaries.filter((s) => s.startsWith("mask"));
    // Only the member whose bin held more than the limit is read a third time (if the
    // threshold fell in its bin).
    assert.ok(masks.every((s) => s === "mask m0"), summaries.join(", "));
    thirdPasses += masks.length;
  }
  // At 0.45 and 0.6 the threshold is m0's value.
  assert.equal(thirdPasses, 2);
});

test("a global group selected from summaries prunes NaN metrics and keeps nothing at a NaN threshold", async () => {
  const metrics = [
    new Float32Array([NaN, 1, 2, NaN, 3, 0, -0]),
    new Float32Array([NaN, NaN, 0.5, Infinity, 2]),
  ];
  for (const ratio of [0.25, 0.5, 0.9]) {
    await compare(group([7, 5], ratio), metrics);
  }
});

test("summaries from a tensor's values equal the summaries of its magnitudes (the level metric)", () => {
  const n = PACKED_MASK_BLOCKS + 5;
  for (const length of [9, n]) {
    const values = Float32Array.from(
      { length },
      (_, i) => (i % 3 === 0 ? -1 : 1) * (((i * 7919) % 101) / 64),
    );
    values[1] = -0;
    const magnitudes = values.map(Math.abs);
    const kernels = getKernels();
    const summaries: MetricSummary[] = [
      { kind: "high" },
      { kind: "low", bin: 0xbf80 },
      { kind: "low", bin: 0x8000 },
      { kind: "mask", threshold: 0.75 },
      { kind: "mask", threshold: NaN },
    ];
    for (const summary of summaries) {
      assert.deepEqual(
        summarizeMetric(values, summary, { kernels, magnitude: true }),
        summarizeMetric(magnitudes, summary, { kernels }),
        JSON.stringify(summary),
      );
    }
  }
  const bad = new Float32Array([1, Infinity]);
  assert.equal(summarizeMetric(bad, { kind: "high" }, { magnitude: true }), undefined);
});

test("low summaries equal a per-entry reference: signs, -0, NaN, infinities, every kind of bin", () => {
  // The reference: each entry's order key, kept above the bin (NaN never), counted and listed
  // in it.
  const reference = (metric: Float32Array, bin: number, packed: boolean) => {
    const bits = new Int32Array(metric.buffer, metric.byteOffset, metric.length);
    const histogram = new Float64Array(65536);
    const mask = new Uint8Array(packed ? (metric.length + 7) >> 3 : metric.length);
    const positions: number[] = [];
    const lows: number[] = [];
    for (let i = 0; i < bits.length; i++) {
      const k = orderKey(bits[i]);
      const h = k >>> 16;
      if (h > bin && !Number.isNaN(metric[i])) {
        if (packed) mask[i >> 3] |= 1 << (i & 7);
        else mask[i] = 1;
      }
      if (h === bin) {
        histogram[k & 0xffff]++;
        positions.push(i);
        lows.push(k & 0xffff);
      }
    }
    return {
      histogram,
      mask,
      positions: Uint32Array.from(positions),
      lows: Uint16Array.from(lows),
    };
  };
  const specials = [0, -0, NaN, -NaN, Infinity, -Infinity, 1, -1, 2 ** -140, -(2 ** -140)];
  for (const length of [13, PACKED_MASK_BLOCKS + 3]) {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const metric = Float32Array.from(
      { length },
      (_, i) => i % 5 === 0 ? specials[(i / 5) % specials.length] : (next() - 0.5) * 8,
    );
    const bins = new Set([0, 0x3f80, 0x7fff, 0x8000, 0xbf80, 0xffc0, 0xffff]);
    for (let i = 0; i < 12; i++) bins.add(orderKey(new Int32Array(metric.buffer)[i]) >>> 16);
    for (const bin of bins) {
      const got = summarizeMetric(metric, { kind: "low", bin })!;
      const want = reference(metric, bin, length >= PACKED_MASK_BLOCKS);
      // (More entries in the bin than a low summary lists: no mask then.)
      if (want.positions.length > summaryCandidates(length)) {
        assert.deepEqual(got, { histogram: want.histogram }, `bin ${bin}`);
      } else assert.deepEqual(got, want, `bin ${bin.toString(16)}, ${length} entries`);
    }
    // Magnitudes: the same as the reference on |v| (finite values only).
    const finite = metric.map((v) => (Number.isFinite(v) ? v : 0.5));
    const abs = finite.map(Math.abs);
    for (const bin of [0x3f80, 0x8000, 0xbf80, orderKey(new Int32Array(abs.buffer)[3]) >>> 16]) {
      const got = summarizeMetric(finite, { kind: "low", bin }, { magnitude: true })!;
      const want = reference(abs, bin, length >= PACKED_MASK_BLOCKS);
      if (want.positions.length > summaryCandidates(length)) {
        assert.deepEqual(got, { histogram: want.histogram }, `bin ${bin}`);
      } else assert.deepEqual(got, want, `|v|, bin ${bin.toString(16)}, ${length} entries`);
    }
    assert.equal(
      summarizeMetric(metric, { kind: "low", bin: 0xbf80 }, { magnitude: true }),
      undefined,
    );
  }
});
