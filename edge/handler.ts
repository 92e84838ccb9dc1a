/**
 * An HTTP handler that compresses a model where it is posted: send a safetensors, ONNX or
 * TensorFlow.js file (with its shards or external data files as multipart `files` parts) and an
 * NNI config list, get the compressed file back (several files as a multipart body). `export default { fetch }` runs as is on
 * Deno Deploy-style runtimes (`deno serve edge/handler.ts`), Bun and Cloudflare Workers (see
 * `worker.js`, which hands the precompiled WebAssembly module to `createHandler`).
 *
 * ```sh
 * curl -F model=@model.safetensors -F 'config=[{"op_types":["Linear"],"sparse_ratio":0.5}]' \
 *   http://127.0.0.1:8000/ -o model.pruned.safetensors
 * curl --data-binary @model.safetensors -H 'content-type: application/octet-stream' \
 *   'http://127.0.0.1:8000/?mode=quantization&config=[{"op_types":["Linear"],"quant_dtype":"int8"}]' -o q.safetensors
 * ```
 *
 * Responses: 200 with the file (`x-nncompress-summary` header: targets, sparsity, bits, sizes;
 * a TensorFlow.js model comes back as `multipart/form-data`, one `files` part per file),
 * or with the JSON report when `?report=json`; errors are JSON
 * `{ "error": { "kind", "code", "message", ... } }`: 400 malformed input, 404, 405, 408 a body
 * slower than its deadlines, 413 a body or model header over its limit, 415 a body that is not a
 * model, 422 a config list that does not apply or a model with too many tensors, 503 (with
 * `Retry-After`) too many compressions or buffered bytes at once, 504 a compression over its time
 * budget. Every limit is an option of `createHandler`; docs/edge.md lists them with defaults.
 *
 * @module
 */

import { initKernels } from "../src/kernels/default.ts";
import { summarizeRun } from "../src/report/summarize_run.ts";
import { type CompressionJob, type CompressionResult, runCompression } from "./_compress_job.ts";
import { describedResponse, errorResponse, HttpError, json } from "./_errors.ts";
import { checkModelLimits } from "./_model_limits.ts";
import { parseRequest } from "./_parse_request.ts";
import type { ByteBudget } from "./_read_body.ts";
import { hasModuleWorkers, WorkerPool } from "./_worker_pool.ts";

/** The limits of the handler; every one is an option of `createHandler`. */
export interface EdgeLimits {
  /** The largest accepted body in bytes (413 past it). */
  readonly maxBytes: number;
  /**
   * The bytes all bodies in flight may hold together (bodies being read and bodies being
   * compressed); a request whose buffer does not fit gets 503 with `Retry-After`.
   */
  readonly maxBufferedBytes: number;
  /** The whole body must arrive within this many ms of the request reaching the handler (408). */
  readonly bodyTimeoutMs: number;
  /** The body may not pause for longer than this many ms (408). */
  readonly bodyIdleTimeoutMs: number;
  /**
   * The request head must arrive within this many ms of the connection. The fetch handler only
   * sees requests whose head has arrived: this one is applied by `serveNode` (edge/node.ts); on
   * other servers it is the server's own (docs/edge.md).
   */
  readonly headerTimeoutMs: number;
  /** Compressions that may run at once; more get 503 with `Retry-After`. */
  readonly maxConcurrent: number;
  /** The `Retry-After` seconds sent with a 503. */
  readonly retryAfterSeconds: number;
  /**
   * The wall-clock budget of one compression in ms (504 past it). In a worker (Deno, Bun) the
   * work is abandoned at once; inline (workerd, Node) it stops at the next checkpoint between
   * stages.
   */
  readonly timeoutMs: number;
  /** The most tensors in an uploaded model (safetensors entries, ONNX initializers or nodes; 422). */
  readonly maxTensors: number;
  /** The largest model header: safetensors JSON, ONNX graph outside initializers (413). */
  readonly maxHeaderBytes: number;
}

/**
 * The default limits (docs/edge.md explains each).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHandler, DEFAULT_LIMITS } from "./handler.ts";
 *
 * const handler = createHandler({ maxConcurrent: 1 });
 * assert.deepEqual(handler.limits, { ...DEFAULT_LIMITS, maxConcurrent: 1 });
 * ```
 */
