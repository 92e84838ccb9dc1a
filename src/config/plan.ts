/**
 * `resolvePlan`: a config list resolved once for a run — the targets with their final settings,
 * the `fuse_names` groups with their config paths, and every warning — so that the stages of a
 * run (fusion, calibration, quantization, pruning, the report) take the same resolution instead
 * of each entering the config layer again.
 *
 * @module
 */

import { type ResolveOptions, resolveTargetSettings } from "./resolve_target_settings.ts";
import type { LegacyOptions, Mode, ModuleInfo, ResolvedTarget, Warning } from "./types.ts";

const PLAN = Symbol.for("nncompress.plan");

/** One `fuse_names` group of a quantization list. */
export interface FuseNamesGroup {
  /** Its config path, `[i].fuse_names[g]`. */
  readonly path: string;
  /** The index of its sub-config. */
  readonly configIndex: number;
  /** The module names, in order. */
  readonly names: readonly string[];
}

/** A config list resolved for one run on one model. */
export interface ConfigPlan {
  /** The mode. */
  readonly mode: Mode;
  /** The compressor class whose defaults were applied (`undefined`: the mode's generic one). */
  readonly algorithm: string | undefined;
  /** Every configured (module, target) with its final setting, config order then model order. */
  readonly targets: readonly ResolvedTarget[];
  /** The `fuse_names` groups (quantization), validated. */
  readonly fuseNames: readonly FuseNamesGroup[];
  /** Every warning of the config layer. */
  readonly warnings: readonly Warning[];
  /** True when the list was legacy and was converted. */
  readonly legacy: boolean;
  /** Options that left a legacy list. */
  readonly options: LegacyOptions;
  /** The module names the plan was resolved against, in model order. */
  readonly modules: readonly string[];
}

/**
 * Resolves a config list once for a run: validation (every issue with its path), legacy
 * conversion, selection, canonical settings with the algorithm's defaults, and the `fuse_names`
 * groups. `prune()` and `quantize()` take the plan in place of the list.
 *
 * @param modules The model's modules, in model order.
 * @param configList The config list (untrusted data; never modified).
 * @param mode The compression mode.
 * @param options The algorithm whose defaults apply and extra registries.
 * @returns The plan.
 * @throws {ConfigError} For an invalid list (every issue with its path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolvePlan } from "./plan.ts";
 * import type { ModuleInfo } from "./types.ts";
 *
 * const modules: ModuleInfo[] = [
 *   { name: "conv", type: "Conv2d", params: { weight: [4, 3, 3, 3] } },
 *   { name: "bn", type: "BatchNorm2d", params: { weight: [4], bias: [4] } },
 * ];
 * const plan = resolvePlan(modules, [{ op_types: ["Conv2d"], target_names: ["weight"], quant_dtype: "int8", fuse_names: [["conv", "bn"]] }], "quantization");
 * assert.deepEqual(plan.targets.map((t) => `${t.module}.${t.target}`), ["conv.weight"]);
 * assert.deepEqual(plan.fuseNames, [{ path: "[0].fuse_names[0]", configIndex: 0, names: ["conv", "bn"] }]);
 * ```
 */
export function resolvePlan(
  modules: readonly ModuleInfo[],
  configList: unknown,
  mode: Mode,
  options: ResolveOptions = {},
): ConfigPlan {
  const r = resolveTargetSettings(modules, configList, mode, options);
  const fuseNames: FuseNamesGroup[] = [];
  r.configList.forEach((c, i) => {
    const groups = (c as { fuse_names?: readonly (readonly string[])[] | null }).fuse_names;
    (groups ?? []).forEach((names, g) => {
      fuseNames.push({ path: `[${i}].fuse_names[${g}]`, configIndex: i, names: [...names] });
    });
  });
  const plan: ConfigPlan = {
    mode,
    algorithm: options.algorithm,
    targets: r.targets,
    fuseNames,
    warnings: r.warnings,
    legacy: r.legacy,
    options: r.options,
    modules: modules.map((m) => m.name),
  };
  Object.defineProperty(plan, PLAN, { value: true });
  return Object.freeze(plan);
}

/**
 * Whether a value is a plan from `resolvePlan` (not a config list).
 *
 * @param value Anything.
 * @returns True for a plan.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConfigPlan, resolvePlan } from "./plan.ts";
 *
 * assert.equal(isConfigPlan([{ sparse_ratio: 0.5 }]), false);
 * assert.equal(isConfigPlan(resolvePlan([], [], "pruning")), true);
 * ```
 */
export function isConfigPlan(value: unknown): value is ConfigPlan {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[PLAN] === true;
}

/**
 * The plan without some of its targets, each dropped with the warning that says why (a stage
 * that cannot serve a target, e.g. calibration of a module inside an ONNX subgraph). The result
 * is still a plan: stages take it without resolving the list again.
 *
 * @param plan A plan from `resolvePlan`.
 * @param drops The targets to drop (objects of `plan.targets`) and their warnings.
 * @returns A new plan with the other targets and the warnings appended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dropTargets, isConfigPlan, resolvePlan } from "./plan.ts";
 *
 * const plan = resolvePlan(
 *   [{ name: "a", type: "Linear", params: { weight: [2, 2] } }, { name: "b", type: "Linear", params: { weight: [2, 2] } }],
 *   [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
 *   "pruning",
 * );
 * const b = plan.targets.find((t) => t.module === "b")!;
 * const out = dropTargets(plan, [{ target: b, warning: { code: "skipped_module", path: "[0]", message: "b is skipped" } }]);
 * assert.ok(isConfigPlan(out));
 * assert.deepEqual(out.targets.map((t) => t.module), ["a"]);
 * assert.equal(out.warnings.at(-1)?.message, "b is skipped");
 * ```
 */
export function dropTargets(
  plan: ConfigPlan,
  drops: readonly { readonly target: ResolvedTarget; readonly warning: Warning }[],
): ConfigPlan {
  const gone = new Set(drops.map((d) => d.target));
  const out: ConfigPlan = {
    ...plan,
    targets: plan.targets.filter((t) => !gone.has(t)),
    warnings: [...plan.warnings, ...drops.map((d) => d.warning)],
  };
  Object.defineProperty(out, PLAN, { value: true });
  return Object.freeze(out);
}
