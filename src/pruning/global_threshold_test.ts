import { test } from "node:test";
import assert from "node:assert/strict";
import { globalThreshold } from "./global_threshold.ts";

/** A literal port of Python's heapq on (-value, grain) tuples, for comparison. */
function heapqReplay(members: { metric: Float32Array; grain: number }[], s: number): number {
  const heap: [number, number][] = [];
  const less = (a: [number, number], b: [number, number]) =>
    a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const siftdown = (start: number, pos: number) => {
    const item = heap[pos];
    while (pos > start) {
      const parent = (pos - 1) >> 1;
      if (less(item, heap[parent])) {
        heap[pos] = heap[parent];
        pos = parent;
      } else break;
    }
    heap[pos] = item;
  };
  const siftup = (pos: number) => {
    const end = heap.length;
    const start = pos;
    const item = heap[pos];
    let child = 2 * pos + 1;
    while (child < end) {
      const right = child + 1;
      if (right < end && !less(heap[child], heap[right])) child = right;
      heap[pos] = heap[child];
      pos = child;
      child = 2 * pos + 1;
    }
    heap[pos] = item;
    siftdown(start, pos);
  };
  let count = 0;
  for (const { metric, grain } of members) {
    for (const v of metric) {
      const item: [number, number] = [-v, grain];
      if (count <= s) {
        heap.push(item);
        siftdown(0, heap.length - 1);
        count += grain;
      } else {
        let out = item;
        if (heap.length && less(heap[0], item)) {
          out = heap[0];
          heap[0] = item;
          siftup(0);
        }
        count += grain - out[1];
      }
    }
  }
  return -heap[0][0];
}

function random(n: number, seed: number, levels = 0): Float32Array {
  const a = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    a[i] = levels ? Math.floor((x / 2147483648) * levels) : x / 2147483648;
  }
  return a;
}

test("globalThreshold() with equal grains is the (floor(S/g)+1)-th smallest value", () => {
  const a = { metric: random(100, 1), grain: 3 };
  const b = { metric: random(57, 2), grain: 3 };
  const all = [...a.metric, ...b.metric].sort((x, y) => x - y);
  for (const s of [0, 1, 2, 3, 100, 299, 470]) {
    assert.equal(globalThreshold([a, b], s), all[Math.min(Math.floor(s / 3), all.length - 1)]);
    assert.equal(globalThreshold([a, b], s), heapqReplay([a, b], s));
  }
});

test("globalThreshold() replays NNI's heap exactly with unequal grains", () => {
  for (let seed = 1; seed < 30; seed++) {
    const members = [
      { metric: random(20 + seed, seed, seed % 3 ? 0 : 7), grain: 9 },
      { metric: random(33, seed + 100, seed % 2 ? 5 : 0), grain: 288 },
      { metric: random(7, seed + 200), grain: 1 },
      { metric: random(12, seed + 300), grain: 128 },
    ];
    const total = members.reduce((t, m) => t + m.metric.length * m.grain, 0);
    for (const r of [0.1, 0.5, 0.9]) {
      const s = Math.trunc(total * r);
      assert.equal(globalThreshold(members, s), heapqReplay(members, s), `seed ${seed} ratio ${r}`);
    }
  }
});

test("globalThreshold() depends on the member order when grains differ (NNI's B7)", () => {
  const small = { metric: new Float32Array([1, 2, 3, 4]), grain: 1 };
  const big = { metric: new Float32Array([1.5, 2.5]), grain: 10 };
  assert.equal(globalThreshold([small, big], 10), heapqReplay([small, big], 10));
  assert.equal(globalThreshold([big, small], 10), heapqReplay([big, small], 10));
  assert.notEqual(globalThreshold([small, big], 10), globalThreshold([big, small], 10));
});

test("globalThreshold() rejects an empty group and bad counts", () => {
  assert.throws(() => globalThreshold([], 0), RangeError);
  assert.throws(() => globalThreshold([{ metric: new Float32Array(1), grain: 1 }], -1), RangeError);
  assert.throws(() => globalThreshold([{ metric: new Float32Array(1), grain: 0 }], 0), RangeError);
});
