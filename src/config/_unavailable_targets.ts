/**
 * Targets a model cannot give: modules whose weights are already stored quantized (an ONNX
 * `QLinearConv`, `ConvInteger`, `MatMulNBits`, a `DequantizeLinear` weight), and input/output
 * targets of a model whose activations cannot be observed (a file without a graph).
 *
 * @module
 */

import { formatPath } from "./_path.ts";
import { isPlainObject } from "./_plain_copy.ts";
import type { Config, Issue, ModuleInfo, Warning } from "./types.ts";

/** How many names a message lists before "and N more". */
const LISTED = 8;

function listed(names: readonly string[]): string {
  const shown = names.slice(0, LISTED).map((n) => JSON.stringify(n)).join(", ");
  return names.length > LISTED ? `${shown} and ${names.length - LISTED} more` : shown;
}

/** Whether a sub-config names an input/output target itself (not through the defaults). */
export function namesActivation(config: Config, target: string): boolean {
  const family = target.startsWith("_input_") ? "_input_" : "_output_";
  const names = Array.isArray(config.target_names) ? config.target_names : [];
  const settings = isPlainObject(config.target_settings) ? config.target_settings : {};
  return names.includes(target) || Object.hasOwn(settings, target) ||
    (/^_(input|output)_0$/.test(target) &&
      (names.includes(family) || Object.hasOwn(settings, family)));
}

/** What the resolver collects while it skips unavailable targets, for one summary each. */
export interface Skipped {
  /** Pre-quantized modules a type or regex swept in: name → operator, with the first path. */
  readonly quantized: Map<string, { readonly op: string; readonly index: number }>;
  /** Default input/output targets dropped: `module.target`, with the first path. */
  readonly activations: { readonly name: string; readonly index: number }[];
}

/** A fresh collector. */
export function skippedTargets(): Skipped {
  return { quantized: new Map(), activations: [] };
}

/** The advice for a pre-quantized module. */
const DEQUANTIZE = "its weight is already stored as integer codes; dequantize the model first " +
  "(or compress the float original it was quantized from)";

/**
 * Handles a selected module whose weights are stored quantized: an issue when the sub-config
 * names it in `op_names`, else it is recorded for one warning. Returns true when the module was
 * such a module (and must not be configured).
 */
export function skipQuantizedModule(
  module: ModuleInfo,
  config: Config,
  index: number,
  skipped: Skipped,
  issues: Issue[],
): boolean {
  if (module.quantizedBy === undefined) return false;
  const names = Array.isArray(config.op_names) ? config.op_names : [];
  const j = names.indexOf(module.name);
  if (j >= 0) {
    issues.push({
      code: "unsupported_target",
      path: formatPath([index, "op_names", j]),
      message:
        `"${module.name}" (${module.type}) is pre-quantized (${module.quantizedBy}): ${DEQUANTIZE}`,
    });
  } else if (!skipped.quantized.has(module.name)) {
    skipped.quantized.set(module.name, { op: module.quantizedBy, index });
  }
  return true;
}

/**
 * The summary of what was skipped: one warning for the pre-quantized modules, one for the
 * default input/output targets (with `reason`, why the model's activations cannot be
 * observed); and an issue when the list configures nothing else.
 */
export function reportSkipped(
  skipped: Skipped,
  configured: number,
  reason: string | undefined,
  warnings: Warning[],
  issues: Issue[],
): void {
  const quantized = [...skipped.quantized];
  if (quantized.length > 0) {
    const ops = [...new Set(quantized.map(([, q]) => q.op))].join(", ");
    const what = `${quantized.length} pre-quantized module${
      quantized.length === 1 ? "" : "s"
    } (${ops}): ${listed(quantized.map(([n]) => n))}`;
    if (configured === 0) {
      issues.push({
        code: "unsupported_target",
        path: formatPath([quantized[0][1].index]),
        message: `the config list selects only ${what}; nothing is left to compress: each ` +
          `weight is already stored as integer codes. Dequantize the model first, or compress ` +
          `the float original it was quantized from`,
      });
    } else {
      warnings.push({
        code: "skipped_module",
        path: formatPath([quantized[0][1].index]),
        message: `skipped ${what}: their weights are already stored as integer codes ` +
          `(dequantize the model first, or compress the float original, to include them)`,
      });
    }
  }
  const acts = skipped.activations;
  if (acts.length > 0 && reason !== undefined) {
    warnings.push({
      code: "skipped_target",
      path: formatPath([acts[0].index]),
      message: `${acts.length} input/output target${acts.length === 1 ? "" : "s"} from NNI's ` +
        `defaults (${
          listed(acts.map((a) => a.name))
        }) skipped: ${reason}, so only parameters are quantized`,
    });
  }
}
