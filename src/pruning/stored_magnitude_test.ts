// Differential tests: the selection and masking on stored bits against the general path
// (`parameterMetric` → `kSmallestMask`, then `applyTargetMask` → `toFileBytes`), byte for byte.
import assert from "node:assert/strict";
import { test } from "node:test";
import { getKernels } from "../kernels/default.ts";
import { referenceKernels } from "../kernels/reference.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import { toFloat32 } from "../model/to_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import type { DType } from "../tensor/dtype.ts";
import { BAND_FROM, bandCut, bandSampleIndices } from "./_magnitude_band.ts";
import { unpackBits } from "./_mask_bits.ts";
import { applyTargetMask } from "./apply_target_mask.ts";
import { parameterMetric } from "./prune.ts";
import { PruningError } from "./pruning_error.ts";
import {
  maskSmallestMagnitude,
  maskSmallestMagnitudeInPieces,
  maskStoredInPlace,
  smallestMagnitudeBits,
  storedMagnitudeReadable,
} from "./stored_magnitude.ts";
import type { PrunerName, PruningTarget } from "./types.ts";

/** A deterministic generator of 32-bit words. */
function words(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s ^ (s >>> 15)) >>> 0;
  };
}

/** Stored values with many ties: magnitudes from a few patterns, random signs, some zeros. */
function stored(dtype: DType, n: number, seed: number, distinct = 7): Uint8Array {
  const next = words(seed);
  const pool: number[] = [];
  for (let i = 0; i < distinct; i++) {
    pool.push(dtype === "F32" ? next() % 0x7f800000 : next() % (dtype === "F16" ? 0x7c00 : 0x7f80));
  }
  pool.push(0);
  if (dtype === "F32") {
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const r = next();
      a[i] = (pool[r % pool.length] | (r & 0x100 ? 0x80000000 : 0)) >>> 0;
    }
    return new Uint8Array(a.buffer);
  }
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const r = next();
    a[i] = pool[r % pool.length] | (r & 0x100 ? 0x8000 : 0);
  }
  return new Uint8Array(a.buffer);
}

function targetOf(n: number): PruningTarget {
  return { module: "fc", target: "weight", kind: "parameter", shape: [n], setting: {} };
}

function refOf(dtype: DType, n: number): TensorRef {
  return {
    name: "fc.weight",
    dtype,
    shape: [n],
    fileShape: [n],
    data: () => Promise.resolve(new Float32Array(n)),
    bytes: () => Promise.resolve(new Uint8Array(0)),
  };
}

/** The general path's mask: the pruner's metric, then `kSmallestMask`. */
function expectedMask(
  bytes: Uint8Array,
  dtype: DType,
  k: number,
  kernels: Kernels,
  pruner: PrunerName = "level",
): Uint8Array {
  const values = toFloat32(bytes, dtype, kernels);
  const metric = parameterMetric(values, targetOf(values.length), { pruner, kernels });
  return kernels.kSmallestMask(metric, k);
}

/** The general path's output bytes and zero counts. */
function expectedBytes(bytes: Uint8Array, dtype: DType, mask: Uint8Array, kernels: Kernels) {
  const values = toFloat32(bytes, dtype, kernels);
  let zerosBefore = 0;
  for (const v of values) if (v === 0) zerosBefore++;
  const after = applyTargetMask(values, mask, { kernels });
  let zerosAfter = 0;
  for (const v of after) if (v === 0) zerosAfter++;
  return {
    bytes: toFileBytes(refOf(dtype, values.length), after, kernels),
    counts: { zerosBefore, zerosAfter },
  };
}

const DTYPES: DType[] = ["F32", "F16", "BF16"];

