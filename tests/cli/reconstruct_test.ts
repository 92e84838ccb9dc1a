// `prune --reconstruct <calibration>`: the masked classifier refit layer by layer from the CLI,
// and the flag's usage errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, CLS, mlpSafetensors, tempDir } from "./_run.ts";
import { decodeOnnx, onnxModel } from "../../mod.ts";

const LAST_CONVS = JSON.stringify([{
  op_names: ["conv2d_49", "conv2d_51"],
  sparse_ratio: 0.25,
  granularity: "out_channel",
}]);

test("prune --reconstruct refits the layers after the pruned convs and keeps their masks", async () => {
  const dir = tempDir();
  const masked = join(dir, "masked.onnx");
  const refit = join(dir, "refit.onnx");
  const plain = await cli("prune", CLS, "-c", LAST_CONVS, "-a", "l1", "-o", masked);
  assert.equal(plain.code, 0, plain.stderr);
  const r = await cli(
    "prune",
    CLS,
    "-c",
    LAST_CONVS,
    "-a",
    "l1",
    "--reconstruct",
    "ocr-lines:6",
    "--batch-size",
    "3",
    "-o",
    refit,
  );
  assert.equal(r.code, 0, r.stderr);
  const a = onnxModel(decodeOnnx(new Uint8Array(readFileSync(masked))));
  const b = onnxModel(decodeOnnx(new Uint8Array(readFileSync(refit))));
  const weight = async (m: typeof a, name: string) =>
    await m.modules.find((x) => x.name === name)!.params.weight.data();
  // the pruned conv's zero rows stay zero, its other rows and the head change
  const before = await weight(a, "conv2d_51");
  const after = await weight(b, "conv2d_51");
  for (let i = 0; i < before.length; i++) if (before[i] === 0) assert.ok(after[i] === 0, `${i}`);
  const head = [await weight(a, "fc_0"), await weight(b, "fc_0")];
  assert.ok(head[0].some((v, i) => v !== head[1][i]), "the head was not refit");
});

test("--reconstruct usage errors", async () => {
  const dir = tempDir();
  const out = join(dir, "o.onnx");
  const q = await cli("quantize", CLS, "-c", "[]", "--reconstruct", "ocr-lines:2", "-o", out);
  assert.equal(q.code, 2);
  assert.match(q.stderr, /--reconstruct goes with prune/);
  const s = await cli(
    "prune",
    CLS,
    "-c",
    LAST_CONVS,
    "-a",
    "SparseGPT",
    "--calibration",
    "ocr-lines:2",
    "--reconstruct",
    "ocr-lines:2",
    "-o",
    out,
  );
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--reconstruct refits masked models; SparseGPT compensates/);
  const bad = await cli("prune", CLS, "-c", LAST_CONVS, "--reconstruct", "ocr-lines", "-o", out);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /ocr-lines needs a count like ocr-lines:8: current value is ocr-lines/);
  const missing = join(dir, "none.safetensors");
  const m = await cli("prune", CLS, "-c", LAST_CONVS, "--reconstruct", missing, "-o", out);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /cannot read calibration file ".*none\.safetensors"/);
  const st = join(dir, "mlp.safetensors");
  writeFileSync(st, mlpSafetensors());
  const t = await cli(
    "prune",
    st,
    "-c",
    '[{"op_types":["Linear"],"sparse_ratio":0.5}]',
    "--reconstruct",
    "ocr-lines:2",
    "-o",
    join(dir, "o.safetensors"),
  );
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--reconstruct runs ONNX models: the model is safetensors/);
});

test("--rank-channels removal-scores prunes other channels than L1, keeping the counts", {
  timeout: 120_000,
}, async () => {
  const dir = tempDir();
  const l1 = join(dir, "l1.onnx");
  const scored = join(dir, "scored.onnx");
  const args = ["-c", LAST_CONVS, "-a", "l1", "--reconstruct", "ocr-lines:4", "--batch-size", "2"];
  const a = await cli("prune", CLS, ...args, "-o", l1);
  assert.equal(a.code, 0, a.stderr);
  const b = await cli("prune", CLS, ...args, "--rank-channels", "removal-scores", "-o", scored);
  assert.equal(b.code, 0, b.stderr);
  const zeroRows = async (file: string, name: string) => {
    const m = onnxModel(decodeOnnx(new Uint8Array(readFileSync(file))));
    const w = m.modules.find((x) => x.name === name)!.params.weight;
    const data = await w.data();
    const per = data.length / w.shape[0];
    return Array.from({ length: w.shape[0] }, (_, r) => r).filter((r) =>
      data.subarray(r * per, (r + 1) * per).every((v) => v === 0)
    );
  };
  for (const name of ["conv2d_49", "conv2d_51"]) {
    const [x, y] = [await zeroRows(l1, name), await zeroRows(scored, name)];
    assert.equal(x.length, y.length, name);
    assert.ok(x.length > 0);
  }
  const differ = [];
  for (const name of ["conv2d_49", "conv2d_51"]) {
    differ.push((await zeroRows(l1, name)).join() !== (await zeroRows(scored, name)).join());
  }
  assert.ok(differ.some((d) => d), "the scores chose the same channels as L1 in both convs");
  const usage = await cli(
    "prune",
    CLS,
    "-c",
    LAST_CONVS,
    "--rank-channels",
    "removal-scores",
    "-o",
    scored,
  );
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--rank-channels goes with --reconstruct/);
  const bad = await cli("prune", CLS, ...args, "--rank-channels", "wanda", "-o", scored);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /--rank-channels must be metric or removal-scores: current value is wanda/,
  );
});

test("--skip-depthwise and --min-rows-per-column go with --reconstruct", async () => {
  const out = join(tempDir(), "o.onnx");
  const a = await cli("prune", CLS, "-c", LAST_CONVS, "--skip-depthwise", "-o", out);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--skip-depthwise goes with --reconstruct/);
  const b = await cli(
    "prune",
    CLS,
    "-c",
    LAST_CONVS,
    "--reconstruct",
    "ocr-lines:2",
    "--min-rows-per-column=many",
    "-o",
    out,
  );
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--min-rows-per-column must be a number >= 0: current value is many/);
});
