// Models of several files through the edge handler: a TensorFlow.js model.json posted with its
// shards (the answer is a multipart body of model.json and the new shards), an ONNX model posted
// with its external data file (the answer is one self-contained .onnx), and the errors when a
// file is missing, named twice or unnamed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHandler } from "../../edge/handler.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { layersModelFiles } from "../tfjs/_models.ts";
import { externalMlp } from "../models_shipped/_models.ts";

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
