/**
 * Types of the compression config system: v3 and legacy (v2) config lists with the spec's
 * snake_case keys (so an NNI JSON config pastes in unchanged), modules described as plain data,
 * issues and warnings, and the canonical per-module, per-target result.
 *
 * @module
 */

/** The three compression modes; each has its own setting keys and default-target registry. */
export type Mode = "pruning" | "quantization" | "distillation";

/** All modes, in a fixed order. */
export const MODES: readonly Mode[] = ["pruning", "quantization", "distillation"];

/** A module of the model, as plain data, listed in model order. */
export interface ModuleInfo {
  /** Fully-qualified name (`backbone.layers.0.ffn`); the root module is `""`. */
  readonly name: string;
  /** Class name (`Linear`, `Conv2d`, `LayerNorm`, ...). */
  readonly type: string;
  /** Parameter shapes in PyTorch layout, e.g. `{ weight: [out, in], bias: [out] }`. */
  readonly params?: Readonly<Record<string, readonly number[]>>;
  /** Raw ONNX op type, when the module was read from ONNX; `op_types` matches it too. */
  readonly opType?: string;
  /**
   * The operator that stores the module's weight already quantized (`QLinearConv`,
   * `ConvInteger`, `MatMulNBits`, `DequantizeLinear`, …); such a module cannot be pruned or
   * quantized again: a type or regex that sweeps it in skips it with a warning, naming it in
   * `op_names` is an issue, and so is a list that selects nothing else.
   */
  readonly quantizedBy?: string;
}

/** `align` of a pruning target: derive its mask from another target's mask. */
export interface Align {
  /** Module of the source target; `null` = the same module. */
  module_name: string | null;
  /** Source target name, e.g. `weight`. */
  target_name: string;
  /** Dims of the source mask that map onto this target (negative dims count from the end). */
  dims: number[];
}

/** Padding mode of a granularity kernel in the tuple form. */
export type KernelPadding = "front" | "back";

/**
 * Granularity: a keyword, a block size list (`[4, 4]`, `-1` = whole dim), or NNI's tuple form
 * `[[k...]]`, `[[k...], mode]`, `[[k...], mode, padValue]`.
 */
export type Granularity =
  | "default"
  | "in_channel"
  | "out_channel"
  | "per_channel"
  | number[]
  | [number[]]
  | [number[], KernelPadding | null]
  | [number[], KernelPadding | null, number | null];

/** Pruning apply methods. */
export type PruningApplyMethod = "mul" | "add" | "bypass";
/** Quantization apply methods. */
export type QuantizationApplyMethod = "clamp_round" | "qat_clamp_round" | "bypass";
/** Distillation loss functions. */
export type DistillationApplyMethod = "mse" | "kl";

/** Setting keys of a pruning target. */
export interface PruningSetting {
  /** Fraction of the target to prune, in [0, 1] (the group total with `global_group_id`). */
  sparse_ratio?: number | null;
  /** Upper bound of a target's own ratio, in (0, 1]. */
  max_sparse_ratio?: number | null;
  /** Lower bound of a target's own ratio, in [0, 1). */
  min_sparse_ratio?: number | null;
  /** Metric threshold: positions whose metric is below it are pruned. */
  sparse_threshold?: number | null;
  /** Targets with the same id share one ratio, distributed across them. */
  global_group_id?: number | string | null;
  /** Targets with the same id are pruned at the same positions. */
  dependency_group_id?: number | string | null;
  /** Mask / scale granularity (see `Granularity`). */
  granularity?: Granularity | null;
  /** Number of equal chunks a dependency group metric is split into. */
  internal_metric_block?: number | null;
  /** How the mask, quantizer or loss is applied. */
  apply_method?: PruningApplyMethod | null;
  /** Derive this target's mask from another target's mask. */
  align?: Align | null;
}

/** Setting keys of a quantization target. */
export interface QuantizationSetting {
  /** `int<N>` or `uint<N>`, 2 <= N <= 16; `null` = int8. */
  quant_dtype?: string | null;
  /** `affine` or `symmetric`; `null` = the quantizer's choice (symmetric). */
  quant_scheme?: "affine" | "symmetric" | null;
  /** Mask / scale granularity (see `Granularity`). */
  granularity?: Granularity | null;
  /** How the mask, quantizer or loss is applied. */
  apply_method?: QuantizationApplyMethod | null;
}

/** Setting keys of a distillation target. */
export interface DistillationSetting {
  /** Scale of the distillation loss, >= 0. */
  lambda?: number | null;
  /** Teacher module name(s); `null` or `"auto"` = the student module's own name. */
  link?: string | string[] | null;
  /** How the mask, quantizer or loss is applied. */
  apply_method?: DistillationApplyMethod | null;
}

/** A target setting of any mode. */
export type TargetSetting = PruningSetting | QuantizationSetting | DistillationSetting;

/** The eight common keys of every v3 sub-config. */
export interface CommonConfig<S> {
  /** Fully-qualified names of modules to select. */
  op_names?: string[];
  /** Python regexes matched at the start of module names (`re.match`). */
  op_names_re?: string[];
  /** Module class names to select (all of them, or intersected with the names). */
  op_types?: string[];
  /** Names of modules to remove from the selection. */
  exclude_op_names?: string[];
  /** Python regexes of modules to remove from the selection. */
  exclude_op_names_re?: string[];
  /** Module class names to remove from the selection. */
  exclude_op_types?: string[];
  /** Targets to configure (`weight`, `bias`, `_input_`, `_output_`, `_input_<i|name>`, `_output_<i|key>`). */
  target_names?: string[];
  /** Per-target settings, applied after the shorthand keys. */
  target_settings?: Record<string, S>;
}

