/**
 * `selectModules`: which modules a sub-config selects.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { SELECTOR_KEYS } from "./_keys.ts";
import { checkModules } from "./_modules.ts";
import { formatPath } from "./_path.ts";
import { copyConfigList, isPlainObject } from "./_plain_copy.ts";
import type { LinearRegex } from "./_linear_regex.ts";
import { compilePythonRegex } from "./_python_regex.ts";
import { isRegistered, namedParameterTargets } from "./default_registry.ts";
import { warnNoMatch } from "./_no_match.ts";
import type { ExtraRegistry, Issue, Mode, ModuleInfo, Path, Warning } from "./types.ts";

/** Options of `selectModules`. */
export interface SelectOptions {
  /** With a mode, modules without default targets for it are skipped (swept in) or rejected (named). */
  readonly mode?: Mode;
  /** Extra default targets per mode, by module class. */
  readonly registry?: ExtraRegistry;
  /** Index of the sub-config in its list, for paths (default 0). */
  readonly configIndex?: number;
}

/** The modules a sub-config selects. */
export interface Selection {
  /** Selected modules, in model order. */
  readonly modules: ModuleInfo[];
  /** Their names, in model order. */
  readonly names: string[];
  /** Names the model lacks, skipped modules. */
  readonly warnings: Warning[];
}

