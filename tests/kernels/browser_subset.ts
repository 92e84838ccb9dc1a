/**
 * A deterministic subset of the kernel conformance checks with no test-runner or fast-check
 * dependency, for bundling into a browser page or running with no permissions: it compares a
 * `Kernels` implementation with `referenceKernels` on seeded data (special values, ties, lengths
 * that are not multiples of 4 or 16, views at an offset) and on a few bad arguments.
 *
 * @module
 */

import { referenceKernels as ref } from "../../src/kernels/reference.ts";
import type { IntCodes, Kernels, QuantParams } from "../../src/kernels/types.ts";
import { FLOAT_TOLERANCE, REDUCTIONS } from "../../src/kernels/types.ts";
import { bitsOf, mulberry32, PALETTES, randomFloat32Array, sameFloat } from "./_prng.ts";

/** The outcome of `runBrowserSubset`. */
export interface BrowserSubsetResult {
  /** Checks that passed. */
  readonly passed: number;
  /** Checks that failed. */
  readonly failed: number;
  /** One line per failed check: its name and what differed. */
  readonly failures: string[];
}

const LENGTHS = [0, 1, 3, 15, 17, 33, 1000, 65537];
const LAYOUTS: ReadonlyArray<[number[], number[]]> = [
  [[7, 9], [1, -1]],
  [[7, 9], [-1, 1]],
  [[6, 10], [2, 5]],
  [[3, 5, 17], [1, -1, -1]],
  [[33], [-1]],
  [[], []],
  [[129, 67], [1, -1]],
];
const CODES: ReadonlyArray<[(n: number) => IntCodes, number, number]> = [
  [(n) => new Int8Array(n), -127, 127],
  [(n) => new Uint8Array(n), 0, 255],
  [(n) => new Int8Array(n), -8, 7],
  [(n) => new Int32Array(n), -(2 ** 31), 2 ** 31 - 1],
];

const show = (x: number) => (Object.is(x, -0) ? "-0" : String(x));

function sameArrays(got: ArrayLike<number>, want: ArrayLike<number>): string | undefined {
  if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    if (!sameFloat(got[i], want[i])) return `[${i}] = ${show(got[i])}, want ${show(want[i])}`;
  }
  return undefined;
}

function errorOf(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
  return "no error";
}

