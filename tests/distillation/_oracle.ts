// Loading the NNI oracle's distillation cases: resolved targets and dumped hidden states.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolveTargetSettings } from "../../src/config/mod.ts";
import type { ModuleInfo } from "../../src/config/mod.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import type { HiddenState } from "../../src/distillation/mod.ts";
import { oracleModules } from "../config/_oracle.ts";

const ROOT = new URL("../nni_oracle/", import.meta.url);
const path = (p: string) => fileURLToPath(new URL(p, ROOT));

// deno-lint-ignore no-explicit-any
export type Json = any;

/** The expected file of a case. */
export function expectedOf(id: string): Json {
  return JSON.parse(readFileSync(path(`expected/${id}.json`), "utf8"));
}

/** The student's modules of a case, as the config layer sees them. */
export function modulesOf(expected: Json): ModuleInfo[] {
  return oracleModules(expected);
}

/** Resolves a case's config list (with its registry, unless told not to) in distillation mode. */
export function resolveCase(expected: Json, configList?: unknown, withRegistry = true) {
  return resolveTargetSettings(
    modulesOf(expected),
    configList ?? expected.case.config_list,
    "distillation",
    {
      algorithm: expected.case.algorithm,
      registry: withRegistry ? expected.case.register : undefined,
    },
  );
}

type States = Record<string, Record<string, HiddenState>>;

/** The dumped student and teacher hidden states of a case. */
export function statesOf(id: string): { student: States; teacher: States } {
  const file = readSafetensors(
    new Uint8Array(readFileSync(path(`expected/data/${id}.safetensors`))),
  );
  const out = { student: {} as States, teacher: {} as States };
  for (const t of file.tensors) {
    const m = /^(student|teacher)\.(.+)\.(_(?:input|output)_[^.]+)$/.exec(t.name);
    if (m === null) continue;
    const data = new Float32Array(t.data.slice().buffer);
    (out[m[1] as "student" | "teacher"][m[2]] ??= {})[m[3]] = { data, shape: t.shape };
  }
  return out;
}
