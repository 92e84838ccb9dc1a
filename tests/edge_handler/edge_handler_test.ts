import { test } from "node:test";
import assert from "node:assert/strict";
import { build } from "esbuild";
import { createHandler } from "../../edge/handler.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { readCompressedTensors } from "../../src/quantization/compressed_tensors.ts";
import { dequantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { decodeKernelsWasm } from "../../wasm/kernels_inline.ts";
import { denoServe, serve } from "./_serve.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PRUNE = '[{"op_types":["Linear"],"target_names":["weight"],"sparse_ratio":0.5}]';
const INT8 =
  '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int8","granularity":"out_channel"}]';

function model(): Uint8Array {
  const values = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.77) * (1 + (i % 3)));
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [16, 8], data: values(128, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [16], data: values(16, 2) },
    { name: "fc2.weight", dtype: "F32", shape: [4, 16], data: values(64, 3) },
  ]);
}

function weight(bytes: Uint8Array, name: string): Float32Array {
  const t = readSafetensors(bytes).tensors.find((x) => x.name === name)!;
  return new Float32Array(t.data.slice().buffer);
}

function form(fields: Record<string, string | Blob>, file = "mlp.safetensors"): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === "string") f.set(k, v);
    else f.set(k, v, file);
  }
  return f;
}

async function withServer(fn: (url: string) => Promise<void>, maxBytes = 1 << 20): Promise<void> {
  const server = serve(createHandler({ maxBytes }).fetch);
  try {
    await fn(server.url);
  } finally {
    await server.close();
  }
}

const blob = (bytes: Uint8Array) => new Blob([bytes as Uint8Array<ArrayBuffer>]);

