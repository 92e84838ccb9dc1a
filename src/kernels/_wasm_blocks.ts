/**
 * The block kernels of the WebAssembly implementation (`blockReduce`, `blockExpand`, `minMax`,
 * `quantize`, `dequantize`, `fakeQuantize`): each validates, copies in the canonical layout and
 * per-block parameters, then runs its kernel over chunks of whole dim-0 slices.
 *
 * @module
 */

import type { Arena, ViewConstructor } from "./arena.ts";
import { checkStatus, codeKind, type KernelExports } from "./_wasm_abi.ts";
import { canonicalLayout, chunkPlan as plan, forEachChunk } from "./_wasm_chunks.ts";
import type { IntCodes, Kernels, MinMax, QuantParams, Reduction } from "./types.ts";
import { REDUCTIONS } from "./types.ts";
import {
  type BlockGrid,
  checkBlockExpand,
  checkBlockReduce,
  checkDequantize,
  checkFakeQuantize,
  checkMinMax,
  checkQuantize,
} from "./validate.ts";

/** The block methods of `Kernels`. */
export type BlockKernels = Pick<
  Kernels,
  "blockReduce" | "blockExpand" | "minMax" | "quantize" | "dequantize" | "fakeQuantize"
>;

/**
 * The block methods over one module instance.
 *
 * @param ex The module's exports.
 * @param arena The arena that owns its memory.
 * @returns The methods.
 */
