// Runs edge/worker.js in workerd, Cloudflare's Workers runtime (npm `workerd`): bundles it with
// esbuild into one module worker plus kernels.wasm as a CompiledWasm module, writes a capnp
// config in a temp folder and serves it on a free port of 127.0.0.1.
import process from "node:process";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import type { Served } from "./_serve.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A free TCP port of 127.0.0.1 (asked of the OS, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Bundles `edge/worker.js` (or `entry`, a module source resolved from the repository root) into
 * `dir/worker.js` with `dir/kernels.wasm` beside it.
 */
export async function bundleWorker(dir: string, entry?: string): Promise<void> {
  await build({
    ...(entry === undefined
      ? { entryPoints: [`${ROOT}edge/worker.js`] }
      : { stdin: { contents: entry, resolveDir: ROOT, loader: "js" } }),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile: join(dir, "worker.js"),
    logLevel: "silent",
    plugins: [{
      name: "compiled-wasm",
      setup(b) {
        b.onResolve({ filter: /\.wasm$/ }, () => ({ path: "./kernels.wasm", external: true }));
      },
    }],
  });
  copyFileSync(`${ROOT}wasm/kernels.wasm`, join(dir, "kernels.wasm"));
}

/** The workerd config serving `worker.js` on `port`. */
export function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .edge)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const edge :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "kernels.wasm", wasm = embed "kernels.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
`;
}

/**
 * Starts workerd on the bundled handler (`edge/worker.js`, or the module source `entry`);
 * resolves once it answers (rejects after `timeoutMs`).
 */
export async function startWorkerd(
  timeoutMs = 30_000,
  entry?: string,
): Promise<Served & { log(): string }> {
  const dir = mkdtempSync(join(tmpdir(), "nncompress-workerd-"));
  await bundleWorker(dir, entry);
  const port = await freePort();
  writeFileSync(join(dir, "config.capnp"), workerdConfig(port));
  // node_modules/.bin/workerd is a Node launcher that starts the binary as its child: the two
  // run in a process group of their own, and stopping kills the whole group, so no workerd is
  // left behind when a test fails or times out.
  const child = spawn(`${ROOT}node_modules/.bin/workerd`, ["serve", "config.capnp"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  let exited: number | null | undefined;
  child.stdout!.on("data", (c: Uint8Array) => log += new TextDecoder().decode(c));
  child.stderr!.on("data", (c: Uint8Array) => log += new TextDecoder().decode(c));
  const gone = new Promise<void>((done) =>
    child.once("exit", (code) => {
      exited = code;
      done();
    })
  );
  const url = `http://127.0.0.1:${port}/`;
  const close = async () => {
    if (exited === undefined) {
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        child.kill();
      }
    }
    await gone;
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) {
      await close();
      throw new Error(`workerd exited with ${exited}:\n${log}`);
    }
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return { url, close, log: () => log };
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await close();
      throw new Error(`workerd did not answer within ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
