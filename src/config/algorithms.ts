/**
 * The one table of compressors: each pruner's short name, NNI class name and default granularity,
 * and the quantizers. `prune()`, the application layer, `explain` and the CLI all read it, so an
 * explanation shows exactly what a run with the same flags does. Also `inferMode`: the mode a
 * config list is written for, from its keys.
 *
 * @module
 */

import type { Mode } from "./types.ts";

/** The pruners that run on a model file (one-shot, from the weights). */
export type PrunerName = "level" | "l1" | "l2" | "fpgm" | "slim" | "wanda";

/** One pruner of the table. */
export interface PrunerEntry {
  /** The short name (`prune({ pruner })`, `-a l1`). */
  readonly name: PrunerName;
  /** NNI's class name (`-a L1NormPruner`); its defaults are the ones applied. */
  readonly algorithm: string;
  /** What `granularity: "default"` means for a weight: element by element, or whole output channels. */
  readonly granularity: "element" | "out_channel";
  /** True when it ranks weights only (activations cannot be its targets). */
  readonly parameterOnly: boolean;
  /** What ranks the blocks, in a few words. */
  readonly metric: string;
}

/** Every pruner, in the order help texts list them. The first is the default. */
export const PRUNER_TABLE: readonly PrunerEntry[] = [
  {
    name: "level",
    algorithm: "LevelPruner",
    granularity: "element",
    parameterOnly: true,
    metric: "|w|",
  },
  {
    name: "l1",
    algorithm: "L1NormPruner",
    granularity: "out_channel",
    parameterOnly: true,
    metric: "L1 norm per block",
  },
  {
    name: "l2",
    algorithm: "L2NormPruner",
    granularity: "out_channel",
    parameterOnly: true,
    metric: "L2 norm per block",
  },
  {
    name: "fpgm",
    algorithm: "FPGMPruner",
    granularity: "out_channel",
    parameterOnly: true,
    metric: "distance to the geometric median",
  },
  {
    name: "slim",
    algorithm: "SlimPruner",
    granularity: "out_channel",
    parameterOnly: false,
    metric: "|gamma| of BatchNorm",
  },
  {
    name: "wanda",
    algorithm: "WandaPruner",
    granularity: "element",
    parameterOnly: true,
    metric: "|w| x input-feature L2 norm",
  },
];

/** The pruner used when none is named: Level, element by element. */
export const DEFAULT_PRUNER: PrunerEntry = PRUNER_TABLE[0];

/**
 * The quantizers that run on a model file. The first is the default; `GPTQ` quantizes layer by
 * layer with error compensation from calibration data (ONNX models).
 */
export const QUANTIZER_ALGORITHMS: readonly string[] = ["PtqQuantizer", "GPTQ"];

/**
 * Methods that compress layer by layer with calibration data (ONNX models): GPTQ for
 * quantization, SparseGPT for pruning (unstructured at `sparse_ratio`, or an N:M pattern).
 */
export const LAYERWISE_ALGORITHMS: Readonly<Record<string, "gptq" | "sparsegpt">> = {
  GPTQ: "gptq",
  SparseGPT: "sparsegpt",
};

/** The quantizer used when none is named. */
export const DEFAULT_QUANTIZER: string = QUANTIZER_ALGORITHMS[0];

/**
 * The pruner a name stands for: a short name (`l1`) or an NNI class name (`L1NormPruner`), in
 * any letter case.
 *
 * @param value The name.
 * @returns The table entry, or `undefined` for an unknown name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findPruner } from "./algorithms.ts";
 *
 * assert.equal(findPruner("L1NormPruner")?.name, "l1");
 * assert.equal(findPruner("level")?.algorithm, "LevelPruner");
 * assert.equal(findPruner("magic"), undefined);
 * ```
 */
export function findPruner(value: string): PrunerEntry | undefined {
  const v = value.toLowerCase();
  return PRUNER_TABLE.find((p) => p.name === v || p.algorithm.toLowerCase() === v);
}

/** The compressor a run uses, as `compressorFor` resolves it. */
export interface Compressor {
  /** The mode. */
  readonly mode: Mode;
  /** NNI's class name, whose defaults the config layer applies. */
  readonly algorithm: string;
  /** The pruner (pruning mode only). */
  readonly pruner?: PrunerEntry;
  /** True when no algorithm was named and the mode's default was taken. */
  readonly isDefault: boolean;
  /** Set for the layer-by-layer methods (GPTQ, SparseGPT). */
  readonly layerwise?: "gptq" | "sparsegpt";
}

