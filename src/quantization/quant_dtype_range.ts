/**
 * `quantDtypeRange`: the integer range of a `quant_dtype`, as NNI computes it.
 *
 * @module
 */

import { QuantizationError } from "./quantization_error.ts";

/** The integer range of a quantization dtype. */
export interface QuantRange {
  /** The dtype name (`"int8"` for `null`). */
  readonly dtype: string;
  /** The number of bits N. */
  readonly bits: number;
  /** Whether the dtype is signed (`int<N>`). */
  readonly signed: boolean;
  /** Smallest code: `-(2^(N-1) - 1)` for `int<N>` (narrow range), 0 for `uint<N>`. */
  readonly qmin: number;
  /** Largest code: `2^(N-1) - 1` for `int<N>`, `2^N - 1` for `uint<N>`. */
  readonly qmax: number;
}

/** Smallest and largest accepted bit widths. */
export const QUANT_BITS_MIN = 2;
/** Largest accepted bit width. */
export const QUANT_BITS_MAX = 16;

/**
 * The integer range of `int<N>` / `uint<N>` like NNI: signed types use the narrow symmetric range
 * (`int8` = [-127, 127], `int4` = [-7, 7], `int2` = [-1, 1]); unsigned types the full range
 * (`uint8` = [0, 255]). `null`/`undefined` means `int8`.
 *
 * NNI also accepts `int1`, whose range [0, 0] gives an infinite scale and NaN outputs; it is
 * rejected here, like every width outside [2, 16] and every other name (`float8`).
 *
 * @param dtype `"int<N>"`, `"uint<N>"` (2 <= N <= 16) or `null` for int8.
 * @returns The range, the bit width and the signedness.
 * @throws {QuantizationError} Code `quant_dtype`, when `dtype` is not `int<N>`/`uint<N>` with
 * 2 <= N <= 16 (or not a string).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quantDtypeRange } from "./quant_dtype_range.ts";
 *
 * assert.deepEqual(quantDtypeRange("int8"), {
 *   dtype: "int8", bits: 8, signed: true, qmin: -127, qmax: 127,
 * });
 * assert.equal(quantDtypeRange("uint4").qmax, 15);
 * assert.equal(quantDtypeRange(null).dtype, "int8");
 * ```
 */
export function quantDtypeRange(dtype: string | null | undefined): QuantRange {
  if (dtype === null || dtype === undefined) dtype = "int8";
  if (typeof dtype !== "string") {
    throw new QuantizationError(
      "quant_dtype",
      `"quant_dtype" must be a string or null: current value is ${JSON.stringify(dtype)}`,
    );
  }
  const m = /^(u?)int([0-9]+)$/.exec(dtype);
  if (m === null) {
    throw new QuantizationError(
      "quant_dtype",
      `"quant_dtype" must be "int<N>" or "uint<N>" with ${QUANT_BITS_MIN} <= N <= ${QUANT_BITS_MAX}: current value is ${
        JSON.stringify(dtype)
      }`,
    );
  }
  const signed = m[1] === "";
  const bits = Number(m[2]);
  if (signed && bits === 1) {
    throw new QuantizationError(
      "quant_dtype",
      `"quant_dtype" must have at least 2 bits for signed integers ("int1" has the empty range [0, 0]): current value is "int1"`,
    );
  }
  if (bits < QUANT_BITS_MIN || bits > QUANT_BITS_MAX) {
    throw new QuantizationError(
      "quant_dtype",
      `"quant_dtype" bits must be within [${QUANT_BITS_MIN}, ${QUANT_BITS_MAX}]: current value is ${
        JSON.stringify(dtype)
      }`,
    );
  }
  const qmin = signed ? -(2 ** (bits - 1)) + 1 : 0;
  const qmax = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return { dtype, bits, signed, qmin, qmax };
}
