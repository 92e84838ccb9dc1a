/**
 * `granularityKernel`: the block kernel of a quantization `granularity` on a target's shape.
 *
 * @module
 */

import type { Granularity, TargetKind } from "../config/types.ts";
import { QuantizationError } from "./quantization_error.ts";

const show = (v: unknown) => JSON.stringify(v);

/**
 * The block kernel (one entry per dim: a block length that divides the dim, or -1 for the whole
 * dim; the convention of the `Kernels` interface) that NNI's `Scaling` builds for a
 * quantization granularity:
 *
 * - `null`, `undefined` or `"default"` (every NNI quantizer's default): per tensor, all -1;
 * - `"out_channel"` (parameters): one block per index of dim 0, `[1, -1, ...]`;
 * - `"in_channel"` (parameters): one block per index of dim 1, `[-1, 1, -1, ...]`;
 * - `"per_channel"`: on inputs/outputs one block per index of dim 1 (dim 0 is the batch); on a
 *   parameter one block per output channel (dim 0), as the spec says — NNI raises there;
 * - a list of block sizes `[k0, k1, ...]`: applied to the last dims (padded with 1 in front),
 *   `-1` meaning the whole dim; or NNI's tuple form `[[k...], "front" | "back", padValue]`.
 *
 * @param granularity The resolved granularity setting.
 * @param kind The target kind: `"parameter"`, `"input"` or `"output"`.
 * @param shape The target's shape (the tracked activation shape for inputs and outputs).
 * @returns The kernel, one entry per dim of `shape`.
 * @throws {QuantizationError} Code `granularity` when the granularity has the wrong form or does
 * not fit the target: `out_channel`/`in_channel` on an activation, a kernel longer than the
 * shape, or a block size that does not divide its dim; code `shape` for a malformed shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { granularityKernel } from "./granularity_kernel.ts";
 *
 * assert.deepEqual(granularityKernel(null, "parameter", [32, 16]), [-1, -1]);
 * assert.deepEqual(granularityKernel("out_channel", "parameter", [8, 3, 3, 3]), [1, -1, -1, -1]);
 * assert.deepEqual(granularityKernel("per_channel", "output", [4, 16, 8, 8]), [-1, 1, -1, -1]);
 * assert.deepEqual(granularityKernel([8, 4], "parameter", [32, 16]), [8, 4]);
 * ```
 */
export function granularityKernel(
  granularity: Granularity | null | undefined,
  kind: TargetKind,
  shape: readonly number[],
): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new QuantizationError(
      "shape",
      `"shape" must be an array of non-negative integers: current value is ${show(shape)}`,
    );
  }
  let kernel: number[];
  let mode: "front" | "back";
  let pad: number;
  if (granularity === null || granularity === undefined || granularity === "default") {
    return shape.map(() => -1);
  } else if (granularity === "out_channel" || granularity === "in_channel") {
    if (kind !== "parameter") {
      throw new QuantizationError(
        "granularity",
        `granularity ${
          show(granularity)
        } is only for parameters: use "per_channel" for the ${kind} target`,
      );
    }
    [kernel, mode, pad] = granularity === "out_channel" ? [[1], "back", -1] : [[-1, 1], "back", -1];
  } else if (granularity === "per_channel") {
    [kernel, mode, pad] = kind === "parameter" ? [[1], "back", -1] : [[-1, 1], "back", -1];
  } else if (Array.isArray(granularity) && granularity.every((k) => typeof k === "number")) {
    [kernel, mode, pad] = [granularity as number[], "front", 1];
  } else if (Array.isArray(granularity) && Array.isArray(granularity[0])) {
    const g = granularity as [number[], ("front" | "back" | null)?, (number | null)?];
    [kernel, mode, pad] = [g[0], g[1] || "front", g[2] || 1];
  } else {
    throw new QuantizationError(
      "granularity",
      `"granularity" has an unknown form: current value is ${show(granularity)}`,
    );
  }
  if (kernel.length > shape.length) {
    throw new QuantizationError(
      "granularity",
      `granularity ${show(granularity)} has more dims than the ${kind} shape ${show(shape)}`,
    );
  }
  const fill = new Array<number>(shape.length - kernel.length).fill(pad);
  const full = mode === "front" ? [...fill, ...kernel] : [...kernel, ...fill];
  return full.map((k, d) => {
    if (!Number.isSafeInteger(k) || (k < 1 && k !== -1)) {
      throw new QuantizationError(
        "granularity",
        `granularity ${
          show(granularity)
        }: block sizes must be positive integers or -1: current value is ${k}`,
      );
    }
    if (k !== -1 && shape[d] % k !== 0) {
      const why = k > shape[d] ? "is larger than" : "must divide";
      throw new QuantizationError(
        "granularity",
        `granularity ${show(granularity)}: block size ${k} ${why} dim ${d} of shape ${
          show(shape)
        } (${shape[d]})`,
      );
    }
    return k;
  });
}
