/**
 * `resolveDefaults`: the step that turns a canonical setting into the one a compressor uses —
 * `granularity: "default"` replaced by the algorithm's default, and the distillation defaults.
 *
 * @module
 */

import { show } from "./_path.ts";
import { findPruner, PRUNER_TABLE } from "./algorithms.ts";
import type { Granularity, Mode, TargetKind, TargetSetting } from "./types.ts";

/** Pruning algorithms whose defaults are known (others behave like the generic pruner). */
export type PruningAlgorithm =
  | "LevelPruner"
  | "L1NormPruner"
  | "L2NormPruner"
  | "FPGMPruner"
  | string;

/** What `resolveDefaults` needs to know about a target. */
export interface TargetContext {
  /** The compression mode. */
  readonly mode: Mode;
  /** Parameter, input or output. */
  readonly kind: TargetKind;
  /** The compressor class (e.g. `LevelPruner`, `PtqQuantizer`); omitted = the mode's generic one. */
  readonly algorithm?: string;
  /** The module's name (the default distillation link). */
  readonly moduleName: string;
  /** Parameter shape, when known. */
  readonly shape?: readonly number[] | null;
}

/** Pruners that compute metrics from parameters only (activations cannot be their targets). */
export const PARAMETER_ONLY_PRUNERS: readonly string[] = PRUNER_TABLE
  .filter((p) => p.parameterOnly).map((p) => p.algorithm);

/**
 * The granularity `"default"` stands for, per compressor and target kind (NNI's
 * `register_scalers` step): `null` (element-wise / per-tensor) for the element-wise pruners of
 * `PRUNER_TABLE` (Level, Wanda) and every quantizer, `"out_channel"` for parameters and
 * `"per_channel"` for activations otherwise.
 *
 * @param mode the compression mode
 * @param algorithm the compressor class, or `undefined` for the mode's generic compressor
 * @param kind the target kind
 * @returns the granularity to use
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultGranularity } from "./resolve_defaults.ts";
 *
 * assert.equal(defaultGranularity("pruning", "L1NormPruner", "parameter"), "out_channel");
 * assert.equal(defaultGranularity("pruning", "LevelPruner", "parameter"), null);
 * ```
 */
export function defaultGranularity(
  mode: Mode,
  algorithm: string | undefined,
  kind: TargetKind,
): Granularity | null {
  if (mode !== "pruning") return null;
  const pruner = algorithm === undefined ? undefined : findPruner(algorithm);
  if (pruner?.granularity === "element") return null;
  return kind === "parameter" ? "out_channel" : "per_channel";
}

function kernelOf(g: Granularity): { kernel: number[]; front: boolean; pad: number } | undefined {
  if (typeof g === "string") {
    if (g === "out_channel") return { kernel: [1], front: false, pad: -1 };
    if (g === "in_channel" || g === "per_channel") {
      return { kernel: [-1, 1], front: false, pad: -1 };
    }
    return undefined;
  }
  if (g.every((v) => typeof v === "number")) return { kernel: g as number[], front: true, pad: 1 };
  const [kernel, mode, pad] = g as [number[], string | null | undefined, number | null | undefined];
  return { kernel, front: (mode ?? "front") === "front", pad: pad || 1 };
}

/** Checks a granularity against a parameter shape; returns a message or `undefined`. */
export function granularityProblem(g: Granularity, shape: readonly number[]): string | undefined {
  const k = kernelOf(g);
  if (k === undefined) return undefined;
  if (k.kernel.length > shape.length) {
    return `granularity ${
      show(g)
    } needs at least ${k.kernel.length} dims, but the parameter has shape ${show(shape)}`;
  }
  const padding = new Array(shape.length - k.kernel.length).fill(k.pad);
  const full = k.front ? [...padding, ...k.kernel] : [...k.kernel, ...padding];
  for (let d = 0; d < shape.length; d++) {
    const step = full[d] === -1 ? shape[d] : full[d];
    if (step <= 0 || shape[d] % step !== 0) {
      return `granularity ${show(g)} gives blocks of ${
        show(full)
      }, which do not divide the parameter shape ${show(shape)}`;
    }
  }
  return undefined;
}

/**
 * Resolves a canonical setting for a compressor: `granularity: "default"` → `null` for
 * LevelPruner and every quantizer, `out_channel` (parameters) / `per_channel` (activations) for
 * other pruners; quantization `per_channel` on a parameter → `out_channel` (one scale per output
 * channel, dim 0); distillation `link` null/"auto" → `[module name]`, a string → `[string]`,
 * `lambda` null → 1.0, `apply_method` null → "mse". Returns the new setting or a problem message.
 *
 * @param setting the canonical setting (not modified)
 * @param target the target's context (mode, kind, algorithm, module name, shape)
 * @returns `{ setting }` or `{ problem }` (a message naming what is wrong)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveDefaults } from "./resolve_defaults.ts";
 *
 * const r = resolveDefaults({ sparse_ratio: 0.5, granularity: "default" }, {
 *   mode: "pruning", kind: "parameter", algorithm: "L1NormPruner", moduleName: "fc1",
 * });
 * assert.deepEqual(r, { setting: { sparse_ratio: 0.5, granularity: "out_channel" } });
 * ```
 */
export function resolveDefaults(
  setting: TargetSetting,
  target: TargetContext,
): { setting: TargetSetting } | { problem: string } {
  const s = structuredClone(setting) as Record<string, unknown>;
  if (target.mode === "distillation") {
    const link = s.link;
    s.link = link === null || link === undefined || link === "auto"
      ? [target.moduleName]
      : typeof link === "string"
      ? [link]
      : link;
    if (s.lambda === null || s.lambda === undefined) s.lambda = 1.0;
    if (s.apply_method === null || s.apply_method === undefined) s.apply_method = "mse";
    return { setting: s as TargetSetting };
  }
  if (!Object.hasOwn(s, "granularity")) return { setting: s as TargetSetting };
  let g = s.granularity as Granularity | null;
  if (g === "default") g = defaultGranularity(target.mode, target.algorithm, target.kind);
  if (g === "per_channel" && target.kind === "parameter") {
    if (target.mode === "pruning") {
      return {
        problem:
          `"per_channel" is for _input_/_output_ targets; for a parameter use "out_channel" (dim 0) or "in_channel" (dim 1)`,
      };
    }
    g = "out_channel";
  }
  if ((g === "out_channel" || g === "in_channel") && target.kind !== "parameter") {
    return {
      problem: `"${g}" is for parameters; for an _input_/_output_ target use "per_channel"`,
    };
  }
  if (g !== null && target.kind === "parameter" && target.shape) {
    const problem = granularityProblem(g, target.shape);
    if (problem !== undefined) return { problem };
  }
  s.granularity = g;
  return { setting: s as TargetSetting };
}
