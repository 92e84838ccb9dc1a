/**
 * nncompress: model compression for JavaScript runtimes. NNI v3 compression config lists
 * (pruning, quantization, distillation) on real model files, with WebAssembly SIMD kernels and a
 * plain TypeScript reference for each of them.
 *
 * @example Resolve a config list against a model's modules, then prune with the kernels
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernels, resolveTargetSettings } from "./mod.ts";
 *
 * const modules = [
 *   { name: "fc1", type: "Linear", params: { weight: [2, 3], bias: [2] } },
 *   { name: "relu", type: "ReLU" },
 * ];
 * const { targets } = resolveTargetSettings(
 *   modules,
 *   [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
 *   "pruning",
 *   { algorithm: "LevelPruner" },
 * );
 * assert.deepEqual(targets.map((t) => `${t.module}.${t.target}`), ["fc1.weight", "fc1.bias"]);
 *
 * const weight = new Float32Array([0.3, -0.1, 2, 0.05, -4, 1]);
 * const mask = getKernels().kSmallestMask(weight.map(Math.abs), Math.floor(weight.length * 0.5));
 * assert.deepEqual([...mask], [0, 0, 1, 0, 1, 1]);
 * ```
 *
 * @module
 */

export type {
  IntCodes,
  Kernels,
  MaskMethod,
  MinMax,
  QuantParams,
  Reduction,
} from "./src/kernels/types.ts";
export { ADD_MASK_VALUE, FLOAT_TOLERANCE, REDUCTIONS } from "./src/kernels/types.ts";
export { getKernels, initKernels } from "./src/kernels/default.ts";
export { referenceKernels } from "./src/kernels/reference.ts";
export { createWasmKernels, wasmSimdSupported } from "./src/kernels/wasm.ts";

export * from "./src/config/mod.ts";
