// Live validation of the config text against the loaded model.
import { explain } from "../src/config/explain.ts";
import { formatExplain } from "../src/config/format_explain.ts";
import type { ExtraRegistry, ModuleInfo } from "../src/config/types.ts";
import { registryByMode } from "../src/config/default_registry.ts";

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
  };
}
