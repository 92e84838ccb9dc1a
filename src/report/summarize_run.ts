/**
 * `summarizeRun`: the headline numbers of a run.
 *
 * @module
 */

import type { CompressionReport } from "./types.ts";

/** Headline numbers of a run. */
export interface RunSummary {
  /** Configured tensors. */
  readonly targets: number;
  /** Elements of the configured tensors. */
  readonly elements: number;
  /** Zeros among the configured elements after compression, in [0, 1]. */
  readonly sparsity: number;
  /** The distinct bit-widths of the configured tensors, ascending (32 for float32, 16 for F16). */
  readonly bits: readonly number[];
  /** `after.packedBytes / before.packedBytes`. */
  readonly packedRatio: number;
}

const FLOAT_BITS: Record<string, number> = { F64: 64, F32: 32, F16: 16, BF16: 16 };

/**
 * Sums a run's layers into headline numbers.
 *
 * @param report The run.
 * @returns Target count, sparsity over the configured elements, bit-widths and the size ratio.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarizeRun } from "./summarize_run.ts";
 *
 * const layer = { module: "fc", target: "weight", type: "Linear", shape: [2, 2], elements: 4,
 *   sparsityBefore: 0, sparsity: 0.5, bits: null, dtype: "F32", granularity: null };
 * const s = summarizeRun({ label: "p", model: "m", format: "onnx", mode: "pruning", configList: [],
 *   before: { fileBytes: 16, packedBytes: 16 }, after: { fileBytes: 16, packedBytes: 16 },
 *   parameters: 4, layers: [layer], warnings: [], evaluation: [], timeMs: 1 });
 * assert.deepEqual([s.sparsity, s.bits, s.packedRatio], [0.5, [32], 1]);
 * ```
 */
export function summarizeRun(report: CompressionReport): RunSummary {
  let elements = 0;
  let zeros = 0;
  const bits = new Set<number>();
  for (const l of report.layers) {
    elements += l.elements;
    zeros += l.sparsity * l.elements;
    bits.add(l.bits ?? FLOAT_BITS[l.dtype] ?? 32);
  }
  return {
    targets: report.layers.length,
    elements,
    sparsity: elements === 0 ? 0 : zeros / elements,
    bits: [...bits].sort((a, b) => a - b),
    packedRatio: report.before.packedBytes === 0
      ? 1
      : report.after.packedBytes / report.before.packedBytes,
  };
}
