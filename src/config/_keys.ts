/**
 * The closed key tables of the config system. Each table is checked against its setting type with
 * `satisfies Record<keyof …, Check>`, so the types and the validator cannot drift apart.
 *
 * @module
 */

import {
  align,
  type Check,
  finiteNumber,
  fuseNames,
  granularity,
  groupId,
  link,
  nonNegativeNumber,
  nullable,
  numberIn,
  oneOf,
  positiveInt,
  quantDtype,
  regexList,
  stringList,
} from "./_checks.ts";
import type {
  CommonConfig,
  DistillationSetting,
  LegacyConfig,
  Mode,
  PruningSetting,
  QuantizationSetting,
} from "./types.ts";

/** The six selector keys (which modules a sub-config selects). */
export const SELECTOR_KEYS = {
  op_names: stringList(),
  op_names_re: regexList,
  op_types: stringList(),
  exclude_op_names: stringList(),
  exclude_op_names_re: regexList,
  exclude_op_types: stringList(),
} satisfies Record<Exclude<keyof CommonConfig<unknown>, "target_names" | "target_settings">, Check>;

/** A selector key. */
export type SelectorKey = keyof typeof SELECTOR_KEYS;

/** Pruning setting keys. */
export const PRUNING_KEYS = {
  sparse_ratio: nullable(numberIn(0, 1)),
  max_sparse_ratio: nullable(numberIn(0, 1, true, false)),
  min_sparse_ratio: nullable(numberIn(0, 1, false, true)),
  sparse_threshold: nullable(finiteNumber),
  global_group_id: nullable(groupId),
  dependency_group_id: nullable(groupId),
  granularity: nullable(granularity),
  internal_metric_block: nullable(positiveInt),
  apply_method: nullable(oneOf(["mul", "add", "bypass"])),
  align: nullable(align),
} satisfies Record<keyof PruningSetting, Check>;

/** Quantization setting keys. */
export const QUANTIZATION_KEYS = {
  quant_dtype: nullable(quantDtype),
  quant_scheme: nullable(oneOf(["affine", "symmetric"])),
  granularity: nullable(granularity),
  apply_method: nullable(oneOf(["clamp_round", "qat_clamp_round", "bypass"])),
} satisfies Record<keyof QuantizationSetting, Check>;

/** Distillation setting keys. */
export const DISTILLATION_KEYS = {
  lambda: nullable(nonNegativeNumber),
  link: nullable(link),
  apply_method: nullable(oneOf(["mse", "kl"])),
} satisfies Record<keyof DistillationSetting, Check>;

/** Setting keys per mode. */
export const SETTING_KEYS: Readonly<Record<Mode, Readonly<Record<string, Check>>>> = {
  pruning: PRUNING_KEYS,
  quantization: QUANTIZATION_KEYS,
  distillation: DISTILLATION_KEYS,
} satisfies Record<Mode, unknown>;

/** Top-level keys only a mode has besides its setting keys. */
export const MODE_TOP_KEYS: Readonly<Record<Mode, Readonly<Record<string, Check>>>> = {
  pruning: {},
  quantization: { fuse_names: fuseNames },
  distillation: {},
};

/** What each legacy key becomes in v3 (used in messages and warnings). */
export const LEGACY_KEYS = {
  op_partial_names: "op_names_re",
  exclude: "exclude_op_names / exclude_op_types / exclude_op_names_re",
  sparsity: "sparse_ratio",
  sparsity_per_layer: "sparse_ratio",
  total_sparsity: "sparse_ratio with global_group_id",
  max_sparsity_per_layer: "max_sparse_ratio",
  quant_types: "target_names",
  quant_bits: "quant_dtype",
  quant_start_step: "the quantizer option quantStartStep",
} satisfies Record<Exclude<keyof LegacyConfig, "op_types" | "op_names">, string>;

/** Keys whose presence in `config_list[0]` makes NNI treat the list as legacy. */
export const LEGACY_TRIGGERS: readonly string[] = [
  "exclude",
  "sparsity",
  "sparsity_per_layer",
  "total_sparsity",
  "quant_types",
];

/** The mode that owns a key, other than `mode`, if any. */
export function otherModeOf(key: string, mode: Mode): Mode | undefined {
  for (const m of ["pruning", "quantization", "distillation"] as const) {
    if (m === mode) continue;
    if (Object.hasOwn(SETTING_KEYS[m], key) || Object.hasOwn(MODE_TOP_KEYS[m], key)) return m;
  }
  return undefined;
}
