import { test } from "node:test";
import assert from "node:assert/strict";
import { roundHalfEven } from "./round_half_even.ts";

test("roundHalfEven() rounds halves to the even neighbour", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-1.5, -2],
    [-2.5, -2],
    [-3.5, -4],
    [1022.5, 1022],
  ];
  for (const [x, expected] of cases) assert.equal(roundHalfEven(x), expected, `x = ${x}`);
});

test("roundHalfEven() rounds non-halves to the nearest integer", () => {
  const cases: [number, number][] = [
    [2.4999999, 2],
    [2.5000001, 3],
    [0.49999999999999994, 0],
    [-0.7, -1],
    [7, 7],
    [2 ** 52 + 1, 2 ** 52 + 1],
  ];
  for (const [x, expected] of cases) assert.equal(roundHalfEven(x), expected, `x = ${x}`);
});

test("roundHalfEven() keeps the sign of a zero result and passes NaN and infinities", () => {
  assert.ok(Object.is(roundHalfEven(-0.5), -0));
  assert.ok(Object.is(roundHalfEven(-0.3), -0));
  assert.ok(Object.is(roundHalfEven(-0), -0));
  assert.ok(Object.is(roundHalfEven(0.3), 0));
  assert.ok(Number.isNaN(roundHalfEven(NaN)));
  assert.equal(roundHalfEven(Infinity), Infinity);
  assert.equal(roundHalfEven(-Infinity), -Infinity);
});
