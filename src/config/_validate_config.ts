/**
 * Validation of one v3 sub-config against the key tables of a mode.
 *
 * @module
 */

import { type CheckContext, report } from "./_checks.ts";
import { didYouMean } from "./_did_you_mean.ts";
import { LEGACY_KEYS, MODE_TOP_KEYS, otherModeOf, SELECTOR_KEYS, SETTING_KEYS } from "./_keys.ts";
import { show, typeName } from "./_path.ts";
import { FORBIDDEN_KEYS, isPlainObject } from "./_plain_copy.ts";
import type { Mode, Path } from "./types.ts";

const TARGET_KEYS = ["target_names", "target_settings"];

function allTopKeys(mode: Mode): string[] {
  return [
    ...Object.keys(SELECTOR_KEYS),
    ...TARGET_KEYS,
    ...Object.keys(SETTING_KEYS[mode]),
    ...Object.keys(MODE_TOP_KEYS[mode]),
  ];
}

function unknownKey(
  key: string,
  path: Path,
  mode: Mode,
  candidates: string[],
  ctx: CheckContext,
): void {
  const keyPath = [...path, key];
  if (Object.hasOwn(LEGACY_KEYS, key)) {
    report(
      ctx,
      "legacy_key",
      keyPath,
      `"${key}" is a legacy key (v3: ${
        LEGACY_KEYS[key as keyof typeof LEGACY_KEYS]
      }); legacy config lists are ` +
        `recognised from their first sub-config only`,
    );
    return;
  }
  const other = otherModeOf(key, mode);
  if (other !== undefined) {
    report(
      ctx,
      "wrong_mode_key",
      keyPath,
      `"${key}" is a ${other} key; this config list is validated for ${mode}`,
    );
    return;
  }
  const guess = didYouMean(key, candidates);
  report(
    ctx,
    "unknown_key",
    keyPath,
    `unknown key "${key}"${guess === undefined ? "" : `; did you mean "${guess}"?`}`,
  );
}

/** Checks the keys of one setting dict (top level or a `target_settings` entry). */
function checkSettingPair(
  setting: Record<string, unknown>,
  path: Path,
  mode: Mode,
  ctx: CheckContext,
): void {
  if (mode !== "pruning") return;
  const has = (k: string) => setting[k] !== undefined && setting[k] !== null;
  if (has("sparse_ratio") && has("sparse_threshold")) {
    report(
      ctx,
      "exclusive_keys",
      path,
      `"sparse_ratio" and "sparse_threshold" cannot both be set in one setting: current values are ${
        show(setting.sparse_ratio)
      } and ${show(setting.sparse_threshold)}`,
    );
  }
  const min = setting.min_sparse_ratio;
  const max = setting.max_sparse_ratio;
  if (typeof min === "number" && typeof max === "number" && min > max) {
    report(
      ctx,
      "min_above_max",
      path,
      `"min_sparse_ratio" must be <= "max_sparse_ratio": current values are ${min} and ${max}`,
    );
  }
}

function checkTargetName(name: unknown, path: Path, ctx: CheckContext): void {
  if (typeof name === "string" && FORBIDDEN_KEYS.has(name)) {
    report(ctx, "forbidden_key", path, `the target name "${name}" is not allowed`);
  }
}

function checkTargetSettings(value: unknown, path: Path, mode: Mode, ctx: CheckContext): void {
  if (!isPlainObject(value)) {
    report(
      ctx,
      "invalid_type",
      path,
      `"target_settings" must be an object of target settings: current value is ${typeName(value)}`,
    );
    return;
  }
  const keys = SETTING_KEYS[mode];
  for (const [target, setting] of Object.entries(value)) {
    const tpath = [...path, target];
    checkTargetName(target, tpath, ctx);
    if (!isPlainObject(setting)) {
      report(
        ctx,
        "not_object",
        tpath,
        `the setting of target "${target}" must be an object: current value is ${show(setting)}`,
      );
      continue;
    }
    for (const [key, v] of Object.entries(setting)) {
      if (Object.hasOwn(keys, key)) keys[key](v, [...tpath, key], ctx);
      else if (
        Object.hasOwn(SELECTOR_KEYS, key) || TARGET_KEYS.includes(key) || key === "fuse_names"
      ) {
        report(
          ctx,
          "unknown_key",
          [...tpath, key],
          `"${key}" belongs at the top level of a sub-config, not in a target setting`,
        );
      } else unknownKey(key, tpath, mode, Object.keys(keys), ctx);
    }
    if (mode === "quantization" && !Object.hasOwn(setting, "quant_dtype")) {
      report(
        ctx,
        "missing_key",
        tpath,
        `a quantization target setting must have "quant_dtype" (null means int8)`,
      );
    }
    checkSettingPair(setting, tpath, mode, ctx);
  }
}

/** Validates one converted sub-config (index `index`) for `mode`. */
export function validateConfig(
  config: unknown,
  index: number,
  mode: Mode,
  ctx: CheckContext,
): void {
  const path: Path = [index];
  if (config === undefined) return;
  if (!isPlainObject(config)) {
    report(
      ctx,
      "not_object",
      path,
      `a sub-config must be an object: current value is ${show(config)}`,
    );
    return;
  }
  const settingKeys = SETTING_KEYS[mode];
  const topKeys = MODE_TOP_KEYS[mode];
  for (const [key, value] of Object.entries(config)) {
    const keyPath = [...path, key];
    if (Object.hasOwn(SELECTOR_KEYS, key)) {
      SELECTOR_KEYS[key as keyof typeof SELECTOR_KEYS](value, keyPath, ctx);
    } else if (key === "target_names") {
      SELECTOR_KEYS.op_names(value, keyPath, ctx);
      if (Array.isArray(value)) value.forEach((n, i) => checkTargetName(n, [...keyPath, i], ctx));
    } else if (key === "target_settings") checkTargetSettings(value, keyPath, mode, ctx);
    else if (Object.hasOwn(settingKeys, key)) settingKeys[key](value, keyPath, ctx);
    else if (Object.hasOwn(topKeys, key)) topKeys[key](value, keyPath, ctx);
    else unknownKey(key, path, mode, allTopKeys(mode), ctx);
  }
  if (!["op_names", "op_names_re", "op_types"].some((k) => Object.hasOwn(config, k))) {
    report(
      ctx,
      "missing_key",
      path,
      `a sub-config must have at least one of "op_names", "op_names_re", "op_types"`,
    );
  }
  if (mode === "quantization" && !Object.hasOwn(config, "quant_dtype")) {
    report(
      ctx,
      "missing_key",
      path,
      `a quantization sub-config must have "quant_dtype" (null means int8)`,
    );
  }
  checkSettingPair(config, path, mode, ctx);
}
