/**
 * Recognising ONNX nodes whose weights the file already stores quantized: `QLinearConv`,
 * `ConvInteger`, `QLinearMatMul`, `MatMulInteger`, `com.microsoft` `MatMulNBits`, `QGemm`,
 * `DynamicQuantizeMatMul` and `MatMulIntegerToFloat`, and Conv /
 * ConvTranspose / Gemm / MatMul nodes whose weight is the output of a `DequantizeLinear` of a
 * constant.
 *
 * @module
 */

import type { OnnxNode, OnnxTensor } from "../io/onnx/onnx_types.ts";
import { onnxDataTypeName } from "../tensor/onnx_data_type.ts";
import type { QuantizedWeight } from "./model_graph.ts";
import { attr, PARAM_INPUTS, weightedType, weightTranspose } from "./_onnx_ops.ts";

/** One tensor of a pre-quantized module: its local name, the tensor, a file-to-torch permutation. */
export interface QuantizedParam {
  readonly name: string;
  readonly tensor: OnnxTensor;
  readonly transpose?: number[];
}

/** A pre-quantized module found at a node. */
export interface QuantizedModule {
  /** The module type (`Conv2d`, `Linear`). */
  readonly type: string;
  /** The codes tensor (names the module). */
  readonly weight: OnnxTensor;
  /** The tensors to list as parameters (those with a dtype). */
  readonly params: readonly QuantizedParam[];
  /** The storage. */
  readonly quantized: QuantizedWeight;
}

/** Operator → [codes input, scale input (or -1), zero point input, bias input (or -1), layout]. */
type IntegerOp = readonly [number, number, number, number, "conv" | "matmul"];

/** Default-domain operators with integer weights. */
const INTEGER_OPS: Readonly<Record<string, IntegerOp>> = {
  QLinearConv: [3, 4, 5, 8, "conv"],
  ConvInteger: [1, -1, 3, -1, "conv"],
  QLinearMatMul: [3, 4, 5, -1, "matmul"],
  MatMulInteger: [1, -1, 3, -1, "matmul"],
};

/** onnxruntime's `com.microsoft` operators with integer weights (`QGemm` honours `transB`). */
const MICROSOFT_OPS: Readonly<Record<string, IntegerOp>> = {
  QGemm: [3, 4, 5, 6, "matmul"],
  DynamicQuantizeMatMul: [1, 2, 3, 4, "matmul"],
  MatMulIntegerToFloat: [1, 3, 5, 6, "matmul"],
};

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** `int8`, `uint4`, … and the bits of an integer ONNX data type, if it is one. */
function codeType(t: OnnxTensor): { codes: string; bits: number } | undefined {
  const name = onnxDataTypeName(t.dataType);
  const m = name === undefined ? null : /^(U?)INT(\d+)$/.exec(name);
  if (m === null) return undefined;
  return { codes: `${m[1] === "U" ? "u" : ""}int${m[2]}`, bits: Number(m[2]) };
}

/** The granularity of scales of `scaleCount` elements on a weight of `dims`, along `axis`. */
function granularityOf(
  scaleCount: number,
  dims: readonly number[],
  axis: number,
  blockSize: number,
): Pick<QuantizedWeight, "granularity" | "axis" | "blockSize"> {
  if (scaleCount <= 1) return { granularity: "per_tensor" };
  const a = axis < 0 ? axis + dims.length : axis;
  if (blockSize > 0) return { granularity: "block", axis: a, blockSize };
  return { granularity: "per_axis", axis: a };
}

/** The `DequantizeLinear` (default or `com.microsoft` domain) of a constant producing `value`. */
function dequantized(
  value: string | undefined,
  tensors: ReadonlyMap<string, OnnxTensor>,
  producer: ReadonlyMap<string, OnnxNode>,
): OnnxNode | undefined {
  const dq = producer.get(value ?? "");
  if (dq?.opType !== "DequantizeLinear") return undefined;
  if (dq.domain !== "" && dq.domain !== "ai.onnx" && dq.domain !== "com.microsoft") {
    return undefined;
  }
  return tensors.has(dq.inputs[0] ?? "") ? dq : undefined;
}

