// Runs that change nothing say so (exit 3, no output); reports are written before the model; bad
// files get messages that name them and never echo their bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, CLS, mlpSafetensors, tempDir } from "./_run.ts";

const PRUNE = JSON.stringify([{ op_types: ["Conv2d"], sparse_ratio: 0.5 }]);

test("an empty config list exits 3 with a warning and writes nothing", async () => {
  const out = join(tempDir(), "x.onnx");
  const r = await cli("prune", CLS, "-c", "[]", "-o", out);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /^warning: the config list is empty: nothing to prune, so ".*x\.onnx" was not written$/m,
  );
  assert.equal(existsSync(out), false);
});

test("a list that selects no target exits 3 and names why; --allow-unchanged writes the copy", async () => {
  const dir = tempDir();
  const out = join(dir, "x.onnx");
  const c = JSON.stringify([{ op_names: ["nope"], sparse_ratio: 0.5 }]);
  const r = await cli("prune", CLS, "-c", c, "-o", out);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /"nope" is not a module of the model/);
  assert.match(r.stderr, /selects no target of the model/);
  assert.equal(existsSync(out), false);
  const q = await cli(
    "quantize",
    CLS,
    "-c",
    JSON.stringify([{ op_types: ["LSTM"], quant_dtype: "int8" }]),
    "-o",
    out,
  );
  assert.equal(q.code, 3, q.stderr);
  const allowed = await cli("prune", CLS, "-c", c, "-o", out, "--allow-unchanged");
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(existsSync(out), true);
});

test("the streaming safetensors prune also exits 3 without writing when nothing is selected", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  const out = join(dir, "out.safetensors");
  const r = await cli("prune", join(dir, "mlp.safetensors"), "-c", "[]", "-o", out);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(existsSync(out), false);
});

test("a report that cannot be written fails before the model is written, and says so", async () => {
  const dir = tempDir();
  const out = join(dir, "x.onnx");
  const r = await cli("prune", CLS, "-c", PRUNE, "-o", out, "-r", join(dir, "missing", "r.json"));
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: cannot write report file ".*r\.json": its folder does not exist; the model was not written$/m,
  );
  assert.equal(existsSync(out), false);
});

test("an output in a missing folder fails before the work, for every kind of model", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  const runs = [
    ["prune", CLS, "-c", PRUNE, "-o", join(dir, "missing", "x.onnx")],
    [
      "prune",
      join(dir, "mlp.safetensors"),
      "-c",
      PRUNE,
      "-o",
      join(dir, "missing", "x.safetensors"),
    ],
    [
      "quantize",
      CLS,
      "-c",
      JSON.stringify([{ op_types: ["Conv2d"], quant_dtype: "int8" }]),
      "-o",
      join(dir, "no", "q.onnx"),
    ],
  ];
  for (const args of runs) {
    const r = await cli(...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: cannot write output ".*\.(onnx|safetensors)": its folder does not exist$/m,
    );
    assert.doesNotMatch(r.stderr, /wrote|pruned|quantized/);
  }
});

test("report on a binary file names the file and the byte, never prints the bytes", async () => {
  const dir = tempDir();
  const bin = join(dir, "r.json");
  writeFileSync(bin, new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 255, 254]));
  const r = await cli("report", bin);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: cannot read report file ".*r\.json": it holds binary data at byte 0, not JSON text$/m,
  );
  assert.ok(!r.stderr.includes("\u0000") && !r.stderr.includes("asm"), r.stderr);
  writeFileSync(bin, '{"runs": [');
  const cut = await cli("report", bin);
  assert.match(cut.stderr, /it is not JSON \(it ends too early\)/);
});

test("eval on an empty or garbage ONNX file gives the parse error, not a model-type guess", async () => {
  const dir = tempDir();
  for (
    const [name, bytes] of [["empty.onnx", new Uint8Array(0)], [
      "garbage.onnx",
      new Uint8Array(64).fill(0xff),
    ]] as const
  ) {
    writeFileSync(join(dir, name), bytes);
    const r = await cli("eval", join(dir, name));
    assert.equal(r.code, 1, name);
    assert.match(r.stderr, new RegExp(`^error: invalid model file ".*${name}"`, "m"), name);
    assert.doesNotMatch(r.stderr, /PP-OCR/);
  }
});

test("--config /dev/zero and a folder are refused at once with the path", async () => {
  const r = await cli("prune", CLS, "-c", "/dev/zero", "-o", join(tempDir(), "x.onnx"));
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: cannot read config file "\/dev\/zero": it is not a regular file/m,
  );
  const d = await cli("prune", CLS, "-c", tempDir(), "-o", join(tempDir(), "x.onnx"));
  assert.match(d.stderr, /it is a folder/);
});

test("a FIFO or a folder as the model is refused before it is opened, with the path", async () => {
  const dir = tempDir();
  const fifo = join(dir, "m.onnx");
  const { spawnSync } = await import("node:child_process");
  spawnSync("mkfifo", [fifo]);
  if (existsSync(fifo)) {
    const r = await cli("inspect", fifo);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot read model file ".*m\.onnx": it is not a regular file/m);
  }
  const folder = join(dir, "w.safetensors");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(folder);
  const p = await cli("prune", folder, "-c", PRUNE, "-o", join(dir, "o.safetensors"));
  assert.equal(p.code, 1);
  assert.match(p.stderr, /^error: cannot read model file ".*w\.safetensors": it is a folder$/m);
});
