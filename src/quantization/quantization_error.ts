/**
 * `QuantizationError`: a quantization setting, tensor or storage that cannot apply to a target.
 *
 * @module
 */

/**
 * What went wrong, as a stable code:
 *
 * - `quant_dtype`: not `int<N>`/`uint<N>` with 2 <= N <= 16, or not what a storage holds;
 * - `quant_scheme`: not `symmetric`/`affine`, or not what a storage holds;
 * - `granularity`: a granularity of the wrong form, or one that does not fit the target's shape;
 * - `uncalibrated`: an input/output target that was never observed (no calibration data);
 * - `activation`: an input/output target with no tensor in the ONNX graph;
 * - `range`: tracked ranges that disagree (numbers of blocks, lengths, `qmin >= qmax`);
 * - `non_finite`: a tensor or an observed activation with NaN or infinite values;
 * - `calibration`: calibration batches that do not fit the model, or none;
 * - `storage`: a storage (`qdq`, `int`, MatMulNBits) that cannot hold the quantized target;
 * - `fusion`: a `fuse_names` group whose modules or nodes cannot be folded;
 * - `shape`: tensor sizes that disagree with their shapes;
 * - `missing_tensor`: a parameter or tensor the step needs is not in the model or file;
 * - `argument`: an option outside its domain (`bits`, `blockSize`, `percentile`, `bins`, ...).
 */
export type QuantizationErrorCode =
  | "quant_dtype"
  | "quant_scheme"
  | "granularity"
  | "uncalibrated"
  | "activation"
  | "range"
  | "non_finite"
  | "calibration"
  | "storage"
  | "fusion"
  | "shape"
  | "missing_tensor"
  | "argument";

/** The config key each code is about, when it is about one. */
const KEY_OF_CODE: Readonly<Record<QuantizationErrorCode, string | undefined>> = {
  quant_dtype: "quant_dtype",
  quant_scheme: "quant_scheme",
  granularity: "granularity",
  uncalibrated: "target_names",
  activation: "target_names",
  range: undefined,
  non_finite: undefined,
  calibration: undefined,
  storage: undefined,
  fusion: "fuse_names",
  shape: undefined,
  missing_tensor: undefined,
  argument: undefined,
};

/** Where a quantization error happened. */
export interface QuantizationErrorContext {
  /** The module name. */
  readonly module?: string;
  /** The target name (`weight`, `_input_0`, …). */
  readonly target?: string;
  /** The index of the sub-config that configured the target. */
  readonly configIndex?: number;
  /** The config key at fault (default: the code's key, e.g. `"granularity"`). */
  readonly key?: string;
  /** A config path that says more than `[configIndex].key` (`[0].fuse_names[1]`). */
  readonly path?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * Thrown when quantization cannot apply to a target: a `quant_dtype` or granularity that does not
 * fit, a target never calibrated, a tensor with NaN values, a storage that cannot hold the
 * result, a `fuse_names` group that cannot be folded. The message reads
 * `<module>.<target> (config [i], "<key>"): <detail>` (or `<path>: <detail>` without a module);
 * the same facts are fields, and `code` says what failed in a form programs can switch on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QuantizationError } from "./quantization_error.ts";
 *
 * const error = new QuantizationError(
 *   "granularity",
 *   "block size 3 must divide dim 0 of shape [32, 16] (32)",
 *   { module: "fc1", target: "weight", configIndex: 0 },
 * );
 * assert.equal(
 *   error.message,
 *   'fc1.weight (config [0], "granularity"): block size 3 must divide dim 0 of shape [32, 16] (32)',
 * );
 * assert.equal(error.path, "[0].granularity");
 * assert.equal(error.code, "granularity");
 * assert.ok(error instanceof RangeError);
 * ```
 */
export class QuantizationError extends RangeError {
  /** The error code. */
  readonly code: QuantizationErrorCode;
  /** What failed, the rule and the current value: the message without its location. */
  readonly detail: string;
  /** The module name, when known. */
  readonly module?: string;
  /** The target name, when known. */
  readonly target?: string;
  /** The index of the sub-config that configured the target, when known. */
  readonly configIndex?: number;
  /** The config key at fault, when there is one. */
  readonly key?: string;
  /** The config path (`[0].granularity`, `[0].fuse_names[1]`), when the sub-config is known. */
  readonly path?: string;

  /**
   * Creates the error with a message built from the location and the detail.
   *
   * @param code the error code
   * @param detail what failed, the rule and the current value
   * @param context the module, target, sub-config index, key or path, and cause
   */
  constructor(
    code: QuantizationErrorCode,
    detail: string,
    context: QuantizationErrorContext = {},
  ) {
    const key = context.key ?? KEY_OF_CODE[code];
    const index = context.configIndex;
    const path = context.path ??
      (index === undefined ? undefined : key === undefined ? `[${index}]` : `[${index}].${key}`);
    super(
      where(context.module, context.target, context.path, index, key) + detail,
      context.cause === undefined ? undefined : { cause: context.cause },
    );
    this.name = "QuantizationError";
    this.code = code;
    this.detail = detail;
    if (context.module !== undefined) this.module = context.module;
    if (context.target !== undefined) this.target = context.target;
    if (index !== undefined) this.configIndex = index;
    if (key !== undefined) this.key = key;
    if (path !== undefined) this.path = path;
  }
}

/** `module.target (config [i], "key"): `, `path: ` or `""`. */
function where(
  module: string | undefined,
  target: string | undefined,
  path: string | undefined,
  index: number | undefined,
  key: string | undefined,
): string {
  if (module === undefined) return path === undefined ? "" : `${path}: `;
  const name = target === undefined ? module : `${module}.${target}`;
  const parts = path !== undefined
    ? [`config ${path}`]
    : [...(index === undefined ? [] : [`config [${index}]`]), ...(key ? [`"${key}"`] : [])];
  return parts.length === 0 ? `${name}: ` : `${name} (${parts.join(", ")}): `;
}
