import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { cli, CLS, mlpSafetensors, tempDir } from "./_run.ts";

const INT8 = JSON.stringify([{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "per_channel",
}]);

function floats(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}

test("nncompress --help prints the commands and exits 0; no arguments exit 2", async () => {
  const help = await cli("--help");
  assert.equal(help.code, 0);
  for (const c of ["inspect", "explain", "prune", "quantize", "eval", "report"]) {
    assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
  }
  const none = await cli();
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: nncompress <command>/);
});

test("an unknown command or option exits 2 and points to the help", async () => {
  const unknown = await cli("frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error: unknown command "frobnicate"/);
  const option = await cli("prune", "m.onnx", "--bogus");
  assert.equal(option.code, 2);
  assert.match(option.stderr, /--bogus/);
  assert.match(option.stderr, /nncompress prune --help/);
});

test("prune without --config or --output is a usage error (exit 2)", async () => {
  const r = await cli("prune", CLS, "-o", "x.onnx");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /prune needs --config/);
});

test("inspect --json lists the classifier's 53 Conv2d and 35 BatchNorm2d modules", async () => {
  const r = await cli("inspect", CLS, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.format, "onnx");
  const types = out.modules.map((m: { type: string }) => m.type);
  assert.equal(types.filter((t: string) => t === "Conv2d").length, 53);
  assert.equal(types.filter((t: string) => t === "BatchNorm2d").length, 35);
  assert.equal(r.stderr, "", "no progress output when stderr is not a terminal");
});

test("--progress lines logs each stage with its counts where stderr is not a terminal; bad values are usage errors", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  const config = '[{"op_types":["Linear"],"sparse_ratio":0.5}]';
  const prune = (mode: string) =>
    cli(
      "prune",
      join(dir, "mlp.safetensors"),
      "-c",
      config,
      "-o",
      join(dir, "o.safetensors"),
      "--progress",
      mode,
    );
  const lines = await prune("lines");
  assert.equal(lines.code, 0, lines.stderr);
  assert.match(lines.stderr, /^prune .*mlp\.safetensors: masks 0\/1, \d+\.\d s$/m);
  assert.match(lines.stderr, /: write 1\/1, \d+\.\d s$/m);
  assert.equal((await prune("none")).stderr, "");
  const bad = await prune("dots");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--progress must be auto, bar, lines or none: current value is dots/);
});

test("inspect prints a table of a safetensors file with a total line", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  const r = await cli("inspect", join(dir, "mlp.safetensors"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fc1\s+Linear\s+weight\s+F32\s+\[8, 6\]\s+48\s+192/);
  assert.match(r.stdout, /total\s+92\s+368/);
});

test("explain with an out-of-range ratio exits 1 and names the config path", async () => {
  const r = await cli("explain", CLS, "--config", '[{"op_types":["Conv2d"],"sparse_ratio":1.5}]');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /\[0\]\.sparse_ratio: "sparse_ratio" must be within \[0, 1\]/);
});

test("explain --json shows which sub-config configures each target", async () => {
  const cfg =
    '[{"op_names":["fc_0"],"sparse_ratio":0.25},{"op_types":["Linear"],"sparse_ratio":0.75}]';
  const r = await cli("explain", CLS, "-c", cfg, "--json");
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, true);
  const fc = out.targets.find((t: { module: string; target: string }) =>
    t.module === "fc_0" && t.target === "weight"
  );
  assert.equal(fc.setting.sparse_ratio, 0.25);
  assert.ok(out.warnings.some((w: { code: string }) => w.code === "duplicate_target"));
});

