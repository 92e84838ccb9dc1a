// The float types of quantized storage: which ONNX type a scale takes next to a float16 or
// bfloat16 weight or activation, and the Cast nodes that go around operators onnxruntime runs in
// float32 only.
//
// What onnxruntime 1.30 (CPU) accepts, measured:
// - float16: `com.microsoft` QuantizeLinear/DequantizeLinear with float16 scales (int8 and int4
//   codes), `MatMulNBits` with float16 A and scales (its T1 binds A, scales and the output: a
//   float32 scale next to a float16 A is a type error), and Conv/MatMul/Gemm.
// - bfloat16: no CPU kernel for QuantizeLinear/DequantizeLinear (default domain, opset 19/21),
//   `MatMulNBits`, MatMul, Gemm or even Add; the `com.microsoft` Q/DQ schema rejects bfloat16
//   scales. A default-domain DequantizeLinear with bfloat16 scales would need the model's opset
//   raised to 19 (21 for 4-bit codes), which changes the meaning of other operators. So bfloat16
//   storage dequantizes in float32 and casts: DequantizeLinear (float32 scales) → Cast(to
//   BFLOAT16), and MatMulNBits between Cast(to FLOAT) and Cast(to BFLOAT16). Any runtime that
//   runs the original model runs these.
// - float16 scales are used only when every scale is a normal float16 number (2^-14 to 65504) or
//   exactly representable (NNI's scale of an all-zero block is float32 epsilon, 2^-23, a float16
//   subnormal): a subnormal float16 scale loses relative precision (a scale of 1e-6 would be off
//   by 3%), so such a tensor is dequantized in float32 and cast like bfloat16.
// - Activations of float16 graphs are quantized in float32 between Casts (Cast → QuantizeLinear →
//   DequantizeLinear → Cast). With float16 scales the graph is valid and right when onnxruntime
//   runs it unoptimized, but its QDQ fusions break it: at opset 17 they create a default-domain
//   DequantizeLinear with a float16 scale ("fc1/MatMulAddFusion_bias_dq", invalid before opset
//   19, so the session fails to load), and at opset 19 and 21 the fused model computes a
//   different result (cosine 0.76 against the float model, 0.99999 with the Casts). Float16
//   weights alone (DequantizeLinear into Conv/MatMul/Gemm) run right at every level.
import type { NodeSpec } from "../io/onnx/proto_writer.ts";
import type { DType } from "../tensor/dtype.ts";
import { f16ToF32, f32ToBf16, f32ToF16 } from "../tensor/float16.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";

/** The ONNX float element types quantized storage handles. */
export type FloatType =
  | typeof ONNX_DATA_TYPE.FLOAT
  | typeof ONNX_DATA_TYPE.FLOAT16
  | typeof ONNX_DATA_TYPE.BFLOAT16;

/** The ONNX float type of a stored dtype (F32, F16, BF16), or `undefined` for another dtype. */
export function floatTypeOf(dtype: DType): FloatType | undefined {
  if (dtype === "F32") return ONNX_DATA_TYPE.FLOAT;
  if (dtype === "F16") return ONNX_DATA_TYPE.FLOAT16;
  if (dtype === "BF16") return ONNX_DATA_TYPE.BFLOAT16;
  return undefined;
}

/** The ONNX name of a float type, for messages. */
export function floatTypeName(type: FloatType): string {
  return type === ONNX_DATA_TYPE.FLOAT
    ? "float32"
    : type === ONNX_DATA_TYPE.FLOAT16
    ? "float16"
    : "bfloat16";
}

const F16_MIN_NORMAL = 2 ** -14;
const F16_MAX = 65504;

/**
 * How values of `type` are dequantized with these scales: `scaleType` is the type of the scale
 * tensor (and of the operator's output); `cast` is set when that output must be cast to `type`.
 */
export function scaleStorage(
  type: FloatType,
  scale: ArrayLike<number>,
): { readonly scaleType: FloatType; readonly cast: boolean } {
  if (type === ONNX_DATA_TYPE.FLOAT) return { scaleType: type, cast: false };
  if (type === ONNX_DATA_TYPE.FLOAT16) {
    const exact = f16ToF32(f32ToF16(Float32Array.from(scale)));
    let fits = true;
    for (let i = 0; i < scale.length && fits; i++) {
      const s = Math.abs(scale[i]);
      fits = (s >= F16_MIN_NORMAL && s <= F16_MAX) || exact[i] === Math.fround(scale[i]);
    }
    if (fits) return { scaleType: type, cast: false };
  }
  return { scaleType: ONNX_DATA_TYPE.FLOAT, cast: true };
}

/** The little-endian bytes of scales stored as `type`. */
export function scaleBytes(scale: Float32Array, type: FloatType): Uint8Array {
  const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (type === ONNX_DATA_TYPE.FLOAT16) return bytes(f32ToF16(scale));
  if (type === ONNX_DATA_TYPE.BFLOAT16) return bytes(f32ToBf16(scale));
  return new Uint8Array(scale.slice().buffer);
}