export const DEFAULT_LIMITS: EdgeLimits = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
  bodyTimeoutMs: 60_000,
  bodyIdleTimeoutMs: 10_000,
  headerTimeoutMs: 10_000,
  maxConcurrent: 4,
  retryAfterSeconds: 2,
  timeoutMs: 30_000,
  maxTensors: 20_000,
  maxHeaderBytes: 4 * 1024 * 1024,
});

/** The default body limit: 64 MiB. */
export const DEFAULT_MAX_BYTES: number = DEFAULT_LIMITS.maxBytes;

/** Options of `createHandler`: any limit of `EdgeLimits`, and where compressions run. */
export interface EdgeHandlerOptions extends Partial<EdgeLimits> {
  /** The compiled `wasm/kernels.wasm`, where compiling from bytes is not allowed (Workers). */
  readonly wasmModule?: WebAssembly.Module;
  /**
   * Where compressions run: `worker` — a module Web Worker per compression (pooled), abandoned
   * when over budget; `inline` — on the handler's thread, stopped at checkpoints; `auto`
   * (default) — `worker` where the runtime has module workers, else `inline`.
   */
  readonly isolation?: "auto" | "worker" | "inline";
  /** How long an idle compression worker is kept, in ms (default 5000). */
  readonly workerIdleMs?: number;
}

/** A fetch handler. */
export interface EdgeHandler {
  /** Answers one request. */
  fetch(request: Request): Promise<Response>;
  /** The limits in force. */
  readonly limits: EdgeLimits;
  /** Where compressions run. */
  readonly isolation: "worker" | "inline";
  /** Terminates the compression workers (a handler is still usable: workers start again). */
  close(): void;
}

const USAGE = {
  usage: "POST a model and an NNI config list; the compressed model comes back",
  multipart:
    'fields "model" (file), "config" (JSON), optional "mode", "algorithm", "registry", "storage", "shard-bytes", "headroom", "equalize", "channel-scales", and "files" (one part per weight shard of a model.json or external data file of an ONNX model, named by its path)',
  raw:
    "body = the model (application/octet-stream); ?config=<JSON>&mode=&algorithm=&registry=&storage=&shard-bytes=&headroom=&equalize=&channel-scales= (or x-nncompress-<name> headers)",
  options: "?report=json returns the report instead of the file",
};

function outputName(name: string): string {
  const clean = name.replace(/[^\w.-]+/g, "_") || "model";
  const dot = clean.lastIndexOf(".");
  return dot > 0 ? `${clean.slice(0, dot)}.compressed${clean.slice(dot)}` : `${clean}.compressed`;
}

