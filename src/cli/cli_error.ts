/**
 * Errors of the CLI and the one-block form in which every error is printed (the description
 * itself is the shared `describeError` of `src/compress`).
 *
 * @module
 */

import { ConfigError } from "../config/config_error.ts";
import { describeError, type ErrorDescription } from "../compress/describe_error.ts";

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
    // Paths under `registry` point into --registry, not into the config list.
    const registry = error.issues.every((i) => i.path.startsWith("registry"));
    throw new CliError(error.message, {
      hint: registry
        ? "paths under registry.<mode>.<class> point into --registry"
        : `the config list is the ${source}; each path points into it`,
      cause: error,
    });
  }
  throw error;
}

/**
 * Describes a thrown value as `--json` prints it: the shared `describeError`, plus the CLI's own
 * errors — a `UsageError` (category `usage`), a `CliError` with its hint, described as its cause
 * when the cause is a described error (a `ConfigError` keeps its issues).
 *
 * @param error The thrown value.
 * @returns The description.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeCliError, UsageError } from "./cli_error.ts";
 *
 * assert.deepEqual(describeCliError(new UsageError("inspect needs a model file")), {
 *   kind: "UsageError",
 *   category: "usage",
 *   message: "inspect needs a model file",
 * });
 * assert.equal(describeCliError(new RangeError("bad")).kind, "RangeError");
 * ```
 */
export function describeCliError(error: unknown): ErrorDescription {
  if (error instanceof UsageError) {
    return { kind: "UsageError", category: "usage", message: error.message };
  }
  if (error instanceof CliError) {
    const hint = error.hint ? { hint: error.hint } : {};
    const cause = error.cause === undefined ? undefined : describeError(error.cause);
    if (cause !== undefined && cause.category !== "internal") {
      return { ...cause, message: error.message, ...hint };
    }
    return { kind: "CliError", category: "usage", message: error.message, ...hint };
  }
  return describeError(error);
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
  const d = describeCliError(error);
  const lines = [`error: ${d.message.trimEnd().split("\n").join("\n  ")}`];
  if (d.hint) lines.push(`hint: ${d.hint}`);
  if (debug && error instanceof Error && error.stack) lines.push("", error.stack);
  return lines.join("\n") + "\n";
}
