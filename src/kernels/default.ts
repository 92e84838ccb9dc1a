/**
 * The kernels the library uses: the WebAssembly SIMD build where the runtime supports it, else
 * the TypeScript reference.
 *
 * @module
 */

import { referenceKernels } from "./reference.ts";
import type { Kernels } from "./types.ts";
import { sharedWasmKernels, wasmSimdSupported } from "./wasm.ts";

export { initKernels } from "./wasm.ts";

/**
 * The default kernels: the shared WebAssembly instance (created on first use from the inlined
 * bytes, or the one given to `initKernels()`) when the runtime supports WebAssembly SIMD, else
 * `referenceKernels`. Both give the same results (see `types.ts`).
 *
 * @returns The kernels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernels } from "./default.ts";
 *
 * const kernels = getKernels();
 * assert.deepEqual([...kernels.thresholdMask(new Float32Array([0.5, 2]), 1)], [0, 1]);
 * ```
 */
export function getKernels(): Kernels {
  simd ??= wasmSimdSupported();
  return simd ? sharedWasmKernels() : referenceKernels;
}

let simd: boolean | undefined;
