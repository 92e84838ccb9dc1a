import { test } from "node:test";
import assert from "node:assert/strict";
import { expandMask } from "./expand_mask.ts";
import { generateMasks } from "./generate_masks.ts";
import { PruningError } from "./pruning_error.ts";
import type { PruningSetting, PruningTarget } from "./types.ts";

const BIAS: PruningSetting = { align: { module_name: null, target_name: "weight", dims: [0] } };

function weight(
  module: string,
  shape: number[],
  setting: PruningSetting,
  configIndex = 0,
): PruningTarget {
  return { module, target: "weight", kind: "parameter", shape, setting, configIndex };
}

function bias(module: string, n: number, setting: PruningSetting = BIAS): PruningTarget {
  return { module, target: "bias", kind: "parameter", shape: [n], setting };
}

const f32 = (...v: number[]) => new Float32Array(v);
const bits = (m: { blocks: Uint8Array }) => [...m.blocks];

test("generateMasks() keeps metric >= threshold, ties kept", () => {
  const t = weight("fc", [4], { sparse_threshold: 0.5 });
  const { masks } = generateMasks({ fc: { weight: f32(0.4, 0.5, 0.6, 0.1) } }, [t]);
  assert.deepEqual(bits(masks.fc.weight), [0, 1, 1, 0]);
});

test("generateMasks() re-generates a threshold mask at max_sparse_ratio when it prunes too much", () => {
  const t = weight("fc", [4], { sparse_threshold: 10, max_sparse_ratio: 0.5 });
  const { masks } = generateMasks({ fc: { weight: f32(4, 1, 3, 2) } }, [t]);
  assert.deepEqual(bits(masks.fc.weight), [1, 0, 1, 0]);
});

test("generateMasks() re-generates a threshold mask at min_sparse_ratio when it prunes too little", () => {
  const t = weight("fc", [4], { sparse_threshold: 0, min_sparse_ratio: 0.25 });
  const { masks } = generateMasks({ fc: { weight: f32(4, 1, 3, 2) } }, [t]);
  assert.deepEqual(bits(masks.fc.weight), [1, 0, 1, 1]);
});

test("generateMasks() clamps a ratio by min and max before pruning", () => {
  const a = weight("a", [10], { sparse_ratio: 0.9, max_sparse_ratio: 0.3 });
  const b = weight("b", [10], { sparse_ratio: 0.1, min_sparse_ratio: 0.5 });
  const m = f32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  const { masks } = generateMasks({ a: { weight: m }, b: { weight: m } }, [a, b]);
  assert.equal(masks.a.weight.blocks.indexOf(1), 3);
  assert.equal(masks.b.weight.blocks.indexOf(1), 5);
});

test("generateMasks() fuses a dependency group by the mean and prunes per chunk", () => {
  const s = (extra: PruningSetting) => ({
    sparse_ratio: 0.5,
    dependency_group_id: "d",
    granularity: "out_channel" as const,
    ...extra,
  });
  const a = weight("a", [4, 2], s({ internal_metric_block: 2 }));
  const b = weight("b", [4, 3], s({}));
  const { masks } = generateMasks(
    { a: { weight: f32(1, 9, 2, 8) }, b: { weight: f32(3, 1, 2, 0) } },
    [a, b],
  );
  // mean: [2, 5, 2, 4]; chunks [2, 5] and [2, 4] each lose one
  assert.deepEqual(bits(masks.a.weight), [0, 1, 0, 1]);
  assert.deepEqual(bits(masks.b.weight), [0, 1, 0, 1]);
  assert.notEqual(masks.a.weight.blocks, masks.b.weight.blocks);
});

test("generateMasks() rejects dependency members with different channel counts", () => {
  const s = { sparse_ratio: 0.5, dependency_group_id: 1, granularity: "out_channel" as const };
  assert.throws(
    () =>
      generateMasks({ a: { weight: f32(1, 2) }, b: { weight: f32(1, 2, 3) } }, [
        weight("a", [2, 2], s),
        weight("b", [3, 2], s, 1),
      ]),
    (e: unknown) =>
      e instanceof PruningError && e.code === "dependency_group" &&
      e.message.startsWith('b.weight (config [1], "dependency_group_id"): dependency group 1:'),
  );
});

