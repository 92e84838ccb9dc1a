/**
 * Builds the page and serves it on 127.0.0.1 (default port 8080) until interrupted.
 *
 *     npx deno run -A web/serve.ts [port]
 *
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import { buildWeb } from "./build.ts";
import { serveStatic } from "./static_server.ts";

const out = join(new URL(".", import.meta.url).pathname, "dist");
await buildWeb(out);
const server = await serveStatic(out, Number(process.argv[2] ?? 8080));
console.log(`nncompress web page: ${server.url} (Ctrl-C to stop)`);