/** The checks, each returning undefined when it passes or a description of the difference. */
function checks(k: Kernels): Array<[string, () => string | undefined]> {
  const list: Array<[string, () => string | undefined]> = [];
  const add = (name: string, check: () => string | undefined) => list.push([name, check]);
  PALETTES.forEach((palette, p) => {
    for (const n of LENGTHS) {
      const data = randomFloat32Array(n, 1000 * p + n, palette, n % 3);
      const at = `${palette} n=${n}`;
      for (const kk of [0, 1, Math.floor(n / 3), n].filter((x) => x <= n)) {
        add(
          `kSmallestMask ${at} k=${kk}`,
          () => sameArrays(k.kSmallestMask(data, kk), ref.kSmallestMask(data, kk)),
        );
      }
      if (n > 0) {
        const parts = [data.subarray(0, n >> 1), data.subarray(n >> 1)];
        for (const kk of [0, n >> 1, n - 1]) {
          add(
            `kthSmallest ${at} k=${kk}`,
            () => sameArrays([k.kthSmallest(parts, kk)], [ref.kthSmallest(parts, kk)]),
          );
        }
      }
      add(
        `histogram ${at}`,
        () => sameArrays(k.histogram(data, -2, 3, 37), ref.histogram(data, -2, 3, 37)),
      );
      // A data value, and a number just above it that float32 cannot hold (it must not round).
      const x = n > 0 && Number.isFinite(data[n >> 1]) ? data[n >> 1] : 0.1;
      for (const t of [0.1, x, x + Math.abs(x) * 2 ** -30]) {
        add(
          `thresholdMask ${at} t=${t}`,
          () => sameArrays(k.thresholdMask(data, t), ref.thresholdMask(data, t)),
        );
      }
      const mask = ref.thresholdMask(data, 0);
      for (const method of ["mul", "add"] as const) {
        add(
          `applyMask ${method} ${at}`,
          () =>
            sameArrays(
              bitsOf(k.applyMask(data, mask, method)),
              bitsOf(ref.applyMask(data, mask, method)),
            ),
        );
      }
      add(`f32ToF16 ${at}`, () => sameArrays(k.f32ToF16(data), ref.f32ToF16(data)));
      add(`f32ToBf16 ${at}`, () => sameArrays(k.f32ToBf16(data), ref.f32ToBf16(data)));
    }
  });
  const all16 = new Uint16Array(0x10000).map((_, i) => i);
  add(
    "f16ToF32 on every pattern",
    () => sameArrays(bitsOf(k.f16ToF32(all16)), bitsOf(ref.f16ToF32(all16))),
  );
  add(
    "bf16ToF32 on every pattern",
    () => sameArrays(bitsOf(k.bf16ToF32(all16)), bitsOf(ref.bf16ToF32(all16))),
  );
  LAYOUTS.forEach(([shape, kernel], l) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const at = `[${shape}] by [${kernel}]`;
    const data = randomFloat32Array(size, 77 + l, "mixed", 1);
    const l1 = ref.blockReduce(data, shape, kernel, "l1");
    for (const op of REDUCTIONS) {
      add(`blockReduce ${op} ${at}`, () => {
        const got = k.blockReduce(data, shape, kernel, op);
        const want = ref.blockReduce(data, shape, kernel, op);
        if (got.length !== want.length) return `length ${got.length}, want ${want.length}`;
        for (let b = 0; b < want.length; b++) {
          const scale = op === "sum"
            ? l1[b]
            : op === "mean"
            ? l1[b] * want.length / size
            : Math.abs(want[b]);
          const ok = sameFloat(got[b], want[b]) ||
            Math.abs(got[b] - want[b]) <=
              FLOAT_TOLERANCE.blockReduce * Math.max(Math.abs(want[b]), scale);
          if (!ok) return `[${b}] = ${got[b]}, want ${want[b]}`;
        }
        return undefined;
      });
    }
    const blockMask = ref.thresholdMask(ref.blockReduce(data, shape, kernel, "sum"), 0);
    add(
      `blockExpand ${at}`,
      () =>
        sameArrays(
          k.blockExpand(blockMask, shape, kernel),
          ref.blockExpand(blockMask, shape, kernel),
        ),
    );
    add(`minMax ${at}`, () => {
      const got = k.minMax(data, shape, kernel);
      const want = ref.minMax(data, shape, kernel);
      // Values, not bits: a NaN result's sign and payload are not specified (see types.ts).
      return sameArrays(got.min, want.min) ?? sameArrays(got.max, want.max);
    });
    CODES.forEach(([make, qmin, qmax], c) => {
      const gridSize = ref.blockReduce(data, shape, kernel, "sum").length;
      const next = mulberry32(31 * l + c);
      const params: QuantParams = {
        kernel,
        scale: new Float32Array(gridSize).map(() => Math.fround(0.001 + (next() % 1000) / 997)),
        zeroPoint: new Float32Array(gridSize).map(() =>
          qmin + (next() % Math.min(qmax - qmin + 1, 256))
        ),
        qmin,
        qmax,
      };
      const what = `${at} in [${qmin}, ${qmax}]`;
      const codes = ref.quantize(data, shape, params, make(size));
      add(`quantize ${what}`, () => sameArrays(k.quantize(data, shape, params, make(size)), codes));
      add(
        `dequantize ${what}`,
        () =>
          sameArrays(
            bitsOf(k.dequantize(codes, shape, params)),
            bitsOf(ref.dequantize(codes, shape, params)),
          ),
      );
      add(
        `fakeQuantize ${what}`,
        () =>
          sameArrays(
            bitsOf(k.fakeQuantize(data, shape, params)),
            bitsOf(ref.fakeQuantize(data, shape, params)),
          ),
      );
    });
  });
  for (const n of [0, 1, 2, 15, 33]) {
    const next = mulberry32(n);
    const signed = new Int8Array(n).map(() => (next() % 16) - 8);
    const unsigned = new Uint8Array(n).map(() => next() % 16);
    add(`packInt4 signed n=${n}`, () => sameArrays(k.packInt4(signed), ref.packInt4(signed)));
    add(`packInt4 unsigned n=${n}`, () => sameArrays(k.packInt4(unsigned), ref.packInt4(unsigned)));
    const packed = ref.packInt4(signed);
    for (const isSigned of [true, false]) {
      add(
        `unpackInt4 signed=${isSigned} n=${n}`,
        () => sameArrays(k.unpackInt4(packed, n, isSigned), ref.unpackInt4(packed, n, isSigned)),
      );
    }
  }
  // The magnitude passes on stored bits: float32 values with ties and signed zeros, and float16.
  for (const n of [1, 9, 33, 1000, 65537]) {
    const next = mulberry32(n + 7);
    const f = new Float32Array(n).map(() => ((next() % 33) - 16) / 8);
    const words32 = new Int32Array(f.buffer);
    const words16 = new Uint16Array(n).map(() => next() % 0x7c00 | (next() % 2) << 15);
    for (const [words, infinity] of [[words32, 0], [words16, 0x7c00]] as const) {
      const label = `n=${n} ${words instanceof Int32Array ? "float32" : "float16"}`;
      add(`magnitudeHighHistogram ${label}`, () => {
        const got = new Uint32Array(32768);
        const want = new Uint32Array(32768);
        const a = k.magnitudeHighHistogram(words, infinity, got);
        const b = ref.magnitudeHighHistogram(words, infinity, want);
        return a !== b ? `finite ${a}, want ${b}` : sameArrays(got, want);
      });
      const key = words[n >> 1] & (infinity === 0 ? 0x7fffffff : 0x7fff);
      add(`magnitudeCut ${label}`, () => {
        const run = (x: Kernels) => {
          const w = words.slice();
          const state = new Uint32Array([3, 0, 0]);
          const bits = new Uint8Array(Math.ceil(n / 8));
          x.magnitudeCut(w, key, true, state, bits);
          return [...bits, ...state, ...w];
        };
        return sameArrays(run(k), run(ref));
      });
    }
    for (const [words, infinity] of [[words32, 0], [words16, 0x7c00]] as const) {
      add(`magnitudeBand n=${n} ${infinity === 0 ? "float32" : "float16"}`, () => {
        const key = words[n >> 1] & (infinity === 0 ? 0x7fffffff : 0x7fff);
        const run = (x: Kernels) => {
          const keys = new Int32Array(n >> 2);
          const counts = new Float64Array(2);
          const finite = x.magnitudeBand(words, infinity, key >> 1, key, keys, counts);
          return [Number(finite), ...counts, ...keys];
        };
        return sameArrays(run(k), run(ref));
      });
    }
  }
  // deno-lint-ignore no-explicit-any
  const bad = (x: unknown) => x as any;
  const badCalls: Array<[string, (kernels: Kernels) => unknown]> = [
    ["k above n", (x) => x.kSmallestMask(new Float32Array(3), 4)],
    ["kernel not dividing", (x) => x.blockReduce(new Float32Array(6), [2, 3], [1, 2], "sum")],
    ["unknown reduction", (x) => x.blockReduce(new Float32Array(2), [2], [-1], bad("max"))],
    [
      "zero scale",
      (x) =>
        x.fakeQuantize(new Float32Array(1), [1], {
          kernel: [-1],
          scale: new Float32Array(1),
          zeroPoint: new Float32Array(1),
          qmin: 0,
          qmax: 7,
        }),
    ],
    [
      "out too small",
      (x) =>
        x.quantize(new Float32Array(1), [1], {
          kernel: [-1],
          scale: new Float32Array([1]),
          zeroPoint: new Float32Array(1),
          qmin: 0,
          qmax: 255,
        }, new Int8Array(1)),
    ],
    ["int4 code range", (x) => x.packInt4(new Int8Array([8]))],
  ];
  for (const [name, call] of badCalls) {
    add(`error for ${name}`, () => {
      const got = errorOf(() => call(k));
      const want = errorOf(() => call(ref));
      return got === want ? undefined : `${got}, want ${want}`;
    });
  }
  return list;
}

/**
 * Runs the deterministic subset of the conformance checks on `kernels`, comparing with
 * `referenceKernels`. Never throws: an exception inside a check counts as its failure.
 *
 * @param kernels The implementation to check.
 * @returns How many checks passed and failed, and a line per failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceKernels } from "../../src/kernels/reference.ts";
 * import { runBrowserSubset } from "./browser_subset.ts";
 *
 * const result = runBrowserSubset(referenceKernels);
 * assert.deepEqual(result.failures, []);
 * assert.ok(result.passed > 0);
 * ```
 */
export function runBrowserSubset(kernels: Kernels): BrowserSubsetResult {
  let passed = 0;
  const failures: string[] = [];
  for (const [name, check] of checks(kernels)) {
    let problem: string | undefined;
    try {
      problem = check();
    } catch (error) {
      problem = `threw ${(error as Error)?.name}: ${(error as Error)?.message}`;
    }
    if (problem === undefined) passed++;
    else failures.push(`${name}: ${problem}`);
  }
  return { passed, failed: failures.length, failures };
}
