/**
 * Warnings for `target_settings` entries that `target_names` leaves unused.
 *
 * @module
 */

import { formatPath } from "./_path.ts";
import { isPlainObject } from "./_plain_copy.ts";
import type { Warning } from "./types.ts";

/** Warns for each `target_settings` entry that no name in a non-empty `target_names` uses. */
export function warnUnusedSettings(config: unknown, index: number, warnings: Warning[]): void {
  if (!isPlainObject(config) || !isPlainObject(config.target_settings)) return;
  const names = Array.isArray(config.target_names)
    ? config.target_names.filter((n): n is string => typeof n === "string")
    : [];
  if (names.length === 0) return;
  const used = (target: string) =>
    names.includes(target) ||
    (target === "_input_" && names.some((n) => n.startsWith("_input_"))) ||
    (target === "_output_" && names.some((n) => n.startsWith("_output_"))) ||
    (target === "_input_0" && names.includes("_input_")) ||
    (target === "_output_0" && names.includes("_output_"));
  for (const target of Object.keys(config.target_settings)) {
    if (used(target)) continue;
    warnings.push({
      code: "unused_setting",
      path: formatPath([index, "target_settings", target]),
      message: `"${target}" is not in "target_names", so this setting is not used`,
    });
  }
}
