/**
 * `computeMetric`: the metric of a pruner for one target.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { blockLayout } from "./block_layout.ts";
import { fpgmMetric } from "./fpgm_metric.ts";
import { normMetric } from "./norm_metric.ts";
import { wandaMetric } from "./wanda_metric.ts";
import { PruningError } from "./pruning_error.ts";
import type { BlockLayout, PrunerName, PruningTarget } from "./types.ts";

/** Options of `computeMetric`. */
export interface ComputeMetricOptions {
  /** The pruner (default `l1`). */
  readonly pruner?: PrunerName;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /**
   * For `wanda` on a weight: the L2 norm of each input feature of the module over calibration
   * data (see `wandaMetric`).
   */
  readonly inputNorm?: Float32Array;
}

/** A metric with the layout of its blocks. */
export interface TargetMetric {
  /** One float32 value per block, block-grid order. */
  readonly values: Float32Array;
  /** The block layout of the target. */
  readonly layout: BlockLayout;
}

/**
 * The metric of a pruner for one parameter target, on the block layout of the target's
 * granularity (NNI's `_calculate_metrics` of the basic pruners):
 * - `level`, `l1`: `|w|` element-wise, or the L1 norm of each block;
 * - `l2`: `|w|` element-wise, or the L2 norm of each block;
 * - `fpgm`: the sum of distances from each block to all blocks (needs a granularity);
 * - `slim`: the one-shot Slim metric, `|gamma|` of a BatchNorm weight (the L1 norm of each
 *   block, which for `out_channel` on a 1-D weight is the absolute value);
 * - `wanda`: on a `weight`, `|w|` times the L2 norm of its input feature (`options.inputNorm`,
 *   see `wandaMetric`); on other targets `|w|` as Level.
 *
 * @param data the target's values (float32, row-major, `target.shape`)
 * @param target the target with its resolved setting and shape
 * @param options the pruner, the kernels and, for `wanda`, the input-feature norms
 * @returns the metric and the layout
 * @throws {PruningError} for an activation target (basic pruners prune parameters only), an
 *   element-wise FPGM, a granularity that does not fit the shape, or `wanda` on a weight without
 *   `inputNorm` or with norms that do not fit it
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { computeMetric } from "./compute_metric.ts";
 *
 * const target = {
 *   module: "fc",
 *   target: "weight",
 *   kind: "parameter" as const,
 *   shape: [2, 2],
 *   setting: { sparse_ratio: 0.5, granularity: "out_channel" as const },
 * };
 * const { values, layout } = computeMetric(new Float32Array([1, -2, 3, 4]), target);
 * assert.deepEqual([...values], [3, 7]);
 * assert.deepEqual(layout.grid, [2, 1]);
 * ```
 */
export function computeMetric(
  data: Float32Array,
  target: PruningTarget,
  options: ComputeMetricOptions = {},
): TargetMetric {
  const pruner = options.pruner ?? "l1";
  const context = { module: target.module, target: target.target, configIndex: target.configIndex };
  if (target.kind !== "parameter" || target.shape === null) {
    throw new PruningError(
      "activation_target",
      `the ${pruner} pruner computes metrics of parameters only, not of the ${target.kind} target "${target.target}"`,
      context,
    );
  }
  const layout = blockLayout(target.setting.granularity, target.shape, {
    ...context,
    kind: target.kind,
  });
  const kernels = options.kernels ?? getKernels();
  switch (pruner) {
    case "level":
    case "l1":
    case "slim":
      return { values: normMetric(data, layout, { p: 1, kernels }), layout };
    case "wanda":
      if (target.target !== "weight") {
        return { values: normMetric(data, layout, { p: 1, kernels }), layout };
      }
      if (options.inputNorm === undefined) {
        throw new PruningError(
          "metric",
          "the wanda pruner needs calibration data: the L2 norm of each input feature of the module (options.inputNorms, e.g. from wandaInputNorms())",
          context,
        );
      }
      try {
        return { values: wandaMetric(data, layout, options.inputNorm, kernels), layout };
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        throw new PruningError("metric", e.message, context);
      }
    case "l2":
      return { values: normMetric(data, layout, { p: 2, kernels }), layout };
    case "fpgm":
      if (target.setting.granularity === null || target.setting.granularity === undefined) {
        throw new PruningError(
          "metric",
          "the FPGM metric needs blocks (a granularity such as out_channel), not element-wise pruning",
          context,
        );
      }
      return { values: fpgmMetric(data, layout), layout };
    default:
      throw new TypeError(
        `"pruner" must be one of level, l1, l2, fpgm, slim, wanda: current value is ${
          JSON.stringify(pruner)
        }`,
      );
  }
}
