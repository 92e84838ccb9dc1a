import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { blockLayout } from "./block_layout.ts";
import { expandMask } from "./expand_mask.ts";
import { loadMasks } from "./load_masks.ts";
import { MASKS_METADATA_KEY, saveMasks } from "./save_masks.ts";
import type { TargetMask } from "./types.ts";

function mask(
  module: string,
  target: string,
  granularity: unknown,
  shape: number[],
  seed: number,
): TargetMask {
  // deno-lint-ignore no-explicit-any
  const layout = blockLayout(granularity as any, shape);
  const blocks = new Uint8Array(layout.gridSize);
  for (let i = 0; i < blocks.length; i++) blocks[i] = ((i * 7 + seed) % 3) === 0 ? 0 : 1;
  return { module, target, layout, blocks, rawShape: layout.raw };
}

test("saveMasks() stores each full mask bit-packed with bit i of byte j for element 8j + i", () => {
  const m = mask("fc", "weight", null, [3, 3], 0);
  const { tensors, metadata } = readSafetensors(
    saveMasks({ fc: { weight: m } }, { metadata: { model: "x" } }),
  );
  assert.equal(tensors[0].name, "fc.weight");
  assert.equal(tensors[0].dtype, "U8");
  const full = expandMask(m);
  for (let i = 0; i < 9; i++) assert.equal((tensors[0].data[i >> 3] >> (i & 7)) & 1, full[i]);
  assert.equal(metadata.model, "x");
  assert.deepEqual(JSON.parse(metadata[MASKS_METADATA_KEY])["fc.weight"].shape, [3, 3]);
});

test("loadMasks() restores block masks, layouts and compact shapes saved by saveMasks()", () => {
  const masks = {
    conv: {
      weight: mask("conv", "weight", "out_channel", [8, 3, 3, 3], 1),
      bias: { ...mask("conv", "bias", null, [8], 2), rawShape: [8] },
    },
    fc: { weight: mask("fc", "weight", [4, 4], [16, 12], 3) },
    "": { scale: mask("", "scale", null, [5], 4) },
  };
  const back = loadMasks(saveMasks(masks));
  for (const [module, ts] of Object.entries(masks)) {
    for (const [target, m] of Object.entries(ts)) {
      const b = back[module][target];
      assert.deepEqual(b.blocks, m.blocks, `${module}.${target}`);
      assert.deepEqual(b.layout, m.layout);
      assert.deepEqual(b.rawShape, m.rawShape);
    }
  }
});

test("loadMasks() rejects files that are not mask sidecars", async () => {
  const { writeSafetensors } = await import("../io/safetensors/write_safetensors.ts");
  const plain = writeSafetensors([{
    name: "w",
    dtype: "F32",
    shape: [1],
    data: new Float32Array(1),
  }]);
  assert.throws(
    () => loadMasks(plain, { file: "w.safetensors" }),
    /w\.safetensors: no "nncompress\.masks" metadata/,
  );
});
