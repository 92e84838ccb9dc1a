/**
 * Conformance cases of the linear-algebra kernels (`hessianAccumulate`, `inverseCholeskyUpper`,
 * `subtractProducts`): hand-computed examples, argument errors compared with `referenceKernels`,
 * and bit-for-bit agreement with the reference on sizes that cross every block edge of the
 * WebAssembly build (register tiles of 4 x 8, packed blocks of 128 terms x 512 columns, panels
 * of 32). Every element receives its terms in the same order in both implementations, so the
 * results must be identical, not merely close.
 *
 * @module
 */

import assert from "node:assert/strict";
import { referenceKernels as ref } from "../../src/kernels/reference.ts";
import type { Kernels } from "../../src/kernels/types.ts";
import type { ConformanceCase } from "./_properties.ts";
import { mulberry32 } from "./_prng.ts";

const f32 = (...xs: number[]) => new Float32Array(xs);
const fr = Math.fround;
// deno-lint-ignore no-explicit-any
const bad = (x: unknown) => x as any;

function example(sentence: string, run: (kernels: Kernels) => void): ConformanceCase {
  return { sentence, run };
}

/** Values in [-1, 1) with a few larger ones, the same for a seed on every runtime. */
function values(length: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v = next() / 2 ** 31 - 1;
    out[i] = next() % 50 === 0 ? v * 8 : v;
  }
  return out;
}

/** A symmetric positive definite `[n, n]`: `xᵀ x / rows + 0.05 I`, from the reference. */
function spd(n: number, seed: number): Float32Array {
  const rows = n + 3;
  const h = ref.hessianAccumulate(new Float32Array(n * n), values(rows * n, seed), n, 0, 0.3);
  for (let i = 0; i < n; i++) h[i * n + i] = fr(h[i * n + i] + 0.05);
  return h;
}

function sameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < w.length; i++) {
    if (g[i] !== w[i]) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

function thrown(call: () => unknown): Error | undefined {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

const BAD_CALLS: ReadonlyArray<[string, (k: Kernels) => unknown]> = [
  ["h type", (k) => k.hessianAccumulate(bad([1]), f32(1), 1, 0, 1)],
  ["h length", (k) => k.hessianAccumulate(new Float32Array(3), f32(1, 2), 2, 0, 1)],
  ["x not whole rows", (k) => k.hessianAccumulate(new Float32Array(4), f32(1, 2, 3), 2, 0, 1)],
  ["n zero", (k) => k.hessianAccumulate(new Float32Array(0), f32(), 0, 0, 1)],
  ["decay NaN", (k) => k.hessianAccumulate(new Float32Array(1), f32(1), 1, NaN, 1)],
  ["scale infinite", (k) => k.hessianAccumulate(new Float32Array(1), f32(1), 1, 0, Infinity)],
  ["cholesky h length", (k) => k.inverseCholeskyUpper(new Float32Array(5), 2)],
  ["cholesky n fraction", (k) => k.inverseCholeskyUpper(new Float32Array(4), 1.5)],
  ["not positive definite", (k) => k.inverseCholeskyUpper(f32(4, 0, 0, 0, -1, 0, 0, 0, 2), 3)],
  ["zero pivot", (k) => k.inverseCholeskyUpper(f32(0), 1)],
  ["c type", (k) => k.subtractProducts(bad(new Float64Array(1)), f32(1), f32(1), 1)],
  ["k zero", (k) => k.subtractProducts(f32(1), f32(1), f32(1), 0)],
  ["a not whole rows", (k) => k.subtractProducts(f32(1, 2), f32(1, 2, 3), f32(1, 2), 2)],
  ["c length", (k) => k.subtractProducts(f32(1, 2, 3), f32(1, 2), f32(1, 2), 1)],
];

/** The cases. */
export const LINALG_CASES: readonly ConformanceCase[] = [
  example("hessianAccumulate() decays h, scales x and adds x xᵀ into h in float32", (k) => {
    // the lower triangle of h is not read (9), and is written as the mirror of the upper one
    const h = f32(1, 5, 9, 2);
    const out = k.hessianAccumulate(h, f32(1, 2, 3, 4), 2, 0.5, 2);
    assert.equal(out, h);
    assert.deepEqual([...h], [40.5, 58.5, 58.5, 81]);
    // 0.1 · 0.1 and the decay 1/3 are rounded to float32 at each step
    const g = k.hessianAccumulate(f32(1), f32(0.1), 1, 1 / 3, 1);
    assert.equal(g[0], fr(fr(1 * fr(1 / 3)) + fr(fr(0.1) * fr(0.1))));
  }),
  example("inverseCholeskyUpper() gives U with Uᵀ U = H⁻¹ in the specified float32 steps", (k) => {
    const u = k.inverseCholeskyUpper(f32(4, 2, 2, 3), 2);
    // A = H reversed = [[3, 2], [2, 4]]: L = [[√3, 0], [2/√3, √(4 - (2/√3)²)]]
    const l00 = fr(Math.sqrt(3));
    const l10 = fr(2 / l00);
    const l11 = fr(Math.sqrt(fr(4 - fr(l10 * l10))));
    const m00 = fr(1 / l00);
    const m10 = fr(-fr(l10 * m00) / l11);
    const m11 = fr(1 / l11);
    assert.deepEqual([...u], [m11, m10, 0, m00]);
    // Uᵀ U = H⁻¹ = [[3, -2], [-2, 4]] / 8
    const uu = [u[0] * u[0], u[0] * u[1], u[1] * u[1] + u[3] * u[3]];
    assert.ok(Math.abs(uu[0] - 3 / 8) < 1e-6 && Math.abs(uu[1] + 2 / 8) < 1e-6);
    assert.ok(Math.abs(uu[2] - 4 / 8) < 1e-6);
  }),
  example("inverseCholeskyUpper() names the column of h whose pivot is not positive", (k) => {
    const error = thrown(() => k.inverseCholeskyUpper(f32(4, 0, 0, 0, -1, 0, 0, 0, 2), 3));
    assert.ok(error instanceof RangeError);
    assert.match(error.message, /"h" must be positive definite: the Cholesky pivot of column 1/);
  }),
  example("subtractProducts() subtracts aᵀ b term by term, into c", (k) => {
    // a [2, 2], b [2, 3], c [2, 3]
    const c = f32(10, 10, 10, 10, 10, 10);
    const out = k.subtractProducts(c, f32(1, 2, 3, 4), f32(1, 2, 3, 0.5, 0.25, 0.125), 2);
    assert.equal(out, c);
    // c[0][j] = 10 - 1 · b[0][j] - 3 · b[1][j]; c[1][j] = 10 - 2 · b[0][j] - 4 · b[1][j]
    assert.deepEqual([...c], [7.5, 7.25, 6.625, 6, 5, 3.5]);
  }),
  example("the linear-algebra kernels reject bad arguments like the reference", (k) => {
    for (const [what, call] of BAD_CALLS) {
      const want = thrown(() => call(ref));
      const got = thrown(() => call(k));
      assert.ok(want !== undefined, `the reference accepts: ${what}`);
      assert.ok(got !== undefined, `no error for: ${what}`);
      assert.equal(got.constructor, want.constructor, `${what}: ${got.message}`);
      assert.equal(got.message, want.message, what);
    }
  }),
  example("hessianAccumulate() matches the reference bit for bit across block edges", (k) => {
    for (const [n, rows, seed] of [[1, 1, 1], [5, 3, 2], [9, 130, 3], [37, 17, 4], [70, 260, 5]]) {
      const x = values(rows * n, seed);
      const h0 = spd(n, seed + 100);
      const got = k.hessianAccumulate(h0.slice(), x, n, 0.625, 0.7);
      sameBits(got, ref.hessianAccumulate(h0.slice(), x, n, 0.625, 0.7), `n ${n} rows ${rows}`);
    }
  }),
  example("inverseCholeskyUpper() matches the reference bit for bit across panel edges", (k) => {
    for (const n of [1, 2, 7, 32, 33, 65, 150, 300]) {
      const h = spd(n, n);
      sameBits(k.inverseCholeskyUpper(h, n), ref.inverseCholeskyUpper(h, n), `n ${n}`);
    }
  }),
  example("subtractProducts() matches the reference bit for bit across block edges", (k) => {
    const shapes = [[1, 1, 1], [5, 9, 3], [13, 530, 7], [4, 1030, 130], [37, 21, 129], [8, 8, 256]];
    for (const [m, n, t] of shapes) {
      const a = values(t * m, m);
      const b = values(t * n, n);
      const c = values(m * n, t);
      const got = k.subtractProducts(c.slice(), a, b, t);
      sameBits(got, ref.subtractProducts(c.slice(), a, b, t), `m ${m} n ${n} k ${t}`);
    }
  }),
  example("inverseCholeskyUpper() returns a fresh array and leaves h unchanged", (k) => {
    const h = spd(20, 9);
    const copy = h.slice();
    const u = k.inverseCholeskyUpper(h, 20);
    sameBits(h, copy, "h");
    const v = k.inverseCholeskyUpper(h, 20);
    assert.notEqual(u, v);
    sameBits(u, v, "u");
  }),
];
