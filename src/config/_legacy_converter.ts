/**
 * The legacy (v2) → v3 converter: NNI's common, pruning and quantization passes with the spec's
 * fixes (B1, B2). Used by `convertLegacyConfigList`.
 *
 * @module
 */

import { isInt, isNumber } from "./_checks.ts";
import { formatPath, show } from "./_path.ts";
import { isPlainObject, setOwn } from "./_plain_copy.ts";
import type { Issue, LegacyOptions, Mode, Path, Warning } from "./types.ts";

type Obj = Record<string, unknown>;

const QUANT_TYPES: Readonly<Record<string, string>> = {
  input: "_input_",
  weight: "weight",
  output: "_output_",
  bias: "bias",
};

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Converts a copied legacy list in place, pass by pass. */
export class Converter {
  readonly options: LegacyOptions = {};
  constructor(
    private readonly list: unknown[],
    private readonly mode: Mode,
    private readonly issues: Issue[],
    private readonly warnings: Warning[],
  ) {}

  private configs(): [Obj, number][] {
    const out: [Obj, number][] = [];
    this.list.forEach((c, i) => {
      if (isPlainObject(c)) out.push([c, i]);
    });
    return out;
  }

  private warn(path: Path, message: string): void {
    this.warnings.push({ code: "legacy_translated", path: formatPath(path), message });
  }

  private issue(path: Path, message: string, code: Issue["code"] = "invalid_value"): void {
    this.issues.push({ code, path: formatPath(path), message });
  }

  common(): void {
    const types = new Set<string>();
    const names = new Set<string>();
    const res = new Set<string>();
    for (const [c, i] of this.configs()) {
      if (Object.hasOwn(c, "op_partial_names")) {
        const partial = c.op_partial_names;
        delete c.op_partial_names;
        if (!Array.isArray(partial) || !partial.every((p) => typeof p === "string")) {
          this.issue(
            [i, "op_partial_names"],
            `"op_partial_names" must be a list of strings: current value is ${show(partial)}`,
            "invalid_type",
          );
        } else {
          setOwn(c, "op_names_re", partial.map((p) => `.*${p}.*`));
          this.warn(
            [i, "op_partial_names"],
            `legacy key "op_partial_names" was translated to "op_names_re" ${show(c.op_names_re)}`,
          );
        }
      }
      if (Object.hasOwn(c, "exclude")) {
        const value = c.exclude;
        delete c.exclude;
        strings(c.op_types).forEach((t) => types.add(t));
        strings(c.op_names).forEach((n) => names.add(n));
        strings(c.op_names_re).forEach((r) => res.add(r));
        this.warn(
          [i, "exclude"],
          `legacy key "exclude"${
            value === true ? "" : ` (value ${show(value)} is ignored)`
          } was translated to ` +
            `"exclude_op_types", "exclude_op_names" and "exclude_op_names_re" on every sub-config`,
        );
      }
    }
    if (types.size + names.size + res.size === 0) return;
    for (const [c] of this.configs()) {
      setOwn(c, "exclude_op_types", [...types]);
      setOwn(c, "exclude_op_names", [...names]);
      setOwn(c, "exclude_op_names_re", [...res]);
    }
  }

  pruning(): void {
    for (const [c, i] of this.configs()) {
      const keys = ["max_sparsity_per_layer", "sparsity_per_layer", "sparsity", "total_sparsity"]
        .filter((k) => Object.hasOwn(c, k));
      if (keys.length === 0) continue;
      if (this.mode !== "pruning") {
        for (const k of keys) {
          this.issue(
            [i, k],
            `"${k}" is a legacy pruning key; this config list is validated for ${this.mode}`,
            "wrong_mode_key",
          );
          delete c[k];
        }
        continue;
      }
      const max = c.max_sparsity_per_layer;
      let ratio: unknown = undefined;
      let group: string | undefined;
      if (Object.hasOwn(c, "sparsity_per_layer")) ratio = c.sparsity_per_layer;
      else if (Object.hasOwn(c, "sparsity")) ratio = c.sparsity;
      if (Object.hasOwn(c, "total_sparsity")) {
        ratio = c.total_sparsity;
        group = `legacy_total_sparsity_${i}`;
      }
      for (const k of keys) delete c[k];
      if (ratio === undefined || ratio === null) {
        if (max !== undefined) {
          this.warn(
            [i, "max_sparsity_per_layer"],
            `legacy key "max_sparsity_per_layer" has no sparsity to limit and was dropped`,
          );
        }
        continue;
      }
      if (Object.hasOwn(c, "target_names") || Object.hasOwn(c, "target_settings")) {
        this.warn(
          [i],
          `legacy conversion replaced "target_names" and "target_settings" of this sub-config`,
        );
      }
      const weight: Obj = { sparse_ratio: ratio, granularity: "default" };
      if (max !== undefined && max !== null) weight.max_sparse_ratio = max;
      if (group !== undefined) weight.global_group_id = group;
      setOwn(c, "target_names", ["weight", "bias"]);
      setOwn(c, "target_settings", { weight });
      for (const k of keys) {
        const to = k === "max_sparsity_per_layer"
          ? "target_settings.weight.max_sparse_ratio"
          : k === "total_sparsity"
          ? `target_settings.weight.sparse_ratio with global_group_id "${group}"`
          : "target_settings.weight.sparse_ratio";
        const overridden = (k === "sparsity" && keys.includes("sparsity_per_layer")) ||
          (k !== "total_sparsity" && k !== "max_sparsity_per_layer" && group !== undefined);
        this.warn(
          [i, k],
          overridden
            ? `legacy key "${k}" was overridden by ${
              group !== undefined ? '"total_sparsity"' : '"sparsity_per_layer"'
            } and dropped`
            : `legacy key "${k}" was translated to ${to}`,
        );
      }
    }
  }

