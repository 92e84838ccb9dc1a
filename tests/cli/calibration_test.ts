import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { loadOcrData } from "../../src/compress/ocr_data.ts";
import { cli, CLS, tempDir } from "./_run.ts";

/** Int8 weights, Conv inputs per channel, Linear inputs, and every bias (opset 9 needs them). */
async function fullInt8(dir: string): Promise<string> {
  const r = await cli("inspect", CLS, "--json");
  assert.equal(r.code, 0, r.stderr);
  const modules = JSON.parse(r.stdout).modules as {
    name: string;
    type: string;
    params: { name: string }[];
  }[];
  const withBias = modules
    .filter((m) => ["Conv2d", "Linear"].includes(m.type) && m.params.some((p) => p.name === "bias"))
    .map((m) => m.name);
  const path = join(dir, "full_int8.json");
  writeFileSync(
    path,
    JSON.stringify([
      {
        op_types: ["Conv2d", "Linear"],
        target_names: ["weight"],
        quant_dtype: "int8",
        granularity: "out_channel",
      },
      {
        op_types: ["Conv2d"],
        target_names: ["_input_0"],
        quant_dtype: "int8",
        granularity: "per_channel",
      },
      { op_types: ["Linear"], target_names: ["_input_0"], quant_dtype: "int8" },
      { op_names: withBias, target_names: ["bias"], quant_dtype: "int8" },
    ]),
  );
  return path;
}

test("quantize --calibration ocr-lines:8 writes a full int8 QDQ classifier that keeps 40/40", async () => {
  const dir = tempDir();
  const config = await fullInt8(dir);
  const out = join(dir, "cls.qdq.onnx");
  const r = await cli(
    "quantize",
    CLS,
    "-c",
    config,
    "--calibration",
    "ocr-lines:8",
    "--batch-size",
    "4",
    "-o",
    out,
    "--eval",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const { report } = JSON.parse(r.stdout);
  assert.equal(report.storage, "qdq");
  const inputs = report.layers.filter((l: { target: string }) => l.target === "_input_0");
  assert.equal(inputs.length, 54);
  assert.ok(inputs.every((l: { bits: number }) => l.bits === 8));
  const ops = decodeOnnx(readFileSync(out)).graph.nodes.map((n) => n.opType);
  assert.ok(ops.filter((o) => o === "QuantizeLinear").length >= 54);
  assert.equal(report.evaluation[0].correct, 40);
  assert.equal(report.evaluation[0].baseline, 40);
});

test("a safetensors file of the same 8 lines calibrates to the same bytes as ocr-lines:8", async () => {
  const dir = tempDir();
  const config = await fullInt8(dir);
  const { cls } = await loadOcrData();
  const row = cls.input.length / cls.dims[0];
  writeFileSync(
    join(dir, "lines.safetensors"),
    writeSafetensors([{
      name: "images",
      dtype: "F32",
      shape: [8, ...cls.dims.slice(1)],
      data: cls.input.slice(0, 8 * row),
    }]),
  );
  const run = (calibration: string, out: string) =>
    cli("quantize", CLS, "-c", config, "--calibration", calibration, "-o", join(dir, out));
  const a = await run("ocr-lines:8", "a.onnx");
  const b = await run(join(dir, "lines.safetensors"), "b.onnx");
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(readFileSync(join(dir, "b.onnx")), readFileSync(join(dir, "a.onnx")));
});

test("input targets without --calibration fail with a hint; a bad --calibration is a usage error", async () => {
  const dir = tempDir();
  const config = await fullInt8(dir);
  const missing = await cli("quantize", CLS, "-c", config, "-o", join(dir, "x.onnx"));
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /error: conv2d_0\._input_0 \(config \[1\], "target_names"\): the input target was never observed/,
  );
  assert.match(
    missing.stderr,
    /hint: input and output targets need calibration data: --calibration/,
  );
  const count = await cli(
    "quantize",
    CLS,
    "-c",
    config,
    "--calibration",
    "ocr-lines:0",
    "-o",
    join(dir, "y.onnx"),
  );
  assert.equal(count.code, 2);
  assert.match(count.stderr, /needs 1 <= n <= 40: current value is 0/);
  const prune = await cli(
    "prune",
    CLS,
    "-c",
    config,
    "--calibration",
    "ocr-lines:8",
    "-o",
    join(dir, "z.onnx"),
  );
  assert.equal(prune.code, 2);
});
