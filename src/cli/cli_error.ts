/**
 * Errors of the CLI and the one-block form in which every error is printed.
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { ModelFormatError } from "../io/model_format_error.ts";

/** A command line the CLI cannot run: exit code 2, with the usage of the command. */
export class UsageError extends Error {
  /** The command whose usage to show (`""` for the top level). */
  readonly command: string;
  /**
   * @param message What is wrong with the command line.
   * @param command The command whose usage applies.
   */
  constructor(message: string, command = "") {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure the CLI explains itself (exit code 1): a message and an optional hint. */
export class CliError extends Error {
  /** A line on what to do about it. */
  readonly hint?: string;
  /**
   * @param message What failed.
   * @param options The hint and the underlying error.
   */
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "CliError";
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * Re-throws a `ConfigError` with the place the config list came from as a hint (other errors
 * unchanged).
 *
 * @param error The thrown value.
 * @param source Where the list came from (`config file "cfg.json"`).
 * @returns Never.
 */
export function withConfigSource(error: unknown, source: string): never {
  if (error instanceof ConfigError) {
    throw new CliError(error.message, {
      hint: `the config list is the ${source}; each path points into it`,
      cause: error,
    });
  }
  throw error;
}

/** The data of an error as `--json` prints it. */
export interface ErrorData {
  readonly kind: string;
  readonly message: string;
  readonly issues?: readonly { code: string; path: string; message: string }[];
  readonly file?: string;
  readonly offset?: number;
  readonly hint?: string;
}

/**
 * Describes any thrown value as data: config errors with every issue and path, model-file
 * errors with the file and byte offset, other errors by name and message.
 *
 * @param error The thrown value.
 * @returns The description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeError } from "./cli_error.ts";
 *
 * assert.deepEqual(describeError(new RangeError("bad")), { kind: "RangeError", message: "bad" });
 * ```
 */
export function describeError(error: unknown): ErrorData {
  if (error instanceof ConfigError) {
    return { kind: "ConfigError", message: error.message, issues: error.issues };
  }
  if (error instanceof ModelFormatError) {
    return {
      kind: "ModelFormatError",
      message: error.message,
      file: error.file,
      offset: error.offset,
    };
  }
  if (error instanceof CliError) {
    const hint = error.hint ? { hint: error.hint } : {};
    if (error.cause instanceof ConfigError) {
      return { kind: "ConfigError", message: error.message, issues: error.cause.issues, ...hint };
    }
    return { kind: "CliError", message: error.message, ...hint };
  }
  if (error instanceof Error) return { kind: error.name, message: error.message };
  return { kind: "Error", message: String(error) };
}

/**
 * The text block printed for an error: `error: <message>` (continuation lines indented), a hint
 * line when there is one, and the stack only when `debug` is set.
 *
 * @param error The thrown value.
 * @param debug Whether to append the stack trace.
 * @returns The block, ending with a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, formatError } from "./cli_error.ts";
 *
 * const text = formatError(new CliError("cannot read m.onnx", { hint: "check the path" }), false);
 * assert.equal(text, "error: cannot read m.onnx\nhint: check the path\n");
 * ```
 */
export function formatError(error: unknown, debug: boolean): string {
  const d = describeError(error);
  const lines = [`error: ${d.message.trimEnd().split("\n").join("\n  ")}`];
  if (d.hint) lines.push(`hint: ${d.hint}`);
  if (debug && error instanceof Error && error.stack) lines.push("", error.stack);
  return lines.join("\n") + "\n";
}
