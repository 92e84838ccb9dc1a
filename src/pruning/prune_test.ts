import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../config/config_error.ts";
import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
import { safetensorsModel } from "../model/safetensors_model.ts";
import { prune } from "./prune.ts";
import { PruningError } from "./pruning_error.ts";

function model() {
  const w = new Float32Array(24);
  for (let i = 0; i < w.length; i++) w[i] = (i % 7) - 3;
  return safetensorsModel(readSafetensors(writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [4, 6], data: w },
    { name: "fc1.bias", dtype: "F32", shape: [4], data: new Float32Array([1, 2, 3, 4]) },
    { name: "bn.weight", dtype: "F32", shape: [4], data: new Float32Array([0.5, -2, 0.1, 1]) },
    { name: "bn.bias", dtype: "F32", shape: [4], data: new Float32Array([1, 1, 1, 1]) },
    { name: "bn.running_mean", dtype: "F32", shape: [4], data: new Float32Array(4) },
    { name: "bn.running_var", dtype: "F32", shape: [4], data: new Float32Array(4).fill(1) },
  ])));
}

test("prune() prunes element-wise with the level pruner", async () => {
  const r = await prune(model(), [{ op_names: ["fc1"], sparse_ratio: 0.25 }], { pruner: "level" });
  const fc1 = r.report.targets.find((t) => t.target === "weight")!;
  assert.equal(fc1.granularity, null);
  assert.equal(fc1.total - fc1.kept, 6);
});

test("prune() with slim prunes BatchNorm channels by |gamma| and their biases", async () => {
  const r = await prune(model(), [{ op_names: ["bn"], sparse_ratio: 0.5 }], { pruner: "slim" });
  assert.deepEqual([...r.masks.bn.weight.blocks], [0, 1, 0, 1]);
  const masked = await r.apply();
  assert.deepEqual([...masked.get("bn.bias")!], [0, 1, 0, 1]);
});

test("prune() reports targets the config did not make active as kept whole", async () => {
  const r = await prune(model(), [{
    op_names: ["fc1"],
    target_names: ["weight"],
    sparse_ratio: 0.5,
  }]);
  assert.deepEqual(r.report.targets.map((t) => [t.target, t.masked]), [["weight", true]]);
  assert.equal(r.report.totals.sparsity, 0.5);
});

test("prune() rejects bad config lists, bad blocks and unknown pruners clearly", async () => {
  await assert.rejects(prune(model(), [{ op_types: ["Linear"], sparse_ratio: "x" }]), ConfigError);
  await assert.rejects(
    prune(model(), [{ op_names: ["fc1"], sparse_ratio: 0.5, granularity: [4, 4] }]),
    (e: unknown) =>
      (e instanceof PruningError && e.code === "block_divisor") ||
      (e instanceof ConfigError &&
        /\[4,4\].*do not divide the parameter shape \[4,6\]/.test(e.message)),
  );
  // deno-lint-ignore no-explicit-any
  await assert.rejects(prune(model(), [], { pruner: "taylor" as any }), TypeError);
});
