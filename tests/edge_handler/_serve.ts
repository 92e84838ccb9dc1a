// Serving a fetch handler on 127.0.0.1 with the test runtime's own server (Deno or Bun).
import { spawn } from "node:child_process";

type Fetch = (request: Request) => Promise<Response>;

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Serves `fetch` on a free port of 127.0.0.1. */
export function serve(fetch: Fetch): Served {
  if (g.Deno?.serve) {
    const server = g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetch);
    return { url: `http://127.0.0.1:${server.addr.port}/`, close: () => server.shutdown() };
  }
  const server = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  return {
    url: `http://127.0.0.1:${server.port}/`,
    close: () => Promise.resolve(server.stop(true)),
  };
}

/** Runs `deno serve` on a file; resolves once it listens (rejects after `timeoutMs`). */
export function denoServe(deno: string, file: string, timeoutMs = 20_000): Promise<Served> {
  const child = spawn(deno, ["serve", "--host", "127.0.0.1", "--port", "0", "-A", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...g.process?.env, NO_COLOR: "1" },
  });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`deno serve did not listen within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${m[1]}/`,
        close: () =>
          new Promise<void>((done) => {
            child.once("exit", () => done());
            child.kill();
          }),
      });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`deno serve exited with ${code}:\n${log}`));
    });
  });
}