for (const dtype of DTYPES) {
  test(`${dtype}: the k smallest |w| from the bits are kSmallestMask's mask, ties included`, () => {
    for (const kernels of [getKernels(), referenceKernels]) {
      for (const [n, distinct] of [[1, 1], [7, 2], [8, 3], [1003, 5], [70001, 40]]) {
        const bytes = stored(dtype, n, n + distinct, distinct);
        const ks = [0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 1, n];
        for (const k of ks.filter((k) => k >= 0 && k <= n)) {
          const bits = smallestMagnitudeBits(bytes, dtype, k, kernels)!;
          assert.equal(bits.length, Math.ceil(n / 8));
          const mask = expectedMask(bytes, dtype, k, kernels);
          assert.deepEqual(unpackBits(bits, n), mask, `${kernels.name}, n ${n}, k ${k}`);
          // The bits past the last element stay 0 (as `packBits` leaves them).
          if (n % 8 !== 0) assert.equal(bits[bits.length - 1] >> (n % 8), 0);
        }
      }
    }
  });

  test(`${dtype}: l1 and l2 on one-element blocks select the same mask as level`, () => {
    const bytes = stored(dtype, 4099, 11, 9);
    const bits = smallestMagnitudeBits(bytes, dtype, 2000)!;
    for (const pruner of ["l1", "l2"] as const) {
      assert.deepEqual(
        unpackBits(bits, 4099),
        expectedMask(bytes, dtype, 2000, getKernels(), pruner),
      );
    }
  });

  test(`${dtype}: an all-zero tensor prunes its first k elements`, () => {
    const bytes = new Uint8Array(1001 * (dtype === "F32" ? 4 : 2));
    for (const k of [0, 1, 500, 1001]) {
      const bits = smallestMagnitudeBits(bytes, dtype, k)!;
      assert.deepEqual(unpackBits(bits, 1001), expectedMask(bytes, dtype, k, getKernels()));
    }
  });

  test(`${dtype}: masking in place gives applyTargetMask's bytes and zeros`, () => {
    for (const n of [1, 13, 4096, 70001]) {
      const bytes = stored(dtype, n, 3 * n, 6);
      const bits = smallestMagnitudeBits(bytes, dtype, Math.floor(n / 2))!;
      const want = expectedBytes(bytes, dtype, unpackBits(bits, n), getKernels());
      const got = bytes.slice();
      const counts = maskStoredInPlace(got, dtype, bits, getKernels());
      assert.deepEqual(got, want.bytes);
      assert.deepEqual(counts, want.counts);
    }
  });

  test(`${dtype}: NaN or an infinity stops the selection; parameterMetric reports it`, () => {
    const width = dtype === "F32" ? 4 : 2;
    const inf = dtype === "F32" ? 0x7f800000 : dtype === "F16" ? 0x7c00 : 0x7f80;
    for (const bad of [inf, inf + 1, inf | (width === 4 ? 0x80000000 : 0x8000)]) {
      const bytes = stored(dtype, 100, 5);
      const view = width === 4 ? new Uint32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
      view[37] = bad;
      assert.equal(smallestMagnitudeBits(bytes, dtype, 10), undefined);
      assert.throws(
        () => expectedMask(bytes, dtype, 10, getKernels()),
        (e) => e instanceof PruningError && e.code === "non_finite",
      );
    }
  });

  test(`${dtype}: values that are not finite are masked as the kernels mask them`, () => {
    const width = dtype === "F32" ? 4 : 2;
    const inf = dtype === "F32" ? 0x7f800000 : dtype === "F16" ? 0x7c00 : 0x7f80;
    const n = 200003;
    const bytes = stored(dtype, n, 9);
    const view = width === 4 ? new Uint32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
    const bits = smallestMagnitudeBits(bytes, dtype, 90000)!;
    // NaN, -Infinity and Infinity, kept and pruned, in the middle and in the last group.
    for (
      const [i, v] of [[5, inf + 3], [6, inf], [70000, inf + 1], [n - 2, inf], [n - 1, inf + 2]]
    ) {
      view[i] = width === 4 ? (v | (i % 2 ? 0x80000000 : 0)) >>> 0 : v | (i % 2 ? 0x8000 : 0);
    }
    bits[0] = 0b00100000; // element 5 pruned, 6 kept
    const want = expectedBytes(bytes, dtype, unpackBits(bits, n), getKernels());
    const got = bytes.slice();
    assert.deepEqual(maskStoredInPlace(got, dtype, bits, getKernels()), want.counts);
    assert.deepEqual(got, want.bytes);
  });
}