/** A Cast node from `input` to `output` of element type `to`. */
export function castNode(name: string, input: string, output: string, to: FloatType): NodeSpec {
  return {
    name,
    opType: "Cast",
    inputs: [input],
    outputs: [output],
    attributes: [{ name: "to", i: to }],
  };
}

// Operators whose outputs are never float whatever their inputs are.
const NON_FLOAT_OUTPUTS = new Set([
  "Shape",
  "Size",
  "ArgMax",
  "ArgMin",
  "NonZero",
  "QuantizeLinear",
  "DynamicQuantizeLinear",
  "Equal",
  "Greater",
  "GreaterOrEqual",
  "Less",
  "LessOrEqual",
  "Not",
  "And",
  "Or",
  "Xor",
  "IsNaN",
  "IsInf",
]);

// Operators whose outputs' types the graph alone does not tell (subgraph results).
const OPAQUE = new Set(["If", "Loop", "Scan"]);

// Operators whose float inputs all share the output's type (ONNX type constraint T on each).
const SAME_TYPE = new Set([
  "Conv",
  "ConvTranspose",
  "MatMul",
  "Gemm",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Sum",
  "Max",
  "Min",
  "Mean",
  "Concat",
  "PRelu",
  "LayerNormalization",
  "InstanceNormalization",
]);

/**
 * The float element type of each value of the main graph that can be told from the graph: stored
 * tensors by their type, `Cast` outputs by `to`, `DequantizeLinear` outputs by the scale's type,
 * other outputs by their first input (or, for operators whose inputs share one type, by any float
 * input), and a graph input by the float inputs beside it at such a consumer (a Conv whose weight
 * is float16 reads float16). Values whose type cannot be told are absent; non-float values map
 * to 0.
 */
export function valueFloatTypes(
  graph: {
    readonly nodes: readonly {
      readonly opType: string;
      readonly inputs: readonly string[];
      readonly outputs: readonly string[];
      readonly attributes: readonly { readonly name: string; readonly i?: number }[];
    }[];
    readonly initializers: readonly { readonly name: string; readonly dataType: number }[];
  },
  constants: readonly { readonly name: string; readonly dataType: number }[] = [],
): Map<string, number> {
  const types = new Map<string, number>();
  const isFloat = (t: number | undefined) =>
    t === ONNX_DATA_TYPE.FLOAT || t === ONNX_DATA_TYPE.FLOAT16 ||
    t === ONNX_DATA_TYPE.BFLOAT16 || t === ONNX_DATA_TYPE.DOUBLE;
  const stored = (t: number) => isFloat(t) ? t : 0;
  const shared = (inputs: readonly string[]) =>
    inputs.map((i) => types.get(i)).find((t) => isFloat(t));
  for (const t of [...graph.initializers, ...constants]) types.set(t.name, stored(t.dataType));
  // Forward passes with backward steps between: graph inputs learn their type from the
  // operators that read them, then the values computed from them follow.
  const PASSES = 3;
  for (let pass = 0; pass < PASSES; pass++) {
    for (const n of graph.nodes) {
      let out: number | undefined;
      if (n.opType === "Cast") {
        out = stored(n.attributes.find((a) => a.name === "to")?.i ?? 0);
      } else if (n.opType === "DequantizeLinear" || n.opType === "CastLike") {
        out = types.get(n.inputs[1]);
      } else if (OPAQUE.has(n.opType)) out = undefined;
      else if (NON_FLOAT_OUTPUTS.has(n.opType)) out = 0;
      else if (SAME_TYPE.has(n.opType)) out = shared(n.inputs);
      else out = types.get(n.inputs[0]);
      if (out === undefined) continue;
      for (const o of n.outputs) if (o !== "" && !types.has(o)) types.set(o, out);
    }
    if (pass === PASSES - 1) break;
    for (let k = graph.nodes.length - 1; k >= 0; k--) {
      const n = graph.nodes[k];
      const mixed = n.opType === "Cast" || n.opType === "CastLike" ||
        n.opType === "DequantizeLinear" || OPAQUE.has(n.opType);
      if (mixed || NON_FLOAT_OUTPUTS.has(n.opType)) continue;
      if (SAME_TYPE.has(n.opType)) {
        const t = shared(n.inputs);
        if (t !== undefined) {
          for (const i of n.inputs) if (i !== "" && !types.has(i)) types.set(i, t);
        }
      } else if (n.inputs[0] !== undefined && n.inputs[0] !== "" && !types.has(n.inputs[0])) {
        // A unary operator (Relu, Reshape's data, Transpose, …) keeps its input's type.
        const t = types.get(n.outputs[0]);
        if (isFloat(t)) types.set(n.inputs[0], t!);
      }
    }
  }
  return types;
}
