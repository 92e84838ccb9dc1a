/**
 * The elementwise kernels of the WebAssembly implementation (`histogram`, `thresholdMask`,
 * `applyMask`, the f16/bf16 conversions, int4 packing): each validates, then runs its kernel
 * over chunks of the input that fit in linear memory.
 *
 * @module
 */

import type { Arena, ViewConstructor } from "./arena.ts";
import { checkStatus, type KernelExports } from "./_wasm_abi.ts";
import { chunkPlan as plan, forEachChunk } from "./_wasm_chunks.ts";
import type { Kernels, MaskMethod } from "./types.ts";
import {
  checkApplyMask,
  checkHalfBits,
  checkHalfData,
  checkHalfOut,
  checkHistogram,
  checkPackInt4,
  checkThresholdMask,
  checkUnpackInt4,
} from "./validate.ts";

/** The elementwise methods of `Kernels`. */
export type ElementwiseKernels = Pick<
  Kernels,
  | "histogram"
  | "thresholdMask"
  | "applyMask"
  | "f16ToF32"
  | "f32ToF16"
  | "bf16ToF32"
  | "f32ToBf16"
  | "packInt4"
  | "unpackInt4"
>;

const T_BITS = new Uint32Array(1);
const T_FLOAT = new Float32Array(T_BITS.buffer);

/**
 * The smallest float32 that is `>= t`, so that `x >= float32AtLeast(t)` equals `x >= t` for
 * every float32 `x` (NaN stays NaN: nothing compares true).
 */
function float32AtLeast(t: number): number {
  T_FLOAT[0] = t;
  if (!(T_FLOAT[0] < t)) return T_FLOAT[0];
  // Round up by one unit in the last place (t is above the rounded value, so not +Infinity).
  if (T_FLOAT[0] === 0) T_BITS[0] = 1;
  else if (T_FLOAT[0] > 0) T_BITS[0] += 1;
  else T_BITS[0] -= 1;
  return T_FLOAT[0];
}

/**
 * The elementwise methods over one module instance.
 *
 * @param ex The module's exports.
 * @param arena The arena that owns its memory.
 * @returns The methods.
 */
export function elementwiseKernels(ex: KernelExports, arena: Arena): ElementwiseKernels {
  /** An elementwise kernel: `data` in, `out` (same length) out, chunked. */
  function map<O extends Uint8Array | Float32Array | Uint16Array>(
    data: Float32Array | Uint16Array,
    out: O,
    what: string,
    call: (input: number, length: number, output: number) => number,
    name: string,
  ): O {
    const inBytes = data.BYTES_PER_ELEMENT;
    const ctor = out.constructor as ViewConstructor<O>;
    arena.scope(() => {
      forEachChunk(arena, out.length, plan(what, 1, inBytes, out.BYTES_PER_ELEMENT), (start, n) => {
        const input = arena.copyIn(data.subarray(start, start + n), what);
        const output = arena.alloc(n * out.BYTES_PER_ELEMENT, what);
        checkStatus(name, call(input, n, output));
        (out as Uint8Array).set(arena.view(ctor, output, n) as unknown as Uint8Array, start);
      });
    });
    return out;
  }

  return {
    histogram(
      data: Float32Array,
      lo: number,
      hi: number,
      bins: number,
      out?: Float64Array,
    ): Float64Array {
      checkHistogram(data, lo, hi, bins, out);
      const counts = out ?? new Float64Array(bins);
      return arena.scope(() => {
        const ptr = arena.copyIn(counts, "out");
        forEachChunk(arena, data.length, plan("data", 1, 4), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          checkStatus("nnc_histogram", ex.nnc_histogram(input, n, lo, hi, bins, ptr));
        });
        counts.set(arena.view(Float64Array, ptr, bins));
        return counts;
      });
    },

    thresholdMask(metric: Float32Array, t: number): Uint8Array {
      checkThresholdMask(metric, t);
      const t32 = float32AtLeast(t);
      return map(
        metric,
        new Uint8Array(metric.length),
        "metric",
        (input, n, output) => ex.nnc_threshold_mask(input, n, t32, output),
        "nnc_threshold_mask",
      );
    },

    applyMask(
      data: Float32Array,
      mask: Uint8Array,
      method: MaskMethod,
      out?: Float32Array,
    ): Float32Array {
      checkApplyMask(data, mask, method, out);
      // Each chunk is copied in before its result is copied out, so `out` may be `data`.
      const values = out ?? new Float32Array(data.length);
      const add = method === "add" ? 1 : 0;
      arena.scope(() => {
        forEachChunk(arena, data.length, plan("data", 1, 4, 1, 4), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          const m = arena.copyIn(mask.subarray(start, start + n), "mask");
          const out = arena.alloc(n * 4, "data");
          checkStatus("nnc_apply_mask", ex.nnc_apply_mask(input, m, n, add, out));
          values.set(arena.view(Float32Array, out, n), start);
        });
      });
      return values;
    },

    f16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
      checkHalfBits(bits);
      if (out !== undefined) checkHalfOut(bits, out);
      return map(
        bits,
        out ?? new Float32Array(bits.length),
        "bits",
        ex.nnc_f16_to_f32,
        "nnc_f16_to_f32",
      );
    },

    f32ToF16(data: Float32Array): Uint16Array {
      checkHalfData(data);
      return map(data, new Uint16Array(data.length), "data", ex.nnc_f32_to_f16, "nnc_f32_to_f16");
    },

    bf16ToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
      checkHalfBits(bits);
      if (out !== undefined) checkHalfOut(bits, out);
      return map(
        bits,
        out ?? new Float32Array(bits.length),
        "bits",
        ex.nnc_bf16_to_f32,
        "nnc_bf16_to_f32",
      );
    },

    f32ToBf16(data: Float32Array): Uint16Array {
      checkHalfData(data);
      return map(
        data,
        new Uint16Array(data.length),
        "data",
        ex.nnc_f32_to_bf16,
        "nnc_f32_to_bf16",
      );
    },

    packInt4(codes: Int8Array | Uint8Array): Uint8Array {
      checkPackInt4(codes);
      const packed = new Uint8Array(Math.ceil(codes.length / 2));
      arena.scope(() => {
        forEachChunk(arena, codes.length, plan("codes", 2, 1, 0.5), (start, n) => {
          const input = arena.copyIn(codes.subarray(start, start + n), "codes");
          const out = arena.alloc(Math.ceil(n / 2), "codes");
          checkStatus("nnc_pack_int4", ex.nnc_pack_int4(input, n, out));
          packed.set(arena.view(Uint8Array, out, Math.ceil(n / 2)), start / 2);
        });
      });
      return packed;
    },

    unpackInt4(packed: Uint8Array, n: number, signed: boolean): Int8Array | Uint8Array {
      checkUnpackInt4(packed, n, signed);
      const codes = signed ? new Int8Array(n) : new Uint8Array(n);
      arena.scope(() => {
        forEachChunk(arena, n, plan("packed", 2, 0.5, 1), (start, len) => {
          const bytes = packed.subarray(start / 2, start / 2 + Math.ceil(len / 2));
          const input = arena.copyIn(bytes, "packed");
          const out = arena.alloc(len, "packed");
          checkStatus("nnc_unpack_int4", ex.nnc_unpack_int4(input, len, signed ? 1 : 0, out));
          codes.set(arena.view(Int8Array, out, len), start);
        });
      });
      return codes;
    },
  };
}
