/**
 * Conformance cases of the magnitude passes on stored float bits (`magnitudeHighHistogram`,
 * `magnitudeLowHistogram`, `magnitudeBand`, `magnitudeCut`, `magnitudeBin`, `magnitudeApplyBits`): hand-computed examples, argument errors compared
 * with `referenceKernels`, and bit-for-bit agreement with the reference on float32, float16 and
 * bfloat16 bits full of ties, zeros of both signs and values of every size, on lengths that
 * cross the WebAssembly build's groups of eight and its 8 MiB chunks, whole and in pieces.
 *
 * @module
 */

import assert from "node:assert/strict";
import { referenceKernels as ref } from "../../src/kernels/reference.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import type { ConformanceCase } from "./_properties.ts";
import { mulberry32 } from "./_prng.ts";

// deno-lint-ignore no-explicit-any
const bad = (x: unknown) => x as any;

function example(sentence: string, run: (kernels: Kernels) => void): ConformanceCase {
  return { sentence, run };
}

function thrown(call: () => unknown): Error | undefined {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

/** Float32 bits with many equal magnitudes, zeros of both signs and a few large values. */
function words32(length: number, seed: number): Int32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const r = next() % 100;
    const v = r < 5 ? 0 : r < 40 ? ((next() % 64) - 32) / 64 : (next() / 2 ** 31 - 1) * 0.02;
    out[i] = r === 99 ? v * 1e30 : r === 98 ? -0 : v;
  }
  return new Int32Array(out.buffer);
}

/** 16-bit float bits below `infinity` (finite), with many ties and zeros of both signs. */
function words16(length: number, seed: number, infinity: number): Uint16Array {
  const next = mulberry32(seed);
  const out = new Uint16Array(length);
  for (let i = 0; i < length; i++) {
    const r = next() % 100;
    const key = r < 5 ? 0 : r < 50 ? 0x3000 + (next() % 40) : next() % infinity;
    out[i] = key | (next() % 2 === 0 ? 0x8000 : 0);
  }
  return out;
}

/** The key of rank `rank` (0-based) of `words` and how many keys are below it. */
function rankKey(words: Int32Array | Uint16Array, rank: number): { cut: number; below: number } {
  const mask = words instanceof Int32Array ? 0x7fffffff : 0x7fff;
  const keys = Array.from(words, (w) => w & mask).sort((a, b) => a - b);
  const cut = keys[rank];
  return { cut, below: keys.indexOf(cut) };
}

/** `magnitudeCut` on a copy of `words`, in pieces of the given lengths (multiples of 8). */
function cutIn(
  k: Kernels,
  words: Int32Array | Uint16Array,
  cut: number,
  ties: number,
  apply: boolean,
  pieces: readonly number[] = [],
) {
  const w = words.slice();
  const bits = new Uint8Array(Math.ceil(w.length / 8));
  const state = new Uint32Array([ties, 0, 0]);
  let at = 0;
  for (const p of [...pieces, w.length - pieces.reduce((a, b) => a + b, 0)]) {
    k.magnitudeCut(
      w.subarray(at, at + p),
      cut,
      apply,
      state,
      bits.subarray(at / 8, Math.ceil((at + p) / 8)),
    );
    at += p;
  }
  return { w, bits, state: [...state] };
}

