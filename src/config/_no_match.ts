/**
 * Warnings for selector and `fuse_names` entries that match nothing in the model (typos such as
 * `Conv2D`).
 *
 * @module
 */

import { didYouMean } from "./_did_you_mean.ts";
import { formatPath } from "./_path.ts";
import { compilePythonRegex } from "./_python_regex.ts";
import type { ModuleInfo, Warning } from "./types.ts";

/** Warns for each `op_types` entry no module has and each `op_names_re` entry no name matches. */
export function warnNoMatch(
  modules: readonly ModuleInfo[],
  opTypes: readonly string[],
  opRe: readonly string[],
  index: number,
  warnings: Warning[],
): void {
  const types = new Set<string>();
  for (const m of modules) {
    types.add(m.type);
    if (m.opType !== undefined) types.add(m.opType);
  }
  opTypes.forEach((t, j) => {
    if (types.has(t)) return;
    const guess = didYouMean(t, [...types]);
    warnings.push({
      code: "no_match",
      path: formatPath([index, "op_types", j]),
      message: `"${t}" is not a module type of the model${
        guess === undefined ? "" : `; did you mean "${guess}"?`
      }`,
    });
  });
  opRe.forEach((pattern, j) => {
    const r = compilePythonRegex(pattern);
    if (!r.ok || modules.some((m) => r.regex.test(m.name))) return;
    warnings.push({
      code: "no_match",
      path: formatPath([index, "op_names_re", j]),
      message: `${
        JSON.stringify(pattern)
      } matches no module name (patterns match at the start of names, like re.match)`,
    });
  });
}

/** Warns for each `fuse_names` entry that names no module of the model. */
export function warnUnknownFuseNames(
  modules: readonly ModuleInfo[],
  fuseNames: unknown,
  index: number,
  warnings: Warning[],
): void {
  if (!Array.isArray(fuseNames)) return;
  const names = new Set(modules.map((m) => m.name));
  fuseNames.forEach((group, g) => {
    (Array.isArray(group) ? group : []).forEach((name, j) => {
      if (typeof name === "string" && !names.has(name)) {
        warnings.push({
          code: "unknown_module",
          path: formatPath([index, "fuse_names", g, j]),
          message: `"${name}" is not a module of the model; this fusion cannot apply`,
        });
      }
    });
  });
}