test("the edge handler prunes a posted safetensors file (multipart) and sends it back", async () => {
  await withServer(async (url) => {
    const res = await fetch(url, {
      method: "POST",
      body: form({ model: blob(model()), config: PRUNE }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.match(
      res.headers.get("content-disposition")!,
      /filename="mlp\.compressed\.safetensors"/,
    );
    const summary = JSON.parse(res.headers.get("x-nncompress-summary")!);
    assert.deepEqual([summary.mode, summary.targets, summary.sparsity], ["pruning", 2, 0.5]);
    const out = new Uint8Array(await res.arrayBuffer());
    assert.equal(weight(out, "fc1.weight").filter((v) => v === 0).length, 64);
    assert.deepEqual(weight(out, "fc1.bias"), weight(model(), "fc1.bias"));
  });
});

test("the edge handler quantizes a raw body with the config in the query string", async () => {
  await withServer(async (url) => {
    const res = await fetch(`${url}?config=${encodeURIComponent(INT8)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: model() as Uint8Array<ArrayBuffer>,
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(JSON.parse(res.headers.get("x-nncompress-summary")!).mode, "quantization");
    // safetensors are written as int8 codes with a scale per row (the default storage:
    // compressed-tensors, its quantization_config in the file's metadata)
    const file = readCompressedTensors(new Uint8Array(await res.arrayBuffer()));
    const fc1 = file.quantized.find((t) => t.name === "fc1.weight")!;
    const w = dequantizeTensor(fc1.codes, fc1.shape, fc1.params);
    const original = weight(model(), "fc1.weight");
    for (let row = 0; row < 16; row++) {
      const r = original.subarray(row * 8, row * 8 + 8);
      const scale = Math.fround(Math.max(...r.map(Math.abs)) / 127);
      assert.equal(fc1.params.scale[row], scale);
      for (let i = 0; i < 8; i++) {
        assert.equal(fc1.codes[row * 8 + i], Math.round(r[i] / scale), `fc1.weight[${row}, ${i}]`);
        assert.ok(Math.abs(w[row * 8 + i] - r[i]) <= scale / 2 + 1e-6);
      }
    }
  });
});

test("?report=json returns the report with per-layer sparsity instead of the file", async () => {
  await withServer(async (url) => {
    const res = await fetch(`${url}?report=json`, {
      method: "POST",
      body: form({ model: blob(model()), config: PRUNE }),
    });
    assert.equal(res.status, 200);
    const report = await res.json();
    assert.deepEqual(report.layers.map((l: { module: string }) => l.module), ["fc1", "fc2"]);
    assert.ok(report.layers.every((l: { sparsity: number }) => l.sparsity === 0.5));
  });
});

test("a body over the limit is refused with 413, by Content-Length and while streaming", async () => {
  await withServer(async (url) => {
    const big = new Uint8Array(4096);
    const declared = await fetch(`${url}?config=${encodeURIComponent(PRUNE)}`, {
      method: "POST",
      body: big,
    });
    assert.equal(declared.status, 413);
    assert.match((await declared.json()).error.message, /at most 2048/);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64) return controller.close();
        sent++;
        controller.enqueue(new Uint8Array(256));
      },
    });
    const streamed = await fetch(`${url}?config=${encodeURIComponent(PRUNE)}`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
  }, 2048);
});

test("malformed requests get clear 4xx errors", async () => {
  await withServer(async (url) => {
    const post = (body: BodyInit, path = "", headers: Record<string, string> = {}) =>
      fetch(url + path, { method: "POST", body, headers });
    const cases: [Promise<Response>, number, RegExp][] = [
      [post(form({ config: PRUNE })), 400, /file field named "model"/],
      [post(form({ model: blob(model()) })), 400, /config list is required/],
      [post(form({ model: blob(model()), config: "[{" })), 400, /not valid JSON/],
      [post(form({ model: blob(model()), config: PRUNE, mode: "distill" })), 400, /"mode" must be/],
      [post(form({ model: blob(new Uint8Array([1, 2, 3])), config: PRUNE })), 400, /at byte \d+/],
      [post("{}", "", { "content-type": "application/json" }), 415, /multipart\/form-data/],
      [post(new Uint8Array(0), `?config=${encodeURIComponent(PRUNE)}`), 400, /body is empty/],
      [
        post(form({ model: blob(model()), config: '[{"op_types":["Linear"],"sparse_ratio":3}]' })),
        422,
        /\[0\]\.sparse_ratio/,
      ],
      [fetch(url, { method: "PUT", body: "x" }), 405, /use POST/],
      [fetch(url + "admin"), 404, /route \/admin does not exist/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      const body = await res.json();
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(body.error.message, message);
    }
  });
});

test("a config list error lists every issue with its path (422)", async () => {
  await withServer(async (url) => {
    const config =
      '[{"op_types":["Linear"],"sparse_ratio":3},{"op_names":["fc1"],"sparse_ration":0.1}]';
    const res = await fetch(url, { method: "POST", body: form({ model: blob(model()), config }) });
    assert.equal(res.status, 422);
    const paths = (await res.json()).error.issues.map((i: { path: string }) => i.path);
    assert.ok(
      paths.includes("[0].sparse_ratio") && paths.includes("[1].sparse_ration"),
      paths.join(),
    );
  });
});

test("quantization errors come back with their code, target and config path (422, 400)", async () => {
  await withServer(async (url) => {
    const uncalibrated = await fetch(url, {
      method: "POST",
      body: form({
        model: blob(model()),
        config: '[{"op_names":["fc1"],"target_names":["_input_0"],"quant_dtype":"int8"}]',
      }),
    });
    // a safetensors file has no graph to observe inputs on: the named target is a config issue
    assert.equal(uncalibrated.status, 422);
    const { error } = await uncalibrated.json();
    assert.deepEqual(
      [error.kind, error.category, error.code, error.issues[0].code, error.issues[0].path],
      ["ConfigError", "usage", "config_invalid", "unsupported_target", "[0].target_names"],
    );
    assert.match(
      error.issues[0].message,
      /^"fc1" target "_input_0": the safetensors file has no graph to run/,
    );
    assert.equal(error.hint, undefined);
    const nan = writeSafetensors([
      { name: "fc1.weight", dtype: "F32", shape: [2, 2], data: Float32Array.of(1, NaN, 0, 2) },
    ]);
    const bad = await fetch(url, {
      method: "POST",
      body: form({ model: blob(nan), config: INT8 }),
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()).error;
    assert.deepEqual([body.code, body.module, body.target], ["non_finite", "fc1", "weight"]);
    assert.match(
      body.message,
      /^fc1\.weight \(config \[0\]\): tracked range of block 0 must be finite/,
    );
  });
});

test("createHandler({ wasmModule }) runs the kernels from a precompiled module, as on Workers", async () => {
  const handler = createHandler({
    wasmModule: new WebAssembly.Module(decodeKernelsWasm() as Uint8Array<ArrayBuffer>),
  });
  const res = await handler.fetch(
    new Request("http://edge/compress", {
      method: "POST",
      body: form({ model: blob(model()), config: PRUNE }),
    }),
  );
  assert.equal(res.status, 200);
  assert.equal(
    weight(new Uint8Array(await res.arrayBuffer()), "fc2.weight").filter((v) => v === 0).length,
    32,
  );
});

test("deno serve runs edge/handler.ts as is and answers a real request", async () => {
  const server = await denoServe(`${ROOT}node_modules/.bin/deno`, `${ROOT}edge/handler.ts`);
  try {
    const usage = await fetch(server.url);
    assert.equal(usage.status, 200);
    await usage.body?.cancel();
    const res = await fetch(server.url, {
      method: "POST",
      body: form({ model: blob(model()), config: PRUNE }),
    });
    assert.equal(res.status, 200);
    assert.equal(
      weight(new Uint8Array(await res.arrayBuffer()), "fc1.weight").filter((v) => v === 0).length,
      64,
    );
  } finally {
    await server.close();
  }
});

test("the handler bundles for edge runtimes with no Node built-ins", async () => {
  const out = await build({
    entryPoints: [`${ROOT}edge/handler.ts`],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    logLevel: "silent",
    minify: true,
  });
  const code = out.outputFiles[0].text;
  assert.doesNotMatch(code, /from\s*"node:|require\("node:/);
  // Budget for the minified handler (WASM inlined as base64 included): about 1.3x the 267 KB
  // measured when the budget was set; raised once to 385,000 at 363,098 bytes, with the core's
  // budgets (scripts/check_bundle_size.mjs says why: GPTQ kernels in the inline WebAssembly, the
  // regex matcher, the graph editor, the layer-by-layer driver, the tfjs reader and writer);
  // raised again to 410,000 at 392,380 bytes with the core's second raise (pre-quantized
  // weights, input feeds, subgraph edits, float16 storage, external data); raised again to
  // 505,000 at 481,221 bytes with the core's third raise (float16 conversion of ONNX models,
  // dynamic quantization and MatMulBnb4: the storages of the transformers.js variants;
  // compressed-tensors safetensors; least-squares reconstruction; the channel graph and
  // channel removal); raised again to 545,000 at 506,247 bytes with the core's fourth raise (GPTQ
  // results in every storage, the reconstruction's sub-model path, tfjs headroom and
  // equalization, kernels writing into given arrays); raised again to 580,000 at 544,780 bytes
  // with the core's fifth raise (magnitude selection from the stored bits, a global group's
  // summaries, the QDQ writer's streamed parts, tfjs bias correction); raised again to 600,000
  // at 576,777 bytes with the core's sixth raise (tfjs channel scales on graph and layers models);
  // raised again to 615,000 at 600,421 bytes with the core's seventh raise (jax2tf Einsum dense
  // layers, the comparisons' outputs after a selection op, Einsum bias correction); raised again
  // to 630,000 at 616,203 bytes with the core's eighth raise (nested layers models' names, the
  // sampled band of a Level prune's selection, channel scales of channels-first layers,
  // cross-layer equalization of layers models).
  assert.ok(code.length < 630_000, `minified bundle is ${code.length} bytes, budget 630000`);
});