const BAD_CALLS: ReadonlyArray<[string, (k: Kernels) => unknown]> = [
  [
    "words type",
    (k) => k.magnitudeHighHistogram(bad(new Float32Array(2)), 0, new Uint32Array(32768)),
  ],
  [
    "16-bit infinity",
    (k) => k.magnitudeHighHistogram(new Uint16Array(2), 0x7f00, new Uint32Array(32768)),
  ],
  ["hist length", (k) => k.magnitudeHighHistogram(new Int32Array(2), 0, new Uint32Array(100))],
  ["hist type", (k) => k.magnitudeHighHistogram(new Int32Array(2), 0, bad(new Int32Array(32768)))],
  [
    "low words type",
    (k) => k.magnitudeLowHistogram(bad(new Uint16Array(2)), 1, new Uint32Array(65536)),
  ],
  [
    "low high range",
    (k) => k.magnitudeLowHistogram(new Int32Array(2), 0x8000, new Uint32Array(65536)),
  ],
  ["low hist length", (k) => k.magnitudeLowHistogram(new Int32Array(2), 1, new Uint32Array(32768))],
  [
    "band words type",
    (k) =>
      k.magnitudeBand(bad(new Float32Array(2)), 0, 0, 1, new Int32Array(1), new Float64Array(2)),
  ],
  [
    "band lo above hi",
    (k) => k.magnitudeBand(new Int32Array(2), 0, 5, 4, new Int32Array(1), new Float64Array(2)),
  ],
  [
    "band hi past the keys",
    (k) =>
      k.magnitudeBand(new Int32Array(2), 0, 0, 2 ** 31, new Int32Array(1), new Float64Array(2)),
  ],
  [
    "band lo fraction",
    (k) => k.magnitudeBand(new Int32Array(2), 0, 0.5, 4, new Int32Array(1), new Float64Array(2)),
  ],
  [
    "band keys type",
    (k) =>
      k.magnitudeBand(new Int32Array(2), 0, 0, 4, bad(new Uint32Array(1)), new Float64Array(2)),
  ],
  [
    "band counts length",
    (k) => k.magnitudeBand(new Int32Array(2), 0, 0, 4, new Int32Array(1), new Float64Array(3)),
  ],
  [
    "band 16-bit infinity",
    (k) =>
      k.magnitudeBand(new Uint16Array(2), 0x7f00, 0, 4, new Int32Array(1), new Float64Array(2)),
  ],
  [
    "band 16-bit hi past the keys",
    (k) =>
      k.magnitudeBand(
        new Uint16Array(2),
        0x7c00,
        0,
        0x8000,
        new Int32Array(1),
        new Float64Array(2),
      ),
  ],
  [
    "band counts negative",
    (k) =>
      k.magnitudeBand(new Int32Array(2), 0, 0, 4, new Int32Array(1), new Float64Array([-1, 0])),
  ],
  [
    "cut below -1",
    (k) => k.magnitudeCut(new Int32Array(8), -2, true, new Uint32Array(3), new Uint8Array(1)),
  ],
  [
    "cut fraction",
    (k) => k.magnitudeCut(new Int32Array(8), 0.5, true, new Uint32Array(3), new Uint8Array(1)),
  ],
  [
    "apply type",
    (k) => k.magnitudeCut(new Int32Array(8), 1, bad(1), new Uint32Array(3), new Uint8Array(1)),
  ],
  [
    "state length",
    (k) => k.magnitudeCut(new Int32Array(8), 1, true, new Uint32Array(2), new Uint8Array(1)),
  ],
  [
    "bits length",
    (k) => k.magnitudeCut(new Int32Array(9), 1, true, new Uint32Array(3), new Uint8Array(1)),
  ],
  [
    "bin words type",
    (k) =>
      k.magnitudeBin(
        bad(new Uint16Array(2)),
        1,
        new Uint32Array(65536),
        new Uint32Array(1),
        new Uint16Array(1),
      ),
  ],
  [
    "bin lows length",
    (k) =>
      k.magnitudeBin(
        new Int32Array(2),
        1,
        new Uint32Array(65536),
        new Uint32Array(2),
        new Uint16Array(1),
      ),
  ],
  [
    "bin positions type",
    (k) =>
      k.magnitudeBin(new Int32Array(2), 1, new Uint32Array(65536), bad([0]), new Uint16Array(1)),
  ],
  [
    "apply bits short",
    (k) => k.magnitudeApplyBits(new Int32Array(9), new Uint8Array(1), 0, new Uint32Array(2)),
  ],
  [
    "apply bits infinity",
    (k) => k.magnitudeApplyBits(new Uint16Array(8), new Uint8Array(1), 0, new Uint32Array(2)),
  ],
  [
    "apply bits zeros",
    (k) => k.magnitudeApplyBits(new Int32Array(8), new Uint8Array(1), 0, new Uint32Array(3)),
  ],
];

