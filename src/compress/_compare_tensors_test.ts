import { test } from "node:test";
import assert from "node:assert/strict";
import { compareTensors } from "./_compare_tensors.ts";

const f = (...v: number[]) => Float32Array.from(v);

test("compareTensors: a NaN early in an output keeps the largest difference NaN", () => {
  const m = compareTensors([f(NaN, 0, 0.5)], [f(0, 0, 0)], [[3]], {
    name: "y",
    explicit: false,
    iou: false,
    threshold: 0.5,
  });
  assert.ok(Number.isNaN(m.maxAbsDiff), String(m.maxAbsDiff));
});
