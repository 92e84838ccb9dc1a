/**
 * The WebAssembly SIMD implementation of `Kernels`: `crates/kernels` compiled to
 * `wasm/kernels.wasm`, instantiated synchronously from the inlined bytes (or from a
 * precompiled `WebAssembly.Module`), with one `Arena` owning its memory. Every method runs its
 * `validate.ts` check first, then copies its inputs in (chunk by chunk when they do not fit),
 * calls the kernel and copies the results out.
 *
 * @module
 */

import { Arena, type ArenaOptions } from "./arena.ts";
import { type KernelExports, kernelExports } from "./_wasm_abi.ts";
import { blockKernels } from "./_wasm_blocks.ts";
import { elementwiseKernels } from "./_wasm_elementwise.ts";
import { linalgKernels } from "./_wasm_linalg.ts";
import { magnitudeKernels } from "./_wasm_magnitude.ts";
import { kSmallestMaskWasm, kthSmallestWasm } from "./_wasm_select.ts";
import { decodeKernelsWasm } from "../../wasm/kernels_inline.ts";
import type { Kernels } from "./types.ts";
import { checkKSmallestMask, checkKthSmallest } from "./validate.ts";

/** A minimal module whose one function uses `v128` instructions, base64-encoded. */
const SIMD_PROBE = "AGFzbQEAAAABBQFgAAF7AwIBAAoKAQgAQQD9D/1iCw==";

/**
 * Whether this runtime can run WebAssembly SIMD (validates a 3-instruction module that uses
 * `v128`).
 *
 * @returns `true` when `WebAssembly` exists and accepts SIMD instructions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmSimdSupported } from "./wasm.ts";
 *
 * assert.equal(typeof wasmSimdSupported(), "boolean");
 * ```
 */
export function wasmSimdSupported(): boolean {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  // (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt))
  const probe = Uint8Array.from(atob(SIMD_PROBE), (c) => c.charCodeAt(0));
  try {
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

let compiled: WebAssembly.Module | undefined;

/** The module compiled from the inlined bytes (compiled once). */
function inlineModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(decodeKernelsWasm());
  return compiled;
}

/**
 * Creates the WebAssembly kernels from a compiled module (by default the inlined
 * `wasm/kernels.wasm`, compiled synchronously on first use).
 *
 * @param module A compiled `kernels.wasm` (for runtimes that forbid compiling from bytes).
 * @param options The arena's memory ceiling.
 * @returns Kernels whose every method matches `referenceKernels` (see `types.ts`).
 * @throws {WebAssembly.CompileError} If the runtime lacks WebAssembly SIMD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWasmKernels } from "./wasm.ts";
 *
 * const kernels = createWasmKernels();
 * const mask = kernels.kSmallestMask(new Float32Array([3, 1, 2, 1]), 2);
 * assert.deepEqual([...mask], [1, 0, 1, 0]);
 * ```
 */
export function createWasmKernels(module?: WebAssembly.Module, options?: ArenaOptions): Kernels {
  const instance = new WebAssembly.Instance(module ?? inlineModule(), {});
  const ex: KernelExports = kernelExports(instance);
  const arena = new Arena(ex.memory, Number(ex.__heap_base.value), options);

  return {
    name: "wasm",
    kSmallestMask(metric: Float32Array, k: number): Uint8Array {
      checkKSmallestMask(metric, k);
      if (k === 0) return new Uint8Array(metric.length).fill(1);
      if (k === metric.length) return new Uint8Array(metric.length);
      return kSmallestMaskWasm(ex, arena, metric, k);
    },

    kthSmallest(arrays: readonly Float32Array[], k: number): number {
      checkKthSmallest(arrays, k);
      return kthSmallestWasm(ex, arena, arrays, k);
    },

    ...elementwiseKernels(ex, arena),
    ...blockKernels(ex, arena),
    ...linalgKernels(ex, arena),
    ...magnitudeKernels(ex, arena),
  };
}

let shared: Kernels | undefined;

/**
 * Instantiates the kernels from a precompiled module and makes them the shared instance that
 * `getKernels()` returns — for runtimes that forbid compiling WebAssembly from bytes at run time
 * (Cloudflare Workers import `kernels.wasm` as a `WebAssembly.Module`).
 *
 * @param module The compiled `wasm/kernels.wasm`.
 * @returns The kernels.
 * @throws {TypeError} If `module` is not a `WebAssembly.Module`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initKernels } from "./wasm.ts";
 * import { decodeKernelsWasm } from "../../wasm/kernels_inline.ts";
 *
 * const kernels = initKernels(new WebAssembly.Module(decodeKernelsWasm()));
 * assert.equal(kernels.name, "wasm");
 * ```
 */
export function initKernels(module: WebAssembly.Module): Kernels {
  if (!(module instanceof WebAssembly.Module)) {
    throw new TypeError(`"module" must be a WebAssembly.Module: current value is ${module}`);
  }
  shared = createWasmKernels(module);
  return shared;
}

/**
 * The shared WebAssembly kernels: those of `initKernels()`, else created from the inlined
 * bytes on first use.
 *
 * @returns The shared instance.
 * @throws {WebAssembly.CompileError} If the runtime lacks WebAssembly SIMD.
 */
export function sharedWasmKernels(): Kernels {
  shared ??= createWasmKernels();
  return shared;
}