export function blockKernels(ex: KernelExports, arena: Arena): BlockKernels {
  /** Copies in the canonical layout of a block grid; returns it with its pointer and length. */
  function blockSetup(grid: BlockGrid) {
    const layout = canonicalLayout(grid);
    const dims = arena.copyIn(layout.dims, "kernel");
    return { layout, dims, dimsLen: layout.dims.length };
  }

  return {
    blockReduce(
      data: Float32Array,
      shape: readonly number[],
      kernel: readonly number[],
      op: Reduction,
    ): Float32Array {
      const grid = checkBlockReduce(data, shape, kernel, op);
      const code = REDUCTIONS.indexOf(op);
      return arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const acc = arena.alloc(grid.gridSize * 8, "data");
        arena.view(Float64Array, acc, grid.gridSize).fill(0);
        const out = arena.alloc(grid.gridSize * 4, "data");
        forEachChunk(arena, data.length, plan("data", layout.sliceLength, 4), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          const first = start / layout.sliceLength;
          const count = n / layout.sliceLength;
          checkStatus(
            "nnc_block_reduce",
            ex.nnc_block_reduce(input, dims, dimsLen, first, count, code, acc),
          );
        });
        checkStatus(
          "nnc_reduce_finish",
          ex.nnc_reduce_finish(acc, grid.gridSize, code, grid.blockSize, out),
        );
        return arena.view(Float32Array, out, grid.gridSize).slice();
      });
    },

    blockExpand(
      blockMask: Uint8Array,
      shape: readonly number[],
      kernel: readonly number[],
    ): Uint8Array {
      const grid = checkBlockExpand(blockMask, shape, kernel);
      const mask = new Uint8Array(grid.size);
      arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const blocks = arena.copyIn(blockMask, "blockMask");
        forEachChunk(arena, grid.size, plan("blockMask", layout.sliceLength, 1), (start, n) => {
          const out = arena.alloc(n, "blockMask");
          const [first, count] = [start / layout.sliceLength, n / layout.sliceLength];
          checkStatus(
            "nnc_block_expand",
            ex.nnc_block_expand(blocks, dims, dimsLen, first, count, out),
          );
          mask.set(arena.view(Uint8Array, out, n), start);
        });
      });
      return mask;
    },

    minMax(data: Float32Array, shape: readonly number[], kernel: readonly number[]): MinMax {
      const grid = checkMinMax(data, shape, kernel);
      const g = grid.gridSize;
      return arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const min = arena.alloc(g * 4, "data");
        const max = arena.alloc(g * 4, "data");
        arena.view(Float32Array, min, g).fill(Infinity);
        arena.view(Float32Array, max, g).fill(-Infinity);
        forEachChunk(arena, data.length, plan("data", layout.sliceLength, 4), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          const [first, count] = [start / layout.sliceLength, n / layout.sliceLength];
          checkStatus(
            "nnc_min_max",
            ex.nnc_min_max(input, dims, dimsLen, first, count, min, max),
          );
        });
        checkStatus("nnc_positive_zero", ex.nnc_positive_zero(min, g));
        checkStatus("nnc_positive_zero", ex.nnc_positive_zero(max, g));
        return {
          min: arena.view(Float32Array, min, g).slice(),
          max: arena.view(Float32Array, max, g).slice(),
        };
      });
    },

    quantize(
      data: Float32Array,
      shape: readonly number[],
      params: QuantParams,
      out: IntCodes,
    ): IntCodes {
      const grid = checkQuantize(data, shape, params, out);
      const kind = codeKind(out);
      const width = out.BYTES_PER_ELEMENT;
      const ctor = out.constructor as ViewConstructor<IntCodes>;
      arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const scale = arena.copyIn(params.scale, "params.scale");
        const zp = arena.copyIn(params.zeroPoint, "params.zeroPoint");
        forEachChunk(arena, data.length, plan("data", layout.sliceLength, 4, width), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          const codes = arena.alloc(n * width, "out");
          const [first, count] = [start / layout.sliceLength, n / layout.sliceLength];
          const { qmin, qmax } = params;
          checkStatus(
            "nnc_quantize",
            ex.nnc_quantize(input, dims, dimsLen, first, count, scale, zp, qmin, qmax, kind, codes),
          );
          (out as Int32Array).set(arena.view(ctor, codes, n) as Int32Array, start);
        });
      });
      return out;
    },

    dequantize(codes: IntCodes, shape: readonly number[], params: QuantParams): Float32Array {
      const grid = checkDequantize(codes, shape, params);
      const kind = codeKind(codes);
      const values = new Float32Array(codes.length);
      arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const scale = arena.copyIn(params.scale, "params.scale");
        const zp = arena.copyIn(params.zeroPoint, "params.zeroPoint");
        const p = plan("codes", layout.sliceLength, codes.BYTES_PER_ELEMENT, 4);
        forEachChunk(arena, codes.length, p, (start, n) => {
          const input = arena.copyIn(codes.subarray(start, start + n), "codes");
          const out = arena.alloc(n * 4, "codes");
          const [first, count] = [start / layout.sliceLength, n / layout.sliceLength];
          checkStatus(
            "nnc_dequantize",
            ex.nnc_dequantize(input, kind, dims, dimsLen, first, count, scale, zp, out),
          );
          values.set(arena.view(Float32Array, out, n), start);
        });
      });
      return values;
    },

    fakeQuantize(
      data: Float32Array,
      shape: readonly number[],
      params: QuantParams,
      into?: Float32Array,
    ): Float32Array {
      const grid = checkFakeQuantize(data, shape, params, into);
      // Each chunk is copied in before its result is copied out, so `into` may be `data`.
      const values = into ?? new Float32Array(data.length);
      arena.scope(() => {
        const { layout, dims, dimsLen } = blockSetup(grid);
        const scale = arena.copyIn(params.scale, "params.scale");
        const zp = arena.copyIn(params.zeroPoint, "params.zeroPoint");
        forEachChunk(arena, data.length, plan("data", layout.sliceLength, 4, 4), (start, n) => {
          const input = arena.copyIn(data.subarray(start, start + n), "data");
          const out = arena.alloc(n * 4, "data");
          const [first, count] = [start / layout.sliceLength, n / layout.sliceLength];
          const { qmin, qmax } = params;
          checkStatus(
            "nnc_fake_quantize",
            ex.nnc_fake_quantize(input, dims, dimsLen, first, count, scale, zp, qmin, qmax, out),
          );
          values.set(arena.view(Float32Array, out, n), start);
        });
      });
      return values;
    },
  };
}
