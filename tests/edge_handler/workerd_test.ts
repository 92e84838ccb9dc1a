// edge/worker.js in workerd, Cloudflare's Workers runtime, with its real module rules: the kernels
// arrive as a CompiledWasm module (compiling WebAssembly from bytes is forbidden), there are no
// module Web Workers, no file system and no Node built-ins.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { startWorkerd } from "./_workerd.ts";

const PRUNE = '[{"op_types":["Linear"],"target_names":["weight"],"sparse_ratio":0.5}]';

function model(): Uint8Array<ArrayBuffer> {
  const values = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.77) * (1 + (i % 3)));
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [16, 8], data: values(128, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [16], data: values(16, 2) },
  ]) as Uint8Array<ArrayBuffer>;
}

test("workerd runs the bundled edge/worker.js: it prunes a posted safetensors file and refuses a bad config", async () => {
  const server = await startWorkerd();
  try {
    const usage = await fetch(server.url);
    assert.equal(usage.status, 200);
    assert.equal((await usage.json()).limits.maxBytes, 64 * 1024 * 1024);

    const form = new FormData();
    form.set("model", new Blob([model()]), "mlp.safetensors");
    form.set("config", PRUNE);
    const res = await fetch(server.url, { method: "POST", body: form });
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(res.headers.get("content-disposition")!, /mlp\.compressed\.safetensors/);
    const out = readSafetensors(new Uint8Array(await res.arrayBuffer()));
    const weight = out.tensors.find((t) => t.name === "fc1.weight")!;
    const values = new Float32Array(weight.data.slice().buffer);
    assert.equal(values.filter((v) => v === 0).length, 64);
    const bias = out.tensors.find((t) => t.name === "fc1.bias")!;
    const original = readSafetensors(model()).tensors.find((t) => t.name === "fc1.bias")!;
    assert.deepEqual(bias.data, original.data);

    const bad = await fetch(
      `${server.url}?config=${encodeURIComponent('[{"op_types":["Linear"],"sparse_ratio":3}]')}`,
      {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: model(),
      },
    );
    assert.equal(bad.status, 422);
    const error = (await bad.json()).error;
    assert.equal(error.code, "config_invalid");
    assert.equal(error.issues[0].path, "[0].sparse_ratio");

    const broken = await fetch(`${server.url}?config=${encodeURIComponent(PRUNE)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 123]),
    });
    assert.equal(broken.status, 400);
    assert.equal((await broken.json()).error.code, "model_invalid");
  } finally {
    await server.close();
  }
});

test("on workerd compressions run inline and the time budget stops one at a checkpoint (504)", async () => {
  const server = await startWorkerd(
    30_000,
    `import kernels from "./wasm/kernels.wasm";
     import { createHandler } from "./edge/handler.ts";
     export default createHandler({ wasmModule: kernels, timeoutMs: 1 });`,
  );
  try {
    const many = writeSafetensors(
      Array.from({ length: 2000 }, (_, i) => ({
        name: `m${i}.weight`,
        dtype: "F32" as const,
        shape: [8, 8],
        data: Float32Array.from({ length: 64 }, (_, j) => Math.sin(i + j)),
      })),
    ) as Uint8Array<ArrayBuffer>;
    const res = await fetch(`${server.url}?config=${encodeURIComponent(PRUNE)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: many,
    });
    assert.equal(res.status, 504);
    const error = (await res.json()).error;
    assert.deepEqual([error.code, error.limit, error.max], ["time_budget", "timeoutMs", 1]);
  } finally {
    await server.close();
  }
});
