// Live validation of the config text against the loaded model.
import { explain } from "../src/config/explain.ts";
import { formatExplain } from "../src/config/format_explain.ts";
import type { ExtraRegistry, ModuleInfo } from "../src/config/types.ts";
import { registryByMode } from "../src/config/default_registry.ts";

/** A one-click correction of a near-miss key or value ("did you mean"). */
export interface Fix {
  /** The path the message names (`[0].op_types[1]`, `[0].sparsity_ratio`). */
  readonly path: string;
  /** The text as written. */
  readonly from: string;
  /** The suggestion. */
  readonly to: string;
}

/** One configured target of the explain table. */
export interface ExplainRow {
  readonly module: string;
  readonly type: string;
  readonly target: string;
  /** The setting the compressor uses, compact (`int8 per_channel`, `sparse 0.5`). */
  readonly setting: string;
  /** The sub-config it comes from. */
  readonly config: number;
}

/** The outcome of checking the config text. */
export interface Validation {
  /** The parsed list when the text is JSON. */
  readonly configList?: unknown;
  /** The parsed registry (by mode) when one was given. */
  readonly registry?: ExtraRegistry;
  /** Problems, one line each (`[0].sparse_ratio: …`); empty when the list applies. */
  readonly issues: readonly string[];
  /** Warnings, one line each. */
  readonly warnings: readonly string[];
  /** The explain view. */
  readonly explanation: string;
  /** Configured targets. */
  readonly targets: number;
  /** The configured targets, one row each (empty when there are issues). */
  readonly rows?: readonly ExplainRow[];
  /** "Did you mean" corrections found in the issues and warnings. */
  readonly fixes?: readonly Fix[];
}

/** The corrections that messages of the form `"X" …; did you mean "Y"?` offer. */
function fixesOf(items: readonly { path: string; message: string }[]): Fix[] {
  const out: Fix[] = [];
  for (const { path, message } of items) {
    const m = /"((?:[^"\\]|\\.)*)"[^"]*; did you mean "((?:[^"\\]|\\.)*)"\?/.exec(message);
    if (m !== null) out.push({ path, from: m[1], to: m[2] });
  }
  return out;
}

/** A setting in a few words. */
function settingText(setting: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  for (
    const key of ["quant_dtype", "quant_scheme", "granularity", "sparse_ratio", "max_sparse_ratio"]
  ) {
    const v = setting[key];
    if (v === undefined || v === null) continue;
    parts.push(
      key === "sparse_ratio" || key === "max_sparse_ratio"
        ? `${key} ${v}`
        : JSON.stringify(v).replace(/^"|"$/g, ""),
    );
  }
  for (const key of ["global_group_id", "dependency_group_id"]) {
    if (setting[key] !== undefined && setting[key] !== null) {
      parts.push(`${key} ${JSON.stringify(setting[key])}`);
    }
  }
  return parts.join(" ");
}

/**
 * Applies a correction to the config text: at `fix.path`, a string equal to `fix.from` becomes
 * `fix.to`, or a key named `fix.from` is renamed. Returns the new text (formatted), or
 * `undefined` when the path no longer holds `fix.from`.
 */
export function applyFix(text: string, fix: Fix): string | undefined {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return undefined;
  }
  const steps: (string | number)[] = [];
  for (const m of fix.path.matchAll(/\[(\d+)\]|\.([^.[\]]+)|\["((?:[^"\\]|\\.)*)"\]/g)) {
    steps.push(m[1] !== undefined ? Number(m[1]) : m[2] ?? JSON.parse(`"${m[3]}"`));
  }
  if (steps.length === 0) return undefined;
  let parent: unknown = root;
  for (const s of steps.slice(0, -1)) {
    if (typeof parent !== "object" || parent === null) return undefined;
    parent = (parent as Record<string | number, unknown>)[s];
  }
  if (typeof parent !== "object" || parent === null) return undefined;
  const last = steps[steps.length - 1];
  const holder = parent as Record<string | number, unknown>;
  if (holder[last] === fix.from) {
    holder[last] = fix.to;
  } else if (
    last === fix.from && !Array.isArray(holder) && Object.hasOwn(holder, fix.from) &&
    !Object.hasOwn(holder, fix.to)
  ) {
    // Rename the key in place, keeping the order of the keys.
    const entries = Object.entries(holder).map(([k, v]) => [k === fix.from ? fix.to : k, v]);
    for (const k of Object.keys(holder)) delete holder[k];
    Object.assign(holder, Object.fromEntries(entries));
  } else {
    return undefined;
  }
  return JSON.stringify(root, null, 2);
}

function lineColumn(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return "";
  const before = text.slice(0, Number(m[1])).split("\n");
  return ` (line ${before.length}, column ${before[before.length - 1].length + 1})`;
}

/**
 * Parses and explains the config text for the modules, with the registry text (extra default
 * targets per module class, `{Class: {target: setting}}` or by mode; empty for none).
 */
export function validate(
  text: string,
  modules: readonly ModuleInfo[],
  mode: "pruning" | "quantization",
  algorithm: string,
  registryText = "",
): Validation {
  let registry: ExtraRegistry | undefined;
  if (registryText.trim() !== "") {
    try {
      registry = registryByMode(JSON.parse(registryText), mode) as ExtraRegistry;
    } catch (e) {
      const message = (e as Error).message;
      return {
        issues: [`the registry is not valid JSON${lineColumn(registryText, message)}: ${message}`],
        warnings: [],
        explanation: "",
        targets: 0,
      };
    }
  }
  let configList: unknown;
  try {
    configList = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    return {
      issues: [`the config list is not valid JSON${lineColumn(text, message)}: ${message}`],
      warnings: [],
      explanation: "",
      targets: 0,
    };
  }
  const result = explain(modules, configList, mode, {
    algorithm,
    ...(registry === undefined ? {} : { registry }),
  });
  return {
    configList,
    ...(registry === undefined ? {} : { registry }),
    issues: result.issues.map((i) => `${i.path === "" ? "(config list)" : i.path}: ${i.message}`),
    warnings: result.warnings.map((w) => `${w.path}: ${w.message}`),
    explanation: formatExplain(result),
    targets: result.targets.length,
    rows: result.targets.map((t) => ({
      module: t.module,
      type: t.moduleType,
      target: t.target,
      setting: settingText(t.setting as Readonly<Record<string, unknown>>),
      config: t.configIndex,
    })),
    fixes: fixesOf([...result.issues, ...result.warnings]),
  };
}
