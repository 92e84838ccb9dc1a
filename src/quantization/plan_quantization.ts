/**
 * `planQuantization`: a quantization config list resolved once for a run, against the module
 * view the quantizer will see after `fuse_names` folding.
 *
 * @module
 */

import { type ConfigPlan, resolvePlan } from "../config/plan.ts";
import type { ExtraRegistry, Issue, ModuleInfo } from "../config/types.ts";
import { collectConfigIssues } from "../config/validate_config_list.ts";
import { ConfigError } from "../config/config_error.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { moduleInfos, noActivationsReason } from "../model/module_infos.ts";

/** Options of `planQuantization`. */
export interface PlanQuantizationOptions {
  /** Extra default targets by module class (like NNI's `ModuleSetting.register`). */
  readonly registry?: ExtraRegistry;
  /** The quantizer whose defaults apply (default `"PtqQuantizer"`). */
  readonly algorithm?: string;
}

/**
 * Resolves a quantization config list once, on the module view quantization works on: each
 * BatchNorm that a `fuse_names` group folds into the module before it becomes an `Identity`
 * module without parameters, and that module gets the bias the folding creates (so a list can
 * quantize it). The same view `fuseModel` produces, so the plan's targets are exactly the ones
 * of the fused model; `quantize()` takes the plan in place of the list.
 *
 * @param model The model (before fusion).
 * @param configList The quantization config list (untrusted data).
 * @param options Extra registries and the quantizer.
 * @returns The plan.
 * @throws {ConfigError} For an invalid list (every issue with its path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelGraph } from "../model/model_graph.ts";
 * import { planQuantization } from "./plan_quantization.ts";
 *
 * const ref = (shape: number[]) => ({ name: "t", dtype: "F32" as const, shape, fileShape: shape,
 *   data: () => Promise.resolve(new Float32Array(shape.reduce((a, b) => a * b, 1))),
 *   bytes: () => Promise.resolve(new Uint8Array(0)) });
 * const model: ModelGraph = { format: "safetensors", metadata: {}, modules: [
 *   { name: "conv", type: "Conv2d", params: { weight: ref([4, 3, 3, 3]) } },
 *   { name: "bn", type: "BatchNorm2d", params: { weight: ref([4]), bias: ref([4]), running_mean: ref([4]), running_var: ref([4]) } },
 * ] };
 * const plan = planQuantization(model, [
 *   { op_types: ["Conv2d"], target_names: ["weight", "bias"], quant_dtype: "int8", fuse_names: [["conv", "bn"]] },
 * ]);
 * // The folded bias is a target; the BatchNorm, now an Identity, has none.
 * assert.deepEqual(plan.targets.map((t) => `${t.module}.${t.target}`), ["conv.weight", "conv.bias"]);
 * ```
 */
export function planQuantization(
  model: ModelGraph,
  configList: unknown,
  options: PlanQuantizationOptions = {},
): ConfigPlan {
  // Safetensors and TensorFlow.js: NNI's default input/output targets are dropped, named ones
  // are issues (no graph runs to observe them).
  const noActivations = noActivationsReason(model);
  const resolve = (modules: readonly ModuleInfo[]) =>
    resolvePlan(modules, configList, "quantization", {
      algorithm: options.algorithm ?? "PtqQuantizer",
      ...(noActivations === undefined ? {} : { noActivations }),
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
  const issues: Issue[] = [];
  const valid = collectConfigIssues(configList, "quantization", issues);
  if (valid === undefined || issues.length > 0) {
    if (issues.length > 0) throw new ConfigError(issues);
    return resolve(moduleInfos(model));
  }
  const typeOf = new Map(model.modules.map((m) => [m.name, m.type]));
  const folded = new Map<string, string>(); // BatchNorm -> the module it folds into
  for (const c of valid.configList) {
    for (const g of c.fuse_names ?? []) {
      if (g.length >= 2 && /^BatchNorm/.test(typeOf.get(g[1]) ?? "")) folded.set(g[1], g[0]);
    }
  }
  if (folded.size === 0) return resolve(moduleInfos(model));
  const gainsBias = new Set(folded.values());
  const infos = moduleInfos(model).map((m): ModuleInfo => {
    if (folded.has(m.name)) return { name: m.name, type: "Identity", params: {} };
    const w = m.params?.weight;
    return gainsBias.has(m.name) && w && !m.params?.bias
      ? { ...m, params: { ...m.params, bias: [w[0]] } }
      : m;
  });
  return resolve(infos);
}
