/**
 * Load test of the edge handler on 127.0.0.1 (Linux: RSS from /proc). Bounded in count and time;
 * every scenario starts its own server (bench/_edge_server.ts) and stops it. Prints JSON.
 *
 * 1. slow-loris: `--slow` connections (default 200) each declare a 1000-byte body and send one
 *    byte a second, while one client posts small models back to back; latencies with and without
 *    them, and what the slow clients got.
 * 2. memory: what compressModel alone adds to a `--mb` MiB safetensors (default 60) already in
 *    memory; then one upload, and `--uploads` (default 8) at once: the server's peak RSS over its
 *    idle RSS (as many workers warmed), per upload and as a multiple of the body; the same for
 *    an ONNX file of MatMul layers quantized to int8 (with `--only memory`).
 * 3. RSS over `--requests` (default 1000) sequential requests, sampled every 100.
 *
 * ```sh
 * node_modules/.bin/deno run -A bench/edge_load.ts [--slow 200] [--uploads 8] [--mb 60] [--requests 1000] \
 *   [--isolation auto|worker|inline]    # where the upload scenarios compress
 *   [--only memory]                     # only scenario 2
 *   [--only onnx-memory]                # only scenario 2's single ONNX quantization upload
 * ```
 *
 * @module
 */

import { buildOnnx } from "../src/io/onnx/build_onnx.ts";
import { writeSafetensors } from "../src/io/safetensors/write_safetensors.ts";
import { parseArgs } from "./_harness.ts";

const args = parseArgs(Deno.args);
const num = (name: string, fallback: number) => Number(args.values.get(name) ?? fallback);
const SLOW = num("slow", 200);
const UPLOADS = num("uploads", 8);
const MB = num("mb", 60);
const REQUESTS = num("requests", 1000);
const ISOLATION = args.values.get("isolation") ?? "auto";
const PRUNE = '[{"op_types":["Linear"],"sparse_ratio":0.5}]';
const QUANTIZE = '[{"op_types":["Linear"],"target_names":["weight"],"quant_dtype":"int8"}]';
const MiB = 1024 * 1024;

