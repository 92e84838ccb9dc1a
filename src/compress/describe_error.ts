/**
 * `describeError`: any thrown value as data — one description for the CLI, the web page and the
 * edge handler, built from error classes and their codes, never from message text.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import type { Issue } from "../config/types.ts";
import { DistillationError } from "../distillation/distillation_error.ts";
import { FileError } from "../io/file_error.ts";
import { ModelFormatError } from "../io/model_format_error.ts";
import { PruningError } from "../pruning/pruning_error.ts";
import {
  QuantizationError,
  type QuantizationErrorCode,
} from "../quantization/quantization_error.ts";

/**
 * Whose mistake an error is, which decides the exit code or HTTP status:
 *
 * - `usage`: what was asked cannot be done as asked — the config list, a setting or an option
 *   (`ConfigError`, `PruningError`, `QuantizationError`, `DistillationError`, and the library's
 *   plain `RangeError`/`TypeError` argument checks). HTTP 422; CLI exit 1 (2 is for the CLI's own
 *   command-line errors);
 * - `input`: a model, data or file given cannot be read or used (`ModelFormatError`, `FileError`,
 *   a model with NaN values, calibration batches that do not fit). HTTP 400; CLI exit 1;
 * - `internal`: anything else — a bug or a failure of the runtime. HTTP 500 (without the
 *   message); CLI exit 1.
 */
export type ErrorCategory = "usage" | "input" | "internal";

/** A thrown value as data (the CLI prints it with `--json`, the edge handler returns it). */
export interface ErrorDescription {
  /** The error class (`ConfigError`, `QuantizationError`, …; `Error` for non-errors). */
  readonly kind: string;
  /** Whose mistake it is: the exit code or HTTP status class. */
  readonly category: ErrorCategory;
  /** The message. */
  readonly message: string;
  /** The error's code (`PruningError`, `QuantizationError`, `DistillationError`, `FileError`). */
  readonly code?: string;
  /** Every config issue with its code and path (`ConfigError`). */
  readonly issues?: readonly Issue[];
  /** The file (`ModelFormatError`, `FileError`). */
  readonly file?: string;
  /** The tensor or field of the file (`ModelFormatError`). */
  readonly field?: string;
  /** The byte offset in the file (`ModelFormatError`). */
  readonly offset?: number;
  /** The module (pruning, quantization and distillation errors). */
  readonly module?: string;
  /** The target of the module. */
  readonly target?: string;
  /** The config path (`[0]`, `[0].granularity`, `[1].fuse_names[0]`). */
  readonly path?: string;
  /** A line on what to do about it. */
  readonly hint?: string;
}

const QUANTIZATION_INPUT: ReadonlySet<QuantizationErrorCode> = new Set([
  "non_finite",
  "calibration",
]);

const QUANTIZATION_HINT: Partial<Record<QuantizationErrorCode, string>> = {
  uncalibrated: "input and output targets need calibration data: batches of the model's inputs",
  non_finite: "the model or its calibration data holds NaN or infinite values",
  storage: "float storage (fake-quantized weights) holds every granularity and tensor",
};

/** The module, target and config path of an error, those that are known. */
function located(
  error: { readonly module?: string; readonly target?: string; readonly path?: string },
): Pick<ErrorDescription, "module" | "target" | "path"> {
  return {
    ...(error.module === undefined ? {} : { module: error.module }),
    ...(error.target === undefined ? {} : { target: error.target }),
    ...(error.path === undefined ? {} : { path: error.path }),
  };
}

/**
 * Describes any thrown value as data: config errors with every issue and path, model-file errors
 * with the file, field and byte offset, file errors with the path and code, pruning,
 * quantization and distillation errors with their code, module, target and config path, other
 * errors by class and message. `category` says whose mistake it is (see `ErrorCategory`).
 *
 * @param error The thrown value.
 * @returns The description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QuantizationError } from "../quantization/quantization_error.ts";
 * import { describeError } from "./describe_error.ts";
 *
 * const error = new QuantizationError("granularity", "block size 3 must divide dim 1", {
 *   module: "fc", target: "weight", configIndex: 0,
 * });
 * assert.deepEqual(describeError(error), {
 *   kind: "QuantizationError",
 *   category: "usage",
 *   code: "granularity",
 *   message: 'fc.weight (config [0], "granularity"): block size 3 must divide dim 1',
 *   module: "fc",
 *   target: "weight",
 *   path: "[0].granularity",
 * });
 * assert.equal(describeError(new Error("boom")).category, "internal");
 * ```
 */
export function describeError(error: unknown): ErrorDescription {
  if (error instanceof ConfigError) {
    return { kind: "ConfigError", category: "usage", message: error.message, issues: error.issues };
  }
  if (error instanceof ModelFormatError) {
    return {
      kind: "ModelFormatError",
      category: "input",
      message: error.message,
      file: error.file,
      ...(error.field === "" ? {} : { field: error.field }),
      offset: error.offset,
    };
  }
  if (error instanceof FileError) {
    return {
      kind: "FileError",
      category: "input",
      code: error.code,
      message: error.message,
      file: error.path,
    };
  }
  if (error instanceof QuantizationError) {
    const hint = QUANTIZATION_HINT[error.code];
    return {
      kind: "QuantizationError",
      category: QUANTIZATION_INPUT.has(error.code) ? "input" : "usage",
      code: error.code,
      message: error.message,
      ...located(error),
      ...(hint === undefined ? {} : { hint }),
    };
  }
  if (error instanceof PruningError || error instanceof DistillationError) {
    return {
      kind: error.name,
      // Non-finite weights are the model's problem, not the list's.
      category: error instanceof PruningError && error.code === "non_finite" ? "input" : "usage",
      code: error.code,
      message: error.message,
      ...located(error),
    };
  }
  if (error instanceof RangeError || error instanceof TypeError) {
    return { kind: error.name, category: "usage", message: error.message };
  }
  if (error instanceof Error) {
    return { kind: error.name, category: "internal", message: error.message };
  }
  return { kind: "Error", category: "internal", message: String(error) };
}
