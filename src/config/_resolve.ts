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
  PruningSetting,
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

/**
 * Parameters a PyTorch class always has as attributes but may hold as `None` (`bias=False`,
 * `affine=False`, `elementwise_affine=False`; a Keras layer with `use_bias`, `scale` or `center`
 * false reads the same way). NNI registers such a target as a `None` buffer and skips it, even
 * when a sub-config names it; a name the class does not declare fails NNI's attribute assert.
 */
const MAYBE_NONE: Readonly<Record<string, readonly string[]>> = {
  Linear: ["bias"],
  Conv1d: ["bias"],
  Conv2d: ["bias"],
  Conv3d: ["bias"],
  ConvTranspose1d: ["bias"],
  ConvTranspose2d: ["bias"],
  ConvTranspose3d: ["bias"],
  BatchNorm1d: ["weight", "bias"],
  BatchNorm2d: ["weight", "bias"],
  BatchNorm3d: ["weight", "bias"],
  LayerNorm: ["weight", "bias"],
  GroupNorm: ["weight", "bias"],
  InstanceNorm1d: ["weight", "bias"],
  InstanceNorm2d: ["weight", "bias"],
  InstanceNorm3d: ["weight", "bias"],
};

/** Whether `target` is a parameter `type` declares that may be `None` (`MAYBE_NONE`). */
const maybeNone = (type: string, target: string) =>
  Object.hasOwn(MAYBE_NONE, type) && MAYBE_NONE[type].includes(target);

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
  /** Module-and-parameter keys of targets skipped because the module lacks the parameter. */
  const lacking = new Set<string>();
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
          const named = explicitlyNamed(config, target);
          if (named && !maybeNone(module.type, target)) {
            issues.push({
              code: "missing_parameter",
              path: formatPath([index]),
              message: `"${module.name}" (${module.type}) has no parameter "${target}"`,
            });
          } else {
            lacking.add(key);
            warnings.push({
              code: "missing_parameter",
              path: formatPath([index]),
              message: `"${module.name}" (${module.type}) has no parameter "${target}"; ${
                named
                  ? "skipped, as NNI skips a parameter that is None"
                  : "the default target is skipped"
              }`,
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
  // A target aligned to a parameter its module lacks (a Keras BatchNormalization with `center`
  // but no `scale`: a bias and no weight) has nothing to take its mask from.
  const aligned = mode === "pruning"
    ? targets.filter((t) => {
      const s = t.setting as PruningSetting;
      if ((s.sparse_ratio ?? null) !== null || (s.sparse_threshold ?? null) !== null) return true;
      if (s.align === null || s.align === undefined) return true;
      const source = `${s.align.module_name ?? t.module}\u0000${s.align.target_name}`;
      if (!lacking.has(source)) return true;
      warnings.push({
        code: "missing_parameter",
        path: formatPath([t.configIndex]),
        message: `"${t.module}" target "${t.target}" is aligned to "${
          s.align.module_name ?? t.module
        }" target "${s.align.target_name}", a parameter that module does not have; skipped`,
      });
      return false;
    })
    : targets;
  if (mode === "pruning" && issues.length === 0) {
    checkPruningTargets(aligned, options.algorithm, issues, warnings);
  }
  return { ...base, perConfig, targets: aligned, warnings, issues };
}
