/**
 * The engine behind `resolveTargetSettings` and `explain`: validate, select, canonicalize,
 * de-duplicate (first sub-config wins), resolve defaults, check across targets.
 *
 * @module
 */

import { canonicalizeInto } from "./canonicalize_settings.ts";
import { namedParameterTargets, withRegistered } from "./default_registry.ts";
import { checkPruningTargets } from "./_group_checks.ts";
import { checkModules, paramShape } from "./_modules.ts";
import { warnUnknownFuseNames } from "./_no_match.ts";
import { formatPath } from "./_path.ts";
import { isPlainObject } from "./_plain_copy.ts";
import { checkRegistry } from "./_registry_check.ts";
import {
  namesActivation,
  reportSkipped,
  skippedTargets,
  skipQuantizedModule,
} from "./_unavailable_targets.ts";
import { resolveDefaults } from "./resolve_defaults.ts";
import { selectInto } from "./select_modules.ts";
import { collectConfigIssues } from "./validate_config_list.ts";
import type {
  Config,
  ExtraRegistry,
  Issue,
  LegacyOptions,
  Mode,
  ModuleInfo,
  ResolvedTarget,
  TargetKind,
  TargetSetting,
  Warning,
} from "./types.ts";

/** Options of `resolveTargetSettings` and `explain`. */
export interface ResolveOptions {
  /** The compressor class (`LevelPruner`, `L1NormPruner`, `PtqQuantizer`, ...): decides default granularity. */
  readonly algorithm?: string;
  /**
   * Extra default targets per mode, by module class (like NNI's `ModuleSetting.register`), e.g.
   * `{ quantization: { PairOut: { _output_: { quant_dtype: null } } } }`. Checked like config data.
   */
  readonly registry?: ExtraRegistry;
  /**
   * Why the model's inputs and outputs cannot be observed (e.g. `the safetensors file has no
   * graph`), when they cannot: `_input_`/`_output_` targets that come only from the defaults are
   * then skipped with one warning that gives this reason, and those a sub-config names in
   * `target_names` or `target_settings` are issues.
   */
  readonly noActivations?: string;
}

/** What one sub-config did to one module. */
export interface ModuleOutcome {
  readonly name: string;
  readonly type: string;
  /** The canonical settings this sub-config gives the module (before de-duplication and defaults). */
  readonly canonical: Record<string, TargetSetting>;
}

/** Everything the engine found. */
export interface Resolution {
  readonly configList: Config[];
  readonly legacy: boolean;
  readonly options: LegacyOptions;
  readonly perConfig: { readonly index: number; readonly modules: ModuleOutcome[] }[];
  readonly targets: ResolvedTarget[];
  readonly warnings: Warning[];
  readonly issues: Issue[];
}

/** The kind of a target from its name. */
export function targetKind(name: string): TargetKind {
  return name.startsWith("_input_")
    ? "input"
    : name.startsWith("_output_")
    ? "output"
    : "parameter";
}

function explicitlyNamed(config: Config, target: string): boolean {
  const names = Array.isArray(config.target_names) ? config.target_names : [];
  return names.includes(target) ||
    (isPlainObject(config.target_settings) && Object.hasOwn(config.target_settings, target));
}

