/**
 * GPTQ over the MatMul / Gemm / Conv layers of an ONNX model (a grouped or depthwise Conv as one
 * layer per group): each layer's inputs captured with
 * onnxruntime from the model with the earlier layers already quantized (sequentially, as the
 * reference does block by block), the layer Hessian accumulated batch by batch, then `gptq()`.
 *
 * @module
 */

import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { CalibrationTensor } from "./calibrate_onnx.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { gptq, type GptqOptions, type GptqResult } from "./gptq.ts";
import { layerwiseOnnx, type LayerwiseOnnxOptions } from "./layerwise_onnx.ts";

/** Options of `gptqOnnx`: the driver's and `gptq()`'s (without `sampleCounts`, `hessian`). */
export interface GptqOnnxOptions
  extends Omit<GptqOptions, "sampleCounts" | "hessian" | "kernels">, LayerwiseOnnxOptions {}

/** One quantized layer. */
export interface GptqLayer {
  /** The module name. */
  readonly module: string;
  /** The stored weight tensor's name. */
  readonly tensor: string;
  /**
   * The GPTQ result in PyTorch layout (`[out, in]`). For a Conv of several groups, the groups'
   * results stacked by rows (`weight`, `codes`, `scale`, `zeroPoint`; `loss` summed,
   * `deadColumns` those dead in any group); `groupIndex` and `perm` are group 0's, each group's
   * own are in `parts` (they differ under act-order).
   */
  readonly result: GptqResult;
  /** For a Conv of several groups: each group's result, in group order. */
  readonly parts?: readonly GptqResult[];
  /**
   * The grid as quantization parameters (`quantize()`'s form): `uint<bits>` codes in
   * `[0, 2^bits - 1]`, one scale and zero point per row (`kernel [1, -1]`) or per row and group
   * of `groupSize` consecutive columns (`[1, groupSize]`); `quantizeTensor` of `result.weight`
   * with them gives `result.codes`. Absent when the groups cannot be written that way (dynamic
   * groups under act-order, or `groupSize` not dividing the input features).
   */
  readonly params?: TargetQuantParams;
}

/** What `gptqOnnx` returns. */
export interface GptqOnnxResult {
  /** The layers, in the order they were quantized. */
  readonly layers: readonly GptqLayer[];
  /**
   * The model with every quantized weight replaced by its GPTQ values (on the grid, in the
   * stored dtype and layout): the `float` storage.
   *
   * @returns The ONNX bytes.
   */
  encode(): Uint8Array;
}

/**
 * Quantizes the MatMul / Gemm weights of an ONNX model with GPTQ, layer by layer in graph
 * order (`layerwiseOnnx`): for each layer the model with the layers done so far replaced by
 * their quantized weights runs on every calibration batch with the layer's input as an extra
 * output, the rows go into the layer Hessian batch by batch, then `gptq()`. Memory holds one
 * layer's Hessian and one batch's activation at a time.
 *
 * @param onnx The decoded model.
 * @param batches The calibration feeds by graph input name (read once per layer).
 * @param options onnxruntime, the layers, and `gptq()`'s options (bits, grid, groups, …).
 * @returns The layers with their results and parameters, and `encode()`.
 * @throws {RangeError} When a module is not a main-graph MatMul/Gemm with a stored weight, no
 *   batch is given, an activation is not produced or has the wrong last dim, or `gptq()`
 *   rejects an option.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const { layers, encode } = await gptqOnnx(onnx, [{ x: { data, dims: [64, 128] } }], {
 *   ort, bits: 4, groupSize: 128,
 * });
 * await Deno.writeFile("model.gptq.onnx", encode());
 * ```
 */
export async function gptqOnnx(
  onnx: OnnxModel,
  batches: readonly Record<string, CalibrationTensor>[],
  options: GptqOnnxOptions,
): Promise<GptqOnnxResult> {
  const { layers, encode } = await layerwiseOnnx<{ result: GptqResult; parts?: GptqResult[] }>(
    onnx,
    batches,
    options,
    (layer) => {
      const result = gptq(layer.weight, layer.shape, [], { ...options, hessian: layer.hessian });
      return { weight: result.weight, result: { result } };
    },
    (parts) => {
      const results = parts.map((p) => p.result);
      return { result: stackGptq(results), parts: results };
    },
  );
  return {
    layers: layers.map(({ module, tensor, result: { result, parts } }) => {
      const inp = result.groupIndex.length;
      const shape = [result.codes.length / inp, inp];
      const params = gptqParams(module, shape, result, options);
      return {
        module,
        tensor,
        result,
        ...(parts === undefined ? {} : { parts }),
        ...(params === undefined ? {} : { params }),
      };
    }),
    encode,
  };
}

