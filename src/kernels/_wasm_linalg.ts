/**
 * The linear-algebra kernels of the WebAssembly implementation (`hessianAccumulate`,
 * `inverseCholeskyUpper`, `subtractProducts`). Each copies its operands into linear memory,
 * with the scratch space the crate's blocked loops pack into, and copies the result out; the
 * operands must fit in the arena at once (`RangeError` naming the argument otherwise).
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import { checkStatus, type KernelExports } from "./_wasm_abi.ts";
import type { Kernels } from "./types.ts";
import {
  checkHessianAccumulate,
  checkInverseCholeskyUpper,
  checkSubtractProducts,
  notPositiveDefinite,
} from "./validate.ts";

/** The linear-algebra methods of `Kernels`. */
export type LinalgKernels = Pick<
  Kernels,
  "hessianAccumulate" | "inverseCholeskyUpper" | "subtractProducts"
>;

/** Register tile, packed-block sizes and panel width of `crates/kernels/src/linalg.rs`. */
const MR = 4;
const KC = 128;
const NC = 512;
const NB = 32;
/** Scratch floats of the crate's `gemm_at_b`. */
const GEMM_SCRATCH = KC * NC + KC * MR;

/**
 * The linear-algebra methods over one module instance.
 *
 * @param ex The module's exports.
 * @param arena The arena that owns its memory.
 * @returns The methods.
 */
export function linalgKernels(ex: KernelExports, arena: Arena): LinalgKernels {
  let warm = false;
  /**
   * Runs the three exports a few times on a 128 x 128 problem (about 30 ms) before the first
   * real call. V8 first runs WebAssembly through its baseline compiler and swaps in optimised
   * code only for calls that start after a function got hot; one long call (a 4096 x 4096
   * Hessian or factorisation) would otherwise run 3-6x slower from start to end.
   */
  function warmUp(): void {
    if (warm) return;
    warm = true;
    const n = 128;
    arena.scope(() => {
      const h = arena.alloc(n * n * 4, "h");
      const x = arena.alloc(n * n * 4, "x");
      const out = arena.alloc(n * n * 4, "h");
      const scratch = GEMM_SCRATCH + NB * n;
      const sp = arena.alloc(scratch * 4, "h");
      const failed = arena.alloc(4, "h");
      for (let round = 0; round < 3; round++) {
        const xv = arena.view(Float32Array, x, n * n);
        for (let i = 0; i < xv.length; i++) xv[i] = ((i * 7919) % 263) / 263 - 0.5;
        arena.view(Float32Array, h, n * n).fill(0);
        ex.nnc_hessian_accumulate(h, x, n, n, 0, 1, sp, scratch);
        const hv = arena.view(Float32Array, h, n * n);
        for (let i = 0; i < n; i++) hv[i * n + i] += 1;
        ex.nnc_inverse_cholesky_upper(h, n, out, sp, scratch, failed);
        ex.nnc_subtract_products(x, out, out, n, n, n, sp, scratch);
      }
    });
  }

  return {
    hessianAccumulate(
      h: Float32Array,
      x: Float32Array,
      n: number,
      decay: number,
      scale: number,
    ): Float32Array {
      const rows = checkHessianAccumulate(h, x, n, decay, scale);
      if (rows * n * n > 2 ** 24) warmUp();
      return arena.scope(() => {
        const hp = arena.copyIn(h, "h");
        const xp = arena.copyIn(x, "x");
        const sp = arena.alloc(GEMM_SCRATCH * 4, "h");
        checkStatus(
          "nnc_hessian_accumulate",
          ex.nnc_hessian_accumulate(
            hp,
            xp,
            n,
            rows,
            Math.fround(decay),
            Math.fround(scale),
            sp,
            GEMM_SCRATCH,
          ),
        );
        h.set(arena.view(Float32Array, hp, n * n));
        return h;
      });
    },

    inverseCholeskyUpper(h: Float32Array, n: number): Float32Array {
      checkInverseCholeskyUpper(h, n);
      if (n > 256) warmUp();
      return arena.scope(() => {
        const hp = arena.copyIn(h, "h");
        const out = arena.alloc(n * n * 4, "h");
        const scratch = GEMM_SCRATCH + NB * n;
        const sp = arena.alloc(scratch * 4, "h");
        const failed = arena.alloc(4, "h");
        checkStatus(
          "nnc_inverse_cholesky_upper",
          ex.nnc_inverse_cholesky_upper(hp, n, out, sp, scratch, failed),
        );
        const column = arena.view(Int32Array, failed, 1)[0];
        if (column >= 0) throw notPositiveDefinite(h, n, column);
        return arena.view(Float32Array, out, n * n).slice();
      });
    },

    subtractProducts(c: Float32Array, a: Float32Array, b: Float32Array, k: number): Float32Array {
      const [m, n] = checkSubtractProducts(c, a, b, k);
      if (m * n * k > 2 ** 24) warmUp();
      return arena.scope(() => {
        const cp = arena.copyIn(c, "c");
        const ap = arena.copyIn(a, "a");
        const bp = arena.copyIn(b, "b");
        const sp = arena.alloc(GEMM_SCRATCH * 4, "c");
        checkStatus(
          "nnc_subtract_products",
          ex.nnc_subtract_products(cp, ap, bp, m, n, k, sp, GEMM_SCRATCH),
        );
        c.set(arena.view(Float32Array, cp, m * n));
        return c;
      });
    },
  };
}