function list(config: Record<string, unknown>, key: string): string[] {
  const value = config[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function matcher(patterns: string[], path: Path, issues: Issue[]): (name: string) => boolean {
  const regexes: LinearRegex[] = [];
  patterns.forEach((p, i) => {
    const r = compilePythonRegex(p);
    if (r.ok) regexes.push(r.regex);
    else {issues.push({
        code: r.code,
        path: formatPath([...path, i]),
        message: `${JSON.stringify(p)}: ${r.message}`,
      });}
  });
  return (name) => regexes.some((r) => r.test(name));
}

/** Selection behind `selectModules` and the later stages; problems go to `issues`. */
export function selectInto(
  modules: readonly ModuleInfo[],
  config: Record<string, unknown>,
  index: number,
  options: SelectOptions,
  issues: Issue[],
  warnings: Warning[],
): ModuleInfo[] {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const opNames = list(config, "op_names");
  const opRe = list(config, "op_names_re");
  const opTypes = list(config, "op_types");
  const selected = new Set<string>(opNames);
  opNames.forEach((n, j) => {
    if (!byName.has(n)) {
      warnings.push({
        code: "unknown_module",
        path: formatPath([index, "op_names", j]),
        message: `"${n}" is not a module of the model; it is ignored`,
      });
      selected.delete(n);
    }
  });
  warnNoMatch(modules, opTypes, opRe, index, warnings);
  const reMatch = matcher(opRe, [index, "op_names_re"], issues);
  if (opRe.length > 0) { for (const m of modules) if (reMatch(m.name)) selected.add(m.name); }
  const hasType = (m: ModuleInfo, types: string[]) =>
    types.includes(m.type) || (m.opType !== undefined && types.includes(m.opType));
  if (opTypes.length > 0) {
    const typed = new Set(modules.filter((m) => hasType(m, opTypes)).map((m) => m.name));
    if (opNames.length > 0 || opRe.length > 0) {
      for (const n of [...selected]) if (!typed.has(n)) selected.delete(n);
    } else typed.forEach((n) => selected.add(n));
  }
  for (const n of list(config, "exclude_op_names")) selected.delete(n);
  const exRe = list(config, "exclude_op_names_re");
  const exMatch = matcher(exRe, [index, "exclude_op_names_re"], issues);
  const exTypes = list(config, "exclude_op_types");
  const result: ModuleInfo[] = [];
  for (const m of modules) {
    if (!selected.has(m.name) || (exRe.length > 0 && exMatch(m.name)) || hasType(m, exTypes)) {
      continue;
    }
    if (
      options.mode !== undefined && !isRegistered(options.mode, m.type, options.registry) &&
      namedParameterTargets(options.mode, m, config.target_names) === undefined
    ) {
      const label = m.name === "" ? `the root module ("", ${m.type})` : `"${m.name}" (${m.type})`;
      const params = Object.keys(m.params ?? {});
      // A module with parameters can be configured by naming them; the others need a registry.
      const how = params.length > 0
        ? `name its parameters in "target_names" (${params.join(", ")}), or give its class ` +
          `default targets with options.registry.${options.mode}[${
            JSON.stringify(m.type)
          }] (CLI: --registry)`
        : `give its class default targets with ` +
          `options.registry.${options.mode}[${JSON.stringify(m.type)}]`;
      const j = opNames.indexOf(m.name);
      if (j >= 0) {
        issues.push({
          code: "unregistered_module",
          path: formatPath([index, "op_names", j]),
          message:
            `${label} has no default ${options.mode} targets: ${how}, or select other modules`,
        });
      } else {
        warnings.push({
          code: "skipped_module",
          path: formatPath([index]),
          message: `${label} has no default ${options.mode} targets and was skipped; ` +
            (params.length > 0
              ? `to configure it, ${how}`
              : `name it in "op_names" with a registered class to configure it`),
        });
      }
      continue;
    }
    result.push(m);
  }
  return result;
}

/**
 * Selects the modules of one v3 sub-config, like NNI's `select_modules_by_config`: `op_names`
 * ∪ `op_names_re` (Python `re.match`: anchored at the start only), intersected with `op_types`
 * when names or regexes are given (else all modules of those types); then `exclude_op_names`,
 * `exclude_op_names_re` and `exclude_op_types` are removed (exclusions win). `op_types` also
 * match a module's raw ONNX `opType`. Names not in the model are ignored with a warning. With
 * `options.mode`, modules whose class has no default targets for the mode are skipped with a
 * warning when swept in by a regex or type, and rejected when named in `op_names`.
 *
 * @param modules the model's modules in model order (plain data)
 * @param config one v3 sub-config (only the selector keys are read)
 * @param options mode, extra registry and the sub-config's index (for paths)
 * @returns the selected modules and their names in model order, and warnings
 * @throws {ConfigError} for bad selector values or a named module without default targets
 * @throws {TypeError} for a malformed module list
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectModules } from "./select_modules.ts";
 *
 * const modules = [
 *   { name: "", type: "Net" },
 *   { name: "conv1", type: "Conv2d" },
 *   { name: "dropout1", type: "Dropout" },
 *   { name: "fc1", type: "Linear" },
 * ];
 * const { names } = selectModules(modules, { op_names_re: [".*1$"], exclude_op_types: ["Dropout"] });
 * assert.deepEqual(names, ["conv1", "fc1"]);
 * ```
 */
export function selectModules(
  modules: readonly ModuleInfo[],
  config: unknown,
  options: SelectOptions = {},
): Selection {
  checkModules(modules);
  const issues: Issue[] = [];
  const warnings: Warning[] = [];
  const index = options.configIndex ?? 0;
  const copyIssues: Issue[] = [];
  const copy = copyConfigList([config], copyIssues)?.[0];
  for (const issue of copyIssues) {
    issues.push({ ...issue, path: issue.path.replace(/^\[0\]/, `[${index}]`) });
  }
  let selected: ModuleInfo[] = [];
  if (copy !== undefined && !isPlainObject(copy)) {
    issues.push({
      code: "not_object",
      path: formatPath([index]),
      message: "a sub-config must be an object",
    });
  } else if (copy !== undefined) {
    const ctx = { issues };
    for (const [key, check] of Object.entries(SELECTOR_KEYS)) {
      if (Object.hasOwn(copy, key)) check(copy[key], [index, key], ctx);
    }
    if (issues.length === 0) selected = selectInto(modules, copy, index, options, issues, warnings);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return { modules: selected, names: selected.map((m) => m.name), warnings };
}
