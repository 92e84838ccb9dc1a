/**
 * `observerRange`: the range a calibration observer picks from a streaming histogram.
 *
 * @module
 */

import { entropyRange } from "./entropy_range.ts";
import { type ClipTarget, mseRange } from "./mse_range.ts";
import { percentileRange } from "./percentile_range.ts";
import type { StreamingHistogram } from "./streaming_histogram.ts";
import type { TrackedRange } from "./tracked_range.ts";
import { QuantizationError } from "./quantization_error.ts";

/**
 * A calibration observer: `minmax` is NNI's PTQ observer (global minimum and maximum, bit for
 * bit); `percentile`, `mse` and `entropy` clip outliers using streaming histograms.
 */
export type ObserverName = "minmax" | "percentile" | "mse" | "entropy";

/** Options of an observer. */
export interface ObserverRangeOptions {
  /** The percentile kept by the `percentile` observer, in (0, 100] (default 99.99). */
  readonly percentile?: number;
}

type RangeFn = (
  h: StreamingHistogram,
  target: ClipTarget,
  options: ObserverRangeOptions,
) => TrackedRange;

const RANGES = {
  minmax: (h) => ({ shape: [...h.shape], min: h.min.slice(), max: h.max.slice() }),
  percentile: (h, t, o) =>
    percentileRange(h, {
      symmetric: t.scheme !== "affine",
      ...(o.percentile === undefined ? {} : { percentile: o.percentile }),
    }),
  mse: (h, t) => mseRange(h, t),
  entropy: (h, t) => entropyRange(h, t),
} satisfies Record<ObserverName, RangeFn>;

/** The observers, in a fixed order. */
export const OBSERVERS: readonly ObserverName[] = Object.keys(RANGES) as ObserverName[];

/**
 * Checks an observer name.
 *
 * @param name The value to check.
 * @returns The name, typed.
 * @throws {QuantizationError} Code `argument` when it is not one of `OBSERVERS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkObserver } from "./observer_range.ts";
 *
 * assert.equal(checkObserver("mse"), "mse");
 * assert.throws(() => checkObserver("kl"), /"observer" must be one of/);
 * ```
 */
export function checkObserver(name: unknown): ObserverName {
  if (typeof name !== "string" || !Object.hasOwn(RANGES, name)) {
    throw new QuantizationError(
      "argument",
      `"observer" must be one of ${OBSERVERS.map((o) => `"${o}"`).join(", ")}: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  return name as ObserverName;
}

/**
 * The tracked range an observer gives for a target from its streaming histogram: `minmax`
 * returns the exact observed minimum and maximum; the others a clipping range for the target's
 * integer range and scheme (`percentileRange` on |x| for symmetric schemes and on both tails for
 * affine ones, `mseRange`, `entropyRange`).
 *
 * @param h The streaming histogram of the target (`observeHistogram`).
 * @param observer The observer.
 * @param target The target's integer range and scheme.
 * @param options The percentile.
 * @returns The range per block, ready for `computeQuantParams`.
 * @throws {QuantizationError} Code `argument` or `range` when the observer or its options are
 * invalid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { observeHistogram } from "./streaming_histogram.ts";
 * import { observerRange } from "./observer_range.ts";
 *
 * const h = observeHistogram(undefined, Float32Array.of(-2, 0.5, 1), [3], [-1]);
 * const r = observerRange(h, "minmax", { qmin: -127, qmax: 127 });
 * assert.deepEqual([r.min[0], r.max[0]], [-2, 1]);
 * ```
 */
export function observerRange(
  h: StreamingHistogram,
  observer: ObserverName,
  target: ClipTarget,
  options: ObserverRangeOptions = {},
): TrackedRange {
  return RANGES[checkObserver(observer)](h, target, options);
}
