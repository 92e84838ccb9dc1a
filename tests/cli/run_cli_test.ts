import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { runCli } from "../../src/cli/main.ts";
import type { CliIO } from "../../src/cli/cli_io.ts";
import { mlpSafetensors } from "./_run.ts";
import { tempDir } from "../_temp_dir.ts";

function fakeIO(tty: boolean): CliIO & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    stderrIsTTY: tty,
    parseArgs: parseArgs as CliIO["parseArgs"],
  };
  return io;
}

function mlpFile(): string {
  const dir = tempDir("nncompress-run-");
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  return join(dir, "mlp.safetensors");
}

test("runCli draws a progress bar on stderr only when it is a terminal", async () => {
  const path = mlpFile();
  const cfg = '[{"op_types":["Linear"],"target_names":["weight"],"sparse_ratio":0.25}]';
  const tty = fakeIO(true);
  assert.equal(await runCli(["prune", path, "-c", cfg, "-o", `${path}.out.safetensors`], tty), 0);
  assert.match(tty.err, /prune .*mlp\.safetensors write \[#+\] (\d+)\/\1/);
  assert.ok(tty.err.endsWith("\r\x1b[2K"), "the bar is cleared at the end");
  const pipe = fakeIO(false);
  assert.equal(await runCli(["prune", path, "-c", cfg, "-o", `${path}.out.safetensors`], pipe), 0);
  assert.equal(pipe.err, "");
  const json = fakeIO(true);
  await runCli(["prune", path, "-c", cfg, "-o", `${path}.out.safetensors`, "--json"], json);
  assert.equal(json.err, "", "--json keeps stderr quiet");
});

test("runCli prints the version, the help of each command and usage errors with exit 2", async () => {
  const io = fakeIO(false);
  assert.equal(await runCli(["--version"], io), 0);
  assert.equal(io.out, "nncompress 0.1.0\n");
  for (const c of ["inspect", "explain", "prune", "quantize", "eval", "report", "variants"]) {
    const h = fakeIO(false);
    assert.equal(await runCli([c, "--help"], h), 0);
    assert.match(h.out, new RegExp(`^Usage: nncompress ${c}`));
  }
  const bad = fakeIO(false);
  assert.equal(
    await runCli(["quantize", "m.onnx", "-c", "[]", "-o", "x.onnx", "--storage", "zip"], bad),
    2,
  );
  assert.match(
    bad.err,
    /--storage must be auto, float, int, nbits, float16, dynamic, bnb4 or compressed-tensors: current value is zip/,
  );
});

test("runCli --json prints a usage error as data too", async () => {
  const io = fakeIO(false);
  assert.equal(await runCli(["inspect", "--json"], io), 2);
  assert.deepEqual(JSON.parse(io.out), {
    ok: false,
    error: { kind: "UsageError", category: "usage", message: "inspect needs a model file" },
  });
});

test("quantize --storage int writes a safetensors file of integer codes", async () => {
  const path = mlpFile();
  const io = fakeIO(false);
  const cfg =
    '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int8","granularity":"out_channel"}]';
  const out = `${path}.int8.safetensors`;
  assert.equal(
    await runCli(["quantize", path, "-c", cfg, "-o", out, "--storage", "int", "--json"], io),
    0,
  );
  assert.equal(JSON.parse(io.out).report.storage, "int");
  const file = readSafetensors(new Uint8Array(readFileSync(out)));
  const dtypes = Object.fromEntries(file.tensors.map((t) => [t.name, t.dtype]));
  assert.equal(dtypes["fc1.weight"], "I8");
  assert.equal(dtypes["fc1.weight_scale"], "F32");
  assert.equal(dtypes["fc1.bias"], "F32");
});

test("prune streams a safetensors file and gives the in-memory pipeline's tensors", async () => {
  const path = mlpFile();
  const config = [{
    op_types: ["Linear"],
    target_names: ["weight"],
    sparse_ratio: 0.4,
    global_group_id: "all",
  }];
  const io = fakeIO(false);
  const out = `${path}.pruned.safetensors`;
  const args = [
    "prune",
    path,
    "-c",
    JSON.stringify(config),
    "-a",
    "L1NormPruner",
    "-o",
    out,
    "--json",
  ];
  assert.equal(await runCli(args, io), 0, io.err);
  const streamed = JSON.parse(io.out).report;
  const memory = await compressModel(loadModel(mlpSafetensors(), "mlp.safetensors"), {
    mode: "pruning",
    algorithm: "L1NormPruner",
    configList: config,
  });
  assert.deepEqual(streamed.layers, memory.report.layers);
  const a = readSafetensors(new Uint8Array(readFileSync(out)));
  const b = readSafetensors(memory.bytes);
  for (const t of b.tensors) {
    assert.deepEqual(a.tensors.find((x) => x.name === t.name)!.data, t.data, t.name);
  }
});