interface Server {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

async function start(options: Record<string, unknown>): Promise<Server> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./_edge_server.ts", import.meta.url).pathname,
      JSON.stringify(options),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  while (!/listening (\d+)/.test(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the server did not start: ${text}`);
    text += value;
  }
  clearTimeout(timer);
  const port = Number(/listening (\d+)/.exec(text)![1]);
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(killer);
      await reader.cancel().catch(() => {});
    },
  };
}

/** VmRSS and VmHWM of a process, in MiB. */
function rss(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1]);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/** Resets VmHWM to the current RSS (Linux `clear_refs` 5). */
function resetPeak(pid: number): void {
  Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** A safetensors file of Linear layers of 1024 x `cols` float32 weights, `bytes` long at least. */
function model(bytes: number, cols = 1024): Uint8Array<ArrayBuffer> {
  const count = Math.max(1, Math.round(bytes / (1024 * cols * 4)));
  return writeSafetensors(
    Array.from({ length: count }, (_, i) => ({
      name: `layer${i}.weight`,
      dtype: "F32" as const,
      shape: [1024, cols],
      data: Float32Array.from({ length: 1024 * cols }, (_, j) => Math.sin(i * 7 + j * 0.01)),
    })),
  ) as Uint8Array<ArrayBuffer>;
}

/** An ONNX model of a chain of MatMul layers with 1024 x 1024 float32 weights, `bytes` long at least. */
function onnxModel(bytes: number): Uint8Array<ArrayBuffer> {
  const count = Math.max(1, Math.round(bytes / (1024 * 1024 * 4)));
  const layers = Array.from({ length: count }, (_, i) => i);
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: layers.map((i) => ({
      name: `layer${i}`,
      opType: "MatMul",
      inputs: [i === 0 ? "x" : `h${i}`, `layer${i}.weight`],
      outputs: [`h${i + 1}`],
    })),
    initializers: layers.map((i) => {
      const data = Float32Array.from({ length: 1024 * 1024 }, (_, j) => Math.sin(i * 7 + j * 0.01));
      return {
        name: `layer${i}.weight`,
        dataType: 1,
        dims: [1024, 1024],
        raw: new Uint8Array(data.buffer),
      };
    }),
    inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 1024] } }],
    outputs: [{ name: `h${count}`, type: { elemType: 1, dims: ["n", 1024] } }],
  }) as Uint8Array<ArrayBuffer>;
}

/** What an upload scenario posts: a safetensors file to prune, or an ONNX file to quantize. */
type Kind = "prune-safetensors" | "quantize-onnx";

async function post(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  kind: Kind = "prune-safetensors",
): Promise<number> {
  const config = kind === "quantize-onnx" ? QUANTIZE : PRUNE;
  const name = kind === "quantize-onnx" ? "model.onnx" : "model.safetensors";
  const res = await fetch(`${url}?config=${encodeURIComponent(config)}&name=${name}`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Number(s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(1));
  return { count: s.length, p50: at(0.5), p95: at(0.95), max: at(1) };
}

/** Posts `body` back to back for `ms`; returns the latencies and statuses. */
async function steady(url: string, body: Uint8Array<ArrayBuffer>, ms: number) {
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const t0 = performance.now();
    const status = await post(url, body);
    latencies.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return { ...stats(latencies), statuses };
}

/** A client that declares `length` bytes and sends one a second; resolves to the reply. */
async function slowClient(port: number, length: number, stopAt: number) {
  const t0 = performance.now();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  let reply = "";
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
  })();
  await conn.write(enc.encode(
    `POST /?config=${encodeURIComponent(PRUNE)} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
      `content-type: application/octet-stream\r\ncontent-length: ${length}\r\n\r\n`,
  ));
  while (reply === "" && performance.now() < stopAt) {
    await new Promise((r) => setTimeout(r, 1000));
    await conn.write(enc.encode("x")).catch(() => {});
  }
  try {
    conn.close();
  } catch {
    // closed by the server
  }
  await reading;
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 0), ms: performance.now() - t0 };
}

async function slowLoris() {
  const bodyTimeoutMs = 8000;
  const server = await start({ bodyTimeoutMs });
  try {
    const small = model(256 * 1024, 64);
    await post(server.url, small); // warm the worker
    const baseline = await steady(server.url, small, 3000);
    const stopAt = performance.now() + bodyTimeoutMs + 5000;
    const slow = Array.from({ length: SLOW }, () => slowClient(server.port, 1000, stopAt));
    await new Promise((r) => setTimeout(r, 1000));
    const during = await steady(server.url, small, 5000);
    const replies = await Promise.all(slow);
    const statuses: Record<number, number> = {};
    for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    return {
      slowClients: SLOW,
      bodyTimeoutMs,
      smallModelBytes: small.length,
      baseline,
      duringSlowLoris: during,
      slowClientReplies: statuses,
      slowClientReplyMs: stats(replies.map((r) => r.ms)),
    };
  } finally {
    await server.stop();
  }
}

/**
 * What compressModel alone adds to a body already in memory (bench/_edge_memory.ts), writing a
 * new file (`copy`, the baseline) and writing into the body (`inPlace`, as the handler does).
 */
