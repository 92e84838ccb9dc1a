/**
 * `DistillationError`: a distillation target that cannot be computed, naming the target and the
 * sub-config that configured it.
 *
 * @module
 */

/** What went wrong, as a stable code. */
export type DistillationErrorCode =
  | "lambda"
  | "link"
  | "apply_method"
  | "missing_student_state"
  | "missing_teacher_state"
  | "missing_teacher_module"
  | "shape_mismatch"
  | "kl_shape"
  | "target_name";

const KEY_OF_CODE: Record<DistillationErrorCode, string> = {
  lambda: "lambda",
  link: "link",
  apply_method: "apply_method",
  missing_student_state: "target_names",
  missing_teacher_state: "link",
  missing_teacher_module: "link",
  shape_mismatch: "link",
  kl_shape: "apply_method",
  target_name: "target_names",
};

/** Where a distillation error happened. */
export interface DistillationErrorContext {
  /** The student module name. */
  readonly module: string;
  /** The target name. */
  readonly target: string;
  /** The index of the sub-config that configured the target. */
  readonly configIndex?: number;
}

/**
 * A distillation target that cannot be computed: a negative `lambda`, a link to a teacher module
 * that is missing or has another shape, `kl` on tensors that are not logits of the same width.
 * The message starts with `module.target (config [i], "key"):`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DistillationError } from "./distillation_error.ts";
 *
 * const e = new DistillationError("lambda", `"lambda" must be >= 0: current value is -1`, {
 *   module: "fc3", target: "_output_0", configIndex: 0,
 * });
 * assert.equal(e.message, `fc3._output_0 (config [0], "lambda"): "lambda" must be >= 0: current value is -1`);
 * assert.equal(e.path, "[0].lambda");
 * ```
 */
export class DistillationError extends RangeError {
  /** The error code. */
  readonly code: DistillationErrorCode;
  /** The student module name. */
  readonly module: string;
  /** The target name. */
  readonly target: string;
  /** The config path of the setting (`[0].link`), when the sub-config is known. */
  readonly path?: string;

  /**
   * Creates the error; the message starts with `module.target (config [i], "key"):`.
   *
   * @param code the error code
   * @param detail what failed, the rule and the current value
   * @param context the student module, target and sub-config index
   */
  constructor(code: DistillationErrorCode, detail: string, context: DistillationErrorContext) {
    const key = KEY_OF_CODE[code];
    const config = context.configIndex === undefined ? "" : `config [${context.configIndex}], `;
    super(`${context.module}.${context.target} (${config}"${key}"): ${detail}`);
    this.name = "DistillationError";
    this.code = code;
    this.module = context.module;
    this.target = context.target;
    this.path = context.configIndex === undefined ? undefined : `[${context.configIndex}].${key}`;
  }
}
