/**
 * The linear-algebra kernels of the WebAssembly implementation (`hessianAccumulate`,
 * `inverseCholeskyUpper`, `subtractProducts`).
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import type { KernelExports } from "./_wasm_abi.ts";
import type { Kernels } from "./types.ts";
import { referenceKernels } from "./reference.ts";

/** The linear-algebra methods of `Kernels`. */
export type LinalgKernels = Pick<
  Kernels,
  "hessianAccumulate" | "inverseCholeskyUpper" | "subtractProducts"
>;

/**
 * The linear-algebra methods over one module instance.
 *
 * @param _ex The module's exports.
 * @param _arena The arena that owns its memory.
 * @returns The methods.
 */
export function linalgKernels(_ex: KernelExports, _arena: Arena): LinalgKernels {
  return {
    hessianAccumulate: referenceKernels.hessianAccumulate,
    inverseCholeskyUpper: referenceKernels.inverseCholeskyUpper,
    subtractProducts: referenceKernels.subtractProducts,
  };
}
