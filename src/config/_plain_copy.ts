/**
 * A defensive deep copy of untrusted config data: plain JSON-like values only, bounded depth and
 * size, `__proto__`/`constructor`/`prototype` keys rejected, the caller's objects never touched
 * (frozen inputs work) and no prototype ever written.
 *
 * @module
 */

import { formatPath, show } from "./_path.ts";
import type { Issue, Path } from "./types.ts";

/** Limits of a config list. */
export interface CopyLimits {
  /** Deepest nesting of lists and objects (the list itself is depth 1). */
  readonly maxDepth: number;
  /** Most sub-configs in a list. */
  readonly maxConfigs: number;
  /** Most list entries plus object keys in the whole list. */
  readonly maxEntries: number;
  /** Longest string. */
  readonly maxStringLength: number;
}

/** Default limits: depth 32, 10,000 sub-configs, 100,000 entries, strings of 10,000 chars. */
export const DEFAULT_LIMITS: CopyLimits = {
  maxDepth: 32,
  maxConfigs: 10_000,
  maxEntries: 100_000,
  maxStringLength: 10_000,
};

/** Keys that could reach a prototype if copied naively. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

/** Sets an own, enumerable property even for a key like `__proto__` (never a prototype write). */
export function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** True for a plain object (`{}` literal, JSON object or null-prototype object). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

interface State {
  entries: number;
  stopped: boolean;
  readonly limits: CopyLimits;
  readonly issues: Issue[];
}

/**
 * Copies a config list. Returns the copy, or `undefined` for the list when it is not an array;
 * problems are appended to `issues` (the copy then leaves the bad parts out).
 */
export function copyConfigList(
  value: unknown,
  issues: Issue[],
  limits: CopyLimits = DEFAULT_LIMITS,
): unknown[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({
      code: "not_array",
      path: "",
      message: `the config list must be a list of sub-configs: current value is ${show(value)}`,
    });
    return undefined;
  }
  if (value.length > limits.maxConfigs) {
    issues.push({
      code: "too_large",
      path: "",
      message:
        `the config list must have at most ${limits.maxConfigs} sub-configs: current length is ${value.length}`,
    });
    return undefined;
  }
  const state: State = { entries: 0, stopped: false, limits, issues };
  return copyValue(value, [], 1, state) as unknown[] | undefined;
}

function copyValue(value: unknown, path: Path, depth: number, state: State): unknown {
  if (state.stopped) return undefined;
  if (value === null || typeof value === "boolean" || typeof value === "number") return value;
  if (typeof value === "string") {
    if (value.length > state.limits.maxStringLength) {
      state.issues.push({
        code: "too_large",
        path: formatPath(path),
        message:
          `strings must have at most ${state.limits.maxStringLength} characters: current length is ${value.length}`,
      });
      return undefined;
    }
    return value;
  }
  if (typeof value !== "object") {
    state.issues.push({
      code: "not_plain_data",
      path: formatPath(path),
      message: `config values must be plain JSON data: current value is ${show(value)}`,
    });
    return undefined;
  }
  if (depth > state.limits.maxDepth) {
    state.issues.push({
      code: "too_deep",
      path: formatPath(path),
      message: `config data must be nested at most ${state.limits.maxDepth} levels deep`,
    });
    state.stopped = true;
    return undefined;
  }
  if (Array.isArray(value)) return copyArray(value, path, depth, state);
  if (!isPlainObject(value)) {
    state.issues.push({
      code: "not_plain_data",
      path: formatPath(path),
      message: `config values must be plain JSON data: current value is ${
        Object.prototype.toString.call(value)
      }`,
    });
    return undefined;
  }
  return copyObject(value, path, depth, state);
}

function count(path: Path, n: number, state: State): boolean {
  state.entries += n;
  if (state.entries <= state.limits.maxEntries) return true;
  state.issues.push({
    code: "too_large",
    path: formatPath(path),
    message: `the config list must have at most ${state.limits.maxEntries} entries in all`,
  });
  state.stopped = true;
  return false;
}

function copyArray(value: readonly unknown[], path: Path, depth: number, state: State): unknown {
  if (Object.getPrototypeOf(value) !== Array.prototype) {
    state.issues.push({
      code: "not_plain_data",
      path: formatPath(path),
      message: "config lists must be plain arrays",
    });
    return undefined;
  }
  if (!count(path, value.length, state)) return undefined;
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) {
    const descriptor = Object.getOwnPropertyDescriptor(value, i);
    if (descriptor !== undefined && !("value" in descriptor)) {
      state.issues.push({
        code: "not_plain_data",
        path: formatPath([...path, i]),
        message: "config values must be plain data, not getters",
      });
      continue;
    }
    out.push(copyValue(descriptor?.value, [...path, i], depth + 1, state));
    if (state.stopped) return undefined;
  }
  return out;
}

function copyObject(
  value: Record<string, unknown>,
  path: Path,
  depth: number,
  state: State,
): unknown {
  const keys = Object.keys(value);
  if (!count(path, keys.length, state)) return undefined;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const keyPath = [...path, key];
    if (FORBIDDEN_KEYS.has(key)) {
      state.issues.push({
        code: "forbidden_key",
        path: formatPath(keyPath),
        message: `the key "${key}" is not allowed in a config`,
      });
      continue;
    }
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor === undefined) continue;
    if (!("value" in descriptor)) {
      state.issues.push({
        code: "not_plain_data",
        path: formatPath(keyPath),
        message: "config values must be plain data, not getters",
      });
      continue;
    }
    if (descriptor.value === undefined) continue;
    const copied = copyValue(descriptor.value, keyPath, depth + 1, state);
    if (state.stopped) return undefined;
    if (copied !== undefined) setOwn(out, key, copied);
  }
  return out;
}
