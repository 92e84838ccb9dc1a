/**
 * Module types for formats without operators (safetensors), inferred from parameter names and
 * shapes.
 *
 * @module
 */

import type { ModuleType } from "./model_graph.ts";

const EMBEDDING =
  /(^|[._])(embed|embeds|embedding|embeddings|embed_tokens|wte|wpe|tok_embeddings|word_embeddings|position_embeddings|token_type_embeddings|shared)$/;
const NORM = /(norm|ln_?\w*|layernorm|bn\d*)$/i;
const CONV = ["Conv1d", "Conv2d", "Conv3d"];

/**
 * Infers a module's type from its name and its parameters' shapes. The rules, first match wins:
 * - a `weight` whose module name ends in `embed`, `embeds`, `embedding(s)`, `embed_tokens`,
 *   `wte`, `wpe`, `tok_embeddings`, `word_embeddings`, `position_embeddings`,
 *   `token_type_embeddings` or `shared`, 2-D → `Embedding`;
 * - `weight` 2-D → `Linear`; 3-D → `Conv1d`; 4-D → `Conv2d`; 5-D → `Conv3d`;
 * - `weight` 1-D with a `running_mean` sibling → `BatchNorm1d`/`BatchNorm2d`/`BatchNorm3d`,
 *   after the spatial rank of `previousType` (`Conv1d`, `Linear` → 1d; `Conv3d` → 3d; else 2d);
 * - `weight` 1-D with a `bias` sibling → `LayerNorm`;
 * - `weight` 1-D alone in a module whose name ends in `norm` → `RMSNorm`;
 * - anything else → `Module`.
 *
 * @param name The module name.
 * @param shapes The parameter shapes by local name (`weight`, `bias`, `running_mean`, …).
 * @param previousType The type of the module before it in file order (for BatchNorm ranks).
 * @returns The module type.
 *
 * @example
 * ```ts
 * import { inferModuleType } from "./infer_module_type.ts";
 * if (inferModuleType("fc", { weight: [10, 5], bias: [10] }) !== "Linear") throw new Error();
 * if (inferModuleType("transformer.wte", { weight: [50257, 768] }) !== "Embedding") throw new Error();
 * ```
 */
export function inferModuleType(
  name: string,
  shapes: Readonly<Record<string, readonly number[]>>,
  previousType?: ModuleType,
): ModuleType {
  const w = shapes.weight;
  if (w === undefined) return "Module";
  if (w.length === 2 && EMBEDDING.test(name)) return "Embedding";
  if (w.length === 2) return "Linear";
  if (w.length >= 3 && w.length <= 5) return CONV[w.length - 3];
  if (w.length !== 1) return "Module";
  if (shapes.running_mean !== undefined) {
    const rank = previousType === "Conv1d" || previousType === "Linear"
      ? 1
      : previousType === "Conv3d"
      ? 3
      : 2;
    return `BatchNorm${rank}d`;
  }
  if (shapes.bias !== undefined) return "LayerNorm";
  if (NORM.test(name)) return "RMSNorm";
  return "Module";
}

/**
 * User-given module types: pairs of a pattern and a type, tried in order. A string pattern is
 * a module name where `*` matches any run of characters; a RegExp is tested against the name.
 * A plain object maps string patterns to types (in key order).
 */
export type ModuleTypeOverrides =
  | ReadonlyArray<readonly [string | RegExp, ModuleType]>
  | Readonly<Record<string, ModuleType>>;

function globToRegExp(glob: string): RegExp {
  const body = glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp(`^${body}$`);
}

/**
 * The type the overrides give a module, if any.
 *
 * @param name The module name.
 * @param overrides The user's patterns and types.
 * @returns The first matching pattern's type, or `undefined`.
 *
 * @example
 * ```ts
 * import { overrideModuleType } from "./infer_module_type.ts";
 * const t = overrideModuleType("blocks.3.attn", [["blocks.*.attn", "Attention"]]);
 * if (t !== "Attention") throw new Error("unexpected");
 * ```
 */
export function overrideModuleType(
  name: string,
  overrides: ModuleTypeOverrides | undefined,
): ModuleType | undefined {
  if (overrides === undefined) return undefined;
  const pairs = Array.isArray(overrides)
    ? overrides as ReadonlyArray<readonly [string | RegExp, ModuleType]>
    : Object.entries(overrides);
  for (const [pattern, type] of pairs) {
    const re = typeof pattern === "string" ? globToRegExp(pattern) : pattern;
    re.lastIndex = 0;
    if (re.test(name)) return type;
  }
  return undefined;
}
