/**
 * Listing a model's modules: the names users put in `op_names`, with types and parameters.
 *
 * @module
 */

import { type DType, DTYPE_BYTES } from "../tensor/dtype.ts";
import type { ModelGraph } from "./model_graph.ts";

/** One parameter in a listing. */
export interface ParamSummary {
  /** The local name (`weight`). */
  readonly name: string;
  /** The stored dtype. */
  readonly dtype: DType;
  /** The shape in PyTorch layout. */
  readonly shape: readonly number[];
  /** The number of elements. */
  readonly elements: number;
  /** The stored size in bytes. */
  readonly bytes: number;
}

/** One module in a listing. */
export interface ModuleSummary {
  /** The module name. */
  readonly name: string;
  /** The PyTorch-style type. */
  readonly type: string;
  /** The raw operator type, if any. */
  readonly opType?: string;
  /** The parameters. */
  readonly params: readonly ParamSummary[];
}

/** A listing of a model. */
export interface ModelSummary {
  /** The modules in model order. */
  readonly modules: readonly ModuleSummary[];
  /** Total elements over all parameters. */
  readonly elements: number;
  /** Total stored bytes over all parameters. */
  readonly bytes: number;
  /** A text table: one line per parameter, then a total line. */
  readonly text: string;
}

/**
 * Lists the modules of a model with their types, parameter shapes, dtypes and sizes, as data
 * and as a text table. Reads no tensor data.
 *
 * @param model The model.
 * @returns The listing.
 *
 * @example
 * ```ts
 * import { inspect } from "./inspect.ts";
 * const ref = { name: "fc.weight", dtype: "F32" as const, shape: [2, 3], fileShape: [2, 3],
 *   data: () => Promise.resolve(new Float32Array(6)), bytes: () => Promise.resolve(new Uint8Array(24)) };
 * const s = inspect({ format: "safetensors", metadata: {}, modules: [{ name: "fc", type: "Linear", params: { weight: ref } }] });
 * if (s.elements !== 6 || !s.text.includes("Linear")) throw new Error("unexpected");
 * ```
 */
export function inspect(model: ModelGraph): ModelSummary {
  const modules = model.modules.map((m) => ({
    name: m.name,
    type: m.type,
    ...(m.opType === undefined ? {} : { opType: m.opType }),
    params: Object.entries(m.params).map(([name, t]) => {
      const elements = t.shape.reduce((a, b) => a * b, 1);
      return {
        name,
        dtype: t.dtype,
        shape: t.shape,
        elements,
        bytes: elements * DTYPE_BYTES[t.dtype],
      };
    }),
  }));
  let elements = 0;
  let bytes = 0;
  const rows: string[][] = [[
    "module",
    "type",
    "op",
    "param",
    "dtype",
    "shape",
    "elements",
    "bytes",
  ]];
  for (const m of modules) {
    if (m.params.length === 0) rows.push([m.name, m.type, m.opType ?? "", "", "", "", "", ""]);
    for (const p of m.params) {
      elements += p.elements;
      bytes += p.bytes;
      rows.push([
        m.name,
        m.type,
        m.opType ?? "",
        p.name,
        p.dtype,
        `[${p.shape.join(", ")}]`,
        String(p.elements),
        String(p.bytes),
      ]);
    }
  }
  rows.push(["total", "", "", "", "", "", String(elements), String(bytes)]);
  // A loop, not Math.max(...column): a spread of 150,000 rows overflows the call stack.
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  const text = rows.map((r) =>
    r.map((cell, c) => c >= 6 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])).join("  ")
      .trimEnd()
  ).join("\n");
  return { modules, elements, bytes, text };
}
