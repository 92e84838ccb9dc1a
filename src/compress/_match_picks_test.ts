import { test } from "node:test";
import assert from "node:assert/strict";
import { matchPicks, pickLayout } from "./_match_picks.ts";

const f = (...v: number[]) => Float32Array.from(v);

test("pickLayout: records along a short last dim, scalars per batch item otherwise", () => {
  assert.deepEqual(pickLayout([]), { groups: 1, rows: 1, record: 1 });
  assert.deepEqual(pickLayout([100]), { groups: 1, rows: 100, record: 1 });
  assert.deepEqual(pickLayout([100, 4]), { groups: 1, rows: 100, record: 4 });
  assert.deepEqual(pickLayout([2, 100]), { groups: 2, rows: 100, record: 1 });
  assert.deepEqual(pickLayout([1, 100, 4]), { groups: 1, rows: 100, record: 4 });
  assert.deepEqual(pickLayout([1, 6, 56]), { groups: 1, rows: 6, record: 56 });
  assert.deepEqual(pickLayout([2, 8, 8, 100]), { groups: 2, rows: 6400, record: 1 });
  assert.deepEqual(pickLayout([0, 100, 4]), { groups: 0, rows: 0, record: 4 });
});

test("matchPicks: boxes in another order match exactly, where position by position they do not", () => {
  const ref = f(0, 0, 1, 1, 2, 2, 3, 3, 5, 5, 6, 6);
  const got = f(2, 2, 3, 3, 5, 5, 6, 6, 0, 0, 1, 1);
  const m = matchPicks([got], [ref], [[3, 4]], [[3, 4]])!;
  assert.deepEqual(m, { record: 4, rows: 3, unmatched: 0, cosine: 1, maxAbsDiff: 0 });
});

test("matchPicks: scalars pair in sorted order; a changed pick shows in the measures", () => {
  const m = matchPicks([f(0.8, 0.9, 0.7)], [f(0.9, 0.8, 0.7)], [[1, 3]], [[1, 3]])!;
  assert.equal(m.record, 3); // [1, 3]: one record of three
  const s = matchPicks([f(0.8, 0.9, 0.7, 0.1)], [f(0.9, 0.8, 0.7, 0.1)], [[4]], [[4]])!;
  assert.deepEqual(s, { record: 1, rows: 4, unmatched: 0, cosine: 1, maxAbsDiff: 0 });
  const c = matchPicks([f(0.9, 0.5, 0.7)], [f(0.9, 0.8, 0.7)], [[3]], [[3]])!;
  // Sorted: 0.5/0.7, 0.7/0.8, 0.9/0.9.
  const dot = 0.5 * 0.7 + 0.7 * 0.8 + 0.81;
  const want = dot / Math.sqrt((0.25 + 0.49 + 0.81) * (0.49 + 0.64 + 0.81));
  assert.ok(Math.abs(c.cosine - want) < 1e-6, `${c.cosine} against ${want}`);
  assert.ok(Math.abs(c.maxAbsDiff - 0.2) < 1e-6, String(c.maxAbsDiff));
});

test("matchPicks: lists of different lengths pair what they can and count the rest", () => {
  const ref = f(0, 0, 1, 1, 5, 5, 6, 6);
  const got = f(5, 5, 6, 6, 9, 9, 9, 9, 0, 0, 1, 1);
  const m = matchPicks([got], [ref], [[3, 4]], [[2, 4]])!;
  // The box (9, 9, 9, 9) without a partner counts as paired with zeros.
  assert.deepEqual([m.record, m.rows, m.unmatched, m.maxAbsDiff], [4, 2, 1, 9]);
  assert.ok(Math.abs(m.cosine - Math.sqrt(124 / 448)) < 1e-12, String(m.cosine));
  // Scalars of different counts pair in sorted order; what is left out is chosen for the
  // highest cosine, a value left out counting as paired with zero: 1 here (pairs 2/1, 3/3).
  for (const [a, b] of [[f(3, 1), f(1, 2, 3)], [f(1, 2, 3), f(3, 1)]]) {
    const s = matchPicks([a], [b], [[a.length]], [[b.length]])!;
    assert.deepEqual([s.rows, s.unmatched, s.maxAbsDiff], [2, 1, 1]);
    assert.ok(Math.abs(s.cosine - 11 / Math.sqrt(140)) < 1e-12, String(s.cosine));
  }
  // Leaving out 0.1 (pairs 0.5/0.1, 0.52/0.51, 0.9/0.9) beats leaving out 0.5 or 0.52.
  const t = matchPicks([f(0.1, 0.5, 0.52, 0.9)], [f(0.9, 0.1, 0.51)], [[4]], [[3]])!;
  assert.deepEqual([t.rows, t.unmatched], [3, 1]);
  assert.ok(Math.abs(t.maxAbsDiff - 0.4) < 1e-6, String(t.maxAbsDiff));
  const want = (0.05 + 0.52 * 0.51 + 0.81) /
    Math.sqrt((0.01 + 0.25 + 0.52 ** 2 + 0.81) * (0.01 + 0.51 ** 2 + 0.81));
  assert.ok(Math.abs(t.cosine - want) < 1e-6, `${t.cosine} against ${want}`);
  // Nothing on one side: no pairs, cosine 0; nothing on either: 1.
  assert.equal(matchPicks([f()], [f(1, 2, 3, 4)], [[0, 4]], [[1, 4]])!.cosine, 0);
  assert.equal(matchPicks([f()], [f()], [[0, 4]], [[0, 4]])!.cosine, 1);
});

test("matchPicks: batch items are matched apart, over every step", () => {
  // Two batch items whose boxes swapped between them: within each item they do not match.
  const a = f(5, 5, 5, 5, 0, 0, 0, 1);
  const b = f(0, 0, 0, 1, 5, 5, 5, 5);
  const m = matchPicks([a], [b], [[2, 1, 4]], [[2, 1, 4]])!;
  assert.equal(m.rows, 2);
  assert.ok(m.cosine < 0.5, String(m.cosine));
  assert.equal(m.maxAbsDiff, 5);
  const steps = matchPicks([f(1, 2), f(3, 4)], [f(2, 1), f(4, 3)], [[2], [2]], [[2], [2]])!;
  assert.deepEqual(steps, { record: 1, rows: 4, unmatched: 0, cosine: 1, maxAbsDiff: 0 });
});

test("matchPicks: NaN reaches the measures; too many picks or other layouts give no match", () => {
  const m = matchPicks([f(NaN, 0, 1, 1)], [f(0, 0, 1, 1)], [[2, 2]], [[2, 2]])!;
  assert.ok(Number.isNaN(m.maxAbsDiff));
  assert.equal(m.rows, 2);
  assert.equal(matchPicks([f(1, 2, 3, 4)], [f(1, 2, 3, 4)], [[2, 2]], [[1, 4]]), undefined);
  const big = new Float32Array(10000 * 8);
  assert.equal(
    matchPicks([big], [big.subarray(0, 9000 * 8)], [[10000, 8]], [[9000, 8]]),
    undefined,
  );
  // Equal counts of scalars sort, whatever their number.
  const many = Float32Array.from({ length: 200000 }, (_, i) => (i * 7919) % 200000);
  const sorted = many.slice().sort();
  const s = matchPicks([many], [sorted], [[200000]], [[200000]])!;
  assert.deepEqual([s.rows, s.cosine, s.maxAbsDiff], [200000, 1, 0]);
});
