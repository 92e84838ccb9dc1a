import assert from "node:assert/strict";
import { test } from "node:test";
import { getKernels } from "../kernels/default.ts";
import { generateMasksStreaming } from "./generate_masks_streaming.ts";
import { maskBits, PACKED_MASK_BLOCKS } from "./packed_mask.ts";
import { pruningReport } from "./pruning_report.ts";
import { ratioMask } from "./ratio_mask.ts";
import type { PruningTarget } from "./types.ts";

/** Deterministic metric values in [0, 1). */
function metric(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = s / 4294967296;
  }
  return a;
}

const SHAPE = [1024, 1100];
const N = SHAPE[0] * SHAPE[1];

test("a large mask is held as bits and reads back as the bytes the rule made", async () => {
  assert.ok(N >= PACKED_MASK_BLOCKS);
  const m = metric(N, 3);
  const targets: PruningTarget[] = [
    {
      module: "fc",
      target: "weight",
      kind: "parameter",
      shape: SHAPE,
      setting: { sparse_ratio: 0.5 },
    },
  ];
  const { masks } = await generateMasksStreaming(() => m, targets);
  const mask = masks.fc.weight;
  assert.ok(maskBits(mask) !== undefined);
  assert.equal(maskBits(mask)!.length, N / 8);
  const expected = ratioMask(m, 0.5);
  assert.deepEqual(mask.blocks, expected);
  let kept = 0;
  for (let i = 0; i < N; i++) kept += expected[i];
  assert.equal(pruningReport(targets, masks).targets[0].kept, kept);
});

test("a large mask held as bits is AND-merged with a later rule's mask", async () => {
  const m = metric(N, 5);
  const targets: PruningTarget[] = [{
    module: "fc",
    target: "weight",
    kind: "parameter",
    shape: SHAPE,
    // The threshold keeps about 30%: then the ratio rule's mask (50%) is merged into it.
    setting: { sparse_threshold: 0.7, sparse_ratio: 0.5, max_sparse_ratio: 0.9 },
  }];
  const { masks } = await generateMasksStreaming(() => m, targets);
  const byThreshold = getKernels().thresholdMask(m, Math.fround(0.7));
  const byRatio = ratioMask(m, 0.5);
  const expected = byThreshold.map((b, i) => b & byRatio[i]);
  assert.ok(maskBits(masks.fc.weight) !== undefined);
  assert.deepEqual(masks.fc.weight.blocks, expected);
});

test("small masks stay bytes; a bias aligned to a large mask is reduced from it", async () => {
  const m = metric(N, 7);
  const targets: PruningTarget[] = [
    {
      module: "fc",
      target: "weight",
      kind: "parameter",
      shape: SHAPE,
      setting: { sparse_ratio: 0.999 },
    },
    {
      module: "fc",
      target: "bias",
      kind: "parameter",
      shape: [SHAPE[0]],
      setting: { align: { module_name: null, target_name: "weight", dims: [0] } },
    },
  ];
  const { masks } = await generateMasksStreaming(() => m, targets);
  assert.equal(maskBits(masks.fc.bias), undefined);
  const w = masks.fc.weight.blocks;
  const expected = new Uint8Array(SHAPE[0]);
  for (let r = 0; r < SHAPE[0]; r++) {
    for (let c = 0; c < SHAPE[1]; c++) if (w[r * SHAPE[1] + c]) expected[r] = 1;
  }
  assert.ok(expected.includes(0) && expected.includes(1));
  assert.deepEqual(masks.fc.bias.blocks, expected);
});
