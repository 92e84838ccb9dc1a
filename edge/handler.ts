/**
 * An HTTP handler that compresses a model where it is posted: send a safetensors (or ONNX) file
 * and an NNI config list, get the compressed file back. `export default { fetch }` runs as is on
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
 * Responses: 200 with the file (`x-nncompress-summary` header: targets, sparsity, bits, sizes),
 * or with the JSON report when `?report=json`; 400 malformed input (no model, bad JSON, an
 * unreadable model file with its byte offset, a model with NaN weights), 404, 405, 413 body over
 * the limit, 415 a body that is not a model, 422 a config list or setting that does not apply
 * (every issue with its path; pruning and quantization errors with their code, module, target
 * and config path). Error bodies are `{ error }` with the data of `describeError`.
 *
 * @module
 */

import { compressModel } from "../src/compress/compress_model.ts";
import { loadModel } from "../src/compress/load_model.ts";
import { initKernels } from "../src/kernels/default.ts";
import { summarizeRun } from "../src/report/summarize_run.ts";
import { errorResponse, HttpError, json } from "./_errors.ts";
import { parseRequest } from "./_parse_request.ts";

/** Options of `createHandler`. */
export interface EdgeHandlerOptions {
  /** The largest accepted body in bytes (default 64 MiB). */
  readonly maxBytes?: number;
  /** The compiled `wasm/kernels.wasm`, where compiling from bytes is not allowed (Workers). */
  readonly wasmModule?: WebAssembly.Module;
}

/** A fetch handler. */
export interface EdgeHandler {
  /** Answers one request. */
  fetch(request: Request): Promise<Response>;
}

/** The default body limit: 64 MiB. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const USAGE = {
  usage: "POST a model and an NNI config list; the compressed model comes back",
  multipart: 'fields "model" (file), "config" (JSON), optional "mode", "algorithm"',
  raw: "body = the model (application/octet-stream); ?config=<JSON>&mode=&algorithm=",
  options: "?report=json returns the report instead of the file",
};

function outputName(name: string): string {
  const clean = name.replace(/[^\w.-]+/g, "_") || "model";
  const dot = clean.lastIndexOf(".");
  return dot > 0 ? `${clean.slice(0, dot)}.compressed${clean.slice(dot)}` : `${clean}.compressed`;
}

async function compress(request: Request, maxBytes: number): Promise<Response> {
  const req = await parseRequest(request, maxBytes);
  const model = loadModel(req.model, req.name);
  const { bytes, report } = await compressModel(model, {
    mode: req.mode,
    configList: req.configList,
    label: `${req.mode} ${req.name}`,
    ...(req.algorithm === undefined ? {} : { algorithm: req.algorithm }),
  });
  if (req.report) return json(200, report);
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
  return new Response(bytes as Uint8Array<ArrayBuffer>, {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${outputName(model.name)}"`,
      "x-nncompress-summary": JSON.stringify(summary),
    },
  });
}

/**
 * Creates the handler.
 *
 * @param options The body limit and, for Workers, the precompiled kernels module.
 * @returns `{ fetch }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHandler } from "./handler.ts";
 *
 * const handler = createHandler({ maxBytes: 1024 });
 * const res = await handler.fetch(new Request("http://x/", { method: "POST", body: new Uint8Array(2048) }));
 * assert.equal(res.status, 413);
 * ```
 */
export function createHandler(options: EdgeHandlerOptions = {}): EdgeHandler {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  let ready = options.wasmModule === undefined;
  return {
    async fetch(request) {
      try {
        if (!ready) {
          initKernels(options.wasmModule!);
          ready = true;
        }
        const path = new URL(request.url).pathname;
        if (path !== "/" && path !== "/compress") throw new HttpError(404, `no route ${path}`);
        if (request.method === "GET") return json(200, USAGE);
        if (request.method !== "POST") {
          await request.body?.cancel();
          return json(
            405,
            { error: { kind: "HttpError", message: "use POST (or GET for usage)" } },
            {
              allow: "GET, POST",
            },
          );
        }
        return await compress(request, maxBytes);
      } catch (e) {
        return errorResponse(e);
      }
    },
  };
}

/** The handler with the default limit and kernels. */
export default createHandler();