test("prune writes a safetensors file with exactly half of each weight zeroed", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  const output = join(dir, "mlp.pruned.safetensors");
  writeFileSync(input, mlpSafetensors());
  const cfg = '[{"op_types":["Linear"],"target_names":["weight"],"sparse_ratio":0.5}]';
  const r = await cli("prune", input, "-c", cfg, "-o", output, "--json");
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout).report;
  assert.deepEqual(report.layers.map((l: { sparsity: number }) => l.sparsity), [0.5, 0.5]);
  const file = readSafetensors(new Uint8Array(readFileSync(output)));
  const w1 = floats(file.tensors.find((t) => t.name === "fc1.weight")!.data);
  assert.equal(w1.filter((v) => v === 0).length, 24);
  const bias = floats(file.tensors.find((t) => t.name === "fc1.bias")!.data);
  const original = floats(
    readSafetensors(mlpSafetensors()).tensors.find((t) => t.name === "fc1.bias")!.data,
  );
  assert.deepEqual(bias, original, "biases are not configured, so unchanged");
});

test("a bad config file exits 1 with the file and the issue path, and writes no output", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlpSafetensors());
  writeFileSync(
    join(dir, "bad.json"),
    '[{"op_types":["Linear"],"sparse_ratio":0.5,"sparse_ration":1}]',
  );
  const r = await cli(
    "prune",
    input,
    "-c",
    join(dir, "bad.json"),
    "-o",
    join(dir, "out.safetensors"),
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\[0\]\.sparse_ration: unknown key "sparse_ration"/);
  assert.match(r.stderr, /bad\.json/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace without --debug");
  assert.deepEqual(readdirSync(dir).sort(), ["bad.json", "mlp.safetensors"]);
});

test("--json reports a config error as data with every issue", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "mlp.safetensors"), mlpSafetensors());
  const cfg = '[{"op_types":["Linear"],"sparse_ratio":2},{"op_names":7}]';
  const r = await cli(
    "prune",
    join(dir, "mlp.safetensors"),
    "-c",
    cfg,
    "-o",
    join(dir, "o.safetensors"),
    "--json",
  );
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.error.kind, "ConfigError");
  const paths = out.error.issues.map((i: { path: string }) => i.path);
  assert.ok(paths.includes("[0].sparse_ratio"), JSON.stringify(paths));
  assert.ok(paths.includes("[1].op_names"), JSON.stringify(paths));
});

test("a config file that is not JSON exits 1 with the line and column", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "cfg.json"), '[\n  {"sparse_ratio": 0.5,}\n]');
  const r = await cli("explain", CLS, "-c", join(dir, "cfg.json"));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cfg\.json" is not valid JSON/);
});

test("a truncated model file exits 1 with the file name and byte offset", async () => {
  const dir = tempDir();
  const bytes = mlpSafetensors();
  writeFileSync(join(dir, "cut.safetensors"), bytes.subarray(0, bytes.length - 10));
  const r = await cli("inspect", join(dir, "cut.safetensors"));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cut\.safetensors/);
  assert.match(r.stderr, /at byte \d+/);
  const debug = await cli("inspect", join(dir, "cut.safetensors"), "--debug");
  assert.match(debug.stderr, /ModelFormatError/);
});

test("an output of the other format is a usage error", async () => {
  const r = await cli("quantize", CLS, "-c", INT8, "-o", join(tempDir(), "out.safetensors"));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--output must be a onnx file/);
});

