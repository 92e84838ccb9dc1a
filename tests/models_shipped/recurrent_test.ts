// LSTM and GRU layers as the ONNX operators store them (W, R, B in ONNX gate order): their
// parameters are configured by naming them in target_names, or by registering the class
// (--registry, options.registry, like NNI's ModuleSetting.register). Results run in onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tempDir } from "../cli/_run.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxValues } from "../../src/io/onnx/read_onnx_values.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { createHandler } from "../../edge/handler.ts";
import { recurrent } from "./_models.ts";
import { difference, runModel } from "./_ort.ts";
import { loadOrt, type Ort } from "../io/_ocr.ts";

const SLOW = { timeout: 180_000 };
const DIMS = [6, 2, 12];
const RECURRENT = ["weight_ih", "weight_hh", "bias"];

function withModels(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  writeFileSync(join(dir, "lstm.onnx"), recurrent("LSTM"));
  writeFileSync(join(dir, "gru.onnx"), recurrent("GRU"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

async function zeros(path: string, name: string): Promise<number> {
  const onnx = decodeOnnx(new Uint8Array(readFileSync(path)));
  const values = await readOnnxValues(onnx, onnx.tensors.find((t) => t.name === name)!);
  return values.filter((v) => v === 0).length / values.length;
}

for (const op of ["LSTM", "GRU"] as const) {
  test(
    `CLI: an ${op}'s weights and bias quantized to int8 by target_names run in onnxruntime`,
    SLOW,
    () =>
      withModels(async (dir) => {
        const path = join(dir, `${op.toLowerCase()}.onnx`);
        const out = join(dir, "q.onnx");
        const config = [{ op_types: [op], target_names: RECURRENT, quant_dtype: "int8" }];
        const run = await cli("quantize", path, "-c", JSON.stringify(config), "-o", out, "--json");
        assert.equal(run.code, 0, run.stderr);
        const report = JSON.parse(run.stdout).report;
        assert.equal(report.storage, "qdq");
        assert.deepEqual(
          report.layers.map((l: { module: string; target: string }) => `${l.module}.${l.target}`),
          RECURRENT.map((t) => `rnn.${t}`),
        );
        assert.equal(report.after.fileBytes, statSync(out).size);
        // Integer codes: the recurrent parameters take a quarter of their float32 bytes.
        assert.ok(
          report.after.fileBytes < 0.45 * report.before.fileBytes,
          `${report.after.fileBytes}`,
        );
        const a = await runModel(path, "x", DIMS);
        const b = await runModel(out, "x", DIMS);
        const d = difference(a.y, b.y);
        assert.ok(d.relative < 0.03 && d.max > 0, `relative error ${d.relative}`);
      }),
  );

  test(
    `CLI: an ${op}'s weights pruned to 50% by target_names keep the bias and run`,
    SLOW,
    () =>
      withModels(async (dir) => {
        const path = join(dir, `${op.toLowerCase()}.onnx`);
        const out = join(dir, "p.onnx");
        const config = [{
          op_types: [op],
          target_names: ["weight_ih", "weight_hh"],
          sparse_ratio: 0.5,
        }];
        const run = await cli("prune", path, "-c", JSON.stringify(config), "-o", out);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(await zeros(out, "W"), 0.5);
        assert.equal(await zeros(out, "R"), 0.5);
        assert.equal(await zeros(out, "B"), 0);
        const b = await runModel(out, "x", DIMS);
        assert.equal(b.y.length, 6 * 2 * 5);
        assert.ok(b.y.every(Number.isFinite));
      }),
  );
}

test(
  "CLI: op_types LSTM without target_names is skipped with the way to configure it",
  SLOW,
  () =>
    withModels(async (dir) => {
      const path = join(dir, "lstm.onnx");
      const skipped = await cli(
        "quantize",
        path,
        "-c",
        '[{"op_types":["LSTM"],"quant_dtype":"int8"}]',
        "-o",
        join(dir, "o.onnx"),
      );
      assert.equal(skipped.code, 3);
      assert.match(
        skipped.stderr,
        /"rnn" \(LSTM\) has no default quantization targets and was skipped; to configure it, name its parameters in "target_names" \(weight_ih, weight_hh, bias\), or give its class default targets with options\.registry\.quantization\["LSTM"\] \(CLI: --registry\)/,
      );
      const named = await cli(
        "quantize",
        path,
        "-c",
        '[{"op_names":["rnn"],"quant_dtype":"int8"}]',
        "-o",
        join(dir, "o.onnx"),
      );
      assert.equal(named.code, 1);
      assert.match(
        named.stderr,
        /\[0\]\.op_names\[0\]: "rnn" \(LSTM\) has no default quantization targets: name its parameters/,
      );
      const absent = await cli(
        "quantize",
        path,
        "-c",
        '[{"op_names":["rnn"],"target_names":["weight"],"quant_dtype":"int8"}]',
        "-o",
        join(dir, "o.onnx"),
      );
      assert.equal(absent.code, 1);
    }),
);

test(
  "CLI: --registry registers the LSTM class like NNI's register; explain shows it",
  SLOW,
  () =>
    withModels(async (dir) => {
      const path = join(dir, "lstm.onnx");
      const setting = {
        quant_dtype: null,
        quant_scheme: null,
        granularity: "default",
        apply_method: "clamp_round",
      };
      const registry = join(dir, "registry.json");
      writeFileSync(
        registry,
        JSON.stringify({ quantization: { LSTM: { weight_ih: setting, weight_hh: setting } } }),
      );
      const config = '[{"op_names":["rnn"],"quant_dtype":"int8"}]';
      const explain = await cli("explain", path, "-c", config, "--registry", registry);
      assert.equal(explain.code, 0, explain.stderr);
      assert.match(explain.stdout, /rnn\s+LSTM\s+weight_ih\s+\[0\]\s+quant_dtype=int8/);
      const viaRegistry = await cli(
        "quantize",
        path,
        "-c",
        config,
        "--registry",
        registry,
        "-o",
        join(dir, "r.onnx"),
      );
      assert.equal(viaRegistry.code, 0, viaRegistry.stderr);
      const named = JSON.stringify([{
        op_names: ["rnn"],
        target_names: ["weight_ih", "weight_hh"],
        quant_dtype: "int8",
      }]);
      const viaNames = await cli("quantize", path, "-c", named, "-o", join(dir, "n.onnx"));
      assert.equal(viaNames.code, 0, viaNames.stderr);
      assert.deepEqual(readFileSync(join(dir, "r.onnx")), readFileSync(join(dir, "n.onnx")));
      // The short form {Class: {target: setting}} takes the command's mode.
      const short = await cli(
        "quantize",
        path,
        "-c",
        config,
        "--registry",
        JSON.stringify({ LSTM: { weight_ih: setting } }),
        "-o",
        join(dir, "s.onnx"),
      );
      assert.equal(short.code, 0, short.stderr);
      const bad = await cli(
        "quantize",
        path,
        "-c",
        config,
        "--registry",
        "[1]",
        "-o",
        join(dir, "b.onnx"),
      );
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--registry must be a JSON object/);
      const invalid = await cli(
        "quantize",
        path,
        "-c",
        config,
        "--registry",
        '{"LSTM":{"weight_ih":{"quant_dtyp":"int8"}}}',
        "-o",
        join(dir, "b.onnx"),
      );
      assert.equal(invalid.code, 1);
      assert.match(
        invalid.stderr,
        /registry\.quantization\.LSTM\.weight_ih\.quant_dtyp: unknown quantization setting key "quant_dtyp"[^]*hint: paths under registry\.<mode>\.<class> point into --registry/,
      );
    }),
);

test(
  "compressModel() takes a registry; a GRU quantized through it matches target_names",
  SLOW,
  async () => {
    const model = loadModel(recurrent("GRU"), "gru.onnx");
    const setting = {
      quant_dtype: null,
      quant_scheme: null,
      granularity: "default" as const,
      apply_method: "clamp_round" as const,
    };
    const viaRegistry = await compressModel(model, {
      mode: "quantization",
      configList: [{ op_types: ["GRU"], quant_dtype: "int8", granularity: "per_channel" }],
      registry: { quantization: { GRU: { weight_ih: setting, weight_hh: setting } } },
    });
    const viaNames = await compressModel(model, {
      mode: "quantization",
      configList: [{
        op_types: ["GRU"],
        target_names: ["weight_ih", "weight_hh"],
        quant_dtype: "int8",
        granularity: "per_channel",
      }],
    });
    assert.deepEqual(viaRegistry.bytes, viaNames.bytes);
    const a = await runModel(recurrent("GRU"), "x", DIMS);
    const b = await runModel(viaRegistry.bytes, "x", DIMS);
    assert.ok(difference(a.y, b.y).relative < 0.03);
  },
);

test("edge handler: the registry field registers the LSTM class", SLOW, async () => {
  const handler = createHandler({ isolation: "inline" });
  try {
    const post = async (registry?: string) => {
      const form = new FormData();
      form.set("model", new Blob([recurrent("LSTM") as Uint8Array<ArrayBuffer>]), "lstm.onnx");
      form.set("config", '[{"op_names":["rnn"],"quant_dtype":"int8"}]');
      if (registry !== undefined) form.set("registry", registry);
      return await handler.fetch(new Request("http://edge/", { method: "POST", body: form }));
    };
    const unregistered = await post();
    assert.equal(unregistered.status, 422);
    assert.match(
      (await unregistered.json()).error.message,
      /name its parameters in "target_names"/,
    );
    const res = await post(JSON.stringify({ LSTM: { weight_ih: {}, weight_hh: {} } }));
    assert.equal(res.status, 200, await res.clone().text());
    const bytes = new Uint8Array(await res.arrayBuffer());
    const a = await runModel(recurrent("LSTM"), "x", DIMS);
    const b = await runModel(bytes, "x", DIMS);
    const d = difference(a.y, b.y);
    assert.ok(d.relative < 0.03 && d.max > 0, `relative error ${d.relative}`);
    assert.ok(bytes.length < recurrent("LSTM").length * 0.7, `${bytes.length}`);
    assert.equal((await post("{")).status, 400);
  } finally {
    handler.close();
  }
});

const VAD = "node_modules/@ricky0123/vad-web/dist/silero_vad_legacy.onnx";

test(
  "CLI: the 8 LSTMs of Silero VAD (legacy, inside If branches) quantized to int8 by target_names keep its speech probabilities",
  SLOW,
  () =>
    withModels(async (dir) => {
      const out = join(dir, "vad.int8.onnx");
      const config = [{
        op_types: ["LSTM"],
        target_names: ["weight_ih", "weight_hh"],
        quant_dtype: "int8",
      }];
      const run = await cli("quantize", VAD, "-c", JSON.stringify(config), "-o", out, "--json");
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout).report;
      assert.equal(report.layers.length, 16);
      // The weights inside the If branches get integer codes and DequantizeLinear in place.
      assert.equal(report.storage, "qdq");
      const ort = await loadOrt();
      const original = new Uint8Array(readFileSync(VAD));
      const quantized = new Uint8Array(readFileSync(out));
      assert.ok(quantized.length < original.length * 0.8, `${quantized.length} bytes`);
      for (const sr of [16000n, 8000n]) {
        const n = sr === 16000n ? 1536 : 768;
        let h = new Float32Array(128);
        let c = new Float32Array(128);
        let hq = h;
        let cq = c;
        let worst = 0;
        // Ten chunks in a row, each model carrying its own state (h, c) from chunk to chunk.
        for (let chunk = 0; chunk < 10; chunk++) {
          const audio = Float32Array.from(
            { length: n },
            (_, i) => 0.3 * Math.sin((chunk * n + i) * 0.05) * Math.sin((chunk * n + i) * 0.0031),
          );
          const feeds = (hh: Float32Array, cc: Float32Array) => ({
            input: new ort.Tensor("float32", audio, [1, n]),
            sr: new ort.Tensor("int64", BigInt64Array.from([sr]), []),
            h: new ort.Tensor("float32", hh, [2, 1, 64]),
            c: new ort.Tensor("float32", cc, [2, 1, 64]),
          });
          const a = await runFeeds(ort, original, feeds(h, c));
          const b = await runFeeds(ort, quantized, feeds(hq, cq));
          worst = Math.max(worst, Math.abs(a.output[0] - b.output[0]));
          [h, c, hq, cq] = [a.hn, a.cn, b.hn, b.cn];
        }
        assert.ok(worst < 0.02, `sr ${sr}: speech probability differs by ${worst}`);
      }
    }),
);

async function runFeeds(
  ort: Ort,
  bytes: Uint8Array,
  feeds: Record<string, unknown>,
): Promise<Record<string, Float32Array<ArrayBuffer>>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await session.run(feeds);
  const result: Record<string, Float32Array<ArrayBuffer>> = {};
  for (const name of session.outputNames) result[name] = Float32Array.from(out[name].data);
  await session.release?.();
  return result;
}