test("F16: every finite bit pattern is masked as applyTargetMask and toFileBytes do", () => {
  const all = new Uint16Array(65536);
  let n = 0;
  for (let h = 0; h < 65536; h++) if ((h & 0x7fff) < 0x7c00) all[n++] = h;
  const bytes = new Uint8Array(all.buffer, 0, n * 2);
  const next = words(1);
  const bits = new Uint8Array(Math.ceil(n / 8)).map(() => next() & 0xff);
  const want = expectedBytes(bytes, "F16", unpackBits(bits, n), getKernels());
  const got = bytes.slice();
  assert.deepEqual(maskStoredInPlace(got, "F16", bits, getKernels()), want.counts);
  assert.deepEqual(got, want.bytes);
  // And the order of their magnitudes is kSmallestMask's.
  for (const k of [1, 1000, 30000, n - 1]) {
    assert.deepEqual(
      unpackBits(smallestMagnitudeBits(bytes, "F16", k)!, n),
      expectedMask(bytes, "F16", k, getKernels()),
    );
  }
});

test("unaligned bytes and other dtypes are refused", () => {
  const bytes = new Uint8Array(17).subarray(1, 9);
  assert.equal(storedMagnitudeReadable(bytes, "F32"), false);
  assert.equal(storedMagnitudeReadable(bytes, "F64"), false);
  assert.throws(() => smallestMagnitudeBits(bytes, "F32", 1), TypeError);
  assert.throws(() => smallestMagnitudeBits(new Uint8Array(8), "F32", 3), RangeError);
  assert.throws(
    () => maskStoredInPlace(new Uint8Array(72), "F32", new Uint8Array(2), getKernels()),
    RangeError,
  );
});

test("maskSmallestMagnitude gives the bits, bytes and counts of smallestMagnitudeBits then maskStoredInPlace", () => {
  const kernels = getKernels();
  for (const dtype of ["F32", "F16", "BF16"] as const) {
    for (const n of [0, 1, 7, 8, 9, 63, 64, 1001]) {
      for (const distinct of [1, 3, 50]) {
        const ks = [...new Set([0, 1, n >> 2, n >> 1, n - 1, n].filter((k) => k >= 0 && k <= n))];
        for (const k of ks) {
          const source = stored(dtype, n, n * 31 + k + distinct, distinct);
          const a = source.slice();
          const b = source.slice();
          const bits = smallestMagnitudeBits(a, dtype, k)!;
          const counts = maskStoredInPlace(a, dtype, bits, kernels);
          const fused = maskSmallestMagnitude(b, dtype, k)!;
          const what = `${dtype} n=${n} k=${k} distinct=${distinct}`;
          assert.deepEqual(fused.bits, bits, what);
          assert.deepEqual(b, a, what);
          assert.deepEqual([fused.zerosBefore, fused.zerosAfter], [
            counts.zerosBefore,
            counts.zerosAfter,
          ], what);
        }
      }
    }
  }
  // A NaN: undefined, and the bytes are left as they were.
  const w = new Float32Array([1, NaN, 2]);
  const before = new Uint8Array(w.buffer).slice();
  assert.equal(maskSmallestMagnitude(new Uint8Array(w.buffer), "F32", 1), undefined);
  assert.deepEqual(new Uint8Array(w.buffer), before);
});

/** `maskSmallestMagnitudeInPieces` over `source`, read and written through `piece`. */
async function inPieces(
  source: Uint8Array,
  dtype: DType,
  k: number,
  piece: Uint8Array,
  kernels: Kernels = getKernels(),
) {
  const out = new Uint8Array(source.length).fill(0xa5);
  const reads: number[] = [];
  const r = await maskSmallestMagnitudeInPieces(
    (offset, into) => {
      reads.push(offset);
      into.set(source.subarray(offset, offset + into.length));
      return Promise.resolve();
    },
    (offset, bytes) => {
      assert.equal(offset % piece.length, 0);
      out.set(bytes, offset);
      return Promise.resolve();
    },
    source.length,
    dtype,
    k,
    piece,
    kernels,
  );
  return { r, out, reads };
}

test("maskSmallestMagnitudeInPieces gives maskSmallestMagnitude's bits, bytes and counts, in any pieces", async () => {
  for (const kernels of [getKernels(), referenceKernels]) {
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      for (const n of [0, 1, 9, 64, 1001, 5000]) {
        for (const distinct of [1, 3, 50]) {
          const ks = [...new Set([0, 1, n >> 2, n >> 1, n - 1, n].filter((k) => k >= 0 && k <= n))];
          for (const k of ks) {
            for (const size of [32, 96, 4096]) {
              const source = stored(dtype, n, n * 17 + k + distinct, distinct);
              const whole = source.slice();
              const want = maskSmallestMagnitude(whole, dtype, k, kernels)!;
              const { r, out } = await inPieces(source, dtype, k, new Uint8Array(size), kernels);
              const what =
                `${kernels.name} ${dtype} n=${n} k=${k} distinct=${distinct} piece ${size}`;
              assert.deepEqual(r!.bits, want.bits, what);
              assert.deepEqual(out, whole, what);
              assert.deepEqual([r!.zerosBefore, r!.zerosAfter], [
                want.zerosBefore,
                want.zerosAfter,
              ]);
            }
          }
        }
      }
    }
  }
});

