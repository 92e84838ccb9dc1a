// Loading the NNI oracle's expected files for the config-layer tests.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Mode, ModuleInfo } from "../../src/config/mod.ts";

const ROOT = new URL("../nni_oracle/", import.meta.url);

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface OracleCase {
  readonly id: string;
  readonly mode: Mode;
  readonly algorithm: string | null;
  readonly configList: unknown[];
  readonly registry: Json;
  readonly modules: ModuleInfo[];
  readonly expected: Json;
}

export function caseIds(): string[] {
  return readdirSync(fileURLToPath(new URL("cases/", ROOT)))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/**
 * The model's modules as plain data (`{name, type, params}` in model order) from an expected
 * file: classes from `modules`, parameter shapes from the `state_dict` keys of `weights.tensors`.
 */
export function oracleModules(
  expected: { modules: unknown; weights: { tensors: unknown } },
): { name: string; type: string; params: Record<string, number[]> }[] {
  const params = new Map<string, Record<string, number[]>>();
  for (const [key, shape] of Object.entries(expected.weights.tensors as Record<string, number[]>)) {
    const dot = key.lastIndexOf(".");
    const module = dot < 0 ? "" : key.slice(0, dot);
    const entry = params.get(module) ?? {};
    entry[key.slice(dot + 1)] = shape;
    params.set(module, entry);
  }
  return (expected.modules as [string, string][]).map(([name, type]) => ({
    name,
    type,
    params: params.get(name) ?? {},
  }));
}

export function loadCase(id: string): OracleCase {
  const expected = JSON.parse(
    readFileSync(fileURLToPath(new URL(`expected/${id}.json`, ROOT)), "utf8"),
  );
  const c = expected.case;
  const modules = oracleModules(expected);
  return {
    id,
    mode: c.mode,
    algorithm: c.algorithm,
    configList: expected.auto_dependency_config_list ?? c.config_list,
    registry: c.register ?? undefined,
    modules,
    expected,
  };
}

const EXCLUDES = ["exclude_op_types", "exclude_op_names", "exclude_op_names_re"];

/** A config list with the exclude lists sorted (NNI builds them from Python sets). */
export function excludesAsSets(list: Json[]): Json[] {
  return list.map((c) => {
    const out = { ...c };
    for (const k of EXCLUDES) if (Array.isArray(out[k])) out[k] = [...out[k]].sort();
    return out;
  });
}
