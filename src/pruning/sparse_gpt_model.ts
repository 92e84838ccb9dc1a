/**
 * SparseGPT over the MatMul / Gemm / Conv layers of an ONNX model (a grouped or depthwise Conv
 * as one layer per group): each layer's inputs captured with
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
 * @throws {RangeError} When a module is not a main-graph MatMul/Gemm with a stored 2-D weight
 *   or a 2-D Conv,
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
  }, stackSparseGpt);
}

/**
 * The results of a grouped Conv's groups (each `[out/g, (in/g) · kh · kw]`, N:M along its own
 * im2col row) as one result stacked by rows; `loss` summed, `deadColumns` those dead in any
 * group.
 */
function stackSparseGpt(parts: readonly SparseGptResult[]): SparseGptResult {
  const cat = <A extends Float32Array | Uint8Array>(
    pick: (r: SparseGptResult) => A | undefined,
    make: new (n: number) => A,
  ): A | undefined => {
    if (pick(parts[0]) === undefined) return undefined;
    const out = new make(parts.reduce((n, r) => n + pick(r)!.length, 0));
    let at = 0;
    for (const r of parts) {
      out.set(pick(r)!, at);
      at += pick(r)!.length;
    }
    return out;
  };
  const codes = cat((r) => r.codes, Uint8Array);
  const scale = cat((r) => r.scale, Float32Array);
  const zeroPoint = cat((r) => r.zeroPoint, Float32Array);
  return {
    weight: cat((r) => r.weight, Float32Array)!,
    mask: cat((r) => r.mask, Uint8Array)!,
    ...(codes === undefined ? {} : { codes }),
    ...(scale === undefined ? {} : { scale }),
    ...(zeroPoint === undefined ? {} : { zeroPoint }),
    deadColumns: [...new Set(parts.flatMap((r) => r.deadColumns))].sort((a, b) => a - b),
    loss: parts.reduce((s, r) => s + r.loss, 0),
  };
}
