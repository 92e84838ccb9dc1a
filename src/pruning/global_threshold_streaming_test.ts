import { test } from "node:test";
import assert from "node:assert/strict";
import { globalThreshold } from "./global_threshold.ts";
import { globalThresholdStreaming } from "./global_threshold_streaming.ts";

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    // a mix of signs, magnitudes, zeros of both signs and ties
    const u = x / 4294967296;
    a[i] = u < 0.05 ? (u < 0.025 ? -0 : 0) : u < 0.1 ? 0.5 : (u - 0.5) * 2 ** ((x >>> 3) % 20 - 10);
  }
  return a;
}

test("globalThresholdStreaming() matches the in-memory threshold over 300 members, reading each twice", async () => {
  const metrics = Array.from({ length: 300 }, (_, i) => random(1 + ((i * 7919) % 5000), i + 1));
  const reads = new Map<number, number>();
  let live = 0;
  let maxLive = 0;
  const members = metrics.map((m, i) => ({
    length: m.length,
    grain: 1,
    read: async () => {
      await Promise.resolve();
      live++;
      maxLive = Math.max(maxLive, live);
      reads.set(i, (reads.get(i) ?? 0) + 1);
      return m;
    },
  }));
  const total = metrics.reduce((t, m) => t + m.length, 0);
  for (const ratio of [0, 0.01, 0.3, 0.5, 0.97, 1]) {
    reads.clear();
    const s = Math.trunc(total * ratio);
    const got = await globalThresholdStreaming(members, s, { onRead: () => live-- });
    const want = globalThreshold(metrics.map((metric) => ({ metric, grain: 1 })), s);
    assert.ok(
      Object.is(got, want) || (got === 0 && want === 0),
      `ratio ${ratio}: ${got} vs ${want}`,
    );
    assert.ok([...reads.values()].every((n) => n === 2));
  }
  assert.equal(maxLive, 1, "one member at a time");
});

test("globalThresholdStreaming() divides by the common grain", async () => {
  const metrics = [random(100, 1), random(50, 2)];
  const members = metrics.map((m) => ({ length: m.length, grain: 4, read: () => m }));
  for (const s of [0, 3, 4, 299, 599]) {
    const want = globalThreshold(metrics.map((metric) => ({ metric, grain: 4 })), s);
    assert.equal(await globalThresholdStreaming(members, s), want);
  }
});

test("globalThresholdStreaming() replays NNI's buffer in one pass with unequal grains", async () => {
  const metrics = [random(40, 3), random(64, 4), random(10, 5)];
  const grains = [9, 288, 128];
  const members = metrics.map((m, i) => ({ length: m.length, grain: grains[i], read: () => m }));
  const total = metrics.reduce((t, m, i) => t + m.length * grains[i], 0);
  for (const r of [0.2, 0.5, 0.8]) {
    const s = Math.trunc(total * r);
    const want = globalThreshold(metrics.map((metric, i) => ({ metric, grain: grains[i] })), s);
    let reads = 0;
    assert.equal(await globalThresholdStreaming(members, s, { onRead: () => reads++ }), want);
    assert.equal(reads, 3);
  }
});

test("globalThresholdStreaming() rejects a member that reads a different length", async () => {
  const members = [{ length: 3, grain: 1, read: () => new Float32Array(2) }];
  await assert.rejects(globalThresholdStreaming(members, 1), /read 2 values but declared 3/);
  await assert.rejects(globalThresholdStreaming([], 0), RangeError);
});
