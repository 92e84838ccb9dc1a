/**
 * `formatTable`: a compact, aligned text table for terminals.
 *
 * @module
 */

/** Options of `formatTable`. */
export interface FormatTableOptions {
  /** Per column: `left` (default) or `right` alignment. */
  readonly align?: readonly ("left" | "right")[];
}

/**
 * Lays out rows as an aligned text table: the first row is the header, followed by a rule of
 * `─`; columns are separated by two spaces; trailing spaces are trimmed. Width counts code
 * points, so multi-byte characters align.
 *
 * @param rows The header row, then the data rows (all cells strings).
 * @param options Column alignment.
 * @returns The table, lines joined with `\n` (no trailing newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTable } from "./format_table.ts";
 *
 * const text = formatTable([["name", "n"], ["a", "10"], ["bb", "2"]], { align: ["left", "right"] });
 * assert.equal(text, "name   n\n────────\na     10\nbb     2");
 * ```
 */
export function formatTable(
  rows: readonly (readonly string[])[],
  options: FormatTableOptions = {},
): string {
  if (rows.length === 0) return "";
  const len = (s: string) => [...s].length;
  // Loops, not Math.max(...rows): a spread of 150,000 rows overflows the call stack.
  const cols = rows.reduce((n, r) => Math.max(n, r.length), 0);
  const widths = Array.from(
    { length: cols },
    (_, c) => rows.reduce((w, r) => Math.max(w, len(r[c] ?? "")), 0),
  );
  const line = (r: readonly string[]) =>
    widths.map((w, c) => {
      const cell = r[c] ?? "";
      const pad = " ".repeat(w - len(cell));
      return options.align?.[c] === "right" ? pad + cell : cell + pad;
    }).join("  ").trimEnd();
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (cols - 1);
  return [line(rows[0]), "─".repeat(total), ...rows.slice(1).map(line)].join("\n");
}
