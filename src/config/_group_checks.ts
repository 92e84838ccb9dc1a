/**
 * Checks across resolved pruning targets: activation targets of parameter-only pruners, keys that
 * cannot be combined, global and dependency groups, and `align` sources.
 *
 * @module
 */

import { formatPath, show } from "./_path.ts";
import { PARAMETER_ONLY_PRUNERS } from "./resolve_defaults.ts";
import type { Granularity, Issue, PruningSetting, ResolvedTarget, Warning } from "./types.ts";

function label(t: ResolvedTarget): string {
  return `"${t.module}" target "${t.target}"`;
}

function isActive(s: PruningSetting): boolean {
  return (s.sparse_ratio ?? null) !== null || (s.sparse_threshold ?? null) !== null;
}

function metricShape(t: ResolvedTarget): string | undefined {
  if (t.shape === null) return undefined;
  const g = (t.setting as PruningSetting).granularity as Granularity | null | undefined;
  const shape = t.shape;
  if (g === null || g === undefined) return show(shape);
  let kernel: number[];
  let front = false;
  let pad = -1;
  if (g === "out_channel") kernel = [1];
  else if (g === "in_channel" || g === "per_channel") kernel = [-1, 1];
  else if (typeof g === "string") return undefined;
  else if (g.every((v) => typeof v === "number")) {
    kernel = g as number[];
    front = true;
    pad = 1;
  } else {
    const [k, mode, val] = g as [number[], string | null | undefined, number | null | undefined];
    kernel = k;
    front = (mode ?? "front") === "front";
    pad = val || 1;
  }
  if (kernel.length > shape.length) return undefined;
  const fill = new Array(shape.length - kernel.length).fill(pad);
  const full = front ? [...fill, ...kernel] : [...kernel, ...fill];
  return show(shape.map((d, i) => (full[i] === -1 ? 1 : d / full[i])));
}

function groupKey(id: unknown): string {
  return `${typeof id}:${String(id)}`;
}

/** Runs the cross-target checks of pruning; problems go to `issues`, notes to `warnings`. */
export function checkPruningTargets(
  targets: readonly ResolvedTarget[],
  algorithm: string | undefined,
  issues: Issue[],
  warnings: Warning[],
): void {
  const push = (t: ResolvedTarget, code: Issue["code"], message: string) =>
    issues.push({ code, path: formatPath([t.configIndex]), message: `${label(t)}: ${message}` });
  const groups = new Map<string, ResolvedTarget[]>();
  const deps = new Map<string, ResolvedTarget[]>();
  for (const t of targets) {
    const s = t.setting as PruningSetting;
    if (
      isActive(s) && t.kind !== "parameter" && algorithm !== undefined &&
      PARAMETER_ONLY_PRUNERS.includes(algorithm)
    ) {
      push(
        t,
        "unsupported_target",
        `${algorithm} prunes parameters only; an _input_/_output_ target needs a pruner that observes activations`,
      );
    }
    const threshold = (s.sparse_threshold ?? null) !== null;
    if (threshold && (s.sparse_ratio ?? null) !== null) {
      push(
        t,
        "exclusive_keys",
        `"sparse_ratio" ${s.sparse_ratio} and "sparse_threshold" ${s.sparse_threshold} both apply (one from the ` +
          `top level, one from "target_settings"); set the other one to null in "target_settings"`,
      );
    }
    if (threshold && (s.global_group_id ?? null) !== null) {
      push(
        t,
        "exclusive_keys",
        `"sparse_threshold" cannot be combined with "global_group_id" (a global group shares one "sparse_ratio")`,
      );
    }
    if (threshold && (s.dependency_group_id ?? null) !== null) {
      push(
        t,
        "exclusive_keys",
        `"sparse_threshold" cannot be combined with "dependency_group_id" (a dependency group shares one "sparse_ratio")`,
      );
    }
    const min = s.min_sparse_ratio ?? null;
    const max = s.max_sparse_ratio ?? null;
    if (min !== null && max !== null && min > max) {
      push(
        t,
        "min_above_max",
        `"min_sparse_ratio" must be <= "max_sparse_ratio": current values are ${min} and ${max}`,
      );
    }
    if ((s.dependency_group_id ?? null) !== null) {
      const k = groupKey(s.dependency_group_id);
      deps.set(k, [...(deps.get(k) ?? []), t]);
    } else if ((s.global_group_id ?? null) !== null) {
      const k = groupKey(s.global_group_id);
      groups.set(k, [...(groups.get(k) ?? []), t]);
    }
  }
  for (const [kind, map] of [["global_group_id", groups], ["dependency_group_id", deps]] as const) {
    for (const members of map.values()) {
      const id = show((members[0].setting as Record<string, unknown>)[kind]);
      const withRatio = members.filter((m) =>
        ((m.setting as PruningSetting).sparse_ratio ?? null) !== null
      );
      if (withRatio.length === 0) {
        if (
          !members.some((m) => ((m.setting as PruningSetting).sparse_threshold ?? null) !== null)
        ) {
          push(members[0], "group_conflict", `the ${kind} ${id} has no "sparse_ratio"`);
        }
        continue;
      }
      const ratio = (withRatio[0].setting as PruningSetting).sparse_ratio;
      const other = withRatio.find((m) => (m.setting as PruningSetting).sparse_ratio !== ratio);
      if (other !== undefined) {
        push(
          other,
          "group_conflict",
          `every member of the ${kind} ${id} must have the same "sparse_ratio": ${ratio} (${
            label(withRatio[0])
          }) and ${(other.setting as PruningSetting).sparse_ratio}`,
        );
      }
      if (kind === "dependency_group_id") {
        const first = members.find((m) => metricShape(m) !== undefined);
        const bad = members.find((m) =>
          first !== undefined && metricShape(m) !== undefined &&
          metricShape(m) !== metricShape(first)
        );
        if (first !== undefined && bad !== undefined) {
          push(
            bad,
            "group_conflict",
            `members of the dependency_group_id ${id} must have metrics of the same shape under their granularity: ${
              metricShape(first)
            } (${label(first)}) and ${metricShape(bad)}`,
          );
        }
      }
    }
  }
  checkAlign(targets, issues, warnings);
}

function checkAlign(
  targets: readonly ResolvedTarget[],
  issues: Issue[],
  warnings: Warning[],
): void {
  const byKey = new Map(targets.map((t) => [`${t.module}\u0000${t.target}`, t]));
  for (const t of targets) {
    const s = t.setting as PruningSetting;
    if (isActive(s) || s.align === null || s.align === undefined) continue;
    const module = s.align.module_name ?? t.module;
    const source = byKey.get(`${module}\u0000${s.align.target_name}`);
    if (source === undefined) {
      issues.push({
        code: "unknown_target",
        path: formatPath([t.configIndex]),
        message: `${
          label(t)
        }: its "align" source "${module}" target "${s.align.target_name}" is not configured`,
      });
    } else if (!isActive(source.setting as PruningSetting)) {
      warnings.push({
        code: "inactive_target",
        path: formatPath([t.configIndex]),
        message: `${label(t)} is aligned to ${
          label(source)
        }, which has no "sparse_ratio" or "sparse_threshold": neither is pruned`,
      });
    }
  }
}
