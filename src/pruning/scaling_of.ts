/**
 * `scalingOf`: NNI's `Scaling(kernel_size, padding_mode, padding_val)` for a granularity.
 *
 * @module
 */

import { PruningError, type PruningErrorContext } from "./pruning_error.ts";
import type { Granularity, TargetKind } from "./types.ts";

/** A block kernel before padding, with how to pad it to a target's rank (NNI's `Scaling`). */
export interface Scaling {
  /** The kernel (block lengths, -1 = whole dim), possibly shorter than the target's rank. */
  readonly kernel_size: readonly number[];
  /** Where the padding goes: `front` pads leading dims, `back` trailing dims. */
  readonly kernel_padding_mode: "front" | "back";
  /** The padding value: 1 (one block per index) or -1 (whole dim). */
  readonly kernel_padding_val: number;
}

/**
 * The scaling of a granularity, like NNI's `register_scalers`: `out_channel` → `[1]` padded at
 * the back with -1 (parameters only); `in_channel` → `[-1, 1]` back -1 (parameters only);
 * `per_channel` → `[-1, 1]` back -1 (inputs and outputs only); a list of block lengths → padded
 * at the front with 1; NNI's tuple forms `[[k…]]`, `[[k…], mode]`, `[[k…], mode, val]` → mode
 * `|| "front"`, val `|| 1` (so `[[2], "back"]` pads with 1). `null`/`undefined` → `null`
 * (element-wise, no scaling).
 *
 * @param granularity the resolved granularity (never `"default"`)
 * @param options the target kind (default `parameter`) and, for messages, module/target/config
 * @returns the scaling, or `null` for element-wise
 * @throws {PruningError} for `default` (unresolved), a channel keyword on the wrong target kind,
 *   or a malformed kernel
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scalingOf } from "./scaling_of.ts";
 *
 * assert.deepEqual(scalingOf("out_channel"), {
 *   kernel_size: [1],
 *   kernel_padding_mode: "back",
 *   kernel_padding_val: -1,
 * });
 * assert.deepEqual(scalingOf([[2], "back"]), {
 *   kernel_size: [2],
 *   kernel_padding_mode: "back",
 *   kernel_padding_val: 1,
 * });
 * assert.equal(scalingOf(null), null);
 * ```
 */
export function scalingOf(
  granularity: Granularity | null | undefined,
  options: PruningErrorContext & { readonly kind?: TargetKind } = {},
): Scaling | null {
  const kind = options.kind ?? "parameter";
  const fail = (detail: string): never => {
    throw new PruningError("granularity", detail, options);
  };
  if (granularity === null || granularity === undefined) return null;
  if (granularity === "out_channel" || granularity === "in_channel") {
    if (kind !== "parameter") {
      fail(
        `"${granularity}" applies to parameters only, not to an ${kind} target; use "per_channel"`,
      );
    }
    return scaling(granularity === "out_channel" ? [1] : [-1, 1], "back", -1);
  }
  if (granularity === "per_channel") {
    if (kind === "parameter") {
      fail(`"per_channel" applies to inputs and outputs only; use "out_channel" on a parameter`);
    }
    return scaling([-1, 1], "back", -1);
  }
  if (granularity === "default") {
    return fail(`"default" must be resolved for the pruner before building blocks`);
  }
  if (!Array.isArray(granularity) || granularity.length === 0) {
    return fail(
      `must be a keyword, a list of block lengths or [kernel, mode, value]: current value is ${
        JSON.stringify(granularity)
      }`,
    );
  }
  if (granularity.every((x) => typeof x === "number")) {
    return scaling(checkKernel(granularity as number[], fail), "front", 1);
  }
  const [kernel, mode, val] = granularity as [number[], string | null, number | null];
  if (!Array.isArray(kernel) || granularity.length > 3) {
    return fail(
      `must be a list of block lengths or [kernel, mode, value]: current value is ${
        JSON.stringify(granularity)
      }`,
    );
  }
  const m = mode || "front";
  if (m !== "front" && m !== "back") {
    fail(`padding mode must be "front" or "back": current value is ${JSON.stringify(mode)}`);
  }
  const v = val || 1;
  if (v !== 1 && v !== -1) {
    fail(`padding value must be 1 or -1: current value is ${JSON.stringify(val)}`);
  }
  return scaling(checkKernel(kernel, fail), m as "front" | "back", v);
}

function scaling(kernel: number[], mode: "front" | "back", val: number): Scaling {
  return { kernel_size: kernel, kernel_padding_mode: mode, kernel_padding_val: val };
}

function checkKernel(kernel: readonly unknown[], fail: (detail: string) => never): number[] {
  for (const k of kernel) {
    if (!(Number.isInteger(k) && ((k as number) >= 1 || k === -1))) {
      fail(`block lengths must be integers >= 1 or -1: current value is ${JSON.stringify(kernel)}`);
    }
  }
  return [...kernel] as number[];
}
