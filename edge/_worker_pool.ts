// Compression workers, one job each at a time: a job over its time budget is abandoned by
// terminating its worker (the only way to stop synchronous work); idle workers are reused.
import type { CompressionJob, CompressionResult } from "./_compress_job.ts";
import type { ErrorDescription } from "./_errors.ts";

type Reply =
  | { readonly ready: true; readonly ok?: undefined }
  | {
    readonly ok: true;
    readonly bytes: Uint8Array;
    readonly files?: CompressionResult["files"];
    readonly report: CompressionResult["report"];
  }
  | { readonly ok: false; readonly error: ErrorDescription };

/** How long a new worker may take to load its modules. */
const STARTUP_MS = 60_000;

/** How a worker job ended. */
export type Outcome =
  | { readonly kind: "done"; readonly result: CompressionResult }
  | { readonly kind: "failed"; readonly error: ErrorDescription }
  | { readonly kind: "timeout"; readonly elapsedMs: number }
  | { readonly kind: "crashed"; readonly message: string };

/** Whether this runtime has module Web Workers (Deno, Bun, browsers; not Node 20, not workerd). */
export function hasModuleWorkers(): boolean {
  return typeof (globalThis as { Worker?: unknown }).Worker === "function";
}

/**
 * A pool of compression workers. An idle worker is terminated after `idleMs`: a live worker keeps
 * the process's event loop alive, and `deno serve` waits for it on SIGTERM.
 */
export class WorkerPool {
  readonly #url: URL;
  readonly #idleMs: number;
  readonly #idle: Worker[] = [];
  readonly #reap = new Map<Worker, ReturnType<typeof setTimeout>>();
  readonly #started = new WeakSet<Worker>();
  readonly #busy = new Map<Worker, (outcome: Outcome, keep: boolean) => void>();

  /**
   * @param url The worker module (`_compress_worker.ts`).
   * @param idleMs How long an idle worker is kept.
   */
  constructor(url: URL, idleMs: number) {
    this.#url = url;
    this.#idleMs = idleMs;
  }

  #park(worker: Worker): void {
    this.#idle.push(worker);
    this.#reap.set(
      worker,
      setTimeout(() => {
        this.#reap.delete(worker);
        this.#idle.splice(this.#idle.indexOf(worker), 1);
        worker.terminate();
      }, this.#idleMs),
    );
  }

  #take(): Worker {
    const worker = this.#idle.pop();
    if (worker === undefined) return new Worker(this.#url, { type: "module" });
    clearTimeout(this.#reap.get(worker));
    this.#reap.delete(worker);
    return worker;
  }

  /** Workers alive (idle and busy). */
  get size(): number {
    return this.#idle.length + this.#busy.size;
  }

  /**
   * Runs a job; the model's buffer is transferred (the caller's view is detached). After
   * `timeoutMs` the worker is terminated and the outcome is `timeout`.
   */
  run(job: CompressionJob, timeoutMs: number): Promise<Outcome> {
    const worker = this.#take();
    return new Promise<Outcome>((resolve) => {
      const finish = (outcome: Outcome, keep: boolean) => {
        clearTimeout(timer);
        worker.onmessage = null;
        worker.onerror = null;
        this.#busy.delete(worker);
        if (keep) this.#park(worker);
        else worker.terminate();
        resolve(outcome);
      };
      this.#busy.set(worker, finish);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const start = () => {
        this.#started.add(worker);
        const t0 = performance.now();
        timer = setTimeout(
          () => finish({ kind: "timeout", elapsedMs: performance.now() - t0 }, false),
          timeoutMs,
        );
        const model = job.model;
        worker.postMessage(job, model.buffer instanceof ArrayBuffer ? [model.buffer] : []);
      };
      if (this.#started.has(worker)) {
        start();
      } else {
        // A worker that does not load within STARTUP_MS counts as crashed.
        timer = setTimeout(
          () =>
            finish({ kind: "crashed", message: `it did not start within ${STARTUP_MS} ms` }, false),
          STARTUP_MS,
        );
      }
      worker.onmessage = (event: MessageEvent<Reply>) => {
        const reply = event.data;
        if (reply.ok === undefined) {
          clearTimeout(timer);
          start();
          return;
        }
        finish(
          reply.ok
            ? {
              kind: "done",
              result: {
                bytes: reply.bytes,
                ...(reply.files === undefined ? {} : { files: reply.files }),
                report: reply.report,
              },
            }
            : { kind: "failed", error: reply.error },
          true,
        );
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        finish({ kind: "crashed", message: String(event.message ?? event) }, false);
      };
    });
  }

  /** Terminates every worker (busy jobs resolve as `crashed`). */
  close(): void {
    for (const w of this.#idle) (clearTimeout(this.#reap.get(w)), w.terminate());
    this.#idle.length = 0;
    this.#reap.clear();
    for (const finish of [...this.#busy.values()]) {
      finish({ kind: "crashed", message: "the handler was closed" }, false);
    }
  }
}
