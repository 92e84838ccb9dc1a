// Safetensors shrink by default: `--storage auto` (and compressModel's default) writes the
// compressed-tensors format when the scheme fits it, else integer codes with scales and zero
// points (with a warning saying why); every summary reports the bytes written; NNI's default
// input/output targets, which a file without a graph cannot observe, are dropped with one
// warning, so the documented `[{"op_types":["Linear"],"quant_dtype":"int8"}]` works in the CLI,
// the library and the edge handler; input/output targets named in the list are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHandler } from "../../edge/handler.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { ConfigError } from "../../src/config/config_error.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { readQuantizedSafetensors } from "../../src/quantization/quantized_safetensors.ts";
import { dequantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { readCompressedTensors } from "../../src/quantization/compressed_tensors.ts";
import { cli, ROOT, tempDir } from "../cli/_run.ts";

/** The example list of docs/cli.md and docs/edge.md. */
const DOC_INT8 = '[{"op_types":["Linear"],"quant_dtype":"int8"}]';

const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * (1 + (i % 5)));

/** An MLP 48 → 64 → 16 with biases (16,704 bytes of float32 parameters). */
const TENSORS = [
  { name: "fc1.weight", shape: [64, 48], data: values(64 * 48, 1) },
  { name: "fc1.bias", shape: [64], data: values(64, 2) },
  { name: "fc2.weight", shape: [16, 64], data: values(16 * 64, 3) },
  { name: "fc2.bias", shape: [16], data: values(16, 4) },
];
function mlp(): Uint8Array {
  return writeSafetensors(TENSORS.map((t) => ({ ...t, dtype: "F32" as const })));
}

/** The data bytes of a safetensors file (the file less its header). */
function dataBytes(bytes: Uint8Array): number {
  return readSafetensors(bytes).tensors.reduce((n, t) => n + t.data.length, 0);
}

/**
 * Every quantized tensor of the file dequantized, with its largest error against the original,
 * as a multiple of its largest scale (at most 0.5 for round-to-nearest within range).
 */
function fidelity(bytes: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const file = readSafetensors(bytes);
  const quantized = file.metadata["nncompress.format"] === "quantized-v1"
    ? readQuantizedSafetensors(bytes).quantized
    : readCompressedTensors(bytes).quantized;
  for (const q of quantized) {
    const original = TENSORS.find((t) => t.name === q.name)!.data;
    const back = dequantizeTensor(q.codes, q.shape, q.params);
    let err = 0;
    for (let i = 0; i < back.length; i++) err = Math.max(err, Math.abs(back[i] - original[i]));
    out.set(q.name, err / Math.max(...q.params.scale));
  }
  return out;
}

test("quantize on safetensors writes integer codes by default: the file shrinks and the summary says what was written", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlp());
  const out = join(dir, "mlp.int8.safetensors");
  const r = await cli("quantize", input, "-c", DOC_INT8, "-o", out, "--json");
  assert.equal(r.code, 0, r.stderr);
  const { report } = JSON.parse(r.stdout);
  assert.equal(report.storage, "int");
  const written = readFileSync(out);
  // 16,704 bytes of float32 parameters → 4,176 int8 codes + scales + zero points + header
  assert.equal(statSync(input).size, 16_992);
  assert.equal(report.after.fileBytes, written.length);
  assert.equal(report.after.packedBytes, dataBytes(written));
  assert.equal(report.before.packedBytes, 16_704);
  assert.equal(report.after.packedBytes, 4_176 + 4 * 4 + 4 * 1);
  assert.ok(written.length < 0.35 * statSync(input).size, `${written.length} bytes`);
  // weights and biases are quantized (NNI's Linear defaults); inputs and outputs are dropped
  assert.deepEqual(
    report.layers.map((l: { module: string; target: string }) => `${l.module}.${l.target}`),
    ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"],
  );
  const dropped = report.warnings.filter((w: string) => /input\/output target/.test(w));
  assert.equal(dropped.length, 1, report.warnings.join("\n"));
  // biases are not weights: compressed-tensors cannot hold them, and the warning says so
  const layout = report.warnings.filter((w: string) => /not compressed-tensors/.test(w));
  assert.deepEqual(layout, [
    "stored in nncompress's integer layout (quantized-v1), not compressed-tensors: fc1.bias " +
    "(config 0) is not a module's weight: compressed-tensors stores only `<module>.weight` quantized",
  ]);
  assert.match(dropped[0], /4 input\/output targets .* skipped: the safetensors file has no graph/);
  for (const [name, err] of fidelity(written)) assert.ok(err <= 0.5 + 1e-6, `${name}: ${err}`);
  // the text summary: the two warnings, the bytes on disk, no --calibration advice
  const text = await cli("quantize", input, "-c", DOC_INT8, "-o", join(dir, "b.safetensors"));
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout.match(/^warning:/gm)?.length, 2, text.stdout);
  assert.match(
    text.stdout,
    /wrote .*b\.safetensors \(5\.8 kB; parameters packed 16\.7 kB → 4\.2 kB\)/,
  );
  assert.doesNotMatch(text.stdout + text.stderr, /--calibration/);
});

