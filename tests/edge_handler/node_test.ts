// The handler on Node's http server (edge/node.ts), bundled with esbuild and run by `node`: the
// one server here that puts a deadline on request heads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function startNode(options: object) {
  const dir = mkdtempSync(join(tmpdir(), "nncompress-node-"));
  const outfile = join(dir, "server.mjs");
  await build({
    stdin: {
      contents: `import { createHandler } from "./edge/handler.ts";
        import { serveNode } from "./edge/node.ts";
        const server = serveNode(createHandler(${JSON.stringify(options)}), { port: 0 });
        server.on("listening", () => console.log("listening " + server.address().port));`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "silent",
  });
  const child = spawn("node", [outfile], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (c: Uint8Array) => {
      text += new TextDecoder().decode(c);
      const m = /listening (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`node exited with ${code}: ${text}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((done) => {
        child.once("exit", () => (rmSync(dir, { recursive: true, force: true }), done()));
        child.kill();
      }),
  };
}

/** Sends a request head one byte every `everyMs`; resolves to the reply and its time. */
function slowHead(port: number, everyMs: number): Promise<{ reply: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const head = "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + "a".repeat(100);
    let i = 0;
    let reply = "";
    const timer = setInterval(() => i < head.length && socket.write(head[i++]), everyMs);
    socket.on("data", (d) => reply += d.toString());
    const done = () => (clearInterval(timer), resolve({ reply, ms: performance.now() - t0 }));
    socket.on("close", done);
    socket.on("error", done);
    setTimeout(() => socket.destroy(), 10_000);
  });
}

test("on Node's http server a slow request head gets the JSON 408 at headerTimeoutMs, others are served", async () => {
  const server = await startNode({ headerTimeoutMs: 1000 });
  try {
    const slow = Array.from({ length: 10 }, () => slowHead(server.port, 100));
    const model = writeSafetensors([
      { name: "fc.weight", dtype: "F32", shape: [4, 4], data: new Float32Array(16).fill(1) },
    ]) as Uint8Array<ArrayBuffer>;
    const config = encodeURIComponent('[{"op_types":["Linear"],"sparse_ratio":0.5}]');
    const res = await fetch(`${server.url}?report=json&config=${config}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: model,
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).layers[0].sparsity, 0.5);
    for (const { reply, ms } of await Promise.all(slow)) {
      assert.match(reply, /^HTTP\/1\.1 408/);
      assert.match(reply, /"code": "header_timeout"/);
      assert.match(reply, /request head must arrive within 1000 ms/);
      assert.ok(ms >= 900 && ms < 4000, `408 after ${ms} ms`);
    }
  } finally {
    await server.close();
  }
});
