// Models of several files through the edge handler: a TensorFlow.js model.json posted with its
// shards (the answer is a multipart body of model.json and the new shards), an ONNX model posted
// with its external data file (the answer is one self-contained .onnx), and the errors when a
// file is missing, named twice or unnamed; the storage and TensorFlow.js options of a request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHandler } from "../../edge/handler.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs } from "../../src/compress/compare_tfjs.ts";
import { graphModelFiles, INT8_PER_CHANNEL, layersModelFiles, tf } from "../tfjs/_models.ts";
import { externalMlp, mlp } from "../models_shipped/_models.ts";

const PRUNE = '[{"op_types":["Conv2d","Linear"],"target_names":["weight"],"sparse_ratio":0.5}]';
const blob = (bytes: Uint8Array) => new Blob([bytes as Uint8Array<ArrayBuffer>]);

function post(
  handler: ReturnType<typeof createHandler>,
  model: [string, Uint8Array],
  files: [string, Uint8Array][],
  config = PRUNE,
): Promise<Response> {
  const form = new FormData();
  form.set("model", blob(model[1]), model[0]);
  form.set("config", config);
  for (const [name, bytes] of files) form.append("files", blob(bytes), name);
  return handler.fetch(new Request("http://x/", { method: "POST", body: form }));
}

for (const isolation of ["inline", "worker"] as const) {
  test(`a tfjs model.json with its shards is pruned and comes back as model.json + shards (${isolation})`, async () => {
    const handler = createHandler({ isolation });
    try {
      const files = await layersModelFiles(1024);
      const shards = [...files].filter(([n]) => n !== "model.json");
      assert.ok(shards.length > 2);
      const res = await post(handler, ["model.json", files.get("model.json")!], shards);
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(res.headers.get("content-type")!, /^multipart\/form-data; boundary=/);
      assert.equal(
        Number(res.headers.get("content-length")),
        (await res.clone().arrayBuffer()).byteLength,
      );
      const summary = JSON.parse(res.headers.get("x-nncompress-summary")!);
      assert.equal(summary.sparsity, 0.5);
      const parts = (await res.formData()).getAll("files") as File[];
      assert.equal(parts[0].name, "model.json");
      const out = new Map<string, Uint8Array>();
      for (const p of parts) out.set(p.name, new Uint8Array(await p.arrayBuffer()));
      const model = readTfjs(out.get("model.json")!, out);
      const original = readTfjs(files.get("model.json")!, files);
      assert.deepEqual(
        model.weights.map((w) => w.spec.name),
        original.weights.map((w) => w.spec.name),
      );
      const fc1 = tfjsWeightValues(model.weights.find((w) => w.spec.name === "fc1/kernel")!);
      assert.equal(fc1.filter((v) => v === 0).length, fc1.length / 2);
      const bias = (m: typeof model) =>
        tfjsWeightValues(m.weights.find((w) => w.spec.name === "fc1/bias")!);
      assert.deepEqual(bias(model), bias(original));
    } finally {
      handler.close();
    }
  });
}

test("a weights manifest alone (face-api) comes back under its name, its shard named after it", async () => {
  const handler = createHandler({ isolation: "inline" });
  try {
    const dir = new URL("../../node_modules/@vladmandic/face-api/model/", import.meta.url);
    const name = "tiny_face_detector_model-weights_manifest.json";
    const json = new Uint8Array(readFileSync(new URL(name, dir)));
    const bin = new Uint8Array(readFileSync(new URL("tiny_face_detector_model.bin", dir)));
    const res = await post(handler, [name, json], [["tiny_face_detector_model.bin", bin]]);
    assert.equal(res.status, 200, await res.clone().text());
    const parts = (await res.formData()).getAll("files") as File[];
    assert.deepEqual(parts.map((p) => p.name), [name, "tiny_face_detector_model-shard1of1.bin"]);
    const out = new Map<string, Uint8Array>();
    for (const p of parts) out.set(p.name, new Uint8Array(await p.arrayBuffer()));
    const model = readTfjs(out.get(name)!, out);
    assert.equal(model.kind, "weights-manifest");
    const conv = model.weights.find((w) => w.spec.name === "conv0/filters")!;
    // Half of the kernel pruned, still uint8 (on a grid where 0 is a code).
    assert.equal(conv.spec.quantization?.dtype, "uint8");
    const values = tfjsWeightValues(conv);
    assert.equal(values.filter((v) => v === 0).length, values.length / 2);
  } finally {
    handler.close();
  }
});

