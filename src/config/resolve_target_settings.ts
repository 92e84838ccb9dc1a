/**
 * `resolveTargetSettings`: the canonical per-module, per-target settings a compressor uses.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { resolveAll, type ResolveOptions } from "./_resolve.ts";
import type { Config, LegacyOptions, Mode, ModuleInfo, ResolvedTarget, Warning } from "./types.ts";

export type { ResolveOptions } from "./_resolve.ts";

/** The resolved settings of a config list on a model. */
export interface ResolvedSettings {
  /** Every configured (module, target), in config order, then model order, then target order. */
  readonly targets: ResolvedTarget[];
  /** The same targets by module name, then target name. */
  readonly byModule: Map<string, Map<string, ResolvedTarget>>;
  /** The validated (and, if legacy, converted) config list. */
  readonly configList: Config[];
  /** True when the list was legacy and was converted. */
  readonly legacy: boolean;
  /** Options that left a legacy config list (e.g. `quantStartStep`). */
  readonly options: LegacyOptions;
  /** Every warning (legacy keys, ignored names and re-configurations, skipped modules). */
  readonly warnings: Warning[];
}

/**
 * Resolves a config list on a model into the settings a compressor uses, like NNI's compressor
 * construction: legacy conversion and validation, selection per sub-config, canonical settings
 * per module, "first sub-config wins" per (module, target) — later sub-configs can only add new
 * targets, and every ignored re-configuration is a warning naming both sub-configs — then the
 * defaults step: `granularity: "default"` → `null` (LevelPruner, quantizers) or `out_channel` /
 * `per_channel` (other pruners), quantization `per_channel` on a weight → `out_channel`,
 * distillation `link`/`lambda`/`apply_method` defaults. Pruning targets are also checked across
 * targets (groups share one ratio, threshold cannot join a group, `align` sources exist).
 *
 * @param modules the model's modules in model order, with parameter shapes when known
 * @param configList the config list (untrusted data; never modified)
 * @param mode the compression mode
 * @param options `algorithm` (e.g. "LevelPruner", "L1NormPruner", "PtqQuantizer") and an extra `registry`
 * @returns the resolved targets (also by module), the validated list and warnings
 * @throws {ConfigError} listing every issue (bad keys, named modules without defaults, unknown targets, ...)
 * @throws {TypeError} for a malformed module list or mode
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTargetSettings } from "./resolve_target_settings.ts";
 *
 * const modules = [
 *   { name: "fc1", type: "Linear", params: { weight: [32, 16], bias: [32] } },
 *   { name: "fc2", type: "Linear", params: { weight: [10, 32], bias: [10] } },
 * ];
 * const { byModule, warnings } = resolveTargetSettings(
 *   modules,
 *   [{ op_names: ["fc1"], sparse_ratio: 0.25 }, { op_types: ["Linear"], sparse_ratio: 0.75 }],
 *   "pruning",
 *   { algorithm: "L1NormPruner" },
 * );
 * const fc1 = byModule.get("fc1")!.get("weight")!;
 * assert.equal((fc1.setting as { sparse_ratio: number }).sparse_ratio, 0.25);
 * assert.equal((fc1.setting as { granularity: string }).granularity, "out_channel");
 * assert.equal(warnings[0].code, "duplicate_target");
 * ```
 */
export function resolveTargetSettings(
  modules: readonly ModuleInfo[],
  configList: unknown,
  mode: Mode,
  options: ResolveOptions = {},
): ResolvedSettings {
  const r = resolveAll(modules, configList, mode, options);
  if (r.issues.length > 0) throw new ConfigError(r.issues);
  const byModule = new Map<string, Map<string, ResolvedTarget>>();
  for (const t of r.targets) {
    const inner = byModule.get(t.module) ?? new Map<string, ResolvedTarget>();
    inner.set(t.target, t);
    byModule.set(t.module, inner);
  }
  return {
    targets: r.targets,
    byModule,
    configList: r.configList,
    legacy: r.legacy,
    options: r.options,
    warnings: r.warnings,
  };
}
