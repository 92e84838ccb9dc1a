/**
 * GPTQ over the MatMul / Gemm layers of an ONNX model: each layer's inputs captured with
 * onnxruntime from the model with the earlier layers already quantized (sequentially, as the
 * reference does block by block), the layer Hessian accumulated batch by batch, then `gptq()`.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { activationValue } from "./_activation_value.ts";
import { patchOnnx } from "./_patch_onnx.ts";
import type { CalibrationTensor, OrtLike } from "./calibrate_onnx.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { gptq, type GptqOptions, type GptqResult } from "./gptq.ts";
import { checkBatches } from "./obs_layer.ts";

/** Options of `gptqOnnx`. */
export interface GptqOnnxOptions extends Omit<GptqOptions, "sampleCounts" | "hessian"> {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /**
   * The modules to quantize, in graph order (default: every module whose first main-graph node
   * is a MatMul or Gemm with a stored weight).
   */
  readonly modules?: readonly string[];
  /** Session options for `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
  /** Called after each layer with its name, its index and the number of layers. */
  readonly onLayer?: (module: string, index: number, count: number) => void;
}

/** One quantized layer. */
export interface GptqLayer {
  /** The module name. */
  readonly module: string;
  /** The stored weight tensor's name. */
  readonly tensor: string;
  /** The GPTQ result in PyTorch layout (`[out, in]`). */
  readonly result: GptqResult;
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

const LAYER_OPS = new Set(["MatMul", "Gemm"]);

/**
 * Quantizes the MatMul / Gemm weights of an ONNX model with GPTQ, layer by layer in graph
 * order. For each layer: the model with the layers done so far replaced by their quantized
 * weights runs on every calibration batch with the layer's input as an extra output; each
 * batch's rows (`[..., in]` flattened) are added to the layer Hessian (one `add_batch` each, the
 * leading dim of a 3-D or larger input counting as its samples like the reference); then
 * `gptq()`. Memory holds one layer's Hessian and one batch's activation at a time.
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
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new RangeError(`"batches" must hold at least one batch: current value is ${batches}`);
  }
  const kernels: Kernels = options.kernels ?? getKernels();
  const model = onnxModel(onnx);
  const nodes = model.graph?.nodes ?? [];
  const first = (name: string) => nodes.find((n) => n.module === name);
  const names = options.modules ??
    model.modules.filter((m) =>
      m.params.weight !== undefined && LAYER_OPS.has(first(m.name)?.opType ?? "")
    ).map((m) => m.name);
  const layers = names.map((name) => {
    const module = model.modules.find((m) => m.name === name);
    const node = first(name);
    const ref = module?.params.weight;
    if (module === undefined || node === undefined || !LAYER_OPS.has(node.opType) || !ref) {
      throw new RangeError(
        `"modules" must name MatMul or Gemm modules of the main graph with a stored weight: ${
          JSON.stringify(name)
        } is not one`,
      );
    }
    if (ref.shape.length !== 2) {
      throw new RangeError(`the weight of ${JSON.stringify(name)} is not 2-D: [${ref.shape}]`);
    }
    return { name, ref, value: activationValue(onnx, model, name, "_input_0").value };
  });

  const replacements = new Map<string, OnnxReplacement>();
  const done: GptqLayer[] = [];
  const sessionOptions = options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1 };
  for (let index = 0; index < layers.length; index++) {
    const { name, ref, value } = layers[index];
    const [out, inp] = ref.shape;
    const current = replacements.size === 0 ? onnx : decodeOnnx(encodeOnnx(onnx, replacements));
    const visible = new Set([...current.graph.outputs, ...current.graph.inputs]);
    const bytes = patchOnnx(current, {
      dropNodeOutputs: new Set(),
      dropInitializers: new Set(),
      initializers: [],
      nodesFirst: [],
      nodesReplacing: new Map(),
      extraOutputs: visible.has(value) ? [] : [value],
      opsets: [],
    });
    const hessian = new Float32Array(inp * inp);
    let nsamples = 0;
    const session = await options.ort.InferenceSession.create(bytes, sessionOptions);
    try {
      for (const batch of batches) {
        let act: { data: unknown; dims: readonly number[] } | undefined = batch[value];
        if (act === undefined) {
          const feeds: Record<string, unknown> = {};
          for (const [k, t] of Object.entries(batch) as [string, CalibrationTensor][]) {
            feeds[k] = new options.ort.Tensor("float32", t.data, t.dims);
          }
          act = (await session.run(feeds))[value];
        }
        if (act === undefined) {
          throw new RangeError(`the input ${JSON.stringify(value)} of ${name} was not produced`);
        }
        const dims = act.dims;
        if (dims[dims.length - 1] !== inp) {
          throw new RangeError(
            `the input ${JSON.stringify(value)} of ${name} must end with ${inp} features: ` +
              `its dims are [${dims}] (a Gemm with transA is not supported)`,
          );
        }
        const x = act.data instanceof Float32Array
          ? act.data
          : Float32Array.from(act.data as ArrayLike<number>);
        checkBatches([x], inp);
        const count = dims.length <= 2 ? 1 : dims[0];
        const decay = nsamples / (nsamples + count);
        nsamples += count;
        kernels.hessianAccumulate(hessian, x, inp, decay, Math.sqrt(2 / nsamples));
      }
    } finally {
      await (session as { release?: () => Promise<void> }).release?.();
    }
    const weight = await ref.data();
    const result = gptq(weight, [out, inp], [], { ...options, hessian, kernels });
    replacements.set(ref.name, { bytes: toFileBytes(ref, result.weight, kernels) });
    done.push({
      module: name,
      tensor: ref.name,
      result,
      params: paramsOf(name, ref.shape, result, options),
    });
    options.onLayer?.(name, index, layers.length);
  }
  return {
    layers: done,
    encode: () => encodeOnnx(onnx, replacements),
  };
}

/** The GPTQ grid as `quantize()`'s parameters, when it is a block grid. */
function paramsOf(
  module: string,
  shape: readonly number[],
  result: GptqResult,
  options: GptqOnnxOptions,
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
