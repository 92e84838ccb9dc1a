/**
 * Checking a user-supplied extra registry (`options.registry`).
 *
 * @module
 */

import { SETTING_KEYS } from "./_keys.ts";
import { formatPath, show } from "./_path.ts";
import { copyConfigList, isPlainObject } from "./_plain_copy.ts";
import type { ExtraRegistry, Issue } from "./types.ts";

/** Copies and checks `options.registry`: `{mode: {ClassName: {target: setting}}}`. */
export function checkRegistry(registry: unknown, issues: Issue[]): ExtraRegistry | undefined {
  if (registry === undefined) return undefined;
  const local: Issue[] = [];
  const copy = copyConfigList([registry], local)?.[0];
  const bad = (path: (string | number)[], message: string) =>
    local.push({ code: "invalid_registry", path: formatPath(["registry", ...path]), message });
  if (!isPlainObject(copy)) {
    if (local.length === 0) {
      bad(
        [],
        `"registry" must be an object {mode: {class: {target: setting}}}: current value is ${
          show(registry)
        }`,
      );
    }
  } else {
    for (const [mode, classes] of Object.entries(copy)) {
      if (!Object.hasOwn(SETTING_KEYS, mode)) {
        bad([mode], `"${mode}" is not a mode (pruning, quantization, distillation)`);
        continue;
      }
      if (!isPlainObject(classes)) {
        bad(
          [mode],
          `registry entries must be objects {class: {target: setting}}: current value is ${
            show(classes)
          }`,
        );
        continue;
      }
      for (const [cls, targets] of Object.entries(classes)) {
        if (!isPlainObject(targets)) {
          bad(
            [mode, cls],
            `default targets must be an object {target: setting}: current value is ${
              show(targets)
            }`,
          );
          continue;
        }
        for (const [target, setting] of Object.entries(targets)) {
          if (!isPlainObject(setting)) {
            bad(
              [mode, cls, target],
              `a default setting must be an object: current value is ${show(setting)}`,
            );
            continue;
          }
          const keys = SETTING_KEYS[mode as keyof typeof SETTING_KEYS];
          const ctx = { issues: local };
          for (const [key, value] of Object.entries(setting)) {
            if (Object.hasOwn(keys, key)) {
              keys[key](value, ["registry", mode, cls, target, key], ctx);
            } else bad([mode, cls, target, key], `unknown ${mode} setting key "${key}"`);
          }
        }
      }
    }
  }
  for (const issue of local) {
    issues.push(
      issue.path.startsWith("registry") ? issue : {
        ...issue,
        code: "invalid_registry",
        path: `registry${issue.path.replace(/^\[0\]/, "")}`,
      },
    );
  }
  return local.length === 0 ? copy as ExtraRegistry : undefined;
}
