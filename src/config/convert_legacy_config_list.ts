/**
 * Legacy (v2) config lists → v3, with NNI's detection and union semantics and the spec's fixes.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { LEGACY_TRIGGERS } from "./_keys.ts";
import { Converter } from "./_legacy_converter.ts";
import { show } from "./_path.ts";
import { copyConfigList, isPlainObject } from "./_plain_copy.ts";
import type { Issue, LegacyOptions, Mode, Warning } from "./types.ts";

/** The result of a legacy conversion. */
export interface LegacyConversion {
  /** The converted copy (a copy of the input when it is not legacy). */
  readonly configList: unknown[];
  /** One warning per legacy key translated. */
  readonly warnings: Warning[];
  /** True when `config_list[0]` made the list legacy and it was converted. */
  readonly legacy: boolean;
  /** Options that left the config list (e.g. `quantStartStep`). */
  readonly options: LegacyOptions;
}

/**
 * Converts a legacy (v2) config list into v3 like NNI v3.0 does — detection from `config_list[0]`
 * only; `exclude` sub-configs become `exclude_*` lists added to every sub-config (a union; the
 * `exclude` value itself is ignored); `op_partial_names` become `.*name.*` regexes; `sparsity` /
 * `sparsity_per_layer` / `max_sparsity_per_layer` become weight settings — with the spec's fixes:
 * `total_sparsity` becomes a `global_group_id` per sub-config (`"legacy_total_sparsity_<i>"`),
 * legacy quantization configs get a top-level `quant_dtype`, keep `quant_types: ['bias']`, and
 * `quant_start_step` moves out into `options.quantStartStep`. Every translated key yields a warning.
 * The input is never modified.
 *
 * @param configList the config list (untrusted data)
 * @param mode the compression mode
 * @returns the converted copy, warnings, whether it was legacy, and options that left the list
 * @throws {ConfigError} when the list is not a list of plain data or a legacy key has a bad value
 * @throws {TypeError} when `mode` is not a mode
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convertLegacyConfigList } from "./convert_legacy_config_list.ts";
 *
 * const { configList, legacy, warnings } = convertLegacyConfigList(
 *   [{ op_types: ["Linear"], total_sparsity: 0.5 }],
 *   "pruning",
 * );
 * assert.equal(legacy, true);
 * assert.deepEqual(configList, [{
 *   op_types: ["Linear"],
 *   target_names: ["weight", "bias"],
 *   target_settings: {
 *     weight: { sparse_ratio: 0.5, granularity: "default", global_group_id: "legacy_total_sparsity_0" },
 *   },
 * }]);
 * assert.equal(warnings[0].code, "legacy_translated");
 * ```
 */
export function convertLegacyConfigList(configList: unknown, mode: Mode): LegacyConversion {
  const issues: Issue[] = [];
  const result = convertLegacy(configList, mode, issues);
  if (issues.length > 0 || result === undefined) throw new ConfigError(issues);
  return result;
}

/** The converter behind `convertLegacyConfigList`; problems go to `issues`. */
export function convertLegacy(
  configList: unknown,
  mode: Mode,
  issues: Issue[],
): LegacyConversion | undefined {
  assertMode(mode);
  const copy = copyConfigList(configList, issues);
  if (copy === undefined) return undefined;
  const warnings: Warning[] = [];
  const first = copy[0];
  if (!isPlainObject(first) || !LEGACY_TRIGGERS.some((k) => Object.hasOwn(first, k))) {
    return { configList: copy, warnings, legacy: false, options: {} };
  }
  const c = new Converter(copy, mode, issues, warnings);
  c.common();
  c.pruning();
  c.quantization();
  return { configList: copy, warnings, legacy: true, options: c.options };
}

/** Throws a `TypeError` unless `mode` is a mode. */
export function assertMode(mode: unknown): asserts mode is Mode {
  if (mode !== "pruning" && mode !== "quantization" && mode !== "distillation") {
    throw new TypeError(
      `"mode" must be one of "pruning", "quantization", "distillation": current value is ${
        show(mode)
      }`,
    );
  }
}