async function pipelineOnly() {
  const run = async (how: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_edge_memory.ts", import.meta.url).pathname, String(MB), how],
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  const copy = await run("copy");
  const inPlace = await run("in-place");
  return { copy, inPlace, ratio: Number((inPlace.timesBody / copy.timesBody).toFixed(2)) };
}

/**
 * `uploads` uploads of `--mb` MiB at once: the server's peak RSS over its RSS with as many
 * compression workers warmed (each a runtime isolate of its own, a fixed cost reported apart as
 * `warmWorkersMiB`), per upload and as a multiple of the body.
 */
async function concurrentUploads(uploads: number, kind: Kind = "prune-safetensors") {
  const server = await start({
    maxConcurrent: uploads,
    isolation: ISOLATION,
    maxBytes: (MB + 1) * MiB,
    maxBufferedBytes: uploads * (MB + 1) * MiB,
    timeoutMs: 300_000,
    bodyTimeoutMs: 300_000,
    workerIdleMs: 60_000,
  });
  try {
    const make = kind === "quantize-onnx" ? onnxModel : model;
    const body = make(MB * MiB);
    const small = make(MiB);
    await new Promise((r) => setTimeout(r, 500));
    const started = rss(server.pid).rss;
    // Warm as many workers as uploads, so that what is measured is the uploads' own memory.
    await Promise.all(Array.from({ length: uploads }, () => post(server.url, small, kind)));
    await new Promise((r) => setTimeout(r, 500));
    const idle = rss(server.pid).rss;
    resetPeak(server.pid);
    const t0 = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: uploads }, () => post(server.url, body, kind)),
    );
    const seconds = (performance.now() - t0) / 1000;
    const { peak } = rss(server.pid);
    const perUpload = (peak - idle) / uploads;
    return {
      kind,
      uploads,
      bodyMiB: Number((body.length / MiB).toFixed(2)),
      statuses,
      seconds: Number(seconds.toFixed(2)),
      warmWorkersMiB: Number((idle - started).toFixed(1)),
      idleRssMiB: Number(idle.toFixed(1)),
      peakRssMiB: Number(peak.toFixed(1)),
      peakOverIdlePerUploadMiB: Number(perUpload.toFixed(1)),
      peakOverIdlePerUploadTimesBody: Number((perUpload / (body.length / MiB)).toFixed(2)),
    };
  } finally {
    await server.stop();
  }
}

async function rssOverRequests() {
  const server = await start({});
  try {
    const body = model(MiB, 256);
    const samples: { requests: number; rssMiB: number }[] = [];
    const statuses: Record<number, number> = {};
    const t0 = performance.now();
    for (let i = 1; i <= REQUESTS; i++) {
      const status = await post(server.url, body);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (i % 100 === 0) {
        samples.push({ requests: i, rssMiB: Number(rss(server.pid).rss.toFixed(1)) });
      }
    }
    const firstHalf = samples.slice(0, samples.length / 2).map((s) => s.rssMiB);
    const secondHalf = samples.slice(samples.length / 2).map((s) => s.rssMiB);
    return {
      requests: REQUESTS,
      bodyBytes: body.length,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
      statuses,
      samples,
      maxFirstHalfMiB: Math.max(...firstHalf),
      maxSecondHalfMiB: Math.max(...secondHalf),
    };
  } finally {
    await server.stop();
  }
}

const only = args.values.get("only");
const result = only === "onnx-memory"
  ? {
    runtime: `deno ${Deno.version.deno}`,
    oneOnnxQuantization: await concurrentUploads(1, "quantize-onnx"),
  }
  : only === "memory"
  ? {
    runtime: `deno ${Deno.version.deno}`,
    pipelineOnly: await pipelineOnly(),
    oneUpload: await concurrentUploads(1),
    concurrentUploads: await concurrentUploads(UPLOADS),
    oneOnnxQuantization: await concurrentUploads(1, "quantize-onnx"),
    concurrentOnnxQuantizations: await concurrentUploads(UPLOADS, "quantize-onnx"),
  }
  : {
    runtime: `deno ${Deno.version.deno}`,
    slowLoris: await slowLoris(),
    pipelineOnly: await pipelineOnly(),
    oneUpload: await concurrentUploads(1),
    concurrentUploads: await concurrentUploads(UPLOADS),
    rssOverRequests: await rssOverRequests(),
  };
console.log(JSON.stringify(result, null, 2));
