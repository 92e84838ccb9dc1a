/**
 * Types of distillation: hidden states as plain data and the targets that compare them.
 *
 * @module
 */

/** A captured tensor: float32 values in row-major order with their dims. */
export interface HiddenState {
  /** The values, row-major. */
  readonly data: Float32Array;
  /** The dims (`[batch, ...]`). */
  readonly shape: readonly number[];
}

/** Hidden states of a model by module name, then target name (`_output_0`, `_input_0`, ...). */
export type HiddenStates = Readonly<Record<string, Readonly<Record<string, HiddenState>>>>;

/**
 * One distillation target of the student, as `resolveTargetSettings(..., "distillation")`
 * returns it (only these fields are read).
 */
export interface DistillTarget {
  /** The student module name. */
  readonly module: string;
  /** The target name (`_output_0`, `_input_0`, `_output_logits`, ...). */
  readonly target: string;
  /**
   * `lambda`, `link` and `apply_method` (see `DistillationSetting`); `null`s take NNI's defaults
   * (1.0, the module's own name, mse). Typed loosely so any resolved target fits; the values
   * are checked when the loss is computed.
   */
  readonly setting: {
    readonly lambda?: number | null;
    readonly link?: string | readonly string[] | null;
    readonly apply_method?: string | null;
  };
  /** The index of the sub-config that configured the target, for error messages. */
  readonly configIndex?: number;
}
