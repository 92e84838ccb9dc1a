/**
 * Default target settings per module class, per mode (NNI's `PruningSetting`,
 * `QuantizationSetting` and `DistillatoinSetting` registries), plus `LayerNorm`, which our model
 * readers produce: in pruning it is registered like BatchNorm (a 1-D `weight` plus a `bias`
 * aligned to it), in quantization like Linear (`_input_`, `weight`, `bias`, `_output_`). An ONNX
 * `MatMul`/`Gemm` with a constant weight is read as `Linear`, so it needs no entry.
 *
 * @module
 */

import type {
  DistillationSetting,
  ExtraRegistry,
  Mode,
  ModuleInfo,
  PruningSetting,
  QuantizationSetting,
  TargetSetting,
} from "./types.ts";

/** Module classes with default pruning targets. */
export type PruningModuleType =
  | "Linear"
  | "Conv1d"
  | "Conv2d"
  | "Conv3d"
  | "ConvTranspose1d"
  | "ConvTranspose2d"
  | "ConvTranspose3d"
  | "BatchNorm1d"
  | "BatchNorm2d"
  | "BatchNorm3d"
  | "LayerNorm"
  | "Embedding";

/** Module classes with default quantization targets. */
export type QuantizationModuleType =
  | "Linear"
  | "Conv1d"
  | "Conv2d"
  | "Conv3d"
  | "ConvTranspose1d"
  | "ConvTranspose2d"
  | "ConvTranspose3d"
  | "BatchNorm1d"
  | "BatchNorm2d"
  | "LayerNorm"
  | "ReLU"
  | "ReLU6"
  | "Hardtanh"
  | "MaxPool2d";

const pruneWeight = (): PruningSetting => ({
  sparse_ratio: null,
  max_sparse_ratio: null,
  min_sparse_ratio: null,
  sparse_threshold: null,
  global_group_id: null,
  dependency_group_id: null,
  granularity: "default",
  internal_metric_block: null,
  apply_method: "mul",
});

const pruneBias = (): PruningSetting => ({
  align: { module_name: null, target_name: "weight", dims: [0] },
  apply_method: "mul",
});

const weightAndBias = () => ({ weight: pruneWeight(), bias: pruneBias() });

const quant = (): QuantizationSetting => ({
  quant_dtype: null,
  quant_scheme: null,
  granularity: "default",
  apply_method: "clamp_round",
});

const quantAll = () => ({ _input_: quant(), weight: quant(), bias: quant(), _output_: quant() });
const quantActivation = () => ({ _input_: quant(), _output_: quant() });

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Default pruning targets by module class (deeply frozen). */
export const PRUNING_REGISTRY: Readonly<
  Record<PruningModuleType, Readonly<Record<string, PruningSetting>>>
> = deepFreeze(
  {
    Linear: weightAndBias(),
    Conv1d: weightAndBias(),
    Conv2d: weightAndBias(),
    Conv3d: weightAndBias(),
    ConvTranspose1d: weightAndBias(),
    ConvTranspose2d: weightAndBias(),
    ConvTranspose3d: weightAndBias(),
    BatchNorm1d: weightAndBias(),
    BatchNorm2d: weightAndBias(),
    BatchNorm3d: weightAndBias(),
    LayerNorm: weightAndBias(),
    Embedding: { weight: pruneWeight() },
  } satisfies Record<PruningModuleType, Record<string, PruningSetting>>,
);

/** Default quantization targets by module class (deeply frozen). */
export const QUANTIZATION_REGISTRY: Readonly<
  Record<QuantizationModuleType, Readonly<Record<string, QuantizationSetting>>>
> = deepFreeze(
  {
    Linear: quantAll(),
    Conv1d: quantAll(),
    Conv2d: quantAll(),
    Conv3d: quantAll(),
    ConvTranspose1d: quantAll(),
    ConvTranspose2d: quantAll(),
    ConvTranspose3d: quantAll(),
    BatchNorm1d: quantAll(),
    BatchNorm2d: quantAll(),
    LayerNorm: quantAll(),
    ReLU: quantActivation(),
    ReLU6: quantActivation(),
    Hardtanh: quantActivation(),
    MaxPool2d: quantActivation(),
  } satisfies Record<QuantizationModuleType, Record<string, QuantizationSetting>>,
);

/** Distillation: every module class has an `_output_` target by default. */
export const DISTILLATION_DEFAULT: Readonly<Record<string, DistillationSetting>> = deepFreeze({
  _output_: { lambda: null, link: null, apply_method: null },
});

const BUILT_IN: Readonly<
  Record<Mode, Readonly<Record<string, Readonly<Record<string, TargetSetting>>>>>
> = {
  pruning: PRUNING_REGISTRY,
  quantization: QUANTIZATION_REGISTRY,
  distillation: {},
};

/**
 * The default targets of a module class in a mode (a fresh deep copy), or `undefined` when the
 * class has none. An `extra` registry entry replaces the built-in one.
 */