  quantization(): void {
    for (const [c, i] of this.configs()) {
      if (Object.hasOwn(c, "quant_start_step")) this.startStep(c, i);
      if (!Object.hasOwn(c, "quant_types")) {
        if (Object.hasOwn(c, "quant_bits")) {
          this.issue(
            [i, "quant_bits"],
            `legacy key "quant_bits" needs "quant_types" in the same sub-config`,
            "missing_key",
          );
        }
        continue;
      }
      if (this.mode !== "quantization") {
        this.issue(
          [i, "quant_types"],
          `"quant_types" is a legacy quantization key; this config list is validated for ${this.mode}`,
          "wrong_mode_key",
        );
        delete c.quant_types;
        delete c.quant_bits;
        continue;
      }
      const rawTypes = c.quant_types;
      const bits = c.quant_bits;
      delete c.quant_types;
      delete c.quant_bits;
      // a failed conversion must not add a second issue for the missing top-level dtype
      const supplied = !Object.hasOwn(c, "quant_dtype");
      if (supplied) setOwn(c, "quant_dtype", null);
      const list = typeof rawTypes === "string" ? [rawTypes] : rawTypes;
      if (
        !Array.isArray(list) ||
        !list.every((t) => typeof t === "string" && Object.hasOwn(QUANT_TYPES, t))
      ) {
        this.issue(
          [i, "quant_types"],
          `"quant_types" must be a list of "input", "weight", "output", "bias": current value is ${
            show(rawTypes)
          }`,
        );
        continue;
      }
      if (bits === undefined) {
        this.issue([i], `legacy key "quant_types" needs "quant_bits"`, "missing_key");
        continue;
      }
      const names: string[] = [];
      const settings: Obj = {};
      for (const legacyName of ["input", "weight", "output", "bias"]) {
        if (!list.includes(legacyName)) continue;
        const n = isPlainObject(bits) ? bits[legacyName] : bits;
        const path: Path = isPlainObject(bits) ? [i, "quant_bits", legacyName] : [i, "quant_bits"];
        if (n === undefined) {
          this.issue(
            [i, "quant_bits"],
            `"quant_bits" has no entry for the quant type "${legacyName}"`,
            "missing_key",
          );
          continue;
        }
        if (!isInt(n) || n < 2 || n > 16) {
          this.issue(
            path,
            isNumber(n)
              ? `"quant_bits" for "${legacyName}" must be an integer within [2, 16]: current value is ${
                show(n)
              }`
              : `"quant_bits" must be an integer or an object of integers by quant type: current value is ${
                show(n)
              }`,
          );
          continue;
        }
        names.push(QUANT_TYPES[legacyName]);
        setOwn(settings, QUANT_TYPES[legacyName], { quant_dtype: `int${n}` });
      }
      setOwn(c, "target_names", names);
      setOwn(c, "target_settings", settings);
      this.warn(
        [i, "quant_types"],
        `legacy key "quant_types" was translated to "target_names" ${show(names)}`,
      );
      this.warn(
        [i, "quant_bits"],
        `legacy key "quant_bits" was translated to a "quant_dtype" per target`,
      );
      if (supplied && names.length > 0) {
        setOwn(c, "quant_dtype", (settings[names[0]] as Obj).quant_dtype);
        this.warn(
          [i],
          `"quant_dtype" ${
            show(c.quant_dtype)
          } was added at the top level (every target sets its own)`,
        );
      }
    }
  }

  private startStep(c: Obj, i: number): void {
    const value = c.quant_start_step;
    delete c.quant_start_step;
    if (!isInt(value) || value < 0) {
      this.issue(
        [i, "quant_start_step"],
        `"quant_start_step" must be an integer >= 0: current value is ${show(value)}`,
      );
      return;
    }
    if (this.options.quantStartStep !== undefined && this.options.quantStartStep !== value) {
      this.issue(
        [i, "quant_start_step"],
        `"quant_start_step" must be the same in every sub-config: ${this.options.quantStartStep} and ${value}`,
        "group_conflict",
      );
      return;
    }
    this.options.quantStartStep = value;
    this.warnings.push({
      code: "legacy_option",
      path: formatPath([i, "quant_start_step"]),
      message:
        `legacy key "quant_start_step" is a quantizer option, not a config key: it was moved to options.quantStartStep (${value})`,
    });
  }
}
