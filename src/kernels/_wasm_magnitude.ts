/**
 * The magnitude passes of the WebAssembly implementation (`magnitudeLowHistogram`,
 * `magnitudeBand`, `magnitudeCut`, `magnitudeBin`, `magnitudeApplyBits`;
 * `crates/kernels/src/magnitude.rs`): each validates, then streams the words through linear memory a chunk at a time, the
 * histogram or the state staying in memory from chunk to chunk. `magnitudeHighHistogram` is the
 * reference's (see below).
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import { referenceKernels } from "./reference.ts";
import { checkStatus, type KernelExports } from "./_wasm_abi.ts";
import { chunkPlan as plan, forEachChunk } from "./_wasm_chunks.ts";
import type { Kernels } from "./types.ts";
import {
  checkMagnitudeApplyBits,
  checkMagnitudeBand,
  checkMagnitudeBin,
  checkMagnitudeCut,
  checkMagnitudeLowHistogram,
} from "./validate.ts";

/** The magnitude methods of `Kernels`. */
export type MagnitudeKernels = Pick<
  Kernels,
  | "magnitudeHighHistogram"
  | "magnitudeLowHistogram"
  | "magnitudeBand"
  | "magnitudeCut"
  | "magnitudeBin"
  | "magnitudeApplyBits"
>;

/**
 * The magnitude methods over one module instance.
 *
 * @param ex The module's exports.
 * @param arena The arena that owns its memory.
 * @returns The methods.
 */
