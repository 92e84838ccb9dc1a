/**
 * `explain`: what each sub-config selects and configures, as data.
 *
 * @module
 */

import { resolveAll, type ResolveOptions, targetKind } from "./_resolve.ts";
import { assertMode } from "./convert_legacy_config_list.ts";
import type {
  Issue,
  LegacyOptions,
  Mode,
  ModuleInfo,
  ResolvedTarget,
  TargetKind,
  TargetSetting,
  Warning,
} from "./types.ts";

/** One target a sub-config names for a module. */
export interface ExplainedTarget {
  /** The target name. */
  readonly target: string;
  /** Parameter, input or output. */
  readonly kind: TargetKind;
  /** The setting this sub-config gives it (canonical, before defaults). */
  readonly canonical: TargetSetting;
  /** The final setting the compressor uses (from the winning sub-config), or `null` if it was rejected. */
  readonly final: TargetSetting | null;
  /** The sub-config whose setting is used (`null` if none). */
  readonly from: number | null;
  /** True when this sub-config's setting is the one used. */
  readonly used: boolean;
}

/** One module a sub-config selects. */
export interface ExplainedModule {
  /** The module name. */
  readonly name: string;
  /** The module class. */
  readonly type: string;
  /** The targets this sub-config configures for the module. */
  readonly targets: ExplainedTarget[];
}

/** One sub-config. */
export interface ExplainedConfig {
  /** The sub-config's index in the list. */
  readonly index: number;
  /** The modules it selects, in model order. */
  readonly modules: ExplainedModule[];
}

/** The explanation of a config list on a model. */
export interface Explanation {
  /** The mode the list was explained for. */
  readonly mode: Mode;
  /** True when the list was legacy and was converted. */
  readonly legacy: boolean;
  /** Options that left a legacy list (e.g. `quantStartStep`). */
  readonly options: LegacyOptions;
  /** One entry per sub-config (empty when the list itself is invalid). */
  readonly configs: ExplainedConfig[];
  /** The final targets, as `resolveTargetSettings` returns them (empty when there are issues). */
  readonly targets: ResolvedTarget[];
  /** Every warning. */
  readonly warnings: Warning[];
  /** Problems that make `resolveTargetSettings` throw (returned here, not thrown). */
  readonly issues: Issue[];
}

/**
 * Explains a config list on a model: for each sub-config, the modules it selects and the targets
 * it configures, each with this sub-config's setting, the final setting and which sub-config it
 * came from; plus every warning and issue, as data (nothing is thrown for config problems).
 *
 * @param modules the model's modules in model order
 * @param configList the config list (never modified)
 * @param mode the compression mode
 * @param options `algorithm` and an extra `registry`, as for `resolveTargetSettings`
 * @returns the explanation
 * @throws {TypeError} for a malformed module list or mode
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explain } from "./explain.ts";
 *
 * const modules = [{ name: "fc1", type: "Linear" }, { name: "fc2", type: "Linear" }];
 * const result = explain(
 *   modules,
 *   [{ op_names: ["fc1"], target_names: ["weight"], sparse_ratio: 0.25 }, { op_types: ["Linear"], sparse_ratio: 0.75 }],
 *   "pruning",
 *   { algorithm: "LevelPruner" },
 * );
 * const fc1 = result.configs[1].modules[0];
 * assert.deepEqual(fc1.targets.map((t) => [t.target, t.from, t.used]), [["weight", 0, false], ["bias", 1, true]]);
 * assert.equal(result.warnings[0].code, "duplicate_target");
 * ```
 */
export function explain(
  modules: readonly ModuleInfo[],
  configList: unknown,
  mode: Mode,
  options: ResolveOptions = {},
): Explanation {
  assertMode(mode);
  const r = resolveAll(modules, configList, mode, options);
  const final = new Map(r.targets.map((t) => [`${t.module}\u0000${t.target}`, t]));
  const configs = r.perConfig.map(({ index, modules: outcomes }) => ({
    index,
    modules: outcomes.map((m) => ({
      name: m.name,
      type: m.type,
      targets: Object.entries(m.canonical).map(([target, canonical]) => {
        const t = final.get(`${m.name}\u0000${target}`);
        return {
          target,
          kind: targetKind(target),
          canonical,
          final: t?.setting ?? null,
          from: t?.configIndex ?? null,
          used: t?.configIndex === index,
        };
      }),
    })),
  }));
  return {
    mode,
    legacy: r.legacy,
    options: r.options,
    configs,
    targets: r.issues.length > 0 ? [] : r.targets,
    warnings: r.warnings,
    issues: r.issues,
  };
}
