/**
 * The metric a parameter target's blocks are ranked by (`parameterMetric`), in a module of its
 * own: worker threads compute it without loading the pruning pipeline and the config layer
 * (their module graph went from 132 modules to about half).
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { computeMetric } from "./compute_metric.ts";
import { PruningError } from "./pruning_error.ts";
import type { PrunerName, PruningTarget } from "./types.ts";

/**
 * Refuses a target holding NaN or infinite values: no metric can rank them, and masking an
 * infinite value by multiplication would write NaN.
 */
function checkFinite(data: Float32Array, t: PruningTarget): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw new PruningError(
      "non_finite",
      `the tensor holds ${bad} NaN or infinite value${
        bad === 1 ? "" : "s"
      } (the first at element ${first}: ${data[first]}): no metric can rank them`,
      { module: t.module, target: t.target, configIndex: t.configIndex },
    );
  }
}

/** Options of `parameterMetric`. */
export interface ParameterMetricOptions {
  /** The pruner (short name) whose metric ranks the blocks (default `l1`). */
  readonly pruner?: PrunerName;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /** For Wanda: the L2 norm of each input feature of the module. */
  readonly inputNorm?: Float32Array;
}

/**
 * The metric `prune` ranks a parameter target's blocks by: one float32 value per block of its
 * granularity, from the tensor's values (float32, PyTorch layout).
 *
 * @param data The tensor's values.
 * @param target The target, with its resolved setting and shape.
 * @param options The pruner, kernels and Wanda's input norms.
 * @returns The metric.
 * @throws {PruningError} Code `non_finite` for NaN or infinite values; as `computeMetric`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parameterMetric } from "./parameter_metric.ts";
 *
 * const target = { module: "fc", target: "weight", kind: "parameter" as const, shape: [2, 2],
 *   setting: { sparse_ratio: 0.5 } };
 * const metric = parameterMetric(new Float32Array([1, -3, 2, 0.5]), target, { pruner: "level" });
 * assert.deepEqual([...metric], [1, 3, 2, 0.5]);
 * ```
 */
export function parameterMetric(
  data: Float32Array,
  target: PruningTarget,
  options: ParameterMetricOptions = {},
): Float32Array {
  checkFinite(data, target);
  return computeMetric(data, target, {
    pruner: options.pruner ?? "l1",
    kernels: options.kernels ?? getKernels(),
    inputNorm: options.inputNorm,
  }).values;
}
