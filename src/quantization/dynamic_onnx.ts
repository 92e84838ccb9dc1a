/**
 * `dynamicOnnx`: dynamic quantization of MatMul and Conv layers as onnxruntime's Python
 * `quantize_dynamic` writes it — `DynamicQuantizeLinear` on the activation, `MatMulInteger` or
 * `ConvInteger` on the integer weight, a `Cast` and two `Mul`s for the scales.
 *
 * @module
 */

import type { OnnxAttribute, OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { Attr, NodeSpec, TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { roundHalfEven } from "../tensor/round_half_even.ts";
import { invertPermutation, permute } from "../model/permute.ts";
import { QuantizationError } from "./quantization_error.ts";
import { nodesWithGraph, storedTensor, storedTensors } from "./_stored_tensor.ts";
import { opset11Edits } from "./_opset11.ts";

/** The integer type of dynamically quantized weights (activations are always uint8). */
export type DynamicWeightType = "int8" | "uint8";

/** Options of `dynamicOnnx`. */
export interface DynamicOnnxOptions {
  /** The weights' integer type (default `"int8"`), onnxruntime's `weight_type` QInt8/QUInt8. */
  readonly weightType?: DynamicWeightType;
  /**
   * A range symmetric around 0 (default: `true` for int8, `false` for uint8, onnxruntime's
   * `WeightSymmetric` default): int8 [-127, 127] with zero point 0, uint8 [0, 254] with zero
   * point 127.
   */
  readonly symmetric?: boolean;
  /**
   * One scale per output channel (onnxruntime's `per_channel`). MatMul weights get a scale and a
   * zero point per column (`[N]`). onnxruntime's `ConvInteger` takes one weight zero point, and
   * its Python tool quantizes Conv weights per tensor whatever `per_channel` says; here a Conv
   * gets symmetric codes (one zero point: 0 for int8, 127 for uint8) and a scale per output
   * channel, shaped `[C, 1, …]` so that the output `Mul` broadcasts it over `[N, C, …]`.
   */
  readonly perChannel?: boolean;
  /**
   * 7-bit weights of MatMul layers (onnxruntime's `reduce_range`): int8 [-64, 64], uint8
   * [0, 127]; for CPUs without VNNI, whose 8-bit products can saturate.
   */
  readonly reduceRange?: boolean;
  /** Module names (default: every `Linear` computed by a MatMul and every `Conv*d` module). */
  readonly modules?: readonly string[];
}

/** One dynamically quantized weight. */
export interface DynamicLayer {
  /** The module name. */
  readonly module: string;
  /** The stored weight's name. */
  readonly tensor: string;
  /** `MatMul` or `Conv`. */
  readonly opType: "MatMul" | "Conv";
  /** The code type. */
  readonly weightType: DynamicWeightType;
  /** Scales: one, or one per output channel. */
  readonly scale: Float32Array;
  /** Zero points, same layout. */
  readonly zeroPoint: Int32Array;
  /** The weight after quantization, float32, in the module layout (`[out, in]` for MatMul). */
  readonly dequantized: Float32Array;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/**
 * The scale and zero point onnxruntime's `quantize_data` gives a set of weights: the range
 * `[min(0, min), max(0, max)]` (made symmetric around 0 when `symmetric`), scale `(rmax - rmin)
 * / (qmax - qmin)` computed in float64 and stored as float32, zero point
 * `round(qmin - rmin / scale)` (half to even), or the middle of the range when symmetric; a range
 * below float32's smallest normal gives scale 1 and zero point 0. The codes are then
 * `round(w / scale) + zeroPoint` clipped to the whole type (`dynamicCodes`).
 *
 * @param values The weights.
 * @param weightType int8 or uint8.
 * @param symmetric Symmetric range.
 * @param reduceRange 7-bit range.
 * @returns The scale (a float32 value), the zero point and the range of the codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dynamicWeightParams } from "./dynamic_onnx.ts";
 *
 * const w = new Float32Array([-1, 0.5, 2.54]);
 * assert.deepEqual(dynamicWeightParams(w, "int8", true, false), { scale: Math.fround(0.02), zeroPoint: 0, qmin: -127, qmax: 127 });
 * const u = dynamicWeightParams(w, "uint8", false, false);
 * assert.equal(u.zeroPoint, 72); // round(0 - (-1) / (3.54 / 255))
 * ```
 */
export function dynamicWeightParams(
  values: ArrayLike<number>,
  weightType: DynamicWeightType,
  symmetric: boolean,
  reduceRange: boolean,
): { scale: number; zeroPoint: number; qmin: number; qmax: number } {
  const [qmin, qmax] = reduceRange
    ? (weightType === "int8" ? [-64, 64] : [0, 127])
    : symmetric
    ? (weightType === "int8" ? [-127, 127] : [0, 254])
    : (weightType === "int8" ? [-128, 127] : [0, 255]);
  let lo = 0, hi = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let rmin = Math.fround(lo), rmax = Math.fround(hi);
  if (symmetric) {
    const absmax = Math.max(-rmin, rmax);
    rmin = -absmax;
    rmax = absmax;
  }
  // numpy: float32 rmax - rmin, then float64 division.
  const scale64 = Math.fround(rmax - rmin) / (qmax - qmin);
  if (scale64 < FLOAT32_TINY) return { scale: 1, zeroPoint: 0, qmin, qmax };
  const zeroPoint = symmetric
    ? roundHalfEven((qmin + qmax) / 2)
    : roundHalfEven(qmin - rmin / scale64);
  return { scale: Math.fround(scale64), zeroPoint, qmin, qmax };
}

/**
 * Codes as onnxruntime's `quantize_nparray` computes them: `round(w / scale) + zeroPoint` in
 * float32 (half to even), clipped to the whole type (int8 [-128, 127], uint8 [0, 255]).
 *
 * @param values The weights.
 * @param scale The scale (float32).
 * @param zeroPoint The zero point.
 * @param weightType int8 or uint8.
 * @param out Where to write the codes (default: a new array).
 * @returns The codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dynamicCodes } from "./dynamic_onnx.ts";
 *
 * assert.deepEqual([...dynamicCodes(new Float32Array([-1, 0.5, 0.25, 9]), 0.5, 0, "int8")], [-2, 1, 0, 18]);
 * ```
 */
export function dynamicCodes(
  values: ArrayLike<number>,
  scale: number,
  zeroPoint: number,
  weightType: DynamicWeightType,
  out: Int32Array = new Int32Array(values.length),
): Int32Array {
  const [lo, hi] = weightType === "int8" ? [-128, 127] : [0, 255];
  const s = Math.fround(scale);
  for (let i = 0; i < values.length; i++) {
    // A float64 quotient of two float32 values rounds to the float32 quotient exactly.
    const q = roundHalfEven(Math.fround(values[i] / s)) + zeroPoint;
    out[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return out;
}

/** A decoded attribute as the writer's `Attr` (the forms Conv attributes take). */
function attrOf(a: OnnxAttribute, at: { module: string; target: string }): Attr {
  if (a.i !== undefined && a.type === 2) return { name: a.name, i: a.i };
  if (a.f !== undefined && a.type === 1) return { name: a.name, f: a.f };
  if (a.s !== undefined && a.type === 3) return { name: a.name, s: a.s };
  if (a.type === 7) return { name: a.name, ints: a.ints ?? [] };
  if (a.type === 6) return { name: a.name, floats: a.floats ?? [] };
  throw new QuantizationError(
    "storage",
    `dynamic quantization copies int, float, string and list attributes: attribute "${a.name}" has type ${a.type}`,
    at,
  );
}

interface Quantized {
  readonly inputs: { codes: string; scale: string; zeroPoint: string };
  readonly layer: Omit<DynamicLayer, "module">;
  readonly graph: string;
  readonly perChannel: boolean;
  readonly rank: number;
}

/**
 * Replaces the MatMul of each selected `Linear` module and the Conv of each selected `Conv*d`
 * module as onnxruntime's Python `quantize_dynamic` (IntegerOps mode) does: the activation goes
 * through `DynamicQuantizeLinear` (uint8, its range measured at run time on each input, one node
 * per value and graph, named `<value>_QuantizeLinear`), the weight is stored as int8 or uint8
 * codes `<weight>_quantized` with `<weight>_scale` and `<weight>_zero_point`, and
 * `MatMulInteger` / `ConvInteger` (`<node>_quant`, Conv attributes copied) computes the int32
 * product, which a `Cast` to float and a `Mul` by the product of both scales
 * (`<node>_quant_scales_mul`) turn back into the float output under its original name. A Conv
 * bias stays float: `Reshape` to `[1, -1, 1, …]` and `Add` (`<output>_bias_add`).
 *
 * A weight that several nodes read (the same layer in both branches of an `If`, tied
 * embeddings) is quantized once, into the graph that stores it: every replaced node reads the
 * same codes, and a reader that is not replaced (a `Gather` of tied embeddings, a node the
 * config list leaves out) reads the weight through a `DequantizeLinear` of those codes, so the
 * float copy goes and the weight is stored once (onnxruntime's tool keeps the float weight
 * beside the codes, and quantizes a weight read from two subgraphs twice). Nodes in `If`/
 * `Loop`/`Scan` bodies are replaced in their body.
 *
 * Models below opset 11 are raised to 11 (`DynamicQuantizeLinear`'s), with the Slice, Clip, Pad
 * and TopK nodes rewritten into their opset-11 form; onnxruntime's tool changes only the import,
 * which leaves models with such nodes unloadable.
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param options Weight type, symmetry, per-channel, reduced range and modules.
 * @returns The new model bytes and the quantized layers.
 * @throws {QuantizationError} Code `storage`, naming the module, for a module that is not a
 * MatMul or Conv with a constant float32 weight as its second input, a per-channel Conv weight
 * that other nodes also read, a weight whose name two subgraphs define, or an opset-9/10 model
 * with an Upsample or Scatter.
 *
 * @example
 * ```ts ignore
 * const onnx = decodeOnnx(bytes);
 * const { bytes: out } = await dynamicOnnx(onnx, onnxModel(onnx), { weightType: "uint8" });
 * ```
 */
export async function dynamicOnnx(
  onnx: OnnxModel,
  model: ModelGraph,
  options: DynamicOnnxOptions = {},
): Promise<{ bytes: Uint8Array; layers: DynamicLayer[] }> {
  const weightType = options.weightType ?? "int8";
  if (weightType !== "int8" && weightType !== "uint8") {
    throw new QuantizationError(
      "argument",
      `"weightType" must be int8 or uint8: current value is ${JSON.stringify(weightType)}`,
    );
  }
  const symmetric = options.symmetric ?? weightType === "int8";
  const codeType = weightType === "int8" ? ONNX_DATA_TYPE.INT8 : ONNX_DATA_TYPE.UINT8;
  const selected = options.modules ??
    model.modules.filter((m) =>
      (m.type === "Linear" && m.opType === "MatMul") ||
      (m.opType === "Conv" && /^Conv[123]d$/.test(m.type))
    ).map((m) => m.name);
  const edits: OnnxEdit[] = opset11Edits(onnx, "dynamic quantization");
  const all = nodesWithGraph(onnx);
  const consumers = new Map<string, number>();
  for (const { node: n } of all) {
    for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const places = storedTensors(onnx);
  const done = new Map<string, Quantized>();
  const replaced = new Map<string, number>();
  const layers: DynamicLayer[] = [];

  const quantizeWeight = async (
    ref: TensorRef,
    opType: "MatMul" | "Conv",
    at: { module: string; target: string },
  ): Promise<Quantized> => {
    const place = storedTensor(places, onnx, ref.name, "dynamic quantization", at);
    if (ref.dtype !== "F32") {
      throw new QuantizationError(
        "storage",
        `dynamic quantization stores float32 weights (DynamicQuantizeLinear reads float32): tensor "${ref.name}" is ${ref.dtype}`,
        at,
      );
    }
    const perChannel = options.perChannel === true;
    // One zero point for every channel of a Conv: symmetric codes.
    const sym = perChannel && opType === "Conv" ? true : symmetric;
    const reduce = options.reduceRange === true && opType === "MatMul";
    const w = await ref.data();
    const channels = perChannel ? ref.shape[0] : 1;
    const per = w.length / channels;
    const scale = new Float32Array(channels);
    const zeroPoint = new Int32Array(channels);
    const codes = new Int32Array(w.length);
    const dequantized = new Float32Array(w.length);
    for (let c = 0; c < channels; c++) {
      const part = w.subarray(c * per, (c + 1) * per);
      const p = dynamicWeightParams(part, weightType, sym, reduce);
      scale[c] = p.scale;
      zeroPoint[c] = p.zeroPoint;
      const q = dynamicCodes(part, p.scale, p.zeroPoint, weightType, codes.subarray(c * per));
      for (let i = 0; i < per; i++) {
        dequantized[c * per + i] = Math.fround((q[i] - p.zeroPoint) * p.scale);
      }
    }
    const fileCodes = ref.transpose === undefined
      ? codes
      : permute(Float32Array.from(codes), ref.shape, invertPermutation(ref.transpose));
    const raw = weightType === "int8"
      ? new Uint8Array(Int8Array.from(fileCodes).buffer)
      : Uint8Array.from(fileCodes);
    const t = ref.name;
    const names = { codes: `${t}_quantized`, scale: `${t}_scale`, zeroPoint: `${t}_zero_point` };
    const conv = opType === "Conv";
    const rank = ref.fileShape.length;
    const dims = !perChannel ? [] : conv ? [channels, ...Array(rank - 2).fill(1)] : [channels];
    // A Conv's channels share their zero point (the symmetric one), stored once.
    const zps = perChannel && conv ? zeroPoint.subarray(0, 1) : zeroPoint;
    const zpRaw = weightType === "int8"
      ? new Uint8Array(Int8Array.from(zps).buffer)
      : Uint8Array.from(zps);
    const tensors: TensorSpec[] = [
      { name: names.codes, dataType: codeType, dims: ref.fileShape, raw },
      {
        name: names.scale,
        dataType: ONNX_DATA_TYPE.FLOAT,
        dims,
        raw: new Uint8Array(scale.buffer),
      },
      { name: names.zeroPoint, dataType: codeType, dims: conv ? [] : dims, raw: zpRaw },
    ];
    for (const tensor of tensors) {
      edits.push({ op: "addInitializer", tensor, graph: place.graph });
    }
    return {
      inputs: names,
      layer: { tensor: t, opType, weightType, scale, zeroPoint, dequantized },
      graph: place.graph,
      perChannel,
      rank: ref.fileShape.length,
    };
  };

  // The nodes to replace, found first, so each activation's DynamicQuantizeLinear can go before
  // the first of its readers.
  const jobs: {
    name: string;
    ref: TensorRef;
    node: (typeof all)[number]["node"];
    graph: string;
    index: number;
    opType: "MatMul" | "Conv";
  }[] = [];
  for (const name of selected) {
    const mod = model.modules.find((m) => m.name === name);
    const ref = mod?.params.weight;
    const at = { module: name, target: "weight" };
    const opType = mod?.opType === "Conv" ? "Conv" : "MatMul";
    const isLayer = (n: { opType: string; inputs: readonly string[] }) =>
      n.opType === opType && ref !== undefined && n.inputs[1] === ref.name;
    const view = mod?.subgraph === undefined
      ? model.graph?.nodes
      : model.graph?.subgraphs?.[mod.subgraph];
    const own = view?.findIndex((n) => n.module === name && isLayer(n)) ?? -1;
    const found = own >= 0
      ? all.find((x) => x.graph === (mod?.subgraph ?? "graph") && x.index === own)
      : all.find(({ node: n }) => isLayer(n));
    if (
      mod === undefined || ref === undefined || found === undefined ||
      (mod.opType !== "MatMul" && mod.opType !== "Conv")
    ) {
      throw new QuantizationError(
        "storage",
        `dynamic quantization replaces a MatMul or Conv with a constant weight as its second input (onnxruntime's quantize_dynamic leaves Gemm and other operators in float): the module is ${
          mod?.opType ?? "missing"
        }`,
        at,
      );
    }
    jobs.push({ name, ref, node: found.node, graph: found.graph, index: found.index, opType });
  }
  const firstReader = new Map<string, number>();
  for (const j of jobs) {
    const key = `${j.graph}\u0000${j.node.inputs[0]}`;
    firstReader.set(key, Math.min(firstReader.get(key) ?? Infinity, j.index));
  }
  const activations = new Set<string>();
  const scaleMuls = new Set<string>();
  for (const j of jobs) {
    const at = { module: j.name, target: "weight" };
    const t = j.ref.name;
    const q = done.get(t) ?? await quantizeWeight(j.ref, j.opType, at);
    done.set(t, q);
    replaced.set(t, (replaced.get(t) ?? 0) + 1);
    layers.push({ module: j.name, ...q.layer });
    const { node, graph, index } = j;
    const where = { graph };
    const a = node.inputs[0];
    const key = `${graph}\u0000${a}`;
    if (!activations.has(key)) {
      activations.add(key);
      edits.push({
        op: "insertNodes",
        at: { before: firstReader.get(key)! },
        ...where,
        nodes: [{
          name: `${a}_QuantizeLinear`,
          opType: "DynamicQuantizeLinear",
          inputs: [a],
          outputs: [`${a}_quantized`, `${a}_scale`, `${a}_zero_point`],
        }],
      });
    }
    const out = node.outputs[0];
    const nodeName = node.name === "" ? "" : `${node.name}_quant`;
    const product = `${out}_output_quantized`;
    const integer: NodeSpec = {
      name: nodeName,
      opType: j.opType === "Conv" ? "ConvInteger" : "MatMulInteger",
      inputs: [`${a}_quantized`, q.inputs.codes, `${a}_zero_point`, q.inputs.zeroPoint],
      outputs: [product],
      ...(j.opType === "Conv" ? { attributes: node.attributes.map((x) => attrOf(x, at)) } : {}),
    };
    const cast = `${product}_cast_output`;
    const mulName = nodeName !== "" ? `${nodeName}_scales_mul` : `${a}_scale_${q.inputs.scale}_mul`;
    const after: NodeSpec[] = [{
      name: `${product}_cast`,
      opType: "Cast",
      inputs: [product],
      outputs: [cast],
      attributes: [{ name: "to", i: ONNX_DATA_TYPE.FLOAT }],
    }];
    if (!scaleMuls.has(`${graph}\u0000${mulName}`)) {
      scaleMuls.add(`${graph}\u0000${mulName}`);
      after.push({
        name: mulName,
        opType: "Mul",
        inputs: [`${a}_scale`, q.inputs.scale],
        outputs: [`${mulName}:0`],
      });
    }
    const bias = j.opType === "Conv" && node.inputs[2] !== undefined && node.inputs[2] !== ""
      ? node.inputs[2]
      : undefined;
    const scaled = bias === undefined ? out : `${out}quant_scaled_output`;
    after.push({
      name: nodeName === "" ? "" : `${nodeName}_output_scale_mul`,
      opType: "Mul",
      inputs: [cast, `${mulName}:0`],
      outputs: [scaled],
    });
    if (bias !== undefined) {
      const shape = `${out}_bias_reshape_shape`;
      const dims = Array.from({ length: q.rank }, (_, i) => (i === 1 ? -1 : 1));
      const raw = new Uint8Array(q.rank * 8);
      dims.forEach((d, i) => new DataView(raw.buffer).setBigInt64(i * 8, BigInt(d), true));
      edits.push({
        op: "addInitializer",
        tensor: { name: shape, dataType: ONNX_DATA_TYPE.INT64, dims: [q.rank], raw },
        ...where,
      });
      after.push(
        {
          name: "",
          opType: "Reshape",
          inputs: [bias, shape],
          outputs: [`${out}_bias_reshape_output`],
        },
        {
          name: `${out}_bias_add`,
          opType: "Add",
          inputs: [scaled, `${out}_bias_reshape_output`],
          outputs: [out],
        },
      );
    }
    edits.push({ op: "replaceNode", node: index, ...where, with: integer });
    edits.push({ op: "insertNodes", at: { after: index }, ...where, nodes: after });
  }
  // Each float weight goes; readers that were not replaced read it dequantized from the codes.
  let microsoft = false;
  for (const [t, q] of done) {
    const at = { module: layers.find((l) => l.tensor === t)!.module, target: "weight" };
    const place = storedTensor(places, onnx, t, "dynamic quantization", at);
    if (place.constantNode !== undefined) {
      edits.push({ op: "removeNode", node: place.constantNode, graph: place.graph });
    } else edits.push({ op: "removeInitializer", name: t, graph: place.graph });
    if ((replaced.get(t) ?? 0) < (consumers.get(t) ?? 0)) {
      if (q.perChannel && q.layer.opType === "Conv") {
        throw new QuantizationError(
          "storage",
          `dynamic quantization stores a per-channel Conv weight once, for its Conv nodes: tensor "${t}" is also read by other nodes (use per-tensor granularity)`,
          at,
        );
      }
      microsoft ||= q.perChannel;
      edits.push({
        op: "insertNodes",
        at: "start",
        graph: place.graph,
        nodes: [{
          name: `${t}_DequantizeLinear`,
          opType: "DequantizeLinear",
          ...(q.perChannel ? { domain: "com.microsoft" } : {}),
          inputs: [q.inputs.codes, q.inputs.scale, q.inputs.zeroPoint],
          outputs: [t],
          // MatMul weights are [K, N]: the channels are the columns.
          ...(q.perChannel ? { attributes: [{ name: "axis", i: 1 }] } : {}),
        }],
      });
    }
  }
  if (microsoft) edits.push({ op: "addOpset", domain: "com.microsoft", version: 1 });
  const { bytes } = editOnnx(onnx, edits);
  return { bytes, layers };
}