/** Runs every stage, collecting issues and warnings instead of throwing. */
export function resolveAll(
  modules: readonly ModuleInfo[],
  configList: unknown,
  mode: Mode,
  options: ResolveOptions,
): Resolution {
  checkModules(modules);
  if (options.algorithm !== undefined && typeof options.algorithm !== "string") {
    throw new TypeError(
      `"options.algorithm" must be a compressor class name: current value is ${typeof options
        .algorithm}`,
    );
  }
  const issues: Issue[] = [];
  const registry = checkRegistry(options.registry, issues);
  const validated = collectConfigIssues(configList, mode, issues);
  const empty = { configList: [], legacy: false, options: {}, perConfig: [], targets: [], issues };
  if (validated === undefined) return { ...empty, warnings: [] };
  const warnings = [...validated.warnings];
  const base = {
    configList: validated.configList as Config[],
    legacy: validated.legacy,
    options: validated.options,
  };
  if (issues.length > 0) return { ...base, perConfig: [], targets: [], warnings, issues };
  const perConfig: Resolution["perConfig"] = [];
  const owner = new Map<string, number>();
  const kept: { module: ModuleInfo; target: string; setting: TargetSetting; index: number }[] = [];
  const skipped = skippedTargets();
  const compressing = mode === "pruning" || mode === "quantization";
  base.configList.forEach((config, index) => {
    const c = config as Record<string, unknown>;
    const selected = selectInto(modules, c, index, { mode, registry }, issues, warnings);
    warnUnknownFuseNames(modules, c.fuse_names, index, warnings);
    const outcomes: ModuleOutcome[] = [];
    for (const module of selected) {
      if (compressing && skipQuantizedModule(module, config, index, skipped, issues)) continue;
      const named = namedParameterTargets(mode, module, c.target_names, registry);
      const canonical = canonicalizeInto(module.type, c, mode, {
        registry: named === undefined
          ? registry
          : withRegistered(registry, mode, module.type, named),
        moduleName: module.name,
        configIndex: index,
      }, issues);
      if (canonical === undefined) continue;
      outcomes.push({ name: module.name, type: module.type, canonical });
      for (const [target, setting] of Object.entries(canonical)) {
        const key = `${module.name}\u0000${target}`;
        const first = owner.get(key);
        if (first !== undefined) {
          warnings.push({
            code: "duplicate_target",
            path: formatPath([index]),
            message:
              `"${module.name}" target "${target}" is already configured by [${first}]; the setting from [${index}] is ignored`,
          });
          continue;
        }
        const noActivations = options.noActivations;
        if (noActivations !== undefined && targetKind(target) !== "parameter") {
          if (namesActivation(config, target)) {
            issues.push({
              code: "unsupported_target",
              path: formatPath([index, "target_names"]),
              message: `"${module.name}" target "${target}": ${noActivations}, so its inputs ` +
                `and outputs cannot be observed; configure parameters only (e.g. ` +
                `"target_names": ["weight"])`,
            });
          } else skipped.activations.push({ name: `${module.name}.${target}`, index });
          continue;
        }
        if (
          targetKind(target) === "parameter" && module.params !== undefined &&
          paramShape(module, target) === undefined
        ) {
          if (explicitlyNamed(config, target)) {
            issues.push({
              code: "missing_parameter",
              path: formatPath([index]),
              message: `"${module.name}" (${module.type}) has no parameter "${target}"`,
            });
          } else {
            warnings.push({
              code: "missing_parameter",
              path: formatPath([index]),
              message:
                `"${module.name}" (${module.type}) has no parameter "${target}"; the default target is skipped`,
            });
          }
          continue;
        }
        owner.set(key, index);
        kept.push({ module, target, setting, index });
      }
    }
    perConfig.push({ index, modules: outcomes });
  });
  reportSkipped(skipped, kept.length, options.noActivations, warnings, issues);
  const targets: ResolvedTarget[] = [];
  for (const { module, target, setting, index } of kept) {
    const kind = targetKind(target);
    const shape = kind === "parameter" ? paramShape(module, target) ?? null : null;
    const r = resolveDefaults(setting, {
      mode,
      kind,
      algorithm: options.algorithm,
      moduleName: module.name,
      shape,
    });
    if ("problem" in r) {
      issues.push({
        code: "invalid_granularity",
        path: formatPath([index]),
        message: `"${module.name}" target "${target}": ${r.problem}`,
      });
      continue;
    }
    targets.push({
      module: module.name,
      moduleType: module.type,
      target,
      kind,
      setting: r.setting,
      configIndex: index,
      shape,
    });
  }
  if (mode === "pruning" && issues.length === 0) {
    checkPruningTargets(targets, options.algorithm, issues, warnings);
  }
  return { ...base, perConfig, targets, warnings, issues };
}
