// A worker thread of `_worker_pool.ts`: runs `_tensor_tasks.ts` tasks one at a time, on module
// Web Workers (Deno, Bun, browsers) and Node's worker threads alike.
import { errorData, runTask, type TaskRequest } from "./_tensor_tasks.ts";

interface Channel {
  listen(handler: (request: TaskRequest) => void): void;
  post(message: unknown, transfer?: ArrayBuffer[]): void;
}

async function channel(): Promise<Channel> {
  const scope = globalThis as unknown as {
    postMessage?: (message: unknown, transfer?: ArrayBuffer[]) => void;
    onmessage?: ((event: MessageEvent<TaskRequest>) => void) | null;
  };
  if (typeof scope.postMessage === "function") {
    return {
      listen: (handler) => scope.onmessage = (event) => handler(event.data),
      post: (m, t) => scope.postMessage!(m, t),
    };
  }
  const { parentPort } = await import("node:worker_threads");
  return {
    listen: (handler) => parentPort!.on("message", handler),
    post: (m, t) => parentPort!.postMessage(m, t),
  };
}

const port = await channel();
// The pool sends a worker one job at a time, so jobs never overlap here.
port.listen(async (request) => {
  try {
    const { result, transfer } = await runTask(request);
    port.post({ result }, transfer);
  } catch (e) {
    port.post({ error: errorData(e) });
  }
});
// Loaded: the pool sends jobs from now on.
port.post({ ready: true });