export function magnitudeKernels(ex: KernelExports, arena: Arena): MagnitudeKernels {
  /** `fn` inside a scope holding a copy of `hist`, copied back into `hist` at the end. */
  function withHist(hist: Uint32Array, fn: (ptr: number) => void): void {
    arena.scope(() => {
      const ptr = arena.copyIn(hist, "hist");
      fn(ptr);
      hist.set(arena.view(Uint32Array, ptr, hist.length));
    });
  }

  return {
    // The first pass runs in TypeScript: a histogram's random increments do not vectorise and
    // ran as fast there (about 20 ms for 16.7M values), and the copy into linear memory made
    // the WebAssembly pass a third slower.
    magnitudeHighHistogram: referenceKernels.magnitudeHighHistogram,

    magnitudeLowHistogram(words: Int32Array, high: number, hist: Uint32Array): void {
      checkMagnitudeLowHistogram(words, high, hist);
      withHist(hist, (h) => {
        forEachChunk(arena, words.length, plan("words", 1, 4), (start, n) => {
          const data = arena.copyIn(words.subarray(start, start + n), "words");
          checkStatus("nnc_mag_low_hist", ex.nnc_mag_low_hist(data, n, high, h));
        });
      });
    },

    magnitudeBand(
      words: Int32Array | Uint16Array,
      infinity: number,
      lo: number,
      hi: number,
      keys: Int32Array,
      counts: Float64Array,
    ): boolean {
      checkMagnitudeBand(words, infinity, lo, hi, keys, counts);
      const width = words.BYTES_PER_ELEMENT;
      const listed = Math.min(counts[1], keys.length);
      // The band's keys are listed in linear memory, then copied out once; the room left is
      // what `keys` has past the keys listed before this call.
      const cap = keys.length - listed;
      let finite = true;
      arena.scope(() => {
        const k = arena.alloc(cap * 4, "keys");
        const s = arena.alloc(12, "state");
        const state = () => arena.view(Uint32Array, s, 3);
        state().fill(0);
        forEachChunk(arena, words.length, plan("words", 1, width), (start, n) => {
          const data = arena.copyIn(words.subarray(start, start + n), "words");
          checkStatus(
            "nnc_mag_band",
            ex.nnc_mag_band(data, n, width, width === 4 ? 0 : infinity, lo, hi, k, cap, s),
          );
          // Below-band counts are read per chunk: a tensor may hold 2^32 keys or more.
          const st = state();
          counts[0] += st[0];
          st[0] = 0;
        });
        const [, inBand, bad] = state();
        finite = bad === 0;
        keys.set(arena.view(Int32Array, k, Math.min(inBand, cap)), listed);
        counts[1] += inBand;
      });
      return finite;
    },

    magnitudeCut(
      words: Int32Array | Uint16Array,
      cut: number,
      apply: boolean,
      state: Uint32Array,
      bits: Uint8Array,
    ): void {
      checkMagnitudeCut(words, cut, apply, state, bits);
      const width = words.BYTES_PER_ELEMENT;
      arena.scope(() => {
        const s = arena.copyIn(state, "state");
        // Chunks of whole bytes of bits: multiples of 8 words (a word takes width + 1/8 bytes).
        forEachChunk(arena, words.length, plan("words", 8, width, 1 / 8), (start, n) => {
          const piece = words.subarray(start, start + n);
          const data = arena.copyIn(piece, "words");
          const out = arena.alloc(Math.ceil(n / 8), "bits");
          checkStatus(
            "nnc_mag_cut",
            ex.nnc_mag_cut(data, n, width, cut, apply ? 1 : 0, s, out),
          );
          bits.set(arena.view(Uint8Array, out, Math.ceil(n / 8)), start >>> 3);
          if (apply) {
            new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength)
              .set(arena.view(Uint8Array, data, piece.byteLength));
          }
        });
        state.set(arena.view(Uint32Array, s, 3));
      });
    },

    magnitudeBin(
      words: Int32Array,
      high: number,
      hist: Uint32Array,
      positions: Uint32Array,
      lows: Uint16Array,
    ): number {
      checkMagnitudeBin(words, high, hist, positions, lows);
      const cap = positions.length;
      let count = 0;
      let bad = 0;
      withHist(hist, (h) => {
        const p = arena.alloc(cap * 4, "positions");
        const l = arena.alloc(cap * 2, "lows");
        const s = arena.alloc(8, "state");
        arena.view(Uint32Array, s, 2).fill(0);
        forEachChunk(arena, words.length, plan("words", 1, 4), (start, n) => {
          const data = arena.copyIn(words.subarray(start, start + n), "words");
          checkStatus("nnc_mag_bin", ex.nnc_mag_bin(data, n, high, start, h, p, l, cap, s));
        });
        [count, bad] = arena.view(Uint32Array, s, 2);
        const listed = Math.min(count, cap);
        positions.set(arena.view(Uint32Array, p, listed));
        lows.set(arena.view(Uint16Array, l, listed));
      });
      return bad !== 0 ? -1 : count;
    },

    magnitudeApplyBits(
      words: Int32Array | Uint16Array,
      bits: Uint8Array,
      infinity: number,
      zeros: Uint32Array,
    ): number {
      checkMagnitudeApplyBits(words, bits, infinity, zeros);
      const width = words.BYTES_PER_ELEMENT;
      let done = 0;
      let stopped = false;
      arena.scope(() => {
        const s = arena.alloc(12, "state");
        const state = arena.view(Uint32Array, s, 3);
        state.set([zeros[0], zeros[1], 0]);
        const whole = words.length - (words.length % 8);
        forEachChunk(arena, whole, plan("words", 8, width, 1 / 8), (start, n) => {
          if (stopped) return;
          const piece = words.subarray(start, start + n);
          const data = arena.copyIn(piece, "words");
          const b = arena.copyIn(bits.subarray(start >>> 3, (start + n) >>> 3), "bits");
          checkStatus(
            "nnc_mag_apply_bits",
            ex.nnc_mag_apply_bits(data, n, width, width === 4 ? 0 : infinity, b, s),
          );
          new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength)
            .set(arena.view(Uint8Array, data, piece.byteLength));
          const masked = arena.view(Uint32Array, s, 3)[2];
          done = start + masked;
          stopped = masked < n;
        });
        const after = arena.view(Uint32Array, s, 3);
        zeros[0] = after[0];
        zeros[1] = after[1];
      });
      return done;
    },
  };
}
