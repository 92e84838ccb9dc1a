/**
 * Listing a model's modules: the names users put in `op_names`, with types and parameters.
 *
 * @module
 */

import { type DType, DTYPE_BYTES } from "../tensor/dtype.ts";
import type { ModelGraph, QuantizedWeight } from "./model_graph.ts";

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
  /** How the weight is stored, for a module the file holds already quantized. */
  readonly quantized?: QuantizedWeight;
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
 * One line on a pre-quantized weight: codes, bits, granularity, scale and zero-point shapes
 * (`int8 codes, per-axis 0, scale [16], zero point [16]`).
 *
 * @param q The storage.
 * @returns The text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeQuantizedWeight } from "./inspect.ts";
 *
 * assert.equal(describeQuantizedWeight({ op: "MatMulNBits", codes: "uint4", bits: 4, shape: [8, 64],
 *   granularity: "block", axis: 1, blockSize: 32, scaleShape: [16], zeroPointShape: null }),
 *   "MatMulNBits uint4 codes, blocks of 32 along axis 1, scale [16], no zero point");
 * ```
 */
export function describeQuantizedWeight(q: QuantizedWeight): string {
  const how = q.granularity === "per_tensor"
    ? "per-tensor"
    : q.granularity === "per_axis"
    ? `per-axis ${q.axis}`
    : `blocks of ${q.blockSize} along axis ${q.axis}`;
  const scale = q.scaleShape === null
    ? "scale applied after the op"
    : `scale [${q.scaleShape.join(", ")}]${q.scaleAfter ? " applied after the op" : ""}`;
  const zp = q.zeroPointShape === null
    ? "no zero point"
    : `zero point [${q.zeroPointShape.join(", ")}]`;
  return `${q.op} ${q.codes} codes, ${how}, ${scale}, ${zp}`;
}

/**
 * Lists the modules of a model with their types, parameter shapes, dtypes and sizes, as data
 * and as a text table; a module the file already stores quantized (an ONNX `QLinearConv`,
 * `MatMulNBits`, a `DequantizeLinear` weight, …) also gets a `storage` column on its first row
 * (`describeQuantizedWeight`). Reads no tensor data.
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
    ...(m.quantized === undefined ? {} : { quantized: m.quantized }),
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
  const storage = modules.some((m) => m.quantized !== undefined);
  if (storage) rows[0].push("storage");
  for (const m of modules) {
    const note = m.quantized === undefined ? "" : describeQuantizedWeight(m.quantized);
    if (m.params.length === 0) {
      rows.push([m.name, m.type, m.opType ?? "", "", "", "", "", "", ...(storage ? [note] : [])]);
    }
    m.params.forEach((p, i) => {
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
        ...(storage ? [i === 0 ? note : ""] : []),
      ]);
    });
  }
  rows.push([
    "total",
    "",
    "",
    "",
    "",
    "",
    String(elements),
    String(bytes),
    ...(storage ? [""] : []),
  ]);
  // A loop, not Math.max(...column): a spread of 150,000 rows overflows the call stack.
  const widths = rows[0].map((_, c) => rows.reduce((w, r) => Math.max(w, r[c].length), 0));
  const text = rows.map((r) =>
    r.map((cell, c) => c === 6 || c === 7 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))
      .join("  ")
      .trimEnd()
  ).join("\n");
  return { modules, elements, bytes, text };
}