export function defaultTargets(
  mode: Mode,
  type: string,
  extra?: ExtraRegistry,
): Map<string, Record<string, unknown>> | undefined {
  const fromExtra = extra?.[mode];
  let entry: Readonly<Record<string, TargetSetting>> | undefined;
  if (fromExtra !== undefined && Object.hasOwn(fromExtra, type)) entry = fromExtra[type];
  else if (Object.hasOwn(BUILT_IN[mode], type)) entry = BUILT_IN[mode][type];
  else if (mode === "distillation") entry = DISTILLATION_DEFAULT;
  if (entry === undefined) return undefined;
  const out = new Map<string, Record<string, unknown>>();
  for (const [target, setting] of Object.entries(entry)) {
    out.set(target, structuredClone(setting) as Record<string, unknown>);
  }
  return out;
}

/** True when a module class has default targets in a mode. */
export function isRegistered(mode: Mode, type: string, extra?: ExtraRegistry): boolean {
  return mode === "distillation" || Object.hasOwn(BUILT_IN[mode], type) ||
    (extra?.[mode] !== undefined && Object.hasOwn(extra[mode]!, type));
}

/**
 * Default targets for the parameters a sub-config names in `target_names`, for a module class
 * without default targets in `mode` (LSTM, GRU, RNN, custom classes): each named parameter gets
 * the mode's parameter default (pruning: Linear's `weight` setting, each parameter pruned on
 * its own; quantization: the common `{quant_dtype: null, quant_scheme: null, granularity:
 * "default", apply_method: "clamp_round"}`). NNI asserts that the class is registered first;
 * naming the parameters is taken as registering them for that sub-config. `undefined` when the
 * class is registered, the mode is distillation, a name is an `_input_`/`_output_` target, or
 * the module lacks one of the named parameters.
 *
 * @param mode The mode.
 * @param module The module (its type and parameter names).
 * @param targetNames The sub-config's `target_names`.
 * @param extra The extra registry (a class registered there keeps its entry).
 * @returns The registry entry, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namedParameterTargets } from "./default_registry.ts";
 *
 * const lstm = { name: "rnn", type: "LSTM", params: { weight_ih: [1, 64, 12], weight_hh: [1, 64, 16] } };
 * const entry = namedParameterTargets("quantization", lstm, ["weight_ih"]);
 * assert.deepEqual(Object.keys(entry!), ["weight_ih"]);
 * assert.equal(namedParameterTargets("quantization", lstm, ["_input_"]), undefined);
 * ```
 */
export function namedParameterTargets(
  mode: Mode,
  module: ModuleInfo,
  targetNames: unknown,
  extra?: ExtraRegistry,
): Record<string, TargetSetting> | undefined {
  if (mode === "distillation" || isRegistered(mode, module.type, extra)) return undefined;
  if (!Array.isArray(targetNames) || targetNames.length === 0) return undefined;
  const out: Record<string, TargetSetting> = {};
  for (const name of targetNames) {
    if (
      typeof name !== "string" || name.startsWith("_input_") || name.startsWith("_output_") ||
      module.params?.[name] === undefined
    ) return undefined;
    out[name] = mode === "pruning" ? pruneWeight() : quant();
  }
  return out;
}

/**
 * `extra` with `type` registered as `entry` in `mode` (a new object; `extra` is not changed).
 *
 * @param extra The extra registry, if any.
 * @param mode The mode.
 * @param type The module class.
 * @param entry Its default targets.
 * @returns The combined registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withRegistered } from "./default_registry.ts";
 *
 * const r = withRegistered(undefined, "pruning", "GRU", { weight_ih: {} });
 * assert.deepEqual(r, { pruning: { GRU: { weight_ih: {} } } });
 * ```
 */
export function withRegistered(
  extra: ExtraRegistry | undefined,
  mode: Mode,
  type: string,
  entry: Readonly<Record<string, TargetSetting>>,
): ExtraRegistry {
  return { ...extra, [mode]: { ...extra?.[mode], [type]: entry } };
}

/**
 * An extra registry as users write it: `{mode: {Class: {target: setting}}}` as it is, or the
 * short form `{Class: {target: setting}}` for `mode` (the CLI's `--registry`, the edge
 * handler's `registry` field). Anything else is returned as it is, for the registry check to
 * report.
 *
 * @param value The parsed JSON.
 * @param mode The mode of the run.
 * @returns The registry by mode.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registryByMode } from "./default_registry.ts";
 *
 * assert.deepEqual(registryByMode({ LSTM: { weight_ih: {} } }, "pruning"), { pruning: { LSTM: { weight_ih: {} } } });
 * assert.deepEqual(registryByMode({ quantization: {} }, "pruning"), { quantization: {} });
 * ```
 */
export function registryByMode(value: unknown, mode: Mode): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const modes: readonly string[] = ["pruning", "quantization", "distillation"];
  return keys.length > 0 && keys.every((k) => modes.includes(k)) ? value : { [mode]: value };
}
