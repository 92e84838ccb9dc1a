// Workers for per-tensor work, behind one small interface on every runtime: module Web Workers
// where the runtime has them (Deno, Bun, browsers), `node:worker_threads` on Node. Jobs are
// prepared (their tensor read) only when a worker is free, so at most `threads` tensors are in
// flight; their buffers are transferred, never copied.
import type { TaskName, TaskReply, TaskRequest } from "./_tensor_tasks.ts";
import { reviveError } from "./_tensor_tasks.ts";

/** One job for a worker: the task, its arguments, and the buffers to transfer with them. */
export interface Job {
  readonly task: TaskName;
  readonly args: unknown;
  readonly transfer?: readonly ArrayBuffer[];
}

/** A pool of task workers. */
export interface TaskPool {
  /** The number of workers. */
  readonly threads: number;
  /**
   * Runs a job on the next free worker: `prepare` is called when a worker is free (so a tensor
   * is read only when it can be worked on), and the result comes back transferred.
   */
  run<R>(prepare: () => Job | Promise<Job>): Promise<R>;
  /** Terminates the workers; jobs still waiting are rejected. */
  close(): void;
}

/** A worker, seen the same way on every runtime. */
interface Port {
  post(message: unknown, transfer: readonly ArrayBuffer[]): void;
  terminate(): void;
}

type Listener = (message: { ready?: true } & Partial<TaskReply>) => void;

async function spawn(url: URL, onMessage: Listener, onError: (e: unknown) => void): Promise<Port> {
  const WebWorker = (globalThis as { Worker?: typeof Worker }).Worker;
  if (typeof WebWorker === "function") {
    const w = new WebWorker(url, { type: "module" });
    w.onmessage = (e: MessageEvent) => onMessage(e.data);
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      onError(new Error(e.message));
    };
    return {
      post: (m, t) => w.postMessage(m, t as ArrayBuffer[]),
      terminate: () => w.terminate(),
    };
  }
  // Node (no global Worker before 23): the same module on a worker thread.
  const { Worker: NodeWorker } = await import("node:worker_threads");
  const w = new NodeWorker(url);
  w.on("message", onMessage);
  w.on("error", onError);
  return {
    post: (m, t) => w.postMessage(m, t as ArrayBuffer[]),
    terminate: () => void w.terminate(),
  };
}

interface Waiting {
  readonly prepare: () => Job | Promise<Job>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot {
  port?: Port;
  ready: boolean;
  busy?: Waiting;
}

/**
 * Starts `threads` workers running `_tensor_worker.ts` (or the module at `url`). Jobs run in
 * the order they are given; each worker runs one at a time.
 */
export function openTaskPool(
  threads: number,
  url: URL = new URL("./_tensor_worker.ts", import.meta.url),
): TaskPool {
  if (!Number.isSafeInteger(threads) || threads < 1) {
    throw new RangeError(`"threads" must be a positive integer: current value is ${threads}`);
  }
  const queue: Waiting[] = [];
  const slots: Slot[] = [];
  let broken: unknown;
  let closed = false;

  const fail = (error: unknown) => {
    broken ??= error;
    for (const s of slots) {
      s.busy?.reject(error);
      s.busy = undefined;
    }
    for (const w of queue.splice(0)) w.reject(error);
  };

  const pump = () => {
    for (const slot of slots) {
      if (!slot.ready || slot.busy !== undefined || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.busy = job;
      Promise.resolve()
        .then(job.prepare)
        .then((j) => {
          if (slot.busy !== job) return;
          const request: TaskRequest = { task: j.task, args: j.args };
          slot.port!.post(request, j.transfer ?? []);
        })
        .catch((e) => {
          if (slot.busy !== job) return;
          slot.busy = undefined;
          job.reject(e);
          pump();
        });
    }
  };

  for (let i = 0; i < threads; i++) {
    const slot: Slot = { ready: false };
    slots.push(slot);
    spawn(url, (message) => {
      if (message.ready) {
        slot.ready = true;
        pump();
        return;
      }
      const job = slot.busy;
      slot.busy = undefined;
      if (job !== undefined) {
        if (message.error !== undefined) job.reject(reviveError(message.error));
        else job.resolve(message.result);
      }
      pump();
    }, (e) => {
      fail(
        new Error(`a worker thread failed: ${e instanceof Error ? e.message : String(e)}`, {
          cause: e,
        }),
      );
    }).then((port) => {
      if (closed) port.terminate();
      else slot.port = port;
    }, fail);
  }

  return {
    threads,
    run<R>(prepare: () => Job | Promise<Job>): Promise<R> {
      if (closed) return Promise.reject(new Error("the worker pool is closed"));
      if (broken !== undefined) return Promise.reject(broken);
      return new Promise<R>((resolve, reject) => {
        queue.push({ prepare, resolve: resolve as (v: unknown) => void, reject });
        pump();
      });
    },
    close() {
      closed = true;
      fail(new Error("the worker pool is closed"));
      for (const s of slots) s.port?.terminate();
    },
  };
}
