/**
 * Value checks for config keys. Each check appends issues (code, printed path, message in the
 * grammar `"key" must be …: current value is …`) and never throws.
 *
 * @module
 */

import { compilePythonRegex } from "./_python_regex.ts";
import { formatPath, show } from "./_path.ts";
import { isPlainObject } from "./_plain_copy.ts";
import type { Issue, IssueCode, Path } from "./types.ts";

/** Where checks report. */
export interface CheckContext {
  readonly issues: Issue[];
}

/** A check of one key's value. */
export type Check = (value: unknown, path: Path, ctx: CheckContext) => void;

/** Appends one issue. */
export function report(ctx: CheckContext, code: IssueCode, path: Path, message: string): void {
  ctx.issues.push({ code, path: formatPath(path), message });
}

function keyName(path: Path): string {
  const last = path[path.length - 1];
  return typeof last === "string" ? last : formatPath(path);
}

function current(value: unknown): string {
  return `current value is ${show(value)}`;
}

/** True for a finite JSON number. */
export function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** True for a safe integer. */
export function isInt(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** Accepts `null` (the setting's default), otherwise runs `check`. */
export function nullable(check: Check): Check {
  return (value, path, ctx) => {
    if (value !== null) check(value, path, ctx);
  };
}

/** A number within a range; `lowOpen`/`highOpen` exclude the bounds. */
export function numberIn(low: number, high: number, lowOpen = false, highOpen = false): Check {
  const range = `${lowOpen ? "(" : "["}${low}, ${high}${highOpen ? ")" : "]"}`;
  return (value, path, ctx) => {
    if (!isNumber(value)) {
      report(ctx, "invalid_type", path, `"${keyName(path)}" must be a number: ${current(value)}`);
    } else if (
      (lowOpen ? value <= low : value < low) || (highOpen ? value >= high : value > high)
    ) {
      report(
        ctx,
        "out_of_range",
        path,
        `"${keyName(path)}" must be within ${range}: ${current(value)}`,
      );
    }
  };
}

/** Any finite number. */
export const finiteNumber: Check = (value, path, ctx) => {
  if (!isNumber(value)) {
    report(
      ctx,
      "invalid_type",
      path,
      `"${keyName(path)}" must be a finite number: ${current(value)}`,
    );
  }
};

/** A number >= 0 (integers accepted). */
export const nonNegativeNumber: Check = (value, path, ctx) => {
  if (!isNumber(value)) {
    report(ctx, "invalid_type", path, `"${keyName(path)}" must be a number: ${current(value)}`);
  } else if (value < 0) {
    report(ctx, "out_of_range", path, `"${keyName(path)}" must be >= 0: ${current(value)}`);
  }
};

/** An integer >= 1. */
export const positiveInt: Check = (value, path, ctx) => {
  if (!isInt(value)) {
    report(ctx, "invalid_type", path, `"${keyName(path)}" must be an integer: ${current(value)}`);
  } else if (value < 1) {
    report(ctx, "out_of_range", path, `"${keyName(path)}" must be >= 1: ${current(value)}`);
  }
};

/** A group id: an integer or a non-empty string. */
export const groupId: Check = (value, path, ctx) => {
  if (!(isInt(value) || (typeof value === "string" && value !== ""))) {
    report(
      ctx,
      "invalid_type",
      path,
      `"${keyName(path)}" must be an integer or a non-empty string: ${current(value)}`,
    );
  }
};

/** One of a closed set of strings. */
export function oneOf(values: readonly string[]): Check {
  const list = values.map((v) => `"${v}"`).join(", ");
  return (value, path, ctx) => {
    if (typeof value !== "string" || !values.includes(value)) {
      report(
        ctx,
        "invalid_value",
        path,
        `"${keyName(path)}" must be one of ${list}: ${current(value)}`,
      );
    }
  };
}

/** A list of strings (entries `undefined` were already reported by the copy). */
export function stringList(nonEmptyEntries = true): Check {
  return (value, path, ctx) => {
    if (!Array.isArray(value)) {
      report(
        ctx,
        "invalid_type",
        path,
        `"${keyName(path)}" must be a list of strings: ${current(value)}`,
      );
      return;
    }
    value.forEach((entry, i) => {
      if (entry === undefined) return;
      if (typeof entry !== "string" || (nonEmptyEntries && entry === "")) {
        report(
          ctx,
          "invalid_type",
          [...path, i],
          `entries of "${keyName(path)}" must be ${nonEmptyEntries ? "non-empty " : ""}strings: ${
            current(entry)
          }`,
        );
      }
    });
  };
}

/** A list of Python regular expressions that compile. */
export const regexList: Check = (value, path, ctx) => {
  const before = ctx.issues.length;
  stringList(false)(value, path, ctx);
  if (ctx.issues.length !== before || !Array.isArray(value)) return;
  value.forEach((pattern, i) => {
    if (typeof pattern !== "string") return;
    const result = compilePythonRegex(pattern);
    if (!result.ok) {
      report(
        ctx,
        result.code,
        [...path, i],
        result.code === "invalid_regex"
          ? `${JSON.stringify(pattern)} is not a valid Python regular expression: ${result.message}`
          : `${
            JSON.stringify(pattern)
          } uses Python regex syntax that is not supported: ${result.message}`,
      );
    }
  });
};

function blockSizes(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 &&
    value.every((v) => isInt(v) && (v >= 1 || v === -1));
}

/** `granularity`: a keyword, a list of block sizes, or `[[k...], mode?, padValue?]`. */
export const granularity: Check = (value, path, ctx) => {
  const words = ["default", "in_channel", "out_channel", "per_channel"];
  const base =
    `"granularity" must be one of ${
      words.map((w) => `"${w}"`).join(", ")
    }, a list of block sizes ` +
    `(integers >= 1 or -1) or [[block sizes], "front" | "back", padding value]`;
  if (typeof value === "string") {
    if (!words.includes(value)) report(ctx, "invalid_value", path, `${base}: ${current(value)}`);
    return;
  }
  if (!Array.isArray(value) || value.length === 0) {
    report(ctx, "invalid_granularity", path, `${base}: ${current(value)}`);
    return;
  }
  if (value.every((v) => typeof v === "number")) {
    if (!blockSizes(value)) report(ctx, "invalid_granularity", path, `${base}: ${current(value)}`);
    return;
  }
  const [kernel, mode, pad] = value;
  const ok = value.length <= 3 && blockSizes(kernel) &&
    (mode === undefined || mode === null || mode === "front" || mode === "back") &&
    (pad === undefined || pad === null || isInt(pad));
  if (!ok) report(ctx, "invalid_granularity", path, `${base}: ${current(value)}`);
};

/** `align`: `{ module_name: string | null, target_name: string, dims: int[] }`. */
export const align: Check = (value, path, ctx) => {
  if (!isPlainObject(value)) {
    report(
      ctx,
      "invalid_type",
      path,
      `"align" must be an object {module_name, target_name, dims}: ${current(value)}`,
    );
    return;
  }
  for (const key of Object.keys(value)) {
    if (key !== "module_name" && key !== "target_name" && key !== "dims") {
      report(
        ctx,
        "unknown_key",
        [...path, key],
        `unknown key "${key}" in "align" (keys: module_name, target_name, dims)`,
      );
    }
  }
  for (const key of ["module_name", "target_name", "dims"]) {
    if (!Object.hasOwn(value, key)) {
      report(ctx, "missing_key", path, `"align" must have the key "${key}"`);
    }
  }
  const { module_name: moduleName, target_name: targetName, dims } = value;
  if (moduleName !== undefined && moduleName !== null && typeof moduleName !== "string") {
    report(
      ctx,
      "invalid_type",
      [...path, "module_name"],
      `"module_name" must be a string or null: ${current(moduleName)}`,
    );
  }
  if (targetName !== undefined && (typeof targetName !== "string" || targetName === "")) {
    report(
      ctx,
      "invalid_type",
      [...path, "target_name"],
      `"target_name" must be a non-empty string: ${current(targetName)}`,
    );
  }
  if (dims !== undefined && !(Array.isArray(dims) && dims.every(isInt))) {
    report(
      ctx,
      "invalid_type",
      [...path, "dims"],
      `"dims" must be a list of integers: ${current(dims)}`,
    );
  }
};

/** `quant_dtype`: `int<N>` or `uint<N>` with 2 <= N <= 16. */
export const quantDtype: Check = (value, path, ctx) => {
  const m = typeof value === "string" ? /^(u?)int([0-9]+)$/.exec(value) : null;
  if (m === null) {
    report(
      ctx,
      "invalid_value",
      path,
      `"quant_dtype" must be "int<N>" or "uint<N>" with 2 <= N <= 16: ${current(value)}`,
    );
    return;
  }
  const bits = Number(m[2]);
  if (value === "int1") {
    report(
      ctx,
      "out_of_range",
      path,
      `"quant_dtype" must have at least 2 bits for signed integers ("int1" has the empty range [0, 0]): current value is "int1"`,
    );
  } else if (bits < 2 || bits > 16) {
    report(
      ctx,
      "out_of_range",
      path,
      `"quant_dtype" bits must be within [2, 16]: ${current(value)}`,
    );
  }
};

/** `link`: a module name or a non-empty list of names (`"auto"` = the module itself). */
export const link: Check = (value, path, ctx) => {
  if (typeof value === "string" && value !== "") return;
  if (
    Array.isArray(value) && value.length > 0 &&
    value.every((v) => typeof v === "string" && v !== "")
  ) return;
  report(
    ctx,
    "invalid_type",
    path,
    `"link" must be a module name or a non-empty list of module names: ${current(value)}`,
  );
};

/** `fuse_names`: a list of groups of 2 or 3 module names. */
export const fuseNames: Check = (value, path, ctx) => {
  if (!Array.isArray(value)) {
    report(
      ctx,
      "invalid_type",
      path,
      `"fuse_names" must be a list of lists of 2 or 3 module names: ${current(value)}`,
    );
    return;
  }
  value.forEach((group, i) => {
    const ok = Array.isArray(group) && group.length >= 2 && group.length <= 3 &&
      group.every((n) => typeof n === "string" && n !== "");
    if (!ok) {
      report(
        ctx,
        "invalid_value",
        [...path, i],
        `each "fuse_names" entry must list 2 or 3 module names: ${current(group)}`,
      );
    }
  });
};
