/**
 * The numeric kernels (subpath `nncompress/kernels`): one interface, `Kernels`, with a plain
 * TypeScript reference and a WebAssembly SIMD implementation that agree exactly on integer
 * results and within `FLOAT_TOLERANCE` on float reductions. `getKernels()` picks WebAssembly
 * where the runtime supports SIMD; `initKernels(module)` takes a precompiled module where
 * compiling from bytes is not allowed (Cloudflare Workers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernels, referenceKernels } from "./mod.ts";
 *
 * const metric = new Float32Array([0.5, -2, 0.1, 0.1, 3]);
 * assert.deepEqual([...getKernels().kSmallestMask(metric, 2)], [1, 0, 0, 1, 1]);
 * assert.deepEqual([...referenceKernels.kSmallestMask(metric, 2)], [1, 0, 0, 1, 1]);
 * ```
 *
 * @module
 */

export type { IntCodes, Kernels, MaskMethod, MinMax, QuantParams, Reduction } from "./types.ts";
export { ADD_MASK_VALUE, FLOAT_TOLERANCE, REDUCTIONS } from "./types.ts";
export { getKernels, initKernels } from "./default.ts";
export { referenceKernels } from "./reference.ts";
export { createWasmKernels, wasmSimdSupported } from "./wasm.ts";
export type { ArenaOptions } from "./arena.ts";
