/**
 * The layer-by-layer driver of GPTQ and SparseGPT over an ONNX model: for each MatMul / Gemm
 * layer in graph order, the model with the layers done so far replaced runs in onnxruntime on
 * every calibration batch with the layer's input as an extra graph output, the rows are added to
 * the layer Hessian batch by batch, and a solver turns weight and Hessian into the new weight.
 *
 * @module
 */

import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { activationValue } from "./_activation_value.ts";
import { patchOnnx } from "./_patch_onnx.ts";
import type { CalibrationTensor, OrtLike } from "./calibrate_onnx.ts";
import { checkBatches } from "./obs_layer.ts";

/** Options of `layerwiseOnnx`. */
export interface LayerwiseOnnxOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /**
   * The modules to process, in graph order (default: every module whose first main-graph node
   * is a MatMul or Gemm with a stored 2-D weight).
   */
  readonly modules?: readonly string[];
  /** Session options for `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
  /** Called after each layer with its name, its index and the number of layers. */
  readonly onLayer?: (module: string, index: number, count: number) => void;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** One layer handed to the solver. */
export interface LayerwiseLayer {
  /** The module name. */
  readonly module: string;
  /** The stored weight. */
  readonly ref: TensorRef;
  /** The weight in PyTorch layout `[out, in]`. */
  readonly weight: Float32Array;
  /** `[out, in]`. */
  readonly shape: readonly [number, number];
  /** The layer Hessian `[in, in]` from the inputs captured for it. */
  readonly hessian: Float32Array;
}

/** What `layerwiseOnnx` returns. */
export interface LayerwiseOnnxResult<T> {
  /** The solver's results, in the order the layers were processed. */
  readonly layers: readonly {
    readonly module: string;
    readonly tensor: string;
    readonly result: T;
  }[];
  /**
   * The model with every processed weight replaced by its new values (in the stored dtype and
   * layout).
   *
   * @returns The ONNX bytes.
   */
  encode(): Uint8Array;
}

const LAYER_OPS = new Set(["MatMul", "Gemm"]);

/**
 * Runs a layer-wise solver over the MatMul / Gemm weights of an ONNX model, sequentially: for
 * each layer, the model with the layers done so far replaced runs on every calibration batch
 * with the layer's input as an extra output; each batch's rows (`[..., in]` flattened) are added
 * to the layer Hessian right away (one `add_batch` each, the leading dim of a 3-D or larger
 * input counting as its samples like the reference); then `solve` returns the new weight
 * (PyTorch layout) and its result. Memory holds one layer's Hessian and one batch's activation
 * at a time.
 *
 * @param onnx The decoded model.
 * @param batches The calibration feeds by graph input name (read once per layer).
 * @param options onnxruntime, the layers, session options, progress, kernels.
 * @param solve The layer solver: `gptq()` or `sparseGpt()` with a precomputed Hessian.
 * @returns The layers' results and `encode()`.
 * @throws {RangeError} When a module is not a main-graph MatMul/Gemm with a stored 2-D weight,
 *   no batch is given, or an activation is not produced or has the wrong last dim.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const { layers } = await layerwiseOnnx(onnx, batches, { ort }, (layer) => {
 *   const result = gptq(layer.weight, layer.shape, [], { bits: 4, hessian: layer.hessian });
 *   return { weight: result.weight, result };
 * });
 * ```
 */
export async function layerwiseOnnx<T>(
  onnx: OnnxModel,
  batches: readonly Record<string, CalibrationTensor>[],
  options: LayerwiseOnnxOptions,
  solve: (layer: LayerwiseLayer) => { readonly weight: Float32Array; readonly result: T },
): Promise<LayerwiseOnnxResult<T>> {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new RangeError(`"batches" must hold at least one batch: current value is ${batches}`);
  }
  const kernels: Kernels = options.kernels ?? getKernels();
  const model = onnxModel(onnx);
  const nodes = model.graph?.nodes ?? [];
  const first = (name: string) => nodes.find((n) => n.module === name);
  const names = options.modules ??
    model.modules.filter((m) =>
      m.params.weight !== undefined && m.params.weight.shape.length === 2 &&
      LAYER_OPS.has(first(m.name)?.opType ?? "")
    ).map((m) => m.name);
  const layers = names.map((name) => {
    const module = model.modules.find((m) => m.name === name);
    const node = first(name);
    const ref = module?.params.weight;
    if (
      module === undefined || node === undefined || !LAYER_OPS.has(node.opType) || !ref ||
      ref.shape.length !== 2
    ) {
      throw new RangeError(
        `"modules" must name MatMul or Gemm modules of the main graph with a stored 2-D weight: ${
          JSON.stringify(name)
        } is not one`,
      );
    }
    return { name, ref, value: activationValue(onnx, model, name, "_input_0").value };
  });

  const replacements = new Map<string, OnnxReplacement>();
  const done: { module: string; tensor: string; result: T }[] = [];
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
    const solved = solve({ module: name, ref, weight, shape: [out, inp], hessian });
    replacements.set(ref.name, { bytes: toFileBytes(ref, solved.weight, kernels) });
    done.push({ module: name, tensor: ref.name, result: solved.result });
    options.onLayer?.(name, index, layers.length);
  }
  return { layers: done, encode: () => encodeOnnx(onnx, replacements) };
}
