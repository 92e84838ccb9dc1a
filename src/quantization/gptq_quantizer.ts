/**
 * The quantizer of GPTQ and SparseGPT (`Quantizer` of the reference `quant.py`, `weight=True`,
 * `perchannel=True`, `mse=False`): one scale and zero point per output row over a set of
 * columns, all in float32 with round half to even, so the grid is bit-identical to the
 * reference's.
 *
 * @module
 */

import { roundHalfEven } from "../tensor/round_half_even.ts";

const fround = Math.fround;

/** Per-row quantization parameters of GPTQ. */
export interface GptqParams {
  /** One float32 scale per row, `> 0`. */
  readonly scale: Float32Array;
  /** One zero point per row, an integer in `[0, maxq]` stored as float32. */
  readonly zero: Float32Array;
  /** The largest code, `2^bits - 1`. */
  readonly maxq: number;
}

/**
 * The per-row parameters of a group of columns (`find_params` of the reference): the row's
 * range widened to contain 0; symmetric: `max(|min|, max)` on both sides (a row without negative
 * values keeps its lower end at 0); an all-zero row gets `[-1, 1]`;
 * `scale = fround(fround(max - min) / maxq)`, `zero = (maxq + 1) / 2` (symmetric) or
 * `roundHalfEven(fround(-min / scale))`.
 *
 * @param columns The group's columns, each a `Float32Array` of one value per row.
 * @param bits The code width, an integer in [1, 8].
 * @param sym Symmetric (`true`) or asymmetric quantization.
 * @returns The parameters, one per row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gptqParams } from "./gptq_quantizer.ts";
 *
 * // two rows, two columns: row 0 is [-1, 2], row 1 is [0.5, 1.5]
 * const p = gptqParams([new Float32Array([-1, 0.5]), new Float32Array([2, 1.5])], 2, false);
 * assert.deepEqual([...p.scale], [1, 0.5]);
 * assert.deepEqual([...p.zero], [1, 0]);
 * assert.equal(p.maxq, 3);
 * ```
 */
export function gptqParams(
  columns: readonly Float32Array[],
  bits: number,
  sym: boolean,
): GptqParams {
  const maxq = 2 ** bits - 1;
  const rows = columns[0].length;
  const scale = new Float32Array(rows);
  const zero = new Float32Array(rows);
  const lo = new Float64Array(rows);
  const hi = new Float64Array(rows);
  for (const column of columns) {
    for (let r = 0; r < rows; r++) {
      const x = column[r];
      if (x < lo[r]) lo[r] = x;
      if (x > hi[r]) hi[r] = x;
    }
  }
  for (let r = 0; r < rows; r++) {
    let xmin = lo[r];
    let xmax = hi[r];
    if (sym) {
      xmax = Math.max(-xmin, xmax);
      if (xmin < 0) xmin = -xmax;
    }
    if (xmin === 0 && xmax === 0) {
      xmin = -1;
      xmax = 1;
    }
    const s = fround(fround(xmax - xmin) / maxq);
    scale[r] = s;
    zero[r] = sym ? (maxq + 1) / 2 : roundHalfEven(fround(-xmin / s)) + 0; // + 0: no -0
  }
  return { scale, zero, maxq };
}

/**
 * The integer code of `x` on a GPTQ grid: `clamp(roundHalfEven(fround(x / scale)) + zero, 0,
 * maxq)`; its value is `fround(scale · (code - zero))`.
 *
 * @param x The value (a float32).
 * @param scale The row's scale.
 * @param zero The row's zero point.
 * @param maxq The largest code.
 * @returns The code, an integer in [0, maxq].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gptqCode } from "./gptq_quantizer.ts";
 *
 * assert.equal(gptqCode(0.25, 0.5, 1, 3), 1); // 0.5 rounds to the even 0, plus the zero point
 * assert.equal(gptqCode(9, 0.5, 1, 3), 3); // clamped
 * ```
 */
export function gptqCode(x: number, scale: number, zero: number, maxq: number): number {
  const q = roundHalfEven(fround(x / scale)) + zero;
  return q < 0 ? 0 : q > maxq ? maxq : q;
}
