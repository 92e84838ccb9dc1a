/**
 * `parseReport`: a report bundle read back from JSON text, checked.
 *
 * @module
 */

import type { CompressionReport, ReportBundle } from "./types.ts";

function fail(path: string, rule: string, value: unknown): never {
  const shown = JSON.stringify(value)?.slice(0, 60) ?? String(value);
  throw new TypeError(`report ${path} must be ${rule}: current value is ${shown}`);
}

function checkRun(r: unknown, path: string): CompressionReport {
  if (typeof r !== "object" || r === null) fail(path, "an object", r);
  const run = r as Record<string, unknown>;
  for (const key of ["label", "model", "format", "mode"]) {
    if (typeof run[key] !== "string") fail(`${path}.${key}`, "a string", run[key]);
  }
  for (const key of ["before", "after"]) {
    const s = run[key] as Record<string, unknown> | undefined;
    if (typeof s?.fileBytes !== "number" || typeof s?.packedBytes !== "number") {
      fail(`${path}.${key}`, "{ fileBytes, packedBytes } numbers", s);
    }
  }
  for (const key of ["layers", "warnings", "evaluation"]) {
    if (!Array.isArray(run[key])) fail(`${path}.${key}`, "an array", run[key]);
  }
  (run.layers as unknown[]).forEach((l, i) => {
    const layer = l as Record<string, unknown>;
    if (typeof layer?.module !== "string" || typeof layer?.elements !== "number") {
      fail(`${path}.layers[${i}]`, "a layer with module and elements", l);
    }
  });
  if (run.latency !== undefined) {
    if (!Array.isArray(run.latency)) fail(`${path}.latency`, "an array", run.latency);
    (run.latency as unknown[]).forEach((l, i) => {
      const t = l as Record<string, unknown>;
      if (
        typeof t?.backend !== "string" || typeof t?.resultMs !== "number" ||
        !(t?.originalMs === null || typeof t?.originalMs === "number")
      ) {
        fail(`${path}.latency[${i}]`, "{ backend, resultMs, originalMs }", l);
      }
    });
  }
  if (typeof run.parameters !== "number") fail(`${path}.parameters`, "a number", run.parameters);
  if (typeof run.timeMs !== "number") fail(`${path}.timeMs`, "a number", run.timeMs);
  return run as unknown as CompressionReport;
}

/**
 * Parses the JSON of a report bundle (as `reportJson` writes it) or of a single run, and checks
 * the fields the renderers read.
 *
 * @param text The JSON text.
 * @returns The bundle (a single run is wrapped in one).
 * @throws {SyntaxError} When the text is not JSON.
 * @throws {TypeError} When a field is missing or has the wrong type (names its path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseReport } from "./parse_report.ts";
 *
 * const bundle = parseReport('{"title":"t","generator":"g","createdAt":"c","runs":[]}');
 * assert.equal(bundle.runs.length, 0);
 * assert.throws(() => parseReport('{"runs":[{}]}'), /runs\[0\]\.label must be a string/);
 * ```
 */
export function parseReport(text: string): ReportBundle {
  return parseReportData(JSON.parse(text));
}

/**
 * Checks an already-parsed report (the value `JSON.parse` gave) and returns it as a bundle.
 *
 * @param value The parsed JSON.
 * @returns The bundle (a single run is wrapped in one).
 * @throws {TypeError} When a field is missing or has the wrong type (names its path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseReportData } from "./parse_report.ts";
 *
 * assert.throws(() => parseReportData({ runs: [{}] }), /runs\[0\]\.label must be a string/);
 * ```
 */
export function parseReportData(value: unknown): ReportBundle {
  const data = value as Record<string, unknown>;
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    fail("(top level)", "an object", data);
  }
  if (!("runs" in data)) {
    const run = checkRun(data, "(top level)");
    return { title: run.label, generator: "nncompress", createdAt: "", runs: [run] };
  }
  if (!Array.isArray(data.runs)) fail("runs", "an array", data.runs);
  return {
    title: typeof data.title === "string" ? data.title : "nncompress report",
    generator: typeof data.generator === "string" ? data.generator : "nncompress",
    createdAt: typeof data.createdAt === "string" ? data.createdAt : "",
    runs: data.runs.map((r, i) => checkRun(r, `runs[${i}]`)),
  };
}