test("an ONNX model with its external data file comes back as one self-contained .onnx", async () => {
  const handler = createHandler({ isolation: "inline" });
  try {
    const { model, data } = externalMlp("weights.bin");
    const res = await post(handler, ["mlp.onnx", model], [["weights.bin", data]]);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    const out = decodeOnnx(new Uint8Array(await res.arrayBuffer()));
    assert.ok(out.tensors.every((t) => t.storage.kind !== "external"));
    const w = out.tensors.find((t) => t.name === "fc1.weight")!;
    assert.equal(w.storage.kind, "raw");
    const raw = w.storage.kind === "raw" ? out.bytes.slice(w.storage.start, w.storage.end) : null;
    const values = new Float32Array(raw!.buffer);
    assert.equal(values.filter((v) => v === 0).length, values.length / 2);

    // Without the data file: 422 naming the location to send.
    const missing = await post(handler, ["mlp.onnx", model], []);
    assert.equal(missing.status, 422);
    const body = await missing.json();
    assert.equal(body.error.code, "external_data");
    assert.deepEqual(body.error.locations, ["weights.bin"]);
    assert.match(body.error.message, /send each as a multipart "files" part named by its location/);
  } finally {
    handler.close();
  }
});

test("a shard missing, a file named twice or unnamed, and too many weights get clear errors", async () => {
  const handler = createHandler({ isolation: "inline", maxTensors: 5 });
  const roomy = createHandler({ isolation: "inline" });
  try {
    const files = await layersModelFiles(1024);
    const json = files.get("model.json")!;
    const shards = [...files].filter(([n]) => n !== "model.json");

    const missing = await post(roomy, ["model.json", json], shards.slice(1));
    assert.equal(missing.status, 400, await missing.clone().text());
    const m = await missing.json();
    assert.equal(m.error.code, "model_invalid");
    assert.match(m.error.message, new RegExp(shards[0][0].replace(/\./g, "\\.")));

    const twice = await post(roomy, ["model.json", json], [...shards, shards[0]]);
    assert.equal(twice.status, 400);
    assert.match((await twice.json()).error.message, /name each file once: ".*shard1of/);

    const form = new FormData();
    form.set("model", blob(json), "model.json");
    form.set("config", PRUNE);
    form.append("files", "not a file");
    const unnamed = await roomy.fetch(new Request("http://x/", { method: "POST", body: form }));
    assert.equal(unnamed.status, 400);
    assert.match((await unnamed.json()).error.message, /"files" must be a file with a name/);

    const many = await post(handler, ["model.json", json], shards);
    assert.equal(many.status, 422);
    const t = await many.json();
    assert.equal(t.error.code, "tensor_limit");
    assert.match(t.error.message, /at most 5 weights: "model.json" has \d+/);
  } finally {
    handler.close();
    roomy.close();
  }
});

/** The answer's files by name (a TensorFlow.js model comes back as multipart). */
async function filesOfAnswer(res: Response): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const p of (await res.formData()).getAll("files") as File[]) {
    out.set(p.name, new Uint8Array(await p.arrayBuffer()));
  }
  return out;
}

const dtypes = (files: Map<string, Uint8Array>) =>
  (JSON.parse(new TextDecoder().decode(files.get("model.json")!)) as {
    weightsManifest: { weights: { name: string; quantization?: { dtype: string } }[] }[];
  }).weightsManifest.flatMap((g) => g.weights).map((w) => w.quantization?.dtype ?? "none");