/** A v3 pruning sub-config: common keys plus pruning shorthand keys. */
export type PruningConfig = CommonConfig<PruningSetting> & PruningSetting;
/** A v3 quantization sub-config: common keys, quantization shorthand keys and `fuse_names`. */
export type QuantizationConfig = CommonConfig<QuantizationSetting> & QuantizationSetting & {
  /** Module groups to fuse before quantization, e.g. `[["conv1", "bn1"]]`. */
  fuse_names?: string[][];
};
/** A v3 distillation sub-config. */
export type DistillationConfig = CommonConfig<DistillationSetting> & DistillationSetting;

/** A v3 sub-config of any mode. */
export type Config = PruningConfig | QuantizationConfig | DistillationConfig;

/** The v3 sub-config type of a mode. */
export type ConfigOf<M extends Mode> = M extends "pruning" ? PruningConfig
  : M extends "quantization" ? QuantizationConfig
  : DistillationConfig;

/** A legacy (v2) sub-config, as NNI v3.0 still accepts it. */
export interface LegacyConfig {
  /** Module class names to select (all of them, or intersected with the names). */
  op_types?: string[];
  /** Fully-qualified names of modules to select. */
  op_names?: string[];
  /** Substrings of module names (becomes `op_names_re`). */
  op_partial_names?: string[];
  /** Marks a sub-config whose modules are excluded everywhere (its value is ignored). */
  exclude?: boolean;
  /** Old name of `sparsity_per_layer`. */
  sparsity?: number;
  /** Ratio of each selected layer. */
  sparsity_per_layer?: number;
  /** Ratio over all selected layers together. */
  total_sparsity?: number;
  /** Upper bound of each layer's ratio. */
  max_sparsity_per_layer?: number;
  /** `input`, `weight`, `output` (and `bias`) to quantize. */
  quant_types?: string | string[];
  /** Bits per quant type, or one number for all. */
  quant_bits?: number | Record<string, number>;
  /** QAT: steps before quantization starts (a quantizer option in v3). */
  quant_start_step?: number;
}

/** A path into the config list: indices and keys, printed like `[2].target_settings.weight`. */
export type Path = readonly (string | number)[];

/** Codes of the issues a `ConfigError` carries. */
export type IssueCode =
  | "not_array"
  | "not_object"
  | "forbidden_key"
  | "too_deep"
  | "too_large"
  | "not_plain_data"
  | "unknown_key"
  | "wrong_mode_key"
  | "legacy_key"
  | "missing_key"
  | "invalid_type"
  | "out_of_range"
  | "invalid_value"
  | "exclusive_keys"
  | "min_above_max"
  | "invalid_regex"
  | "unsupported_regex"
  | "unregistered_module"
  | "unknown_target"
  | "missing_parameter"
  | "invalid_granularity"
  | "unsupported_target"
  | "group_conflict"
  | "invalid_module_list"
  | "invalid_registry"
  | "invalid_json";

/** One problem found in a config list. */
export interface Issue {
  /** What kind of problem. */
  readonly code: IssueCode;
  /** Printed path, e.g. `[2].target_settings.weight.sparse_ratio` (`""` = the list itself). */
  readonly path: string;
  /** What failed, the rule, and the current value. */
  readonly message: string;
}

/** Codes of warnings: the config is usable but something was translated, ignored or skipped. */
export type WarningCode =
  | "legacy_translated"
  | "legacy_option"
  | "unknown_module"
  | "no_match"
  | "unused_setting"
  | "skipped_module"
  | "duplicate_target"
  | "inactive_target"
  | "missing_parameter"
  | "skipped_target";

/** A warning, returned as data. */
export interface Warning {
  /** What kind of problem. */
  readonly code: WarningCode;
  /** Where, printed like `[2].target_settings.weight`. */
  readonly path: string;
  /** What failed, the rule, and the current value. */
  readonly message: string;
}

/** A per-mode registry of default target settings by module class name. */
export type Registry = Readonly<Record<string, Readonly<Record<string, TargetSetting>>>>;

/** Extra registries per mode (like NNI's `ModuleSetting.register`), given per call. */
export type ExtraRegistry = Readonly<Partial<Record<Mode, Registry>>>;

/** The kind of a target, from its name. */
export type TargetKind = "parameter" | "input" | "output";

/** Options leaving the config list when legacy keys are converted (e.g. `quant_start_step`). */
export interface LegacyOptions {
  /** From legacy `quant_start_step`: a QAT quantizer option, not a config key. */
  quantStartStep?: number;
}

/** One configured (module, target) after de-duplication and default resolution. */
export interface ResolvedTarget {
  /** Module name. */
  readonly module: string;
  /** Module class name. */
  readonly moduleType: string;
  /** Target name (`weight`, `_input_0`, ...). */
  readonly target: string;
  /** Parameter, input or output, from the target name. */
  readonly kind: TargetKind;
  /** The setting the compressor uses (defaults such as granularity already resolved). */
  readonly setting: TargetSetting;
  /** Index of the sub-config that configured it (the first one wins). */
  readonly configIndex: number;
  /** Parameter shape, when known. */
  readonly shape: readonly number[] | null;
}
