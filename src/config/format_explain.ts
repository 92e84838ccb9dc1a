/**
 * `formatExplain`: an explanation as a readable text table.
 *
 * @module
 */

import type { Explanation } from "./explain.ts";
import type { TargetSetting } from "./types.ts";

function compact(setting: TargetSetting | null): string {
  if (setting === null) return "-";
  const parts = Object.entries(setting)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length === 0 ? "{}" : parts.join(" ");
}

function table(rows: string[][]): string[] {
  // A loop, not Math.max(...column): a spread of 150,000 rows overflows the call stack.
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  return rows.map((r) =>
    r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ").trimEnd()
  );
}

/**
 * Formats an explanation as text: issues, then one table per sub-config (module, type, target,
 * which sub-config's setting is used, and the final setting — or, for a target this sub-config
 * configures in vain, the setting it asked for), then warnings.
 *
 * @param result what `explain` returned
 * @returns multi-line text
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explain } from "./explain.ts";
 * import { formatExplain } from "./format_explain.ts";
 *
 * const text = formatExplain(explain(
 *   [{ name: "fc1", type: "Linear" }],
 *   [{ op_names: ["fc1"], target_names: ["weight"], sparse_ratio: 0.5 }],
 *   "pruning",
 *   { algorithm: "LevelPruner" },
 * ));
 * assert.equal(
 *   text,
 *   [
 *     "pruning config list: 1 sub-config, 1 target configured",
 *     "",
 *     "[0] selects 1 module",
 *     "  module  type    target  from  setting",
 *     "  fc1     Linear  weight  [0]   sparse_ratio=0.5 apply_method=mul",
 *   ].join("\n"),
 * );
 * ```
 */
export function formatExplain(result: Explanation): string {
  const n = result.configs.length;
  const lines = [
    `${result.mode} config list${result.legacy ? " (legacy, converted)" : ""}: ${n} sub-config${
      n === 1 ? "" : "s"
    }, ` +
    `${result.targets.length} target${result.targets.length === 1 ? "" : "s"} configured`,
  ];
  if (result.issues.length > 0) {
    lines.push("", `${result.issues.length} issue${result.issues.length === 1 ? "" : "s"}:`);
    for (const i of result.issues) {
      lines.push(`  ${i.path === "" ? "(config list)" : i.path}: ${i.message} [${i.code}]`);
    }
  }
  for (const c of result.configs) {
    const count = c.modules.length;
    lines.push("", `[${c.index}] selects ${count} module${count === 1 ? "" : "s"}`);
    const rows = [["module", "type", "target", "from", "setting"]];
    for (const m of c.modules) {
      for (const t of m.targets) {
        const from = t.from === null ? "-" : t.used ? `[${t.from}]` : `ignored, [${t.from}] wins`;
        const shown = t.used ? t.final : t.canonical;
        rows.push([m.name === "" ? '""' : m.name, m.type, t.target, from, compact(shown)]);
      }
    }
    if (rows.length > 1) {
      for (const r of table(rows)) lines.push(`  ${r}`);
    }
  }
  if (result.warnings.length > 0) {
    lines.push("", `${result.warnings.length} warning${result.warnings.length === 1 ? "" : "s"}:`);
    for (const w of result.warnings) {
      lines.push(`  ${w.path === "" ? "(config list)" : w.path}: ${w.message} [${w.code}]`);
    }
  }
  return lines.join("\n");
}