test("--storage float keeps the floats, and the summary says so: packed after equals the bytes written", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlp());
  const out = join(dir, "mlp.fq.safetensors");
  const r = await cli("quantize", input, "-c", DOC_INT8, "--storage", "float", "-o", out, "--json");
  assert.equal(r.code, 0, r.stderr);
  const { report } = JSON.parse(r.stdout);
  assert.equal(report.storage, "float");
  assert.equal(report.after.fileBytes, statSync(out).size);
  assert.equal(report.after.packedBytes, dataBytes(readFileSync(out)));
  assert.equal(report.after.packedBytes, report.before.packedBytes);
});

test("4-bit codes on safetensors by default: compressed-tensors, the summary equals the tensors written", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlp());
  const list = JSON.stringify([{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "uint4",
    quant_scheme: "affine",
    granularity: "out_channel",
  }]);
  // default: compressed-tensors pack-quantized, config.json beside the output
  mkdirSync(join(dir, "ct"));
  const out = join(dir, "ct", "mlp.int4.safetensors");
  const r = await cli("quantize", input, "-c", list, "-o", out, "--json");
  assert.equal(r.code, 0, r.stderr);
  const { report } = JSON.parse(r.stdout);
  const written = readFileSync(out);
  assert.equal(report.storage, "compressed-tensors");
  assert.equal(report.after.fileBytes, written.length);
  assert.equal(report.after.packedBytes, dataBytes(written));
  // codes 64*6 + 16*8 int32 words, 80 scales, 2 shapes (2 x int64 each), zero points packed
  // eight per int32 along the rows (8 + 2 words), the biases as float32
  assert.equal(
    report.after.packedBytes,
    (64 * 6 + 16 * 8) * 4 + 80 * 4 + 2 * 16 + (8 + 2) * 4 + 80 * 4,
  );
  const hf = JSON.parse(readFileSync(join(dir, "ct", "config.json"), "utf8"));
  assert.equal(hf.quantization_config.config_groups.group_0.weights.strategy, "channel");
  assert.equal(hf.quantization_config.config_groups.group_0.weights.symmetric, false);
  for (const [name, err] of fidelity(written)) assert.ok(err <= 0.5 + 1e-6, `${name}: ${err}`);
  // --storage int: nncompress's layout, two codes per byte
  const outInt = join(dir, "mlp.int4.safetensors");
  const i = await cli("quantize", input, "-c", list, "--storage", "int", "-o", outInt, "--json");
  assert.equal(i.code, 0, i.stderr);
  const ri = JSON.parse(i.stdout).report;
  const wi = readFileSync(outInt);
  assert.equal(ri.storage, "int");
  assert.equal(ri.after.packedBytes, dataBytes(wi));
  // codes 64*24 + 16*32 bytes, 80 scales, 80 zero points, the biases as float32
  assert.equal(ri.after.packedBytes, 64 * 24 + 16 * 32 + 80 * 4 + 80 + 80 * 4);
  for (const [name, err] of fidelity(wi)) assert.ok(err <= 0.5 + 1e-6, `${name}: ${err}`);
  assert.ok(!existsSync(join(dir, "mlp.int4.config.json")));
});

test("input/output targets named in the list get a clear error on safetensors, without --calibration advice", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlp());
  const out = join(dir, "x.safetensors");
  const list =
    '[{"op_types":["Linear"],"target_names":["weight","_output_"],"quant_dtype":"int8"}]';
  const r = await cli("quantize", input, "-c", list, "-o", out);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /\[0\]\.target_names: "fc1" target "_output_0": the safetensors file has no graph to run, so its inputs and outputs cannot be observed; configure parameters only/,
  );
  assert.doesNotMatch(r.stderr, /--calibration/);
  assert.equal(existsSync(out), false);
  const json = await cli("quantize", input, "-c", list, "-o", out, "--json");
  assert.equal(json.code, 1);
  const { error } = JSON.parse(json.stdout);
  assert.equal(error.kind, "ConfigError");
  assert.equal(error.category, "usage");
  assert.deepEqual(error.issues.map((i: { code: string }) => i.code), [
    "unsupported_target",
    "unsupported_target",
  ]);
});