/** The cases. */
export const MAGNITUDE_CASES: readonly ConformanceCase[] = [
  example("magnitudeCut() prunes below the cut and the first ties, keeping signs", (k) => {
    const f = new Float32Array([0.5, -3, 2, -0.5, 0, 1, -0, 0.5, 7]);
    const words = new Int32Array(f.buffer);
    const state = new Uint32Array([1, 0, 0]);
    const bits = new Uint8Array(2);
    k.magnitudeCut(words, new Int32Array(new Float32Array([0.5]).buffer)[0], true, state, bits);
    // 0 and -0 are below 0.5; of the three 0.5 magnitudes the first (element 0) is pruned.
    assert.deepEqual([...bits], [0b10101110, 0b1]);
    assert.deepEqual([...f].map((x) => Object.is(x, -0) ? "-0" : x), [
      0,
      -3,
      2,
      -0.5,
      0,
      1,
      "-0",
      0.5,
      7,
    ]);
    assert.deepEqual([...state], [0, 2, 3]);
    // Without apply: the same bits, the values and the zero counts untouched.
    const g = new Uint16Array([0x3c00, 0xbc00, 0x0001, 0x8000]);
    const s16 = new Uint32Array([1, 5, 5]);
    const b16 = new Uint8Array(1);
    k.magnitudeCut(g, 0x3c00, false, s16, b16);
    assert.deepEqual([...b16], [0b0010]);
    assert.deepEqual([...g], [0x3c00, 0xbc00, 0x0001, 0x8000]);
    assert.deepEqual([...s16], [0, 5, 5]);
  }),
  example("magnitudeCut() keeps every value at cut -1 and prunes every one at 2^31 - 1", (k) => {
    for (const words of [words32(21, 1), words16(21, 2, 0x7c00)]) {
      const kept = cutIn(k, words, -1, 0, true);
      assert.deepEqual([...kept.bits], [0xff, 0xff, 0x1f]);
      assert.deepEqual([...kept.w], [...words]);
      const pruned = cutIn(k, words, 0x7fffffff, 0, true);
      assert.deepEqual([...pruned.bits], [0, 0, 0]);
      const sign = words instanceof Int32Array ? -0x80000000 : 0x8000;
      assert.deepEqual([...pruned.w], [...words].map((w) => w & sign));
      assert.equal(pruned.state[2], 21);
    }
  }),
  example(
    "magnitudeHighHistogram() adds the high key bits and flags values that are not finite",
    (k) => {
      const f = new Float32Array([1, -1, 2, 0.5, -0, 3e38]);
      const hist = new Uint32Array(32768);
      hist[5] = 7;
      assert.equal(k.magnitudeHighHistogram(new Int32Array(f.buffer), 0, hist), true);
      assert.equal(hist[0x3f80], 2);
      assert.equal(hist[0], 1);
      assert.equal(hist[5], 7);
      assert.equal(hist.reduce((a, b) => a + b, 0), 13);
      for (const x of [NaN, Infinity, -Infinity]) {
        const w = new Int32Array(new Float32Array([1, 2, 3, x, 5]).buffer);
        assert.equal(k.magnitudeHighHistogram(w, 0, new Uint32Array(32768)), false, `${x}`);
      }
      // Keys whose bits together look like a NaN are each finite.
      const h = new Int32Array([0x7f000000, 0x00ffffff, 0, 0]);
      assert.equal(k.magnitudeHighHistogram(h, 0, new Uint32Array(32768)), true);
      const h16 = new Uint32Array(32768);
      assert.equal(
        k.magnitudeHighHistogram(new Uint16Array([0x3c00, 0xbc00, 0x7bff]), 0x7c00, h16),
        true,
      );
      assert.equal(h16[0x3c00], 2);
      assert.equal(k.magnitudeHighHistogram(new Uint16Array([1, 0xfc00]), 0x7c00, h16), false);
      assert.equal(k.magnitudeHighHistogram(new Uint16Array([0x7c00]), 0x7f80, h16), true);
      assert.equal(k.magnitudeHighHistogram(new Uint16Array([0x7fc0]), 0x7f80, h16), false);
    },
  ),
  example("magnitudeBand() counts the keys below the band and lists those in it", (k) => {
    const f = new Float32Array([1, -0.25, 2, -1.5, 0, 0.5, 4, -2, 1.5]);
    const key = (x: number) => new Int32Array(new Float32Array([x]).buffer)[0];
    const keys = new Int32Array(3);
    const counts = new Float64Array([10, 0]);
    assert.equal(k.magnitudeBand(new Int32Array(f.buffer), 0, key(1), key(2), keys, counts), true);
    // Below 1: -0.25, 0 and 0.5 (added to the 10 before); in [1, 2]: 1, 2, -1.5, -2, 1.5, of
    // which the first three fit the list.
    assert.deepEqual([...counts], [13, 5]);
    assert.deepEqual([...keys], [key(1), key(2), key(1.5)]);
    // A second call lists after the keys already listed, while there is room.
    const more = new Int32Array(4);
    const c2 = new Float64Array(2);
    k.magnitudeBand(new Int32Array(f.buffer.slice(0, 12)), 0, key(1), key(2), more, c2);
    k.magnitudeBand(
      new Int32Array(new Float32Array([1.25, 3]).buffer),
      0,
      key(1),
      key(2),
      more,
      c2,
    );
    assert.deepEqual([...more], [key(1), key(2), key(1.25), 0]);
    assert.deepEqual([...c2], [1, 3]);
    for (const x of [NaN, Infinity, -Infinity]) {
      const w = new Int32Array(new Float32Array([1, 2, 3, x, 5]).buffer);
      assert.equal(
        k.magnitudeBand(w, 0, 0, 2 ** 31 - 1, new Int32Array(0), new Float64Array(2)),
        false,
      );
    }
    // 16-bit words: 15-bit keys; float16's infinity is a finite bfloat16 value.
    const h = new Uint16Array([0x3c00, 0xbc00, 0x3800, 0x4000, 0x0001, 0x8000, 0x7bff]);
    const k16 = new Int32Array(8);
    const c16 = new Float64Array(2);
    assert.equal(k.magnitudeBand(h, 0x7c00, 0x3800, 0x3c00, k16, c16), true);
    assert.deepEqual([...c16], [2, 3]);
    assert.deepEqual([...k16.subarray(0, 3)], [0x3c00, 0x3c00, 0x3800]);
    const inf = new Uint16Array([1, 0x7c00]);
    assert.equal(k.magnitudeBand(inf, 0x7c00, 0, 0x7fff, k16, new Float64Array(2)), false);
    assert.equal(k.magnitudeBand(inf, 0x7f80, 0, 0x7fff, k16, new Float64Array(2)), true);
    assert.equal(
      k.magnitudeBand(new Uint16Array([0xff81]), 0x7f80, 0, 1, k16, new Float64Array(2)),
      false,
    );
  }),
  example("magnitudeBin() counts and lists the entries of one high-bits bin", (k) => {
    const f = new Float32Array([1, -1, 1.5, 2, 1.00001, -0, 1]);
    const hist = new Uint32Array(65536);
    const positions = new Uint32Array(2);
    const lows = new Uint16Array(2);
    const high = new Int32Array(new Float32Array([1]).buffer)[0] >>> 16;
    assert.equal(k.magnitudeBin(new Int32Array(f.buffer), high, hist, positions, lows), 4);
    assert.deepEqual([...positions], [0, 1]);
    assert.deepEqual([...lows], [0, 0]);
    assert.equal(hist[0], 3);
    assert.equal(hist.reduce((a, b) => a + b, 0), 4);
    const nan = new Int32Array(new Float32Array([1, NaN]).buffer);
    assert.equal(k.magnitudeBin(nan, high, hist, positions, lows), -1);
  }),
  example(
    "magnitudeApplyBits() masks whole finite groups and stops at a NaN or an infinity",
    (k) => {
      const f = new Float32Array(20).map((_, i) => i - 3);
      f[17] = Infinity;
      const zeros = new Uint32Array(2);
      assert.equal(
        k.magnitudeApplyBits(new Int32Array(f.buffer), new Uint8Array([0xaa, 0xff, 0]), 0, zeros),
        16,
      );
      assert.deepEqual([...f.subarray(0, 8)].map((x) => Object.is(x, -0) ? "-0" : x), [
        "-0",
        -2,
        "-0",
        0,
        0,
        2,
        0,
        4,
      ]);
      assert.deepEqual([...zeros], [1, 5]);
      const h = new Uint16Array([0x3c00, 0xbc00, 0, 0x8000, 1, 2, 3, 4, 0x7c00, 1]);
      assert.equal(k.magnitudeApplyBits(h, new Uint8Array([1, 0]), 0x7c00, zeros), 8);
      assert.deepEqual([...h.subarray(0, 5)], [0x3c00, 0x8000, 0, 0x8000, 0]);
      assert.deepEqual([...zeros], [3, 12]);
      // bfloat16: 0x7c00 is a finite value, 0x7f80 infinity.
      const b = new Uint16Array([0x7c00, 1, 1, 1, 1, 1, 1, 1, 0x7f80, 0, 0, 0, 0, 0, 0, 0]);
      assert.equal(
        k.magnitudeApplyBits(b, new Uint8Array([0xff, 0xff]), 0x7f80, new Uint32Array(2)),
        8,
      );
    },
  ),
  example("the magnitude passes reject bad arguments like the reference", (k) => {
    for (const [what, call] of BAD_CALLS) {
      const want = thrown(() => call(ref));
      const got = thrown(() => call(k));
      assert.ok(want !== undefined, `the reference accepts: ${what}`);
      assert.ok(got !== undefined, `no error for: ${what}`);
      assert.equal(got.constructor, want.constructor, `${what}: ${got.message}`);
      assert.equal(got.message, want.message, what);
    }
  }),
  example("the magnitude passes match the reference bit for bit, whole and in pieces", (k) => {
    const lengths = [1, 7, 8, 9, 63, 1001, (1 << 21) + 13];
    let seed = 10;
    for (const length of lengths) {
      for (const width of [4, 2, 2]) {
        const infinity = width === 4 ? 0 : seed % 2 === 0 ? 0x7c00 : 0x7f80;
        const words = width === 4 ? words32(length, seed++) : words16(length, seed++, infinity);
        const what = `length ${length}, width ${width}`;
        const h = new Uint32Array(32768);
        const hr = new Uint32Array(32768);
        assert.equal(
          k.magnitudeHighHistogram(words, infinity, h),
          ref.magnitudeHighHistogram(words, infinity, hr),
        );
        assert.deepEqual(h, hr, `${what}: high histogram`);
        const rank = Math.floor(length * 0.4);
        const { cut, below } = rankKey(words, rank);
        if (words instanceof Int32Array) {
          const l = new Uint32Array(65536);
          const lr = new Uint32Array(65536);
          k.magnitudeLowHistogram(words, cut >>> 16, l);
          ref.magnitudeLowHistogram(words, cut >>> 16, lr);
          assert.deepEqual(l, lr, `${what}: low histogram`);
        }
        const ties = rank + 1 - below;
        {
          // A band around the cut, listed with room for all, a few or none; whole and in pieces
          // (a non-finite value in the last piece).
          const wide = words instanceof Int32Array;
          const spread = wide ? 0x40000 : 0x40;
          const lo = Math.max(0, cut - spread);
          const hi = Math.min(wide ? 0x7fffffff : 0x7fff, cut + spread);
          for (const cap of [0, 3, length]) {
            const run = (x: Kernels, pieces: number) => {
              const w = words.slice();
              if (pieces > 1 && length > 100) w[length - 5] = wide ? 0x7f800000 : infinity;
              const keys = new Int32Array(cap);
              const counts = new Float64Array(2);
              const step = Math.ceil(length / pieces);
              const finite: boolean[] = [];
              for (let at = 0; at < length; at += step) {
                const piece = w.subarray(at, at + step);
                finite.push(x.magnitudeBand(piece, infinity, lo, hi, keys, counts));
              }
              return { finite, keys, counts: [...counts] };
            };
            for (const pieces of [1, 3]) {
              assert.deepEqual(
                run(k, pieces),
                run(ref, pieces),
                `${what}: band, cap ${cap}, ${pieces}`,
              );
            }
          }
        }
        if (words instanceof Int32Array) {
          for (const cap of [0, 3, length]) {
            const run = (x: Kernels) => {
              const hist = new Uint32Array(65536);
              const positions = new Uint32Array(cap);
              const lows = new Uint16Array(cap);
              const count = x.magnitudeBin(words, cut >>> 16, hist, positions, lows);
              return { count, hist, positions, lows };
            };
            assert.deepEqual(run(k), run(ref), `${what}: bin entries, cap ${cap}`);
          }
        }
        {
          const bits = new Uint8Array(Math.ceil(length / 8)).map((_, i) => (i * 37 + seed) & 0xff);
          const run = (x: Kernels) => {
            const w = words.slice();
            // A non-finite value near the end stops the masking at its group.
            if (length > 100) w[length - 20] = words instanceof Int32Array ? 0x7fc00000 : infinity;
            const zeros = new Uint32Array(2);
            const done = x.magnitudeApplyBits(w, bits, infinity || 0x7c00, zeros);
            return { done, w, zeros };
          };
          assert.deepEqual(run(k), run(ref), `${what}: apply bits`);
        }
        for (const apply of [true, false]) {
          const want = cutIn(ref, words, cut, ties, apply);
          const got = cutIn(k, words, cut, ties, apply);
          assert.deepEqual(got.bits, want.bits, `${what}, apply ${apply}: bits`);
          assert.deepEqual(got.w, want.w, `${what}, apply ${apply}: values`);
          assert.deepEqual(got.state, want.state, `${what}, apply ${apply}: state`);
          const eighth = Math.floor(length / 24) * 8;
          if (eighth > 0) {
            const parts = cutIn(k, words, cut, ties, apply, [eighth, 8, eighth]);
            assert.deepEqual(parts, got, `${what}, apply ${apply}: in pieces`);
          }
        }
      }
    }
  }),
];