function checkLimits(options: EdgeHandlerOptions): EdgeLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof EdgeLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(
        `createHandler option "${key}" must be a positive number: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    limits[key] = value;
  }
  if (!Number.isInteger(limits.maxConcurrent)) {
    throw new RangeError(
      `createHandler option "maxConcurrent" must be an integer: current value is ${limits.maxConcurrent}`,
    );
  }
  return Object.freeze(limits);
}

function busy(what: string, limit: string, max: number, retry: number): HttpError {
  return new HttpError(503, "busy", `${what}: try again in ${retry} s`, {
    details: { limit, max },
    headers: { "retry-after": String(retry) },
  });
}

function overBudget(limits: EdgeLimits, elapsed: number): HttpError {
  return new HttpError(
    504,
    "time_budget",
    `compression must finish within ${limits.timeoutMs} ms: stopped after ${
      Math.round(elapsed)
    } ms`,
    { details: { limit: "timeoutMs", max: limits.timeoutMs, value: Math.round(elapsed) } },
  );
}

/** The size of the slices a file response is sent in. */
const RESPONSE_SLICE = 1 << 20;

/**
 * The bytes as a stream of 1 MiB views. A runtime copies a whole `Uint8Array` body before
 * sending it (Deno: +1.1x the file at peak, measured); views cost nothing more than the file,
 * whereas copies of each slice (1 MiB each) stay as garbage until the collector runs (+0.9x a
 * 60 MiB file, measured). The stream lets the file go with its last slice.
 */
function sliced(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let rest: Uint8Array | undefined = bytes;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (rest === undefined || rest.length === 0) {
        rest = undefined;
        controller.close();
        return;
      }
      const n = Math.min(RESPONSE_SLICE, rest.length);
      controller.enqueue(rest.subarray(0, n));
      rest = n < rest.length ? rest.subarray(n) : undefined;
    },
    cancel() {
      rest = undefined;
    },
  });
}

/** A file name safe in a `content-disposition` (path separators and quotes replaced). */
const safeName = (name: string) => name.replace(/[^\w.-]+/g, "_") || "file";

/**
 * Several files as one `multipart/form-data` body (`Response.formData()` reads it back): a part
 * `files` per file, named by the file name, in order.
 */
function multipartBody(files: readonly (readonly [string, Uint8Array])[]): {
  body: ReadableStream<Uint8Array>;
  length: number;
  type: string;
} {
  const boundary = `nncompress-${crypto.randomUUID()}`;
  const enc = new TextEncoder();
  const pieces: Uint8Array[] = [];
  for (const [name, bytes] of files) {
    pieces.push(
      enc.encode(
        `--${boundary}\r\ncontent-disposition: form-data; name="files"; filename="${
          safeName(name)
        }"\r\ncontent-type: application/octet-stream\r\n\r\n`,
      ),
      bytes,
      enc.encode("\r\n"),
    );
  }
  pieces.push(enc.encode(`--${boundary}--\r\n`));
  let i = 0;
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      while (i < pieces.length && at >= pieces[i].length) (i++, at = 0);
      if (i >= pieces.length) {
        controller.close();
        return;
      }
      const n = Math.min(RESPONSE_SLICE, pieces[i].length - at);
      controller.enqueue(pieces[i].subarray(at, at + n));
      at += n;
    },
  });
  return {
    body,
    length: pieces.reduce((n, p) => n + p.length, 0),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

function fileResponse(name: string, { bytes, files, report }: CompressionResult): Response {
  const s = summarizeRun(report);
  const summary = {
    mode: report.mode,
    algorithm: report.algorithm,
    targets: s.targets,
    sparsity: Number(s.sparsity.toFixed(6)),
    bits: s.bits,
    packedBytesBefore: report.before.packedBytes,
    packedBytesAfter: report.after.packedBytes,
    warnings: report.warnings.length,
  };
  if (files !== undefined) {
    const { body, length, type } = multipartBody(files);
    return new Response(body, {
      headers: {
        "content-length": String(length),
        "content-type": type,
        "x-nncompress-summary": JSON.stringify(summary),
      },
    });
  }
  return new Response(sliced(bytes), {
    headers: {
      "content-length": String(bytes.length),
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${outputName(name)}"`,
      "x-nncompress-summary": JSON.stringify(summary),
    },
  });
}

/**
 * Creates the handler.
 *
 * @param options The limits (each defaults to `DEFAULT_LIMITS`), where compressions run and, for
 * Workers, the precompiled kernels module.
 * @returns `{ fetch, limits, isolation, close }`.
 * @throws {RangeError} When a limit is not a positive number, or `isolation` is `worker` on a
 * runtime without module Web Workers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHandler } from "./handler.ts";
 *
 * const handler = createHandler({ maxBytes: 1024 });
 * const res = await handler.fetch(new Request("http://x/", { method: "POST", body: new Uint8Array(2048) }));
 * assert.equal(res.status, 413);
 * const body = await res.json();
 * assert.equal(body.error.code, "body_too_large");
 * assert.equal(body.error.max, 1024);
 * handler.close();
 * ```
 */
export function createHandler(options: EdgeHandlerOptions = {}): EdgeHandler {
  const limits = checkLimits(options);
  if (options.isolation === "worker" && !hasModuleWorkers()) {
    throw new RangeError(
      'createHandler option "isolation" cannot be "worker" here: this runtime has no module Web Workers (use "auto" or "inline")',
    );
  }
  const isolation = options.isolation === "inline" ||
      (options.isolation !== "worker" && !hasModuleWorkers())
    ? "inline"
    : "worker";
  let pool: WorkerPool | undefined;
  let ready = options.wasmModule === undefined;
  let running = 0;
  let buffered = 0;
  const budget: ByteBudget = {
    reserve(n) {
      if (buffered + n > limits.maxBufferedBytes) {
        throw busy(
          `request body needs ${n} bytes but ${buffered} of the ${limits.maxBufferedBytes} ` +
            "bytes for bodies in flight are taken",
          "maxBufferedBytes",
          limits.maxBufferedBytes,
          limits.retryAfterSeconds,
        );
      }
      buffered += n;
    },
    release(n) {
      buffered -= n;
    },
  };
  const tooMany = () =>
    busy(
      `compression must wait: ${running} of ${limits.maxConcurrent} compressions are running`,
      "maxConcurrent",
      limits.maxConcurrent,
      limits.retryAfterSeconds,
    );

  async function compressInline(job: CompressionJob): Promise<CompressionResult> {
    const start = performance.now();
    return await runCompression(job, () => {
      const elapsed = performance.now() - start;
      if (elapsed > limits.timeoutMs) throw overBudget(limits, elapsed);
    });
  }

  async function compress(request: Request, started: number): Promise<Response> {
    if (running >= limits.maxConcurrent) {
      await request.body?.cancel().catch(() => {});
      throw tooMany();
    }
    const req = await parseRequest(request, {
      maxBytes: limits.maxBytes,
      timeoutMs: limits.bodyTimeoutMs,
      idleTimeoutMs: limits.bodyIdleTimeoutMs,
      budget,
    }, started);
    try {
      checkModelLimits(req.model, req.name, limits);
      if (running >= limits.maxConcurrent) throw tooMany();
      running++;
      const job: CompressionJob = {
        model: req.model,
        name: req.name,
        configList: req.configList,
        mode: req.mode,
        ...(req.algorithm === undefined ? {} : { algorithm: req.algorithm }),
        ...(req.registry === undefined ? {} : { registry: req.registry }),
        ...(req.files === undefined ? {} : { files: req.files }),
        ...(req.options === undefined ? {} : { options: req.options }),
      };
      let result: CompressionResult;
      try {
        if (isolation === "inline") {
          result = await compressInline(job);
        } else {
          pool ??= new WorkerPool(
            new URL("./_compress_worker.ts", import.meta.url),
            options.workerIdleMs ?? 5000,
          );
          const outcome = await pool.run(job, limits.timeoutMs);
          if (outcome.kind === "timeout") throw overBudget(limits, outcome.elapsedMs);
          if (outcome.kind === "failed") return describedResponse(outcome.error);
          if (outcome.kind === "crashed") {
            return json(500, {
              error: {
                kind: "Error",
                code: "worker_crashed",
                message: `compression failed: its worker stopped (${outcome.message})`,
              },
            });
          }
          result = outcome.result;
        }
      } finally {
        running--;
      }
      return req.report ? json(200, result.report) : fileResponse(req.name, result);
    } finally {
      req.release();
    }
  }

  return {
    limits,
    isolation,
    close() {
      pool?.close();
      pool = undefined;
    },
    async fetch(request) {
      const started = performance.now();
      try {
        if (!ready) {
          initKernels(options.wasmModule!);
          ready = true;
        }
        const path = new URL(request.url).pathname;
        if (path !== "/" && path !== "/compress") {
          await request.body?.cancel().catch(() => {});
          throw new HttpError(404, "not_found", `route ${path} does not exist: use / or /compress`);
        }
        if (request.method === "GET") return json(200, { ...USAGE, limits });
        if (request.method !== "POST") {
          await request.body?.cancel().catch(() => {});
          throw new HttpError(
            405,
            "method_not_allowed",
            `method ${request.method} is not allowed: use POST (or GET for usage)`,
            { headers: { allow: "GET, POST" } },
          );
        }
        return await compress(request, started);
      } catch (e) {
        return errorResponse(e);
      }
    },
  };
}

/** The handler with the default limits and kernels. */
export default createHandler();