/**
 * The weight scale of a `ConvInteger` / `MatMulInteger` in onnxruntime's dynamic quantization,
 * where it is multiplied in after the op: `Cast` → `Mul` by a constant float scale, or by the
 * product (`Mul`) of the input's scale and a constant one.
 */
function scaleAfter(
  node: OnnxNode,
  tensors: ReadonlyMap<string, OnnxTensor>,
  producer: ReadonlyMap<string, OnnxNode>,
  consumers: ReadonlyMap<string, readonly OnnxNode[]>,
): OnnxTensor | undefined {
  const isFloat = (t: OnnxTensor | undefined) =>
    t !== undefined && (t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16");
  const cast = consumers.get(node.outputs[0] ?? "") ?? [];
  if (cast.length !== 1 || cast[0].opType !== "Cast") return undefined;
  const mul = consumers.get(cast[0].outputs[0] ?? "") ?? [];
  if (mul.length !== 1 || mul[0].opType !== "Mul") return undefined;
  const other = mul[0].inputs.find((i) => i !== cast[0].outputs[0]);
  const direct = tensors.get(other ?? "");
  if (isFloat(direct)) return direct;
  const product = producer.get(other ?? "");
  if (product?.opType !== "Mul") return undefined;
  return product.inputs.map((i) => tensors.get(i)).find(isFloat);
}

/**
 * The pre-quantized module at `node`, if the node holds or consumes a quantized constant
 * weight; `undefined` otherwise.
 *
 * @param node The node.
 * @param tensors Every constant by name (also those without a dtype, such as `INT4`).
 * @param producer The node producing each value.
 * @param consumers The nodes reading each value.
 */
export function quantizedModule(
  node: OnnxNode,
  tensors: ReadonlyMap<string, OnnxTensor>,
  producer: ReadonlyMap<string, OnnxNode>,
  consumers: ReadonlyMap<string, readonly OnnxNode[]>,
): QuantizedModule | undefined {
  const get = (i: number) => (i < 0 ? undefined : tensors.get(node.inputs[i] ?? ""));
  const standard = node.domain === "" || node.domain === "ai.onnx";
  const integer = standard
    ? INTEGER_OPS[node.opType]
    : node.domain === "com.microsoft"
    ? MICROSOFT_OPS[node.opType]
    : undefined;
  if (integer !== undefined) {
    const [wi, si, zi, bi, layout] = integer;
    const w = get(wi);
    const code = w && codeType(w);
    if (!w || !code) return undefined;
    // ConvInteger / MatMulInteger take no scale: it is multiplied in after them.
    const after = si < 0 ? scaleAfter(node, tensors, producer, consumers) : undefined;
    const scale = get(si) ?? after;
    const zp = get(zi);
    const conv = layout === "conv";
    if (conv && (w.dims.length < 3 || w.dims.length > 5)) return undefined;
    if (!conv && w.dims.length !== 2) return undefined;
    // Conv weights are [out, in, *k] with scales along 0; a MatMul B is [K, N], along 1 (a
    // QGemm with transB: [N, K], along 0).
    const transB = node.opType === "QGemm" && (attr(node, "transB")?.i ?? 0) === 1;
    const axis = conv || transB ? 0 : 1;
    const perChannel = scale ? count(scale.dims) : zp ? count(zp.dims) : 1;
    const transpose = conv || transB ? undefined : [1, 0];
    const params: QuantizedParam[] = [{ name: "weight", tensor: w, transpose }];
    if (scale) params.push({ name: "weight_scale", tensor: scale });
    if (zp) params.push({ name: "weight_zero_point", tensor: zp });
    const bias = get(bi);
    if (bias) params.push({ name: "bias", tensor: bias });
    return {
      type: conv ? `Conv${w.dims.length - 2}d` : "Linear",
      weight: w,
      params,
      quantized: {
        op: node.opType,
        ...code,
        shape: transpose === undefined ? [...w.dims] : [w.dims[1], w.dims[0]],
        ...granularityOf(perChannel, w.dims, axis, 0),
        scaleShape: scale ? [...scale.dims] : null,
        ...(after === undefined ? {} : { scaleAfter: true }),
        zeroPointShape: zp ? [...zp.dims] : null,
      },
    };
  }
  if (node.opType === "MatMulNBits" && node.domain === "com.microsoft") {
    const w = get(1);
    const scale = get(2);
    const zp = get(3);
    const k = attr(node, "K")?.i;
    const n = attr(node, "N")?.i;
    const bits = attr(node, "bits")?.i ?? 4;
    const blockSize = attr(node, "block_size")?.i;
    if (!w || k === undefined || n === undefined || blockSize === undefined) return undefined;
    const params: QuantizedParam[] = [{ name: "weight", tensor: w }];
    if (scale) params.push({ name: "weight_scale", tensor: scale });
    if (zp) params.push({ name: "weight_zero_point", tensor: zp });
    const bias = get(5);
    if (bias) params.push({ name: "bias", tensor: bias });
    return {
      type: "Linear",
      weight: w,
      params,
      quantized: {
        op: "MatMulNBits",
        codes: `uint${bits}`,
        bits,
        shape: [n, k],
        granularity: "block",
        axis: 1,
        blockSize,
        scaleShape: scale ? [...scale.dims] : null,
        zeroPointShape: zp ? [...zp.dims] : null,
      },
    };
  }
  const inputs = standard ? PARAM_INPUTS[node.opType] : undefined;
  if (inputs === undefined || !["Conv", "ConvTranspose", "Gemm", "MatMul"].includes(node.opType)) {
    return undefined;
  }
  const dq = dequantized(node.inputs[inputs[0][0]], tensors, producer);
  if (dq === undefined) return undefined;
  const w = tensors.get(dq.inputs[0] ?? "");
  const code = w && codeType(w);
  if (!w || !code) return undefined;
  const type = weightedType(node, w.dims.length, 2);
  if (type === undefined) return undefined;
  const scale = tensors.get(dq.inputs[1] ?? "");
  const zp = tensors.get(dq.inputs[2] ?? "");
  const transpose = weightTranspose(node);
  const params: QuantizedParam[] = [{ name: "weight", tensor: w, transpose }];
  if (scale) params.push({ name: "weight_scale", tensor: scale });
  if (zp) params.push({ name: "weight_zero_point", tensor: zp });
  const bias = inputs.find(([, p]) => p === "bias");
  const b = bias && get(bias[0]);
  if (b) params.push({ name: "bias", tensor: b });
  // A quantized bias (int32 codes with the product of the input and weight scales).
  const bq = bias && dequantized(node.inputs[bias[0]], tensors, producer);
  const bCodes = bq && tensors.get(bq.inputs[0] ?? "");
  if (bq && bCodes) {
    params.push({ name: "bias", tensor: bCodes });
    const bScale = tensors.get(bq.inputs[1] ?? "");
    if (bScale) params.push({ name: "bias_scale", tensor: bScale });
    const bZero = tensors.get(bq.inputs[2] ?? "");
    if (bZero) params.push({ name: "bias_zero_point", tensor: bZero });
  }
  return {
    type,
    weight: w,
    params,
    quantized: {
      op: "DequantizeLinear",
      ...code,
      shape: transpose ? transpose.map((p) => w.dims[p]) : [...w.dims],
      ...granularityOf(
        scale ? count(scale.dims) : 1,
        w.dims,
        attr(dq, "axis")?.i ?? 1,
        attr(dq, "block_size")?.i ?? 0,
      ),
      scaleShape: scale ? [...scale.dims] : null,
      zeroPointShape: zp ? [...zp.dims] : null,
    },
  };
}
