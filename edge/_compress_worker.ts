// The compression worker: runs one job at a time for `_worker_pool.ts`, so a job over its time
// budget is abandoned by terminating the worker. Errors travel back already described.
import { describeError } from "./_errors.ts";
import { type CompressionJob, runCompression } from "./_compress_job.ts";

interface WorkerScope {
  onmessage: ((event: MessageEvent<CompressionJob>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

// Module loaded: the pool starts a job's time budget from here, not from the worker's start.
scope.postMessage({ ready: true });

scope.onmessage = async (event) => {
  try {
    const body = event.data.model.buffer;
    const { bytes, files, report } = await runCompression(event.data);
    if (files !== undefined) {
      // Several files (a model.json and its shards): copied by the structured clone.
      scope.postMessage({ ok: true, bytes, files, report });
      return;
    }
    // Transfer the output when it owns its whole buffer or is written into the request body
    // (never WASM memory, which cannot move).
    const own = bytes.buffer === body ||
      (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength &&
        bytes.buffer instanceof ArrayBuffer);
    const out = own ? bytes : bytes.slice();
    try {
      scope.postMessage({ ok: true, bytes: out, report }, [out.buffer as ArrayBuffer]);
    } catch {
      scope.postMessage({ ok: true, bytes: out.slice(), report });
    }
  } catch (e) {
    scope.postMessage({ ok: false, error: describeError(e) });
  }
};