test("maskSmallestMagnitudeInPieces on a layer-sized tensor: the band's result, three reads of each piece", async () => {
  for (const dtype of DTYPES) {
    const { bytes } = storedAs(layerLike(300, 1001, 7), dtype);
    const n = 300 * 1001;
    const k = Math.floor(n / 2);
    const whole = bytes.slice();
    const want = maskSmallestMagnitude(whole, dtype, k)!;
    const { r, out, reads } = await inPieces(bytes, dtype, k, new Uint8Array(1 << 16));
    assert.deepEqual(r!.bits, want.bits, dtype);
    assert.deepEqual(out, whole, dtype);
    // The histograms (the low bits' only for float32), then the cut.
    const pieces = Math.ceil(bytes.length / (1 << 16));
    assert.equal(reads.length, pieces * (dtype === "F32" ? 3 : 2), dtype);
  }
});

test("maskSmallestMagnitudeInPieces: a NaN or an infinity gives undefined before anything is written", async () => {
  const w = new Float32Array(1000).map((_, i) => i - 500);
  w[900] = NaN;
  let wrote = 0;
  const bytes = new Uint8Array(w.buffer);
  const r = await maskSmallestMagnitudeInPieces(
    (offset, into) => Promise.resolve(into.set(bytes.subarray(offset, offset + into.length))),
    () => Promise.resolve(void wrote++),
    bytes.length,
    "F32",
    10,
    new Uint8Array(64),
  );
  assert.equal(r, undefined);
  assert.equal(wrote, 0);
  const h = new Uint16Array([0x3c00, 0x7c00]);
  assert.equal(
    await inPieces(new Uint8Array(h.buffer), "F16", 1, new Uint8Array(32)).then((x) => x.r),
    undefined,
  );
});

test("maskSmallestMagnitudeInPieces refuses other dtypes, partial values, unfit pieces and k out of range", async () => {
  const piece = new Uint8Array(64);
  const none = () => Promise.resolve();
  await assert.rejects(
    maskSmallestMagnitudeInPieces(none, none, 8, "I8", 1, piece),
    /current dtype is I8, byte length 8/,
  );
  await assert.rejects(
    maskSmallestMagnitudeInPieces(none, none, 6, "F32", 1, piece),
    /current dtype is F32, byte length 6/,
  );
  await assert.rejects(
    maskSmallestMagnitudeInPieces(none, none, 8, "F32", 1, new Uint8Array(48)),
    /"piece" must be 4-byte aligned and a multiple of 32 bytes long: current byte offset 0, length 48/,
  );
  await assert.rejects(
    maskSmallestMagnitudeInPieces(none, none, 8, "F32", 3, piece),
    /"k" must be an integer in \[0, 2\]: current value is 3/,
  );
});

/** Float32 weights shaped like a layer's: rows of `cols` whose columns have scales of their own. */
function layerLike(rows: number, cols: number, seed: number): Float32Array {
  const next = words(seed);
  const scale = Array.from({ length: cols }, () => 0.01 + (next() % 1000) / 1000);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    // A sum of uniforms: near-normal, with a few exact zeros and ties.
    const u = (next() % 4096) + (next() % 4096) + (next() % 4096) - 6144;
    out[i] = (u / 2048) * scale[i % cols];
  }
  return out;
}

/** `values` stored as `dtype`, and their words (float32 or 16-bit bits). */
function storedAs(values: Float32Array, dtype: DType) {
  const bytes = dtype === "F32"
    ? new Uint8Array(values.slice().buffer)
    : toFileBytes(refOf(dtype, values.length), values, getKernels());
  const words = dtype === "F32"
    ? new Int32Array(bytes.buffer, bytes.byteOffset, values.length)
    : new Uint16Array(bytes.buffer, bytes.byteOffset, values.length);
  return { bytes, words, infinity: dtype === "F16" ? 0x7c00 : dtype === "BF16" ? 0x7f80 : 0 };
}

