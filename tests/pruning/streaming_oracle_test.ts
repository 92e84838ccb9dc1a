// The streaming driver of the sparsity pipeline on every oracle case NNI ran without error:
// metrics computed on demand (never kept), global groups selected in passes over their members,
// and the masks equal NNI's bit for bit (or, for deviation cases, the in-memory driver's).
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeMetric } from "../../src/pruning/compute_metric.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { generateMasks } from "../../src/pruning/generate_masks.ts";
import { generateMasksStreaming } from "../../src/pruning/generate_masks_streaming.ts";
import type { PruningTarget } from "../../src/pruning/types.ts";
import {
  bitsB64,
  caseIds,
  isActive,
  type Json,
  loadExpected,
  loadWeights,
  prunerOf,
  targetsOf,
} from "./_oracle.ts";

const DEVIATING = new Set([
  "p039_bn_l1",
  "p062_global_ratio_one_bug",
  "p063_global_max_partial_bug",
]);

test("generateMasksStreaming() reproduces NNI's masks on every oracle case, reading metrics on demand", async () => {
  let cases = 0;
  for (const id of caseIds("p")) {
    const exp: Json = loadExpected(id);
    if (exp.error || !exp.result) continue;
    const weights = loadWeights(exp.weights.file.replace(/^.*expected\//, ""));
    const pruner = prunerOf(exp.case.algorithm);
    const targets = targetsOf(exp);
    let reads = 0;
    const read = (t: PruningTarget) => {
      reads++;
      return computeMetric(weights.get(`${t.module}.${t.target}`)!, t, { pruner }).values;
    };
    const streamed = await generateMasksStreaming(read, targets, { inMemoryEntries: 0 });
    const metrics: Record<string, Record<string, Float32Array>> = {};
    for (const t of targets) if (isActive(t)) (metrics[t.module] ??= {})[t.target] = read(t);
    const inMemory = generateMasks(metrics, targets);
    for (const [module, ts] of Object.entries(exp.result.masks as Json)) {
      for (const [target, e] of Object.entries(ts as Json)) {
        const m = streamed.masks[module]?.[target];
        const bits = bitsB64(m ? expandMask(m) : new Uint8Array((e as Json).numel).fill(1));
        const mm = inMemory.masks[module]?.[target];
        const want = DEVIATING.has(id)
          ? bitsB64(mm ? expandMask(mm) : new Uint8Array((e as Json).numel).fill(1))
          : (e as Json).bits_b64;
        assert.equal(bits, want, `${id} ${module}.${target}`);
      }
    }
    assert.ok(reads > 0 || targets.every((t) => !isActive(t)));
    cases++;
  }
  assert.ok(cases >= 45, `${cases} cases`);
});

test("generateMasksStreaming() reads each member of a large global group twice and no metric twice otherwise", async () => {
  const targets: PruningTarget[] = ["a", "b", "c"].map((module) => ({
    module,
    target: "weight",
    kind: "parameter",
    shape: [8],
    setting: { sparse_ratio: 0.5, global_group_id: "g" },
  }));
  targets.push({
    module: "d",
    target: "weight",
    kind: "parameter",
    shape: [4],
    setting: { sparse_ratio: 0.5 },
  });
  const reads = new Map<string, number>();
  const read = (t: PruningTarget) => {
    reads.set(t.module, (reads.get(t.module) ?? 0) + 1);
    const v = new Float32Array(t.shape![0]);
    for (let i = 0; i < v.length; i++) v[i] = ((i + t.module.charCodeAt(0)) * 37) % 11;
    return Promise.resolve(v);
  };
  const small = await generateMasksStreaming(read, targets);
  assert.deepEqual([...reads.entries()], [["a", 1], ["b", 1], ["c", 1], ["d", 1]]);
  reads.clear();
  const large = await generateMasksStreaming(read, targets, { inMemoryEntries: 10 });
  assert.deepEqual([...reads.entries()], [["a", 2], ["b", 2], ["c", 2], ["d", 1]]);
  for (const m of ["a", "b", "c", "d"]) {
    assert.deepEqual(large.masks[m].weight.blocks, small.masks[m].weight.blocks);
  }
});
