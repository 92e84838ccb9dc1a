/**
 * `canonicalizeSettings`: the per-target settings one sub-config gives one module.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { SELECTOR_KEYS } from "./_keys.ts";
import { formatPath } from "./_path.ts";
import { isPlainObject, setOwn } from "./_plain_copy.ts";
import { defaultTargets } from "./default_registry.ts";
import type { ExtraRegistry, Issue, Mode, Path, TargetSetting } from "./types.ts";

/** Options of `canonicalizeSettings`. */
export interface CanonicalizeOptions {
  /** Extra default targets per mode, by module class. */
  readonly registry?: ExtraRegistry;
  /** The module's name, for messages. */
  readonly moduleName?: string;
  /** Index of the sub-config, for paths (default 0). */
  readonly configIndex?: number;
}

const INPUT = "_input_";
const OUTPUT = "_output_";
const NOT_SHORTHAND = new Set([
  ...Object.keys(SELECTOR_KEYS),
  "target_names",
  "target_settings",
  "fuse_names",
]);

/** Canonicalization behind `canonicalizeSettings`; problems go to `issues`. */
export function canonicalizeInto(
  moduleType: string,
  config: Readonly<Record<string, unknown>>,
  mode: Mode,
  options: CanonicalizeOptions,
  issues: Issue[],
): Record<string, TargetSetting> | undefined {
  const index = options.configIndex ?? 0;
  const label = options.moduleName === undefined
    ? moduleType
    : options.moduleName === ""
    ? `the root module ("", ${moduleType})`
    : `"${options.moduleName}" (${moduleType})`;
  const ts = defaultTargets(mode, moduleType, options.registry);
  if (ts === undefined) {
    issues.push({
      code: "unregistered_module",
      path: formatPath([index]),
      message: `${label} has no default ${mode} targets: give its class default targets with ` +
        `options.registry.${mode}[${JSON.stringify(moduleType)}]`,
    });
    return undefined;
  }
  // 1. shorthand: only keys already present in a target's default setting
  for (const setting of ts.values()) {
    for (const key of Object.keys(setting)) {
      if (!NOT_SHORTHAND.has(key) && Object.hasOwn(config, key)) {
        setting[key] = structuredClone(config[key]);
      }
    }
  }
  // 2. target_settings after shorthand: update existing targets, create new ones
  const update = config.target_settings;
  if (isPlainObject(update)) {
    for (const [target, setting] of Object.entries(update)) {
      if (!isPlainObject(setting)) continue;
      const into = ts.get(target) ?? {};
      for (const [key, value] of Object.entries(setting)) setOwn(into, key, structuredClone(value));
      ts.set(target, into);
    }
  }
  // 3. target names; `_input_` / `_output_` become `_input_0` / `_output_0` (moved to the end)
  const given = Array.isArray(config.target_names)
    ? config.target_names.filter((n) => typeof n === "string")
    : [];
  const names: string[] = given.length > 0 ? [...given] : [...ts.keys()];
  for (const prefix of [INPUT, OUTPUT]) {
    const at = names.indexOf(prefix);
    if (at >= 0) {
      names.splice(at, 1);
      names.push(`${prefix}0`);
    }
  }
  // 4. one setting per name; `_input_<x>` falls back to the `_input_` default only when it has none
  const out: Record<string, TargetSetting> = {};
  let ok = true;
  for (const name of names) {
    const prefix = name.startsWith(INPUT) ? INPUT : name.startsWith(OUTPUT) ? OUTPUT : undefined;
    const setting = ts.get(name) ?? (prefix === undefined ? undefined : ts.get(prefix));
    if (setting === undefined) {
      ok = false;
      const j = given.indexOf(name) >= 0 ? given.indexOf(name) : given.indexOf(prefix ?? name);
      const path: Path = j >= 0 ? [index, "target_names", j] : [index];
      const known = [...ts.keys()].map((k) => `"${k}"`).join(", ");
      issues.push({
        code: "unknown_target",
        path: formatPath(path),
        message: prefix === undefined
          ? `${label} has no ${mode} target "${name}" (default targets: ${known}); configure it in "target_settings"`
          : `${label} has no default ${mode} setting for "${prefix}" (default targets: ${known}); configure ` +
            `"${name === `${prefix}0` ? prefix : name}" in "target_settings"`,
      });
      continue;
    }
    setOwn(out, name, structuredClone(setting));
  }
  return ok ? out : undefined;
}

/**
 * The canonical `{target: setting}` of one module under one v3 sub-config, like NNI's
 * `canonicalize_settings`: the class's default targets (per mode); shorthand keys applied only to
 * targets whose default has that key; `target_settings` applied after shorthand (updating a
 * default target or creating a new one); `target_names` (or all default targets) with `_input_`
 * → `_input_0` and `_output_` → `_output_0`; `_input_<x>` / `_output_<x>` use their own setting,
 * or the `_input_` / `_output_` default when they have none.
 *
 * @param moduleType the module's class name
 * @param config one validated v3 sub-config
 * @param mode the compression mode
 * @param options extra registry, module name and sub-config index (for messages)
 * @returns the canonical settings by target name
 * @throws {ConfigError} when the class has no default targets or a target cannot be resolved
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalizeSettings } from "./canonicalize_settings.ts";
 *
 * const settings = canonicalizeSettings(
 *   "Linear",
 *   { op_names: ["fc1"], quant_dtype: "int8", target_names: ["weight", "_output_"] },
 *   "quantization",
 * );
 * assert.deepEqual(Object.keys(settings), ["weight", "_output_0"]);
 * assert.deepEqual(settings.weight, {
 *   quant_dtype: "int8",
 *   quant_scheme: null,
 *   granularity: "default",
 *   apply_method: "clamp_round",
 * });
 * ```
 */
export function canonicalizeSettings(
  moduleType: string,
  config: Readonly<Record<string, unknown>>,
  mode: Mode,
  options: CanonicalizeOptions = {},
): Record<string, TargetSetting> {
  const issues: Issue[] = [];
  const out = canonicalizeInto(moduleType, config, mode, options, issues);
  if (out === undefined) throw new ConfigError(issues);
  return out;
}