/** The cut of rank `rank` and the keys below it, counted from the keys themselves. */
function cutOf(words: Int32Array | Uint16Array, rank: number): { cut: number; below: number } {
  const top = words instanceof Int32Array ? 0x7fffffff : 0x7fff;
  const keys = Int32Array.from(words, (w) => w & top).sort();
  const cut = keys[rank];
  return { cut, below: keys.indexOf(cut) };
}

const bins = () => [new Uint32Array(32768), new Uint32Array(65536)] as const;

for (const dtype of DTYPES) {
  test(`${dtype} from BAND_FROM values: the sampled band finds the cut of every rank, and the mask is kSmallestMask's`, () => {
    for (const kernels of [getKernels(), referenceKernels]) {
      for (const [rows, cols] of [[256, 256], [300, 1001], [1, BAND_FROM]]) {
        const { bytes, words, infinity } = storedAs(layerLike(rows, cols, rows + cols), dtype);
        const n = words.length;
        for (
          const k of [1, 7, Math.floor(n * 0.3), Math.floor(n / 2), Math.floor(n * 0.9), n - 1]
        ) {
          const what = `${kernels.name} ${rows}x${cols} k ${k}`;
          const found = bandCut(words, infinity, k - 1, kernels, ...bins());
          assert.deepEqual(found, cutOf(words, k - 1), what);
          const bits = smallestMagnitudeBits(bytes, dtype, k, kernels)!;
          assert.deepEqual(unpackBits(bits, n), expectedMask(bytes, dtype, k, kernels), what);
          const copy = bytes.slice();
          const masked = maskSmallestMagnitude(copy, dtype, k, kernels)!;
          const want = expectedBytes(bytes, dtype, unpackBits(bits, n), kernels);
          assert.deepEqual(copy, want.bytes);
          assert.deepEqual([masked.zerosBefore, masked.zerosAfter], [
            want.counts.zerosBefore,
            want.counts.zerosAfter,
          ]);
        }
      }
    }
  });

  test(`${dtype}: a sample unlike the tensor, or a band of many equal keys, falls back to the full histograms with the same mask`, () => {
    const n = 3 * BAND_FROM + 5;
    // Every sampled value the largest of the tensor: the band sits above the cut.
    const unlikeValues = layerLike(1, n, 3);
    for (const i of bandSampleIndices(n)) unlikeValues[i] = 30000;
    // Two thirds of the values one magnitude: the band's list overflows.
    const tiedValues = layerLike(1, n, 4);
    for (let i = 0; i < n; i++) if (i % 3 !== 0) tiedValues[i] = i % 2 === 0 ? 0.5 : -0.5;
    const unlike = storedAs(unlikeValues, dtype);
    const tied = storedAs(tiedValues, dtype);
    for (const kernels of [getKernels(), referenceKernels]) {
      for (const { bytes, words, infinity } of [unlike, tied]) {
        for (const k of [1000, Math.floor(n / 2), n - 2000]) {
          // Missed: the cut below the sampled values, or in the tied magnitude. Elsewhere the
          // band may hold the cut (in `unlike`, the top ranks are the sampled values).
          const missed = words === unlike.words
            ? k <= n - bandSampleIndices(n).length
            : k === Math.floor(n / 2);
          const found = bandCut(words, infinity, k - 1, kernels, ...bins());
          if (missed) assert.equal(found, undefined, `k ${k}`);
          else if (found !== undefined) assert.deepEqual(found, cutOf(words, k - 1), `k ${k}`);
          const bits = smallestMagnitudeBits(bytes, dtype, k, kernels)!;
          assert.deepEqual(unpackBits(bits, n), expectedMask(bytes, dtype, k, kernels));
        }
      }
      // A NaN or an infinity, sampled or not, is reported by the band pass.
      for (const bad of [NaN, Infinity]) {
        const values = layerLike(1, n, 5);
        values[n - 3] = bad;
        const { bytes, words, infinity } = storedAs(values, dtype);
        assert.equal(bandCut(words, infinity, 10, kernels, ...bins()), null);
        assert.equal(smallestMagnitudeBits(bytes, dtype, 10, kernels), undefined);
      }
    }
  });
}