/** The results of a grouped Conv's groups as one result, stacked by rows. */
function stackGptq(parts: readonly GptqResult[]): GptqResult {
  const cat = <A extends Float32Array | Uint8Array>(
    pick: (r: GptqResult) => A,
    make: new (n: number) => A,
  ): A => {
    const out = new make(parts.reduce((n, r) => n + pick(r).length, 0));
    let at = 0;
    for (const r of parts) {
      out.set(pick(r), at);
      at += pick(r).length;
    }
    return out;
  };
  const dead = new Set(parts.flatMap((r) => r.deadColumns));
  return {
    weight: cat((r) => r.weight, Float32Array),
    codes: cat((r) => r.codes, Uint8Array),
    scale: cat((r) => r.scale, Float32Array),
    zeroPoint: cat((r) => r.zeroPoint, Float32Array),
    groups: parts[0].groups,
    groupIndex: parts[0].groupIndex,
    perm: parts[0].perm,
    deadColumns: [...dead].sort((a, b) => a - b),
    loss: parts.reduce((s, r) => s + r.loss, 0),
  };
}

/**
 * A `gptq()` result's grid as `quantize()`'s parameters (`uint<bits>` codes, one scale and zero
 * point per row, or per row and group of `groupSize` consecutive inputs), so the writers of
 * integer storages (QDQ, integer safetensors, compressed-tensors) store GPTQ's own codes:
 * `quantizeTensor(result.weight, shape, params)` gives `result.codes`. `undefined` when the
 * groups are not consecutive inputs (act-order without `staticGroups`) or `groupSize` does not
 * divide the inputs.
 *
 * @param module The module name the parameters are for.
 * @param shape The weight shape `[out, in]`.
 * @param result What `gptq()` returned.
 * @param options The options `gptq()` ran with.
 * @returns The parameters, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { gptq } from "./gptq.ts";
 * import { gptqParams } from "./gptq_model.ts";
 * import { quantizeTensor } from "./quantize_tensor.ts";
 *
 * const w = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
 * const x = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 0.7));
 * const options = { bits: 4, groupSize: 4 };
 * const result = gptq(w, [4, 8], [x], options);
 * const params = gptqParams("fc", [4, 8], result, options)!;
 * assert.deepEqual([...quantizeTensor(result.weight, [4, 8], params)], [...result.codes]);
 * ```
 */
export function gptqParams(
  module: string,
  shape: readonly number[],
  result: GptqResult,
  options: Pick<GptqOptions, "bits" | "sym" | "groupSize" | "actOrder" | "staticGroups">,
): TargetQuantParams | undefined {
  const [out, inp] = shape;
  const gs = options.groupSize ?? -1;
  if (gs !== -1 && (inp % gs !== 0 || (options.actOrder && !options.staticGroups))) {
    return undefined;
  }
  const maxq = 2 ** options.bits - 1;
  const blocks = result.scale.length;
  const trackedMin = new Float32Array(blocks);
  const trackedMax = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    trackedMin[b] = Math.fround(result.scale[b] * (0 - result.zeroPoint[b]));
    trackedMax[b] = Math.fround(result.scale[b] * (maxq - result.zeroPoint[b]));
  }
  return {
    module,
    target: "weight",
    kind: "parameter",
    configIndex: 0,
    quantDtype: `uint${options.bits}`,
    bits: options.bits,
    quantScheme: options.sym ? "symmetric" : "affine",
    granularity: gs === -1 ? "out_channel" : [1, gs],
    shape,
    gridShape: [out, result.groups],
    kernel: gs === -1 ? [1, -1] : [1, gs],
    scale: result.scale,
    zeroPoint: result.zeroPoint,
    qmin: 0,
    qmax: maxq,
    trackedMin,
    trackedMax,
  };
}