test("generateMasks() rejects mismatched ratios inside one group", () => {
  const a = weight("a", [2], { sparse_ratio: 0.5, global_group_id: 1 });
  const b = weight("b", [2], { sparse_ratio: 0.3, global_group_id: 1 }, 2);
  assert.throws(
    () => generateMasks({ a: { weight: f32(1, 2) }, b: { weight: f32(1, 2) } }, [a, b]),
    /b\.weight \(config \[2\], "global_group_id"\): global group 1: members must share one sparse_ratio/,
  );
});

test("generateMasks() rejects a threshold driving a group", () => {
  const t = weight("a", [2], { sparse_threshold: 0.5, dependency_group_id: 1 });
  assert.throws(
    () => generateMasks({ a: { weight: f32(1, 2) } }, [t]),
    (e: unknown) => e instanceof PruningError && e.code === "threshold_in_group",
  );
});

test("generateMasks() ranks a global group with one threshold across members", () => {
  const a = weight("a", [4], { sparse_ratio: 0.5, global_group_id: 0 });
  const b = weight("b", [4], { sparse_ratio: 0.5, global_group_id: 0 });
  const { masks } = generateMasks(
    { a: { weight: f32(1, 2, 3, 4) }, b: { weight: f32(0.5, 8, 9, 1.5) } },
    [a, b],
  );
  assert.deepEqual(bits(masks.a.weight), [0, 0, 1, 1]);
  assert.deepEqual(bits(masks.b.weight), [0, 1, 1, 0]);
});

test("generateMasks() prunes a saturated global group at each max, 1.0 without one (B8)", () => {
  const a = weight("a", [4], { sparse_ratio: 0.9, global_group_id: 0, max_sparse_ratio: 0.5 });
  const b = weight("b", [4], { sparse_ratio: 0.9, global_group_id: 0 });
  const m = f32(1, 2, 3, 4);
  const { masks } = generateMasks({ a: { weight: m }, b: { weight: m } }, [a, b]);
  assert.deepEqual(bits(masks.a.weight), [0, 0, 1, 1]);
  assert.deepEqual(bits(masks.b.weight), [0, 0, 0, 0]);
});

test("generateMasks() prunes a global group below its minimum at each min", () => {
  const a = weight("a", [4], { sparse_ratio: 0.1, global_group_id: 0, min_sparse_ratio: 0.5 });
  const b = weight("b", [4], { sparse_ratio: 0.1, global_group_id: 0, min_sparse_ratio: 0.25 });
  const m = f32(4, 3, 2, 1);
  const { masks } = generateMasks({ a: { weight: m }, b: { weight: m } }, [a, b]);
  assert.deepEqual(bits(masks.a.weight), [1, 1, 0, 0]);
  assert.deepEqual(bits(masks.b.weight), [1, 1, 1, 0]);
});

test("generateMasks() aligns a bias to its weight's rows: kept if any element of the row is", () => {
  const w = weight("fc", [3, 2], { sparse_ratio: 0.5 });
  const { masks } = generateMasks({ fc: { weight: f32(1, 2, 0.1, 0.2, 5, 0.3) } }, [
    w,
    bias("fc", 3),
  ]);
  assert.deepEqual([...expandMask(masks.fc.weight)], [1, 1, 0, 0, 1, 0]);
  assert.deepEqual(bits(masks.fc.bias), [1, 0, 1]);
  assert.deepEqual(masks.fc.bias.rawShape, [3]);
});

