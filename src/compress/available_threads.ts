/**
 * `availableThreads`: how many worker threads a run can use.
 *
 * @module
 */

/**
 * The number of cores the runtime offers (the default of the CLI's `--threads`):
 * `navigator.hardwareConcurrency` (Deno, Bun, browsers, Node 21+), else Node's
 * `os.availableParallelism()`; at least 1.
 *
 * @returns The count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { availableThreads } from "./available_threads.ts";
 *
 * const n = await availableThreads();
 * assert.ok(Number.isSafeInteger(n) && n >= 1);
 * ```
 */
export async function availableThreads(): Promise<number> {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  if (typeof n === "number" && n >= 1) return Math.floor(n);
  try {
    const os = await import("node:os");
    const m = os.availableParallelism?.() ?? os.cpus().length;
    return m >= 1 ? m : 1;
  } catch {
    return 1;
  }
}