test("compressModel's default storage writes integer safetensors; the report's sizes are the bytes written", async () => {
  const model = loadModel(mlp(), "mlp.safetensors");
  const { bytes, report } = await compressModel(model, {
    mode: "quantization",
    configList: JSON.parse(DOC_INT8),
  });
  assert.equal(report.storage, "int");
  assert.equal(report.after.fileBytes, bytes.length);
  assert.equal(report.after.packedBytes, dataBytes(bytes));
  assert.equal(report.warnings.filter((w) => /input\/output target/.test(w)).length, 1);
  assert.deepEqual(readQuantizedSafetensors(bytes).quantized.map((q) => q.name).sort(), [
    "fc1.bias",
    "fc1.weight",
    "fc2.bias",
    "fc2.weight",
  ]);
  await assert.rejects(
    compressModel(model, {
      mode: "quantization",
      configList: [{ op_names: ["fc2"], target_names: ["_input_0"], quant_dtype: "int8" }],
    }),
    (e) => e instanceof ConfigError && e.issues[0].code === "unsupported_target",
  );
});

/** The config lists in the first `sh` block of a docs page (quoted JSON lists). */
function docLists(page: string): string[] {
  const text = readFileSync(join(ROOT, "docs", page), "utf8");
  const block = /```sh\n([\s\S]*?)```/.exec(text)![1];
  return [...block.matchAll(/(\[\{[^'\s]*\}\])'/g)].map((m) => m[1]);
}

test("the curl examples of docs/edge.md work on a safetensors file (pruning and int8)", async () => {
  const lists = docLists("edge.md");
  assert.deepEqual(lists, ['[{"op_types":["Linear"],"sparse_ratio":0.5}]', DOC_INT8]);
  const handler = createHandler({ isolation: "inline" });
  try {
    for (const config of lists) {
      const body = new FormData();
      body.set("model", new Blob([mlp() as Uint8Array<ArrayBuffer>]), "model.safetensors");
      body.set("config", config);
      const res = await handler.fetch(
        new Request("http://edge/?report=json", { method: "POST", body }),
      );
      assert.equal(res.status, 200, await res.clone().text());
      const report = await res.json();
      assert.ok(report.layers.length >= 2, JSON.stringify(report));
      if (report.mode === "quantization") {
        assert.equal(report.storage, "int");
        assert.ok(report.after.fileBytes < 0.35 * report.before.fileBytes);
        assert.equal(report.warnings.filter((w: string) => /input\/output/.test(w)).length, 1);
      }
    }
  } finally {
    handler.close();
  }
});

test("the safetensors examples of docs/cli.md run as written", async () => {
  const text = readFileSync(join(ROOT, "docs", "cli.md"), "utf8");
  const lines = text.split("\n").filter((l) =>
    /^npx deno run -A cli\.ts \w+ mlp\.safetensors/.test(l)
  );
  assert.ok(lines.length >= 2, "docs/cli.md has safetensors examples");
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlp());
  for (const line of lines) {
    // the arguments after `cli.ts`, shell quotes removed; paths inside the temporary folder
    const args = [...line.replace(/^npx deno run -A cli\.ts /, "").matchAll(/'([^']*)'|(\S+)/g)]
      .map((m) => m[1] ?? m[2])
      .map((a) => /\.safetensors$/.test(a) ? join(dir, a) : a);
    const r = await cli(...args);
    assert.equal(r.code, 0, `${line}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, /--calibration/);
  }
});

test("a safetensors file of integer codes is listed as pre-quantized and not quantized again", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlp());
  const int8 = join(dir, "mlp.int8.safetensors");
  assert.equal((await cli("quantize", input, "-c", DOC_INT8, "-o", int8)).code, 0);
  const listing = await cli("inspect", int8);
  assert.equal(listing.code, 0, listing.stderr);
  const rows = listing.stdout.match(
    /^fc\d\s+Linear\s.*nncompress quantized-v1 int8 codes, per-tensor, scale \[\], zero point \[\]$/gm,
  );
  assert.equal(rows?.length, 2, listing.stdout);
  const again = await cli("quantize", int8, "-c", DOC_INT8, "-o", join(dir, "again.safetensors"));
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /selects only 2 pre-quantized modules \(nncompress quantized-v1\): "fc1", "fc2"; nothing is left to compress/,
  );
});
