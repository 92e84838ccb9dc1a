/**
 * A static file server on 127.0.0.1 for the built page (`node:http`: Deno, Bun and Node).
 *
 * @module
 */
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
};

/**
 * Cross-origin isolation, so the page may use SharedArrayBuffer and onnxruntime-web may run
 * threads (a host that cannot send these headers still works, with one thread).
 */
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

/** A running server. */
export interface StaticServer {
  /** The base URL (`http://127.0.0.1:<port>/`). */
  readonly url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves the files of `root` (no directory listing, no paths outside it).
 *
 * @param root The folder.
 * @param port The port (default 0: any free port).
 * @returns The server once it listens.
 */
export function serveStatic(root: string, port = 0): Promise<StaticServer> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = join(root, path === "/" ? "index.html" : path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        ...ISOLATION,
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
