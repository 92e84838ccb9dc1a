/**
 * `computeQuantParams`: scales and zero points from tracked ranges, bit for bit like NNI.
 *
 * @module
 */

import { QuantizationError } from "./quantization_error.ts";

/** The quantization schemes; `null` means symmetric (NNI's default scheme). */
export type QuantScheme = "symmetric" | "affine";

/** Inputs of `computeQuantParams`. */
export interface ComputeQuantParamsOptions {
  /** The tracked minimum of each block (block-grid row-major). */
  readonly trackedMin: Float32Array;
  /** The tracked maximum of each block (same length as `trackedMin`). */
  readonly trackedMax: Float32Array;
  /** Smallest integer code (from `quantDtypeRange`). */
  readonly qmin: number;
  /** Largest integer code (from `quantDtypeRange`). */
  readonly qmax: number;
  /** `"symmetric"` (also for `null`/absent) or `"affine"`. */
  readonly scheme?: QuantScheme | null;
}

/** One scale and one zero point per block. */
export interface ScaleZeroPoint {
  /** Scales, float32, each >= float32 epsilon. */
  readonly scale: Float32Array;
  /** Zero points, float32 integers within [qmin, qmax]. */
  readonly zeroPoint: Float32Array;
}

/** float32 machine epsilon (2^-23), the smallest scale NNI produces. */
export const FLOAT32_EPS = 2 ** -23;

const f32 = Math.fround;

/** Round half to even of a float32 value (like `torch.round`). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Scales and zero points of NNI's PTQ/QAT quantizers, computed in float32 exactly like NNI does
 * with torch float32 tensors:
 *
 * - the range is widened to contain 0: `mn = min(trackedMin, 0)`, `mx = max(trackedMax, 0)`;
 * - symmetric (or `null`): `scale = max(f32(max(|mn|, |mx|) / ((qmax - qmin) / 2)), eps)` and
 *   `zp = floor((qmax + qmin + 1) / 2)` (0 for `int<N>`, 128 for `uint8`);
 * - affine: `scale = max(f32(f32(mx - mn) / (qmax - qmin)), eps)` and
 *   `zp = qmin - roundHalfEven(f32(mn / scale))`;
 * - `zp` clamped to [qmin, qmax]; `eps` is float32 epsilon, so an all-zero block gets scale eps.
 *
 * @param options Tracked ranges per block, the integer range and the scheme.
 * @returns One scale and zero point per block.
 * @throws {QuantizationError} Code `range` when the ranges are not Float32Arrays of one length or
 * `qmin >= qmax`; `quant_scheme` for an unknown scheme; `non_finite` when a tracked value is NaN
 * or infinite, or a range is too wide for a finite float32 scale.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeQuantParams } from "./compute_quant_params.ts";
 *
 * const sym = computeQuantParams({
 *   trackedMin: new Float32Array([-0.5]),
 *   trackedMax: new Float32Array([1.27]),
 *   qmin: -127,
 *   qmax: 127,
 * });
 * assert.equal(sym.scale[0], Math.fround(Math.fround(1.27) / 127));
 * assert.equal(sym.zeroPoint[0], 0);
 * const affine = computeQuantParams({
 *   trackedMin: new Float32Array([-1]),
 *   trackedMax: new Float32Array([3]),
 *   qmin: 0,
 *   qmax: 255,
 *   scheme: "affine",
 * });
 * assert.equal(affine.zeroPoint[0], 64);
 * ```
 */
export function computeQuantParams(options: ComputeQuantParamsOptions): ScaleZeroPoint {
  const { trackedMin, trackedMax, qmin, qmax } = options;
  const scheme = options.scheme ?? "symmetric";
  if (!(trackedMin instanceof Float32Array) || !(trackedMax instanceof Float32Array)) {
    throw new QuantizationError("range", `"trackedMin" and "trackedMax" must be Float32Arrays`);
  }
  if (trackedMin.length !== trackedMax.length) {
    throw new QuantizationError(
      "range",
      `"trackedMin" and "trackedMax" must have the same length: current lengths are ${trackedMin.length} and ${trackedMax.length}`,
    );
  }
  if (!Number.isSafeInteger(qmin) || !Number.isSafeInteger(qmax) || !(qmin < qmax)) {
    throw new QuantizationError(
      "range",
      `"qmin" and "qmax" must be integers with qmin < qmax: current values are ${qmin} and ${qmax}`,
    );
  }
  if (scheme !== "symmetric" && scheme !== "affine") {
    throw new QuantizationError(
      "quant_scheme",
      `"quant_scheme" must be "symmetric", "affine" or null: current value is ${
        JSON.stringify(scheme)
      }`,
    );
  }
  const n = trackedMin.length;
  const scale = new Float32Array(n);
  const zeroPoint = new Float32Array(n);
  const eps = FLOAT32_EPS;
  const halfRange = f32((qmax - qmin) / 2);
  const range = f32(qmax - qmin);
  const symZp = Math.floor((qmax + qmin + 1) / 2);
  for (let i = 0; i < n; i++) {
    const lo = trackedMin[i];
    const hi = trackedMax[i];
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      throw new QuantizationError(
        "non_finite",
        `tracked range of block ${i} must be finite (the tensor holds NaN or infinite values): current value is [${lo}, ${hi}]`,
      );
    }
    const mn = lo < 0 ? lo : 0;
    const mx = hi > 0 ? hi : 0;
    let s: number;
    let zp: number;
    if (scheme === "symmetric") {
      const absMax = Math.max(-mn, mx);
      s = f32(absMax / halfRange);
      if (s < eps) s = eps;
      zp = symZp;
    } else {
      s = f32(f32(mx - mn) / range);
      if (s < eps) s = eps;
      zp = f32(qmin - roundHalfEven(f32(mn / s)));
    }
    if (s === Infinity) {
      throw new QuantizationError(
        "non_finite",
        `tracked range of block ${i} is too wide for float32: [${lo}, ${hi}] gives an infinite scale`,
      );
    }
    scale[i] = s;
    zeroPoint[i] = zp < qmin ? qmin : zp > qmax ? qmax : zp;
  }
  return { scale, zeroPoint };
}
