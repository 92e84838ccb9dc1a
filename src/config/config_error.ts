/**
 * `ConfigError`: one error carrying every issue found in a config list.
 *
 * @module
 */

import type { Issue, IssueCode } from "./types.ts";

/**
 * Thrown when a config list (or the modules it is applied to) has problems. Carries every issue
 * found, each with a `code`, a printed `path` and a `message`; `message` lists them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./config_error.ts";
 *
 * const error = new ConfigError([
 *   { code: "out_of_range", path: "[0].sparse_ratio", message: '"sparse_ratio" must be within [0, 1]: current value is 1.5' },
 * ]);
 * assert.equal(error.issues.length, 1);
 * assert.equal(
 *   error.message,
 *   '1 issue in the config list:\n  [0].sparse_ratio: "sparse_ratio" must be within [0, 1]: current value is 1.5',
 * );
 * ```
 */
export class ConfigError extends Error {
  /** Every issue found, in the order found. */
  readonly issues: readonly Issue[];

  /**
   * Creates the error; its message lists every issue.
   *
   * @param issues the issues (at least one)
   */
  constructor(issues: readonly Issue[]) {
    super(formatIssues(issues));
    this.name = "ConfigError";
    this.issues = issues.map((issue) => Object.freeze({ ...issue }));
  }

  /** The issue codes, in order (handy in tests). */
  get codes(): IssueCode[] {
    return this.issues.map((issue) => issue.code);
  }
}

function formatIssues(issues: readonly Issue[]): string {
  const head = `${issues.length} issue${issues.length === 1 ? "" : "s"} in the config list:`;
  const lines = issues.map((issue) =>
    `  ${issue.path === "" ? "(config list)" : issue.path}: ${issue.message}`
  );
  return [head, ...lines].join("\n");
}
