/**
 * `dequantizedZeros`: how many values of a fake-quantized tensor are zero, counted on its
 * integer codes. A value is `(f32(q) - zp) * s` with a finite scale `s > 0` (`QuantParams`), so
 * it is zero exactly when its code equals its block's zero point: no float pass over the tensor
 * is needed to count the zeros a quantization leaves.
 *
 * @module
 */

import type { IntCodes, QuantParams } from "../kernels/types.ts";
import { blockIndexer } from "./_block_index.ts";

/**
 * The zeros (+0 and -0) among the values `fakeQuantize` gives for the codes `quantizeTensor`
 * gave: codes equal to their block's zero point.
 *
 * @param codes The codes, row-major over `shape`.
 * @param shape The tensor's dims.
 * @param params The quantization parameters the codes were made with.
 * @returns The number of zeros.
 * @throws {RangeError} When `codes` does not hold one code per element of `shape`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dequantizedZeros } from "./dequantized_zeros.ts";
 *
 * const params = {
 *   kernel: [1, -1],
 *   scale: new Float32Array([0.5, 0.25]),
 *   zeroPoint: new Float32Array([0, 3]),
 *   qmin: -8,
 *   qmax: 7,
 * };
 * // Row 0: zero point 0, row 1: zero point 3.
 * assert.equal(dequantizedZeros(new Int8Array([0, 1, 3, 3, 0, 2]), [2, 3], params), 2);
 * ```
 */
export function dequantizedZeros(
  codes: IntCodes,
  shape: readonly number[],
  params: QuantParams,
): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (codes.length !== n) {
    throw new RangeError(
      `"codes" must hold ${n} codes (shape ${
        JSON.stringify(shape)
      }): current length is ${codes.length}`,
    );
  }
  const { zeroPoint } = params;
  let count = 0;
  if (zeroPoint.length === 1) {
    const z = zeroPoint[0];
    for (let i = 0; i < n; i++) if (codes[i] === z) count++;
    return count;
  }
  const { kernel } = params;
  if (shape.length > 0 && kernel.every((k, d) => d === 0 || k === -1 || k === shape[d])) {
    // Blocks along dim 0 only (per output channel): contiguous runs of codes.
    const run = n / zeroPoint.length;
    for (let b = 0, at = 0; b < zeroPoint.length; b++) {
      const z = zeroPoint[b];
      for (const end = at + run; at < end; at++) if (codes[at] === z) count++;
    }
    return count;
  }
  const last = shape.length - 1;
  const width = last < 0 ? 1 : kernel[last] === -1 ? shape[last] : kernel[last];
  if (last >= 0 && kernel.every((k, d) => d === last || k === 1 || shape[d] === 1)) {
    // Blocks along the last dim only (groups of a row): runs of `width` codes, in block order.
    for (let b = 0, at = 0; b < zeroPoint.length; b++) {
      const z = zeroPoint[b];
      for (const end = at + width; at < end; at++) if (codes[at] === z) count++;
    }
    return count;
  }
  const blockOf = blockIndexer(shape, kernel);
  for (let i = 0; i < n; i++) if (codes[i] === zeroPoint[blockOf(i)]) count++;
  return count;
}
