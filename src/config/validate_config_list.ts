/**
 * `validateConfigList`: legacy conversion plus validation of every key, collecting every issue.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { convertLegacy } from "./convert_legacy_config_list.ts";
import { warnUnusedSettings } from "./_unused_settings.ts";
import { validateConfig } from "./_validate_config.ts";
import type { ConfigOf, Issue, LegacyOptions, Mode, Warning } from "./types.ts";

/** A validated config list. */
export interface ValidatedConfigList<M extends Mode> {
  /** The converted, validated copy (the input is never modified). */
  readonly configList: ConfigOf<M>[];
  /** Warnings (e.g. legacy keys translated). */
  readonly warnings: Warning[];
  /** True when the input was a legacy (v2) list and was converted. */
  readonly legacy: boolean;
  /** Options that left the config list during legacy conversion. */
  readonly options: LegacyOptions;
}

/** Collects the issues of a config list without throwing (used by the other stages). */
export function collectConfigIssues<M extends Mode>(
  configList: unknown,
  mode: M,
  issues: Issue[],
): ValidatedConfigList<M> | undefined {
  const converted = convertLegacy(configList, mode, issues);
  if (converted === undefined) return undefined;
  const ctx = { issues };
  const warnings = [...converted.warnings];
  converted.configList.forEach((config, i) => {
    validateConfig(config, i, mode, ctx);
    warnUnusedSettings(config, i, warnings);
  });
  return {
    configList: converted.configList as ConfigOf<M>[],
    warnings,
    legacy: converted.legacy,
    options: converted.options,
  };
}

/**
 * Converts a legacy list if needed and validates every key of every sub-config for `mode`: types
 * and ranges (ratios in [0, 1], `max_sparse_ratio` in (0, 1], `min_sparse_ratio` in [0, 1),
 * min <= max, `quant_dtype` `int<N>`/`uint<N>` with 2 <= N <= 16, granularity forms, apply methods
 * per mode, group ids, Python regexes, `align`, `lambda` >= 0, `link`, `fuse_names`), unknown keys
 * with a "did you mean", keys of another mode, and legacy keys outside a legacy list. Integer
 * ratios such as `0` and `1` are accepted; a top-level ratio plus ratios in `target_settings` is
 * valid. Every issue is collected before one `ConfigError` is thrown.
 *
 * @param configList the config list (untrusted data; never modified)
 * @param mode "pruning", "quantization" or "distillation"
 * @returns the converted, validated copy, warnings, the legacy flag and legacy options
 * @throws {ConfigError} listing every issue found
 * @throws {TypeError} when `mode` is not a mode
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./config_error.ts";
 * import { validateConfigList } from "./validate_config_list.ts";
 *
 * const ok = validateConfigList([{ op_types: ["Linear"], sparse_ratio: 0.5 }], "pruning");
 * assert.deepEqual(ok.configList, [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
 *
 * assert.throws(
 *   () => validateConfigList([{ op_types: ["Linear"], sparsity_ratio: 0.5 }], "pruning"),
 *   (error: unknown) =>
 *     error instanceof ConfigError &&
 *     error.issues[0].path === "[0].sparsity_ratio" &&
 *     error.issues[0].message === 'unknown key "sparsity_ratio"; did you mean "sparse_ratio"?',
 * );
 * ```
 */
export function validateConfigList<M extends Mode>(
  configList: unknown,
  mode: M,
): ValidatedConfigList<M> {
  const issues: Issue[] = [];
  const result = collectConfigIssues(configList, mode, issues);
  if (issues.length > 0 || result === undefined) throw new ConfigError(issues);
  return result;
}
