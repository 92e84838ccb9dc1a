/**
 * `formatPruningReport`: a pruning report as a text table.
 *
 * @module
 */

import type { PruningReport } from "./pruning_report.ts";

/**
 * Formats a report as an aligned text table (one row per target, a total row, then the
 * warnings).
 *
 * @param report the report (from `pruningReport` or `prune`)
 * @returns the table
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPruningReport } from "./format_pruning_report.ts";
 *
 * const text = formatPruningReport({
 *   targets: [{ module: "fc", target: "weight", shape: [2, 3], granularity: "out_channel",
 *     applyMethod: "mul", kept: 3, total: 6, sparsity: 0.5, masked: true }],
 *   totals: { kept: 3, total: 6, sparsity: 0.5 },
 *   warnings: [],
 * });
 * assert.match(text, /fc\s+weight\s+\[2, 3\]\s+out_channel\s+3\/6\s+50\.00%/);
 * ```
 */
export function formatPruningReport(report: PruningReport): string {
  const rows = [["module", "target", "shape", "granularity", "kept/total", "sparsity"]];
  for (const t of report.targets) {
    rows.push([
      t.module,
      t.target,
      `[${t.shape.join(", ")}]`,
      t.granularity === null
        ? "element"
        : typeof t.granularity === "string"
        ? t.granularity
        : JSON.stringify(t.granularity),
      `${t.kept}/${t.total}`,
      `${(t.sparsity * 100).toFixed(2)}%`,
    ]);
  }
  const { kept, total, sparsity } = report.totals;
  rows.push(["total", "", "", "", `${kept}/${total}`, `${(sparsity * 100).toFixed(2)}%`]);
  // A loop, not Math.max(...column): a spread of 150,000 rows overflows the call stack.
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  const lines = rows.map((r) =>
    r.map((cell, c) => (c >= 4 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ")
      .trimEnd()
  );
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}
