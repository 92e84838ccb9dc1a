/**
 * `fusionGroups`: the validated `fuse_names` groups of a quantization config list.
 *
 * @module
 */

import { isConfigPlan } from "../config/plan.ts";
import { ConfigError } from "../config/config_error.ts";
import { checkFuseNames } from "../config/check_fuse_names.ts";
import type { Issue, ResolvedTarget } from "../config/types.ts";
import type { ModelGraph, Module } from "../model/model_graph.ts";

/** A `fuse_names` group that passed validation. */
export interface FusionGroup {
  /** Its config path, `[i].fuse_names[g]`. */
  readonly path: string;
  /** The module names, in order. */
  readonly modules: readonly string[];
  /** The first module (Conv, Linear or BatchNorm): it computes the fused result. */
  readonly first: string;
  /** The BatchNorm folded into `first`, if the group has one after a Conv or Linear. */
  readonly bn?: string;
}

type Kind = "conv" | "linear" | "bn" | "relu";

const SUPPORTED = [
  "conv,bn",
  "conv,bn,relu",
  "linear,bn",
  "linear,bn,relu",
  "conv,relu",
  "linear,relu",
  "bn,relu",
];

function kindOf(m: Module): Kind | undefined {
  if (/^Conv[123]d$/.test(m.type)) return "conv";
  if (m.type === "Linear") return "linear";
  if (/^BatchNorm[123]d$/.test(m.type)) return "bn";
  if (m.type === "ReLU") return "relu";
  return undefined;
}

/**
 * The `fuse_names` groups of a config list, with their paths; each value is checked by the config
 * layer's `fuse_names` check before it is read (a `ConfigError` at `[i].fuse_names[g]` if not).
 */
