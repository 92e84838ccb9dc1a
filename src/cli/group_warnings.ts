/**
 * Warnings as the CLI prints them: a model with 94 batch norms without `gamma` gives 94 warnings
 * that differ only in the module's name. Printed one per line they bury the rest; grouped, the
 * first is printed in full and one line names the others. `--json` and the reports keep every
 * warning.
 *
 * @module
 */

const QUOTED = /"(?:[^"\\]|\\.)*"/g;

/**
 * Groups warnings that differ only in their quoted parts (names, paths): a group of more than
 * `keep` warnings is printed as its first `keep` and one line `… and N more like the line above:
 * "a", "b", …` (the first quoted part that differs, at most `names` of them). Groups keep the
 * order of their first warning.
 *
 * A line longer than `maxChars` (a warning that lists thousands of weights) is cut after the
 * last list item that fits and says how much was left out; `--json` and the reports keep it
 * whole.
 *
 * @param warnings The warnings, in order.
 * @param keep How many of a group to print in full (default 2).
 * @param names How many of the others to name (default 6).
 * @param maxChars The longest line printed (default 1000).
 * @returns The lines to print (without the `warning: ` prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupWarnings } from "./group_warnings.ts";
 *
 * const w = [1, 2, 3, 4].map((i) => `"bn_${i}" has no parameter "weight"`);
 * assert.deepEqual(groupWarnings(w, 1, 2), [
 *   '"bn_1" has no parameter "weight"',
 *   '… and 3 more like the line above: "bn_2", "bn_3", …',
 * ]);
 * ```
 */
export function groupWarnings(
  warnings: readonly string[],
  keep = 2,
  names = 6,
  maxChars = 1000,
): string[] {
  const groups = new Map<string, string[]>();
  for (const w of warnings) {
    const key = w.replace(QUOTED, '""');
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [w]);
    else g.push(w);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    if (g.length <= keep + 1) {
      out.push(...g);
      continue;
    }
    out.push(...g.slice(0, keep));
    const first = g[0].match(QUOTED) ?? [];
    const rest = g.slice(keep);
    const named = rest.slice(0, names).map((w) => {
      const parts = w.match(QUOTED) ?? [];
      return parts.find((p, i) => p !== first[i]) ?? parts[0] ?? "";
    });
    out.push(
      `… and ${rest.length} more like the line above: ${named.join(", ")}${
        rest.length > names ? ", …" : ""
      }`,
    );
  }
  return out.map((line) => clipped(line, maxChars));
}

/** `line` cut after the last ", " item that fits in `maxChars`, with what was left out. */
function clipped(line: string, maxChars: number): string {
  if (line.length <= maxChars) return line;
  const cut = line.lastIndexOf(", ", maxChars);
  const kept = line.slice(0, cut > maxChars / 2 ? cut : maxChars);
  const rest = line.slice(kept.length);
  const items = rest.split(", ").length - 1;
  return `${kept}, … (${
    items > 0 ? `${items} more item(s), ` : ""
  }${rest.length} more characters: --json and the reports have the whole warning)`;
}
