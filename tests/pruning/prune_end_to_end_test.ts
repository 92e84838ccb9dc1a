// prune() end to end on the oracle's `mlp` weights read from safetensors: the config list goes
// through the config layer, masks and masked weights must equal NNI's bit for bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { openSafetensors } from "../../src/io/safetensors/open_safetensors.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { bytesSource } from "../../src/io/random_access.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { formatPruningReport } from "../../src/pruning/format_pruning_report.ts";
import { loadMasks } from "../../src/pruning/load_masks.ts";
import { prune } from "../../src/pruning/prune.ts";
import { saveMasks } from "../../src/pruning/save_masks.ts";
import { bitsB64, type Json, loadExpected, prunerOf, sha256 } from "./_oracle.ts";

function mlp() {
  const file = new URL("../nni_oracle/expected/weights/mlp_s0.safetensors", import.meta.url);
  const bytes = new Uint8Array(readFileSync(fileURLToPath(file)));
  return safetensorsModel(readSafetensors(bytes, { file: "mlp_s0.safetensors" }));
}

async function checkCase(id: string): Promise<void> {
  const exp: Json = loadExpected(id);
  const result = await prune(mlp(), exp.case.config_list, { pruner: prunerOf(exp.case.algorithm) });
  const masked = await result.apply();
  for (const [module, ts] of Object.entries(exp.result.masks as Json)) {
    for (const [target, e] of Object.entries(ts as Json)) {
      const m = result.masks[module]?.[target];
      const full = m ? expandMask(m) : new Uint8Array((e as Json).numel).fill(1);
      assert.equal(bitsB64(full), (e as Json).bits_b64, `${id} ${module}.${target}`);
      const applied = exp.result.applied_targets[module][target];
      const values = masked.get(`${module}.${target}`);
      if (values) {
        assert.equal(sha256(values), applied.value.sha256, `${id} applied ${module}.${target}`);
      }
    }
  }
  assert.equal(result.report.totals.kept, exp.result.overall.kept);
  assert.equal(result.report.totals.total, exp.result.overall.numel);
}

test("prune() with L1 rows on the oracle's mlp gives NNI's masks and masked weights (p001)", async () => {
  await checkCase("p001_l1_mlp_basic");
});

test("prune() with Level on the oracle's mlp gives NNI's masks and masked weights (p002)", async () => {
  await checkCase("p002_level_mlp_basic");
});

test("prune() with add and bypass apply methods gives NNI's applied values (p080, p081)", async () => {
  await checkCase("p080_apply_add");
  await checkCase("p081_apply_bypass");
});

test("prune() with a global group and thresholds on the oracle's mlp gives NNI's masks (p060, p101)", async () => {
  await checkCase("p060_global_level_unequal");
  await checkCase("p101_level_threshold");
});

test("prune() reports shape, granularity, kept/total and sparsity per target and in total", async () => {
  const result = await prune(mlp(), [{ op_types: ["Linear"], sparse_ratio: 0.5 }], {
    pruner: "l2",
  });
  const fc1 = result.report.targets.find((t) => t.module === "fc1" && t.target === "weight")!;
  assert.deepEqual(
    { shape: fc1.shape, granularity: fc1.granularity, kept: fc1.kept, total: fc1.total },
    { shape: [32, 16], granularity: "out_channel", kept: 256, total: 512 },
  );
  assert.equal(fc1.sparsity, 0.5);
  const text = formatPruningReport(result.report);
  assert.match(text, /^module\s+target\s+shape\s+granularity\s+kept\/total\s+sparsity$/m);
  assert.match(text, /^fc1\s+weight\s+\[32, 16\]\s+out_channel\s+256\/512\s+50\.00%$/m);
  assert.match(text, /^total\s+\d+\/\d+\s+\d+\.\d\d%$/m);
});

test("saveMasks() after prune() stores NNI's bits_b64 bytes, and loadMasks() gives the masks back (p001)", async () => {
  const exp: Json = loadExpected("p001_l1_mlp_basic");
  const result = await prune(mlp(), exp.case.config_list, { pruner: "l1" });
  const bytes = saveMasks(result.masks);
  for (const t of readSafetensors(bytes).tensors) {
    const [module, target] = t.name.split(".");
    let s = "";
    for (const b of t.data) s += String.fromCharCode(b);
    assert.equal(btoa(s), exp.result.masks[module][target].bits_b64, t.name);
  }
  const back = loadMasks(bytes);
  for (const [module, ts] of Object.entries(result.masks)) {
    for (const [target, m] of Object.entries(ts)) assert.deepEqual(back[module][target], m);
  }
});

test("prune() on a lazily opened file ranks a global group in passes, one tensor at a time (p060)", async () => {
  const exp: Json = loadExpected("p060_global_level_unequal");
  const file = new URL("../nni_oracle/expected/weights/mlp_s0.safetensors", import.meta.url);
  const source = bytesSource(new Uint8Array(readFileSync(fileURLToPath(file))));
  let reads = 0;
  const counting = {
    ...source,
    read: (offset: number, length: number) => (reads++, source.read(offset, length)),
  };
  const model = safetensorsModel(await openSafetensors(counting));
  reads = 0;
  const result = await prune(model, exp.case.config_list, { pruner: "level", inMemoryEntries: 0 });
  assert.equal(reads, 6, "two passes over three weights");
  for (const [module, ts] of Object.entries(exp.result.masks as Json)) {
    for (const [target, e] of Object.entries(ts as Json)) {
      assert.equal(bitsB64(expandMask(result.masks[module][target])), (e as Json).bits_b64);
    }
  }
});
