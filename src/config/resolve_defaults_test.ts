import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultGranularity, resolveDefaults } from "./resolve_defaults.ts";

test("defaultGranularity() follows each algorithm", () => {
  assert.equal(defaultGranularity("pruning", "LevelPruner", "parameter"), null);
  assert.equal(defaultGranularity("pruning", "L1NormPruner", "parameter"), "out_channel");
  assert.equal(defaultGranularity("pruning", "FPGMPruner", "output"), "per_channel");
  assert.equal(defaultGranularity("pruning", undefined, "input"), "per_channel");
  assert.equal(defaultGranularity("quantization", "PtqQuantizer", "parameter"), null);
});

test("resolveDefaults() leaves explicit granularities and settings without granularity alone", () => {
  const ctx = {
    mode: "pruning",
    kind: "parameter",
    algorithm: "LevelPruner",
    moduleName: "fc1",
    shape: [32, 16],
  } as const;
  assert.deepEqual(resolveDefaults({ granularity: [4, 4] }, ctx), {
    setting: { granularity: [4, 4] },
  });
  assert.deepEqual(resolveDefaults({ apply_method: "mul" }, ctx), {
    setting: { apply_method: "mul" },
  });
});

test("resolveDefaults() reads quantization per_channel on a weight as out_channel (B6)", () => {
  const r = resolveDefaults({ quant_dtype: "int8", granularity: "per_channel" }, {
    mode: "quantization",
    kind: "parameter",
    moduleName: "fc1",
  });
  assert.deepEqual(r, { setting: { quant_dtype: "int8", granularity: "out_channel" } });
});

test("resolveDefaults() fills the distillation defaults", () => {
  const ctx = { mode: "distillation", kind: "output", moduleName: "fc3" } as const;
  assert.deepEqual(resolveDefaults({ lambda: null, link: null, apply_method: null }, ctx), {
    setting: { lambda: 1.0, link: ["fc3"], apply_method: "mse" },
  });
  assert.deepEqual(resolveDefaults({ lambda: 2, link: "auto", apply_method: "kl" }, ctx), {
    setting: { lambda: 2, link: ["fc3"], apply_method: "kl" },
  });
  assert.deepEqual(resolveDefaults({ link: "t.fc3" }, ctx), {
    setting: { link: ["t.fc3"], lambda: 1.0, apply_method: "mse" },
  });
});

test("resolveDefaults() checks tuple granularities against the weight shape", () => {
  const ctx = {
    mode: "pruning",
    kind: "parameter",
    moduleName: "conv1",
    shape: [32, 1, 3, 3],
  } as const;
  assert.deepEqual(resolveDefaults({ granularity: [[2], "back"] }, ctx), {
    setting: { granularity: [[2], "back"] },
  });
  assert.deepEqual(resolveDefaults({ granularity: [[3], "back", -1] }, ctx), {
    problem:
      'granularity [[3],"back",-1] gives blocks of [3,-1,-1,-1], which do not divide the parameter shape [32,1,3,3]',
  });
});
