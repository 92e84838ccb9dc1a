/**
 * The edge handler on Node's `http` server, which is the one server here that can put a deadline
 * on request heads: `headersTimeout` is the handler's `headerTimeoutMs`, and a head that misses it
 * gets the handler's JSON 408 (`header_timeout`). Node cannot import TypeScript, so bundle an
 * entry that calls `serveNode` (esbuild, `platform: "node"`); compressions run inline there (Node
 * 20 has no module Web Workers).
 *
 * ```ts ignore
 * import { createHandler } from "./handler.ts";
 * import { serveNode } from "./node.ts";
 * serveNode(createHandler({ headerTimeoutMs: 5000 }), { port: 8000 });
 * ```
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import type { EdgeHandler } from "./handler.ts";

/** Where `serveNode` listens. */
export interface ServeNodeOptions {
  /** The port (default 8000; 0 for a free one). */
  readonly port?: number;
  /** The address (default `127.0.0.1`). */
  readonly hostname?: string;
}

function jsonReply(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ error: { kind: "HttpError", code, message } }, null, 2) + "\n";
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${new TextEncoder().encode(body).length}\r\nconnection: close\r\n\r\n${body}`;
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    signal,
    ...(hasBody
      ? { body: Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>, duplex: "half" }
      : {}),
  } as RequestInit);
}

async function send(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body === null) return void res.end();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
      if (res.destroyed) return void await reader.cancel();
    }
  } finally {
    res.end();
  }
}

/**
 * Serves a handler with Node's `http` server.
 *
 * @param handler A handler from `createHandler`; its `headerTimeoutMs` bounds request heads.
 * @param options The port and address.
 * @returns The listening server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import { createHandler } from "./handler.ts";
 * import { serveNode } from "./node.ts";
 *
 * const handler = createHandler();
 * const server = serveNode(handler, { port: 0 });
 * await once(server, "listening");
 * const { port } = server.address() as { port: number };
 * const res = await fetch(`http://127.0.0.1:${port}/`);
 * assert.equal((await res.json()).limits.headerTimeoutMs, 10_000);
 * server.close();
 * handler.close();
 * ```
 */
export function serveNode(handler: EdgeHandler, options: ServeNodeOptions = {}): Server {
  const headerTimeoutMs = handler.limits.headerTimeoutMs;
  const server = createServer({
    headersTimeout: headerTimeoutMs,
    // The body deadlines are the handler's; Node's own whole-request timer is off.
    requestTimeout: 0,
    // Node checks its timers this often (30 s by default, far coarser than the deadline).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, headerTimeoutMs / 4)),
  }, (req, res) => {
    const aborted = new AbortController();
    res.once("close", () => aborted.abort());
    handler.fetch(toRequest(req, aborted.signal))
      .then((response) => send(response, res))
      .catch(() => res.destroy());
  });
  server.on("clientError", (error: Error & { code?: string }, socket: Socket) => {
    if (!socket.writable) return void socket.destroy();
    socket.end(
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? jsonReply(
          408,
          "Request Timeout",
          "header_timeout",
          `request head must arrive within ${headerTimeoutMs} ms: it did not`,
        )
        : jsonReply(
          400,
          "Bad Request",
          "bad_request",
          `request could not be parsed: ${error.code}`,
        ),
    );
  });
  server.listen(options.port ?? 8000, options.hostname ?? "127.0.0.1");
  return server;
}