/**
 * The compressor of a run: the named one, or the mode's default (Level for pruning, PTQ for
 * quantization).
 *
 * @param mode The mode.
 * @param value The named algorithm (short or NNI class name), if any.
 * @returns The compressor.
 * @throws {TypeError} For a name that is not a compressor of the mode; the message lists them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compressorFor } from "./algorithms.ts";
 *
 * assert.equal(compressorFor("pruning").algorithm, "LevelPruner");
 * assert.equal(compressorFor("pruning", "fpgm").algorithm, "FPGMPruner");
 * assert.equal(compressorFor("quantization").algorithm, "PtqQuantizer");
 * assert.throws(() => compressorFor("pruning", "PtqQuantizer"), /must be one of level/);
 * ```
 */
export function compressorFor(mode: Mode, value?: string): Compressor {
  if (mode === "pruning") {
    if (value !== undefined && value.toLowerCase() === "sparsegpt") {
      // Element by element like Level: the plan takes Level's defaults.
      return { mode, algorithm: "SparseGPT", isDefault: false, layerwise: "sparsegpt" };
    }
    const pruner = value === undefined ? DEFAULT_PRUNER : findPruner(value);
    if (pruner === undefined) {
      const names = [...PRUNER_TABLE.map((p) => `${p.name} (${p.algorithm})`), "SparseGPT"]
        .join(", ");
      throw new TypeError(
        `"algorithm" must be one of ${names} for pruning: current value is ${
          JSON.stringify(value)
        }`,
      );
    }
    return { mode, algorithm: pruner.algorithm, pruner, isDefault: value === undefined };
  }
  if (mode === "quantization") {
    const algorithm = value === undefined
      ? DEFAULT_QUANTIZER
      : QUANTIZER_ALGORITHMS.find((q) => q.toLowerCase() === value.toLowerCase());
    if (algorithm === undefined) {
      throw new TypeError(
        `"algorithm" must be one of ${
          QUANTIZER_ALGORITHMS.join(", ")
        } for quantization: current value is ${JSON.stringify(value)}`,
      );
    }
    return {
      mode,
      algorithm,
      isDefault: value === undefined,
      ...(LAYERWISE_ALGORITHMS[algorithm] === undefined
        ? {}
        : { layerwise: LAYERWISE_ALGORITHMS[algorithm] }),
    };
  }
  return { mode, algorithm: value ?? "Distiller", isDefault: value === undefined };
}

const PRUNING_KEYS = ["sparse_ratio", "sparse_threshold", "max_sparse_ratio", "min_sparse_ratio"];
const QUANTIZATION_KEYS = [
  "quant_dtype",
  "quant_scheme",
  "fuse_names",
  "quant_types",
  "quant_bits",
];
const DISTILLATION_KEYS = ["lambda", "link"];
const LEGACY_PRUNING_KEYS = ["sparsity", "sparsity_per_layer", "total_sparsity"];

/** The keys of a sub-config and of its `target_settings` entries. */
function keysOf(config: unknown): string[] {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return [];
  const keys = Object.keys(config);
  const nested = (config as Record<string, unknown>).target_settings;
  if (typeof nested === "object" && nested !== null && !Array.isArray(nested)) {
    for (const v of Object.values(nested)) {
      if (typeof v === "object" && v !== null) keys.push(...Object.keys(v).slice(0, 64));
    }
  }
  return keys;
}

/**
 * The mode a config list is written for, read from its keys: `quant_dtype` (or legacy
 * `quant_types`/`quant_bits`) means quantization, `sparse_ratio` (or legacy `sparsity`) pruning,
 * `lambda`/`link` distillation. The first sub-config with such a key decides.
 *
 * @param configList The config list (untrusted data; not validated here).
 * @returns The mode and why, or `undefined` when no key tells.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferMode } from "./algorithms.ts";
 *
 * assert.deepEqual(inferMode([{ op_types: ["Linear"], quant_dtype: "int8" }]), {
 *   mode: "quantization",
 *   reason: '"quant_dtype" in [0]',
 * });
 * assert.equal(inferMode([{ op_types: ["Linear"] }]), undefined);
 * ```
 */
export function inferMode(configList: unknown): { mode: Mode; reason: string } | undefined {
  if (!Array.isArray(configList)) return undefined;
  const n = Math.min(configList.length, 4096);
  for (let i = 0; i < n; i++) {
    const keys = keysOf(configList[i]);
    const found = (mode: Mode, list: readonly string[]) => {
      const key = keys.find((k) => list.includes(k));
      return key === undefined ? undefined : { mode, reason: `"${key}" in [${i}]` };
    };
    const hit = found("quantization", QUANTIZATION_KEYS) ??
      found("pruning", PRUNING_KEYS) ?? found("pruning", LEGACY_PRUNING_KEYS) ??
      found("distillation", DISTILLATION_KEYS);
    if (hit !== undefined) return hit;
  }
  return undefined;
}
