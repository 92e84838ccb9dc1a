/**
 * `PruningError`: a setting or metric that cannot apply to a target.
 *
 * @module
 */

/** What went wrong, as a stable code. */
export type PruningErrorCode =
  | "granularity"
  | "block_rank"
  | "block_divisor"
  | "ratio"
  | "metric"
  | "activation_target"
  | "dependency_group"
  | "global_group"
  | "threshold_in_group"
  | "non_finite";

/** Where a pruning error happened. */
export interface PruningErrorContext {
  /** The module name. */
  readonly module?: string;
  /** The target name. */
  readonly target?: string;
  /** The index of the sub-config that configured the target. */
  readonly configIndex?: number;
}

/**
 * Thrown when a pruning setting cannot apply to a target (a block that does not divide a dim, a
 * kernel longer than the target's rank, a group whose members disagree, …). The message names
 * the module, the target and the config path; the same facts are fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PruningError } from "./pruning_error.ts";
 *
 * const error = new PruningError("block_divisor", "block size 3 does not divide dim 0 (size 32)", {
 *   module: "fc1",
 *   target: "weight",
 *   configIndex: 0,
 * });
 * assert.equal(
 *   error.message,
 *   'fc1.weight (config [0], "granularity"): block size 3 does not divide dim 0 (size 32)',
 * );
 * assert.ok(error instanceof RangeError);
 * ```
 */
export class PruningError extends RangeError {
  /** The error code. */
  readonly code: PruningErrorCode;
  /** The module name, when known. */
  readonly module?: string;
  /** The target name, when known. */
  readonly target?: string;
  /** The config path of the sub-config that configured the target (`[0]`), when known. */
  readonly path?: string;

  /**
   * Creates the error with a message built from the code, the config path and the detail.
   *
   * @param code the error code
   * @param detail what failed and the current value
   * @param context the module, target and sub-config index
   */
  constructor(code: PruningErrorCode, detail: string, context: PruningErrorContext = {}) {
    const key = SETTING_OF_CODE[code];
    const path = context.configIndex === undefined ? undefined : `[${context.configIndex}]`;
    const at = [
      ...(path === undefined ? [] : [`config ${path}`]),
      ...(key === "" ? [] : [`"${key}"`]),
    ];
    const where = context.module === undefined
      ? ""
      : `${context.module}.${context.target ?? "?"}${at.length ? ` (${at.join(", ")})` : ""}: `;
    super(where + detail);
    this.name = "PruningError";
    this.code = code;
    this.module = context.module;
    this.target = context.target;
    this.path = path;
  }
}

const SETTING_OF_CODE: Record<PruningErrorCode, string> = {
  granularity: "granularity",
  block_rank: "granularity",
  block_divisor: "granularity",
  ratio: "sparse_ratio",
  metric: "granularity",
  activation_target: "target_names",
  dependency_group: "dependency_group_id",
  global_group: "global_group_id",
  threshold_in_group: "sparse_threshold",
  non_finite: "",
};
