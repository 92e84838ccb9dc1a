import { test } from "node:test";
import assert from "node:assert/strict";
import { computeMetric } from "./compute_metric.ts";
import { PruningError } from "./pruning_error.ts";
import type { PruningSetting, PruningTarget } from "./types.ts";

const target = (setting: PruningSetting, shape = [2, 2]): PruningTarget => ({
  module: "m",
  target: "weight",
  kind: "parameter",
  shape,
  setting,
});
const w = new Float32Array([3, -4, 0, 1]);

test("computeMetric() gives |w| for level without a granularity and L1 rows with one", () => {
  assert.deepEqual(
    [...computeMetric(w, target({ sparse_ratio: 0.5 }), { pruner: "level" }).values],
    [3, 4, 0, 1],
  );
  const rows = computeMetric(w, target({ sparse_ratio: 0.5, granularity: "out_channel" }), {
    pruner: "level",
  });
  assert.deepEqual([...rows.values], [7, 1]);
});

test("computeMetric() gives L2 rows for l2 and FPGM distances for fpgm", () => {
  const s = { sparse_ratio: 0.5, granularity: "out_channel" as const };
  assert.deepEqual([...computeMetric(w, target(s), { pruner: "l2" }).values], [5, 1]);
  const d = Math.fround(Math.hypot(3, 5));
  assert.deepEqual([...computeMetric(w, target(s), { pruner: "fpgm" }).values], [d, d]);
});

test("computeMetric() gives |gamma| for slim on a BatchNorm weight", () => {
  const m = computeMetric(
    new Float32Array([-0.5, 2]),
    target({ sparse_ratio: 0.5, granularity: "out_channel" }, [2]),
    {
      pruner: "slim",
    },
  );
  assert.deepEqual([...m.values], [0.5, 2]);
});

test("computeMetric() refuses element-wise FPGM and activation targets", () => {
  assert.throws(
    () => computeMetric(w, target({ sparse_ratio: 0.5 }), { pruner: "fpgm" }),
    (e: unknown) => e instanceof PruningError && e.code === "metric",
  );
  assert.throws(
    () => computeMetric(w, { ...target({ sparse_ratio: 0.5 }), kind: "input", target: "_input_0" }),
    (e: unknown) => e instanceof PruningError && e.code === "activation_target",
  );
});

test("computeMetric() rejects an unknown pruner", () => {
  // deno-lint-ignore no-explicit-any
  assert.throws(() => computeMetric(w, target({}), { pruner: "taylor" as any }), TypeError);
});
