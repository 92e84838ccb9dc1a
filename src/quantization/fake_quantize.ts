/**
 * `fakeQuantize`: simulated quantization of a float tensor.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { QuantParams } from "../kernels/types.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { blockIndexer } from "./_block_index.ts";

/**
 * NNI's `clamp_round` fake quantization: `(roundHalfEven(clamp(zp + x / s, qmin, qmax)) - zp) * s`,
 * every step in float32, so the result equals what NNI feeds to the module bit for bit —
 * including the sign of zero: like `torch.round`, a negative value whose code rounds to 0 with
 * zero point 0 (and qmin < 0) gives -0.
 *
 * @param data The tensor, row-major.
 * @param shape Its dims.
 * @param params Block kernel, scales, zero points and the integer range.
 * @param options The kernels to use (default: `getKernels()`), and `out`: where the values go
 * (same length, not overlapping `data`; default a new array).
 * @returns The fake-quantized values (`out` when given).
 * @throws {TypeError} On malformed arguments.
 * @throws {RangeError} When the shape, kernel and parameters do not agree, or `out` overlaps
 * `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fakeQuantize } from "./fake_quantize.ts";
 *
 * const out = fakeQuantize(new Float32Array([0.3, -2]), [2], {
 *   kernel: [-1],
 *   scale: new Float32Array([0.25]),
 *   zeroPoint: new Float32Array([0]),
 *   qmin: -7,
 *   qmax: 7,
 * });
 * assert.deepEqual([...out], [0.25, -1.75]);
 * ```
 */
export function fakeQuantize(
  data: Float32Array,
  shape: readonly number[],
  params: QuantParams,
  options: QuantizeOptions & { readonly out?: Float32Array } = {},
): Float32Array {
  const into = options.out;
  if (
    into !== undefined && into.buffer === data.buffer &&
    into.byteOffset < data.byteOffset + data.byteLength &&
    data.byteOffset < into.byteOffset + into.byteLength
  ) {
    throw new RangeError(
      `"out" must not overlap "data" (the sign of zero is fixed from "data" after): current byte ranges are ${into.byteOffset}-${
        into.byteOffset + into.byteLength
      } and ${data.byteOffset}-${data.byteOffset + data.byteLength}`,
    );
  }
  const out = (options.kernels ?? getKernels()).fakeQuantize(data, shape, params, into);
  if (params.qmin < 0 && params.zeroPoint.includes(0)) negativeZeros(data, shape, params, out);
  return out;
}

/**
 * Writes -0 where NNI's float32 arithmetic gives it: `(round(x / s) - 0) * s` with x / s < 0.
 * One read pass over the output as integers (+0 is the bit pattern 0); only outputs that are +0
 * with a negative, non-NaN input (bits in (0x80000000, 0xff800000]) need their block.
 */
function negativeZeros(
  data: Float32Array,
  shape: readonly number[],
  params: QuantParams,
  out: Float32Array,
): void {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const d = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const blockOf = params.scale.length === 1 ? () => 0 : blockIndexer(shape, params.kernel);
  const { scale, zeroPoint } = params;
  for (let i = 0, n = o.length; i < n; i++) {
    if (o[i] !== 0) continue;
    const x = d[i];
    if (x <= 0x80000000 || x > 0xff800000) continue;
    const b = blockOf(i);
    if (zeroPoint[b] === 0 && Math.fround(data[i] / scale[b]) < 0) o[i] = 0x80000000;
  }
}
