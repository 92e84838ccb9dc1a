/**
 * The compression config system of NNI v3 for JavaScript runtimes: validate and convert config
 * lists (v3 and legacy), select modules, and resolve the canonical per-module, per-target
 * settings that pruners, quantizers and distillers use — with every problem reported as an issue
 * with a path, and every translation or ignored setting reported as a warning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTargetSettings } from "./mod.ts";
 *
 * const modules = [
 *   { name: "", type: "Net" },
 *   { name: "fc1", type: "Linear", params: { weight: [32, 16], bias: [32] } },
 *   { name: "relu", type: "ReLU" },
 * ];
 * const { targets } = resolveTargetSettings(
 *   modules,
 *   [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
 *   "pruning",
 *   { algorithm: "LevelPruner" },
 * );
 * assert.deepEqual(targets.map((t) => `${t.module}.${t.target}`), ["fc1.weight", "fc1.bias"]);
 * ```
 *
 * @module
 */

export { ConfigError } from "./config_error.ts";
export { convertLegacyConfigList, type LegacyConversion } from "./convert_legacy_config_list.ts";
export { validateConfigList, type ValidatedConfigList } from "./validate_config_list.ts";
export { type Selection, selectModules, type SelectOptions } from "./select_modules.ts";
export { type CanonicalizeOptions, canonicalizeSettings } from "./canonicalize_settings.ts";
export { defaultGranularity, resolveDefaults, type TargetContext } from "./resolve_defaults.ts";
export {
  type ResolvedSettings,
  type ResolveOptions,
  resolveTargetSettings,
} from "./resolve_target_settings.ts";
export {
  explain,
  type ExplainedConfig,
  type ExplainedModule,
  type ExplainedTarget,
  type Explanation,
} from "./explain.ts";
export { formatExplain } from "./format_explain.ts";
export {
  namedParameterTargets,
  PRUNING_REGISTRY,
  type PruningModuleType,
  QUANTIZATION_REGISTRY,
  type QuantizationModuleType,
  registryByMode,
} from "./default_registry.ts";
export type * from "./types.ts";
export { MODES } from "./types.ts";
export {
  type Compressor,
  compressorFor,
  DEFAULT_PRUNER,
  DEFAULT_QUANTIZER,
  findPruner,
  inferMode,
  PRUNER_TABLE,
  type PrunerEntry,
  type PrunerName,
  QUANTIZER_ALGORITHMS,
} from "./algorithms.ts";
export { type ConfigPlan, type FuseNamesGroup, isConfigPlan, resolvePlan } from "./plan.ts";
export { checkFuseNames } from "./check_fuse_names.ts";