test("quantize int8 keeps the classifier's 40/40 and writes an HTML and a JSON report", async () => {
  const dir = tempDir();
  const out = join(dir, "cls.int8.onnx");
  const r = await cli(
    "quantize",
    CLS,
    "-c",
    INT8,
    "-o",
    out,
    "--eval",
    "-r",
    join(dir, "r.html"),
    "-r",
    join(dir, "r.json"),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /classifier accuracy: 40\/40 \(original 40\/40\)/);
  assert.match(r.stdout, /total \(54 tensors\)/);
  const html = readFileSync(join(dir, "r.html"), "utf8");
  assert.match(html, /<svg/);
  const json = JSON.parse(readFileSync(join(dir, "r.json"), "utf8"));
  assert.equal(json.runs[0].layers.length, 54);
  assert.ok(json.runs[0].layers.every((l: { bits: number }) => l.bits === 8));
  const ev = await cli("eval", out, "--reference", CLS, "--json");
  assert.equal(ev.code, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  assert.deepEqual([e.task, e.correct, e.agreement], ["classifier", 40, 40]);
});

test("report turns a saved JSON report into a table and an HTML page", async () => {
  const dir = tempDir();
  const input = join(dir, "mlp.safetensors");
  writeFileSync(input, mlpSafetensors());
  const cfg =
    '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int4","granularity":"out_channel"}]';
  const q = await cli(
    "quantize",
    input,
    "-c",
    cfg,
    "-o",
    join(dir, "q.safetensors"),
    "-r",
    join(dir, "q.json"),
  );
  assert.equal(q.code, 0, q.stderr);
  const r = await cli("report", join(dir, "q.json"), "-o", join(dir, "q.html"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /PtqQuantizer\s+2\s+[\d.]+%\s+4/);
  assert.ok(existsSync(join(dir, "q.html")));
  const bad = await cli("report", join(dir, "q.safetensors"));
  assert.equal(bad.code, 1);
});

test("eval --task compare measures a pruned classifier against the original", async () => {
  const dir = tempDir();
  const out = join(dir, "cls.pruned.onnx");
  const cfg = '[{"op_types":["Conv2d"],"target_names":["weight"],"sparse_ratio":0.1}]';
  const p = await cli("prune", CLS, "-c", cfg, "-o", out);
  assert.equal(p.code, 0, p.stderr);
  const r = await cli(
    "eval",
    out,
    "--task",
    "compare",
    "--reference",
    CLS,
    "--shape",
    "4,3,48,192",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const { outputs } = JSON.parse(r.stdout);
  assert.equal(outputs.length, 1);
  assert.deepEqual(outputs[0].dims, [4, 2]);
  assert.ok(outputs[0].maxAbsDiff > 0, "10% of each conv pruned changes the outputs");
  assert.equal(outputs[0].argmax.total, 4);
  const same = await cli(
    "eval",
    CLS,
    "--task",
    "compare",
    "--reference",
    CLS,
    "--shape",
    "2,3,48,192",
    "--json",
  );
  assert.equal(JSON.parse(same.stdout).outputs[0].maxAbsDiff, 0);
  const usage = await cli("eval", out, "--task", "compare");
  assert.equal(usage.code, 2);
});

test("eval notes an output of one value per input row, whose cosine says little", async () => {
  const { buildOnnx } = await import("../../src/io/onnx/build_onnx.ts");
  // x [2, 8] -> flag [2, 1] (one value per row) and scores [2, 4].
  const model = (shift: number) =>
    buildOnnx({
      opsets: [{ domain: "", version: 13 }],
      nodes: [
        { name: "f", opType: "MatMul", inputs: ["x", "wf"], outputs: ["flag"] },
        { name: "s", opType: "MatMul", inputs: ["x", "ws"], outputs: ["scores"] },
      ],
      initializers: [
        {
          name: "wf",
          dataType: 1,
          dims: [8, 1],
          raw: new Uint8Array(
            Float32Array.from({ length: 8 }, (_, i) => Math.cos(i) + shift).buffer,
          ),
        },
        {
          name: "ws",
          dataType: 1,
          dims: [8, 4],
          raw: new Uint8Array(
            Float32Array.from({ length: 32 }, (_, i) => Math.sin(i) + shift).buffer,
          ),
        },
      ],
      inputs: [{ name: "x", type: { elemType: 1, dims: [2, 8] } }],
      outputs: [
        { name: "flag", type: { elemType: 1, dims: [2, 1] } },
        { name: "scores", type: { elemType: 1, dims: [2, 4] } },
      ],
    });
  const dir = tempDir();
  writeFileSync(join(dir, "a.onnx"), model(0));
  writeFileSync(join(dir, "b.onnx"), model(0.01));
  const r = await cli("eval", join(dir, "b.onnx"), "--reference", join(dir, "a.onnx"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /\nflag \[2, 1\] holds one value per input row: a cosine over so few values says little .* judge it by the max \|diff\|\.\n/,
  );
  assert.doesNotMatch(r.stdout, /scores \[2, 4\] hold/);
});