for (const isolation of ["inline", "worker"] as const) {
  test(`storage, shard-bytes and channel-scales reach the compression of a tfjs graph model (${isolation})`, async () => {
    const handler = createHandler({ isolation });
    try {
      const files = graphModelFiles(1 << 20);
      const shards = [...files].filter(([n]) => n !== "model.json");
      const config = JSON.stringify(INT8_PER_CHANNEL);
      const send = (fields: Record<string, string>) => {
        const form = new FormData();
        form.set("model", blob(files.get("model.json")!), "model.json");
        form.set("config", config);
        for (const [k, v] of Object.entries(fields)) form.set(k, v);
        for (const [name, bytes] of shards) form.append("files", blob(bytes), name);
        return handler.fetch(new Request("http://x/", { method: "POST", body: form }));
      };
      // Per-channel kernels without channel scales: fake-quantized floats.
      const plain = await filesOfAnswer(await send({}));
      const plainCodes = dtypes(plain).filter((d) => d === "uint8").length;
      // With them: the five kernels become uint8 codes, in shards of at most 256 bytes.
      const res = await send({ "channel-scales": "true", "shard-bytes": "256", storage: "int" });
      assert.equal(res.status, 200, await res.clone().text());
      const scaled = await filesOfAnswer(res);
      assert.equal(dtypes(scaled).filter((d) => d === "uint8").length, plainCodes + 5);
      assert.ok(scaled.size > plain.size);
      for (const [name, bytes] of scaled) {
        if (name !== "model.json") assert.ok(bytes.length <= 256, `${name}: ${bytes.length}`);
      }
      const cmp = await compareTfjsOutputs(
        { tf, loadGraphModel: (h) => loadGraphModel(h) },
        scaled,
        files,
      );
      assert.ok(cmp.every((o) => o.cosine > 0.999), JSON.stringify(cmp));
      // float16 storage.
      const half = await filesOfAnswer(await send({ storage: "float16" }));
      assert.ok(dtypes(half).includes("float16"));
      assert.ok(!dtypes(half).includes("uint8"));
    } finally {
      handler.close();
    }
  });
}

test("bad storage or tfjs options get 400 option_invalid naming the option; misplaced ones 422", async () => {
  const handler = createHandler({ isolation: "inline" });
  try {
    const files = graphModelFiles(1 << 20);
    const model = files.get("model.json")!;
    const shards = [...files].filter(([n]) => n !== "model.json");
    const config = JSON.stringify(INT8_PER_CHANNEL);
    const cases: [Record<string, string>, RegExp][] = [
      [
        { storage: "int4" },
        /"storage" must be one of auto, float, int, .*: current value is "int4"/,
      ],
      [{ "shard-bytes": "0" }, /"shard-bytes" must be a positive integer: current value is "0"/],
      [{ headroom: "2" }, /"headroom" must be a number from 0 to 1: current value is "2"/],
      [{ "channel-scales": "yes" }, /"channel-scales" must be true, false, 1 or 0/],
      [{ equalize: "on" }, /"equalize" must be true, false, 1 or 0: current value is "on"/],
    ];
    for (const [fields, message] of cases) {
      const form = new FormData();
      form.set("model", blob(model), "model.json");
      form.set("config", config);
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      for (const [name, bytes] of shards) form.append("files", blob(bytes), name);
      const res = await handler.fetch(new Request("http://x/", { method: "POST", body: form }));
      assert.equal(res.status, 400, JSON.stringify(fields));
      const body = await res.json();
      assert.equal(body.error.code, "option_invalid");
      assert.equal(body.error.option, Object.keys(fields)[0]);
      assert.match(body.error.message, message);
    }
    // Raw body: the options in the query string or x-nncompress-* headers.
    const onnx = mlp();
    const raw = (query: string, headers: Record<string, string> = {}) =>
      handler.fetch(
        new Request(`http://x/?name=mlp.onnx&config=${encodeURIComponent(PRUNE)}${query}`, {
          method: "POST",
          body: blob(onnx),
          headers: { "content-type": "application/octet-stream", ...headers },
        }),
      );
    const bad = await raw("&headroom=-1");
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.option, "headroom");
    const header = await raw("", { "x-nncompress-storage": "bits" });
    assert.equal(header.status, 400);
    assert.match((await header.json()).error.message, /"storage" must be one of/);
    // Channel scales on a pruning or an ONNX model: the library's own 422.
    const misplaced = await raw("&channel-scales=1");
    assert.equal(misplaced.status, 422);
    assert.match(
      (await misplaced.json()).error.message,
      /"channelScales" stores per-channel kernels of quantized TensorFlow.js models: the model is onnx/,
    );
  } finally {
    handler.close();
  }
});
