// One table of pruners: explain shows what prune does with the same flags, and says which mode
// and algorithm it assumed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { cli, CLS, tempDir } from "./_run.ts";
import {
  compressorFor,
  prune,
  PRUNER_TABLE,
  readSafetensors,
  safetensorsModel,
  writeSafetensors,
} from "../../mod.ts";

const PRUNE = JSON.stringify([{ op_types: ["Conv2d"], sparse_ratio: 0.3 }]);

function granularities(stdout: string): unknown[] {
  const out = JSON.parse(stdout);
  return out.targets.filter((t: { target: string }) => t.target === "weight")
    .map((t: { setting: { granularity: unknown } }) => t.setting.granularity);
}

test("explain without -a uses prune's default pruner (Level: element by element) and says so", async () => {
  const r = await cli("explain", CLS, "-c", PRUNE, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.run.algorithm, "LevelPruner");
  assert.match(out.run.algorithmSource, /default/);
  assert.ok(granularities(r.stdout).every((g) => g === null));
  const text = await cli("explain", CLS, "-c", PRUNE);
  assert.match(
    text.stdout,
    /^mode: pruning \(inferred from "sparse_ratio" in \[0\]\); algorithm: LevelPruner \(the default/,
  );
});

test("explain -a l1 and -a L1NormPruner both show out_channel, like prune -a l1", async () => {
  for (const a of ["l1", "L1NormPruner"]) {
    const r = await cli("explain", CLS, "-c", PRUNE, "-a", a, "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(granularities(r.stdout).every((g) => g === "out_channel"), a);
  }
  const dir = tempDir();
  const out = join(dir, "cls.l1.onnx");
  const json = join(dir, "r.json");
  const p = await cli("prune", CLS, "-c", PRUNE, "-a", "l1", "-o", out, "-r", json);
  assert.equal(p.code, 0, p.stderr);
  const report = JSON.parse(readFileSync(json, "utf8"));
  assert.equal(report.runs[0].algorithm, "L1NormPruner");
  assert.ok(
    report.runs[0].layers.filter((l: { target: string }) => l.target === "weight")
      .every((l: { granularity: unknown }) => l.granularity === "out_channel"),
  );
});

test("explain infers quantization from quant_dtype and names the quantizer", async () => {
  const c = JSON.stringify([{
    op_types: ["Conv2d"],
    target_names: ["weight"],
    quant_dtype: "int8",
  }]);
  const r = await cli("explain", CLS, "-c", c);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^mode: quantization \(inferred from "quant_dtype" in \[0\]\); algorithm: PtqQuantizer/,
  );
  const given = await cli("explain", CLS, "-c", c, "--mode", "quantization");
  assert.match(given.stdout, /^mode: quantization \(given with --mode\)/);
});

test("an unknown algorithm is a usage error listing the table", async () => {
  const r = await cli("prune", CLS, "-c", PRUNE, "-a", "magic", "-o", "x.onnx");
  assert.equal(r.code, 2);
  for (const p of PRUNER_TABLE) assert.match(r.stderr, new RegExp(p.algorithm));
  const e = await cli("explain", CLS, "-c", PRUNE, "-a", "PtqQuantizer");
  assert.equal(e.code, 2);
});

test("prune -a wanda without calibration is a usage error that says what it needs", async () => {
  const r = await cli("prune", CLS, "-c", PRUNE, "-a", "wanda", "-o", "x.onnx");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /needs --calibration/);
});

test("prune() without a pruner is Level, the same default as the CLI and compressModel", async () => {
  assert.equal(compressorFor("pruning").pruner?.name, "level");
  const bytes = writeSafetensors([
    { name: "fc.weight", dtype: "F32", shape: [2, 2], data: new Float32Array([1, 0.1, 2, 0.2]) },
  ]);
  const result = await prune(safetensorsModel(readSafetensors(bytes)), [{
    op_types: ["Linear"],
    sparse_ratio: 0.5,
  }]);
  // Element by element: the two smallest go, one from each row (L1 would drop a whole row).
  assert.deepEqual([...(await result.apply()).get("fc.weight")!], [1, 0, 2, 0]);
});
