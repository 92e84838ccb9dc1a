/**
 * Terminal tables of reports: one line per run, or one line per layer of a run.
 *
 * @module
 */

import { formatTable } from "./format_table.ts";
import { summarizeRun } from "./summarize_run.ts";
import type { CompressionReport } from "./types.ts";

const size = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * A run's latency per backend, `node 3.10 → 2.84 ms (0.92x)`, or `-`.
 *
 * @param run The run.
 * @returns One entry per backend, joined with `; `.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLatency } from "./format_runs.ts";
 *
 * const latency = [{ backend: "node", threads: 1, runs: 10, warmup: 2, input: "x [1, 4]",
 *   resultMs: 2.5, resultMinMs: 2.4, originalMs: 5, originalMinMs: 4.9 }];
 * assert.equal(formatLatency({ latency }), "node 5.00 → 2.50 ms (0.50x)");
 * assert.equal(formatLatency({}), "-");
 * ```
 */
export function formatLatency(run: Pick<CompressionReport, "latency">): string {
  const ms = (x: number) => x.toFixed(x >= 100 ? 0 : 2);
  return (run.latency ?? []).map((l) =>
    l.originalMs === null
      ? `${l.backend} ${ms(l.resultMs)} ms`
      : `${l.backend} ${ms(l.originalMs)} → ${ms(l.resultMs)} ms (${
        (l.resultMs / l.originalMs).toFixed(2)
      }x)`
  ).join("; ") || "-";
}

/**
 * One line per run: label, model, algorithm, configured tensors, sparsity, bits, file and packed
 * sizes before → after, evaluation, inference latency (when a run has it: original → result
 * per backend, `formatLatency`), compression time.
 *
 * @param runs The runs.
 * @returns The table text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRuns } from "./format_runs.ts";
 *
 * const text = formatRuns([{ label: "int8", model: "m.onnx", format: "onnx", mode: "quantization",
 *   algorithm: "PtqQuantizer", configList: [], before: { fileBytes: 4000, packedBytes: 4000 },
 *   after: { fileBytes: 4000, packedBytes: 1004 }, parameters: 1000, layers: [], warnings: [],
 *   evaluation: [{ name: "accuracy", correct: 39, total: 40 }], timeMs: 12 }]);
 * assert.ok(text.includes("4.0 kB → 1.0 kB"));
 * assert.ok(text.includes("39/40"));
 * ```
 */
export function formatRuns(runs: readonly CompressionReport[]): string {
  const timed = runs.some((r) => (r.latency ?? []).length > 0);
  const rows = [[
    "config",
    "model",
    "algorithm",
    "tensors",
    "sparsity",
    "bits",
    "file",
    "packed",
    "eval",
    ...(timed ? ["latency"] : []),
    "time",
  ]];
  for (const r of runs) {
    const s = summarizeRun(r);
    const none = r.mode === "none";
    rows.push([
      r.label,
      r.model,
      r.algorithm ?? r.mode,
      String(s.targets),
      none ? "-" : pct(s.sparsity),
      none ? "-" : s.bits.join("/"),
      `${size(r.before.fileBytes)} → ${size(r.after.fileBytes)}`,
      `${size(r.before.packedBytes)} → ${size(r.after.packedBytes)}`,
      r.evaluation.map((e) => `${e.correct}/${e.total}`).join(" ") || "-",
      ...(timed ? [formatLatency(r)] : []),
      none ? "-" : `${(r.timeMs / 1000).toFixed(2)} s`,
    ]);
  }
  return formatTable(rows, {
    align: [
      "left",
      "left",
      "left",
      "right",
      "right",
      "right",
      "right",
      "right",
      "right",
      ...(timed ? ["right" as const] : []),
      "right",
    ],
  });
}

/**
 * One line per configured tensor of a run (module.target, type, shape, sparsity before and
 * after, bits, granularity), then a total line.
 *
 * @param run The run.
 * @returns The table text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLayers } from "./format_runs.ts";
 *
 * const layer = { module: "fc", target: "weight", type: "Linear", shape: [2, 2], elements: 4,
 *   sparsityBefore: 0, sparsity: 0.5, bits: null, dtype: "F32", granularity: null };
 * const text = formatLayers({ label: "p", model: "m", format: "onnx", mode: "pruning", configList: [],
 *   before: { fileBytes: 16, packedBytes: 16 }, after: { fileBytes: 16, packedBytes: 16 },
 *   parameters: 4, layers: [layer], warnings: [], evaluation: [], timeMs: 1 });
 * assert.match(text.split("\n")[2], /^fc\.weight\s+Linear\s+\[2, 2\]\s+0\.0%\s+50\.0%\s+F32/);
 * ```
 */
export function formatLayers(run: CompressionReport): string {
  const rows = [["tensor", "type", "shape", "zeros before", "zeros after", "bits", "granularity"]];
  for (const l of run.layers) {
    rows.push([
      `${l.module}.${l.target}`,
      l.type,
      `[${l.shape.join(", ")}]`,
      pct(l.sparsityBefore),
      pct(l.sparsity),
      l.bits === null ? l.dtype : `int${l.bits}`,
      l.granularity ?? "-",
    ]);
  }
  const s = summarizeRun(run);
  rows.push([
    `total (${s.targets} tensors)`,
    "",
    `${s.elements}`,
    "",
    pct(s.sparsity),
    s.bits.join("/"),
    "",
  ]);
  return formatTable(rows, { align: ["left", "left", "left", "right", "right", "right", "left"] });
}