test("generateMasks() aligns onto a weight whose mask is held as bits, on the bits", () => {
  // 2^20 elements and more: the weight's mask is packed, and the align rule reads its bits.
  // Rows 0, 5 and the last have every value small, so a 50% ratio prunes them whole.
  for (const shape of [[1027, 1031], [129, 4, 45, 47]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const rows = shape[0];
    const inner = n / rows;
    const values = new Float32Array(n);
    let s = 7;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const row = Math.floor(i / inner);
      values[i] = row === 0 || row === 5 || row === rows - 1 ? 1e-6 : 1 + s / 2 ** 32;
    }
    const w = weight("conv", shape, { sparse_ratio: 0.5 });
    const second: PruningTarget = {
      module: "conv",
      target: "scale",
      kind: "parameter",
      shape: [shape[1]],
      setting: { align: { module_name: null, target_name: "weight", dims: [1] } },
    };
    const { masks } = generateMasks({ conv: { weight: values } }, [w, bias("conv", rows), second]);
    const kept = expandMask(masks.conv.weight);
    const rowKept = Array.from({ length: rows }, (_, r) => {
      for (let i = r * inner; i < (r + 1) * inner; i++) if (kept[i]) return 1;
      return 0;
    });
    assert.deepEqual(bits(masks.conv.bias), rowKept);
    assert.equal(rowKept[0] + rowKept[5] + rowKept[rows - 1], 0);
    const cols = shape[1];
    const after = inner / cols;
    const colKept = Array.from({ length: cols }, (_, c) => {
      for (let i = 0; i < n; i++) {
        if (kept[i] && Math.floor(i / after) % cols === c) return 1;
      }
      return 0;
    });
    assert.deepEqual(bits(masks.conv.scale), colKept);
  }
});

test("generateMasks() aligns across modules and with negative dims", () => {
  const w = weight("conv", [2, 1, 1, 1], { sparse_ratio: 0.5, granularity: "out_channel" });
  const bn: PruningTarget = {
    module: "bn",
    target: "weight",
    kind: "parameter",
    shape: [2],
    setting: { align: { module_name: "conv", target_name: "weight", dims: [-4] } },
  };
  const { masks } = generateMasks({ conv: { weight: f32(3, 1) } }, [w, bn]);
  assert.deepEqual(bits(masks.bn.weight), [1, 0]);
});

test("generateMasks() aligns a 1-D weight's mask onto its bias (B9)", () => {
  const w = weight("bn", [4], { sparse_ratio: 0.5, granularity: "out_channel" });
  const { masks } = generateMasks({ bn: { weight: f32(3, 1, 4, 2) } }, [w, bias("bn", 4)]);
  assert.deepEqual(bits(masks.bn.bias), [1, 0, 1, 0]);
});

test("generateMasks() skips the align of a bias whose weight is inactive, with a warning (B14)", () => {
  const { masks, warnings } = generateMasks({}, [weight("fc", [2, 2], {}), bias("fc", 2)]);
  assert.deepEqual(masks, {});
  assert.equal(warnings[0].code, "align_source_missing");
  assert.match(warnings[0].message, /^fc\.bias is aligned to fc\.weight, which has no mask/);
});

test("generateMasks() lets a target with its own ratio skip the align rule", () => {
  const { masks } = generateMasks(
    { fc: { weight: f32(1, 2), bias: f32(5, 1) } },
    [weight("fc", [2], { sparse_ratio: 0.5 }), bias("fc", 2, { ...BIAS, sparse_ratio: 0.5 })],
  );
  assert.deepEqual(bits(masks.fc.bias), [1, 0]);
});

test("generateMasks() ANDs the masks of several rules on one target", () => {
  const t = weight("fc", [4], { sparse_threshold: 2, sparse_ratio: 0.25 });
  const { masks } = generateMasks({ fc: { weight: f32(5, 1, 3, 2.5) } }, [t]);
  // threshold prunes index 1; ratio prunes the smallest (index 1): AND -> [1, 0, 1, 1]
  assert.deepEqual(bits(masks.fc.weight), [1, 0, 1, 1]);
  const u = weight("fc", [4], { sparse_threshold: 2.6, sparse_ratio: 0.25 });
  assert.deepEqual(
    bits(generateMasks({ fc: { weight: f32(5, 1, 3, 2.5) } }, [u]).masks.fc.weight),
    [
      1,
      0,
      1,
      0,
    ],
  );
});

test("generateMasks() names the target when a metric is missing or mis-sized", () => {
  const t = weight("fc", [2, 2], { sparse_ratio: 0.5, granularity: "out_channel" }, 3);
  assert.throws(
    () => generateMasks({}, [t]),
    /fc\.weight \(config \[3\], "granularity"\): no metric/,
  );
  assert.throws(
    () => generateMasks({ fc: { weight: f32(1, 2, 3) } }, [t]),
    /the metric has 3 values but the granularity gives 2 blocks/,
  );
});
