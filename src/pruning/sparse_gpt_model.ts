/**
 * SparseGPT over the MatMul / Gemm layers of an ONNX model: each layer's inputs captured with
 * onnxruntime from the model with the earlier layers already pruned (sequentially, as the
 * reference does block by block), the layer Hessian accumulated batch by batch, then
 * `sparseGpt()`.
 *
 * @module
 */

import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { CalibrationTensor } from "../quantization/calibrate_onnx.ts";
import {
  layerwiseOnnx,
  type LayerwiseOnnxOptions,
  type LayerwiseOnnxResult,
} from "../quantization/layerwise_onnx.ts";
import { sparseGpt, type SparseGptOptions, type SparseGptResult } from "./sparse_gpt.ts";

/** Options of `sparseGptOnnx`: the driver's and `sparseGpt()`'s (without `sampleCounts`). */
export interface SparseGptOnnxOptions
  extends Omit<SparseGptOptions, "sampleCounts" | "kernels">, LayerwiseOnnxOptions {}

/**
 * Prunes the MatMul / Gemm weights of an ONNX model with SparseGPT (unstructured `sparsity`, or
 * `prunen:prunem`, optionally with joint quantization `bits`), layer by layer in graph order
 * (`layerwiseOnnx`): for each layer the model with the layers done so far replaced by their
 * pruned weights runs on every calibration batch with the layer's input as an extra output, the
 * rows go into the layer Hessian batch by batch, then `sparseGpt()`.
 *
 * @param onnx The decoded model.
 * @param batches The calibration feeds by graph input name (read once per layer).
 * @param options onnxruntime, the layers, and `sparseGpt()`'s options.
 * @returns Per layer the result in PyTorch layout (`mask`: 1 keeps), and `encode()`: the model
 *   with the new weights in their stored dtype and layout.
 * @throws {RangeError} When a module is not a main-graph MatMul/Gemm with a stored 2-D weight,
 *   no batch is given, an activation is not produced, or `sparseGpt()` rejects an option.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const { layers, encode } = await sparseGptOnnx(onnx, [{ x: { data, dims: [64, 128] } }], {
 *   ort, prunen: 2, prunem: 4,
 * });
 * ```
 */
export async function sparseGptOnnx(
  onnx: OnnxModel,
  batches: readonly Record<string, CalibrationTensor>[],
  options: SparseGptOnnxOptions,
): Promise<LayerwiseOnnxResult<SparseGptResult>> {
  return await layerwiseOnnx(onnx, batches, options, (layer) => {
    const result = sparseGpt(layer.weight, layer.shape, [], {
      ...options,
      hessian: layer.hessian,
    });
    return { weight: result.weight, result };
  });
}