function rawGroups(configList: unknown): { path: string; names: string[] }[] {
  if (!Array.isArray(configList)) return [];
  const issues: Issue[] = [];
  const groups = configList.flatMap((c, i) => {
    const value = typeof c === "object" && c !== null && !Array.isArray(c)
      ? (c as Record<string, unknown>).fuse_names
      : undefined;
    if (value === undefined) return [];
    const found = checkFuseNames(value, [i, "fuse_names"]);
    if (found.length > 0) {
      issues.push(...found);
      return [];
    }
    return (value as string[][]).map((g, j) => ({
      path: `[${i}].fuse_names[${j}]`,
      names: [...g],
    }));
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return groups;
}

/** Why module `b` does not directly consume the output of module `a` in the graph, if so. */
function chainProblem(model: ModelGraph, a: string, b: string, removed: boolean): string | null {
  const nodes = model.graph?.nodes;
  if (nodes === undefined) return null;
  const last = nodes.findLast((n) => n.module === a);
  const first = nodes.find((n) => n.module === b);
  if (last === undefined || first === undefined) {
    return `"${last === undefined ? a : b}" has no node in the main graph`;
  }
  const value = last.outputs[0];
  if (first.inputs[0] !== value) return `"${b}" does not take the output of "${a}" as its input`;
  if (!removed) return null;
  const readers = nodes.filter((n) => n.inputs.includes(value)).length;
  if (readers !== 1 || model.graph!.outputs.includes(value)) {
    return `the output of "${a}" is also read elsewhere, so "${b}" cannot be folded into it`;
  }
  return null;
}

/**
 * Validates the `fuse_names` groups of a quantization config list against a model, like NNI's
 * module fusion: every name is a module, the types form a supported tuple — (Conv, BatchNorm),
 * (Conv, BatchNorm, ReLU), (Linear, BatchNorm), (Linear, BatchNorm, ReLU), (Conv, ReLU),
 * (Linear, ReLU), (BatchNorm, ReLU) — the first module's `weight` is a configured quantization
 * target, no module is in two groups, and, where the model has a graph, each module reads the
 * output of the one before it (a folded BatchNorm must be its only reader).
 *
 * @param model The model.
 * @param configList The quantization config list (validated here too; an invalid one throws), or
 * its plan (`planQuantization`), whose groups and targets are used as they are.
 * @param targets The targets the config list resolves to on `model` (default: the plan's).
 * @returns The groups, in config order.
 * @throws {ConfigError} For an invalid config list, and with one issue per bad group, at
 * `[i].fuse_names[g]`, naming the modules.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ModelGraph } from "../model/model_graph.ts";
 * import { fusionGroups } from "./fusion_groups.ts";
 *
 * const ref = { name: "", dtype: "F32" as const, shape: [2], fileShape: [2],
 *   data: () => Promise.resolve(new Float32Array(2)), bytes: () => Promise.resolve(new Uint8Array(8)) };
 * const model: ModelGraph = { format: "safetensors", metadata: {}, modules: [
 *   { name: "conv", type: "Conv2d", params: { weight: { ...ref, shape: [2, 1, 1, 1] } } },
 *   { name: "bn", type: "BatchNorm2d", params: { running_mean: ref, running_var: ref } },
 * ] };
 * const targets = [{ module: "conv", moduleType: "Conv2d", target: "weight", kind: "parameter" as const,
 *   configIndex: 0, setting: {}, shape: [2, 1, 1, 1] }];
 * const groups = fusionGroups(model, [{ fuse_names: [["conv", "bn"]] }], targets);
 * assert.deepEqual(groups, [{ path: "[0].fuse_names[0]", modules: ["conv", "bn"], first: "conv", bn: "bn" }]);
 * ```
 */
export function fusionGroups(
  model: ModelGraph,
  configList: unknown,
  targets?: readonly ResolvedTarget[],
): FusionGroup[] {
  const plan = isConfigPlan(configList) ? configList : undefined;
  const configured = targets ?? plan?.targets ?? [];
  const raw = plan === undefined
    ? rawGroups(configList)
    : plan.fuseNames.map((g) => ({ path: g.path, names: [...g.names] }));
  const byName = new Map(model.modules.map((m) => [m.name, m]));
  const seen = new Map<string, string>();
  const issues: Issue[] = [];
  const groups: FusionGroup[] = [];
  for (const { path, names } of raw) {
    const fail = (message: string) =>
      void issues.push({
        code: "invalid_value",
        path,
        message: `${JSON.stringify(names)}: ${message}`,
      });
    const missing = names.filter((n) => !byName.has(n));
    if (missing.length > 0) {
      fail(`${missing.map((n) => `"${n}"`).join(", ")} is not a module of the model`);
      continue;
    }
    const mods = names.map((n) => byName.get(n)!);
    const kinds = mods.map(kindOf);
    if (!SUPPORTED.includes(kinds.join(","))) {
      fail(
        `module types (${mods.map((m) => m.type).join(", ")}) cannot be fused: supported are ` +
          "(Conv, BatchNorm[, ReLU]), (Linear, BatchNorm[, ReLU]), (Conv, ReLU), (Linear, ReLU), (BatchNorm, ReLU)",
      );
      continue;
    }
    const twice = names.find((n) => seen.has(n));
    if (twice !== undefined) {
      fail(`module "${twice}" is already fused by ${seen.get(twice)}`);
      continue;
    }
    const [first] = names;
    if (
      !configured.some((t) => t.module === first && t.target === "weight" && t.kind === "parameter")
    ) {
      fail(`the weight of "${first}" must be a quantization target of the config list to fuse it`);
      continue;
    }
    const folds = kinds[1] === "bn";
    const problem = names.slice(1).map((n, k) => chainProblem(model, names[k], n, folds && k === 0))
      .find((p) => p !== null);
    if (problem) {
      fail(problem);
      continue;
    }
    if (folds) {
      const out = mods[0].params.weight.shape[0];
      const bn = mods[1].params;
      const bad = ["running_mean", "running_var"].find((p) => bn[p]?.shape[0] !== out) ??
        ["weight", "bias"].find((p) => bn[p] !== undefined && bn[p].shape[0] !== out);
      if (bad !== undefined) {
        fail(`"${names[1]}" needs a ${bad} of ${out} channels (the outputs of "${first}")`);
        continue;
      }
    }
    for (const n of names) seen.set(n, path);
    groups.push({ path, modules: names, first, ...(folds ? { bn: names[1] } : {}) });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return groups;
}
