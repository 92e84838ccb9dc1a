/**
 * `reportJson`: a report bundle as JSON text.
 *
 * @module
 */

import type { ReportBundle } from "./types.ts";

/**
 * Serializes a report bundle as indented JSON with a trailing newline. Non-finite numbers (which
 * JSON cannot hold) become `null`; keys keep the order of the types.
 *
 * @param bundle The runs and their title.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportJson } from "./report_json.ts";
 *
 * const text = reportJson({ title: "t", generator: "nncompress", createdAt: "2026-01-01T00:00:00Z", runs: [] });
 * assert.deepEqual(JSON.parse(text).runs, []);
 * ```
 */
export function reportJson(bundle: ReportBundle): string {
  return JSON.stringify(
    bundle,
    (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
    2,
  ) + "\n";
}
