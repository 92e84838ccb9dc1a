/**
 * Compression reports: the data of a run (per-layer sparsity and bit-width, sizes, evaluation)
 * as JSON, as compact terminal tables, and as a self-contained HTML page with inline SVG charts.
 * Browser-safe: nothing here touches files (`writeReport` in `write_report.ts` does).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderHtml, reportJson } from "./mod.ts";
 *
 * const bundle = { title: "demo", generator: "nncompress", createdAt: "2026-01-01T00:00:00Z", runs: [] };
 * assert.ok(renderHtml(bundle).includes("<svg"));
 * assert.equal(JSON.parse(reportJson(bundle)).title, "demo");
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export { formatTable, type FormatTableOptions } from "./format_table.ts";
export { formatLatency, formatLayers, formatRuns } from "./format_runs.ts";
export { type RunSummary, summarizeRun } from "./summarize_run.ts";
export { reportJson } from "./report_json.ts";
export { renderHtml } from "./render_html.ts";
export { parseReport, parseReportData } from "./parse_report.ts";
