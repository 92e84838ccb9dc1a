// Small float16 and bfloat16 ONNX models built with `buildOnnx`, shaped like the half-precision
// models that get shipped: float32 graph inputs and outputs with Cast nodes at both ends, weights
// stored as float16/bfloat16 initializers.
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { editOnnx, type OnnxEdit } from "../../src/io/onnx/edit_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import type { TensorSpec } from "../../src/io/onnx/proto_writer.ts";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../src/tensor/float16.ts";

export const FLOAT = 1;
export const FLOAT16 = 10;
export const BFLOAT16 = 16;

/** A float element type of the test models. */
export type HalfType = typeof FLOAT | typeof FLOAT16 | typeof BFLOAT16;

const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** Values as raw bytes of `type`. */
export function encode(values: Float32Array, type: HalfType): Uint8Array {
  if (type === FLOAT16) return bytes(f32ToF16(values));
  if (type === BFLOAT16) return bytes(f32ToBf16(values));
  return bytes(values.slice());
}

/** Deterministic pseudo-random values in [-a, a]. */
export function values(n: number, seed: number, a = 1): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * a;
  });
}

function weight(
  name: string,
  dims: number[],
  type: HalfType,
  seed: number,
  gain = 1,
): TensorSpec {
  const n = dims.reduce((a, b) => a * b, 1);
  const fanIn = dims.length === 2 ? dims[0] : n / dims[0];
  const raw = encode(values(n, seed, gain / Math.sqrt(fanIn)), type);
  return { name, dataType: type, dims, raw };
}

const cast = (name: string, input: string, output: string, to: number) => ({
  name,
  opType: "Cast",
  inputs: [input],
  outputs: [output],
  attributes: [{ name: "to", i: to }],
});

/** Input dims of `halfCnn`. */
export const CNN_INPUT = [2, 3, 8, 8];

/**
 * A CNN computed in `type`: x float32 [2, 3, 8, 8] → Cast → Conv(8, 3x3, pad 1) + Relu →
 * Conv(16, 3x3, stride 2, pad 1) + Relu → Flatten → MatMul [256, 64] + Add → Relu →
 * Gemm(transB, [16, 64]) + bias → Cast → y float32 [2, 16].
 */
export function halfCnn(type: HalfType, opset = 17): Uint8Array {
  return buildOnnx({
    opsets: [{ domain: "", version: opset }],
    nodes: [
      cast("graph_input_cast", "x", "graph_input_cast_0", type),
      {
        name: "conv1",
        opType: "Conv",
        inputs: ["graph_input_cast_0", "conv1.weight", "conv1.bias"],
        outputs: ["c1"],
        attributes: [{ name: "pads", ints: [1, 1, 1, 1] }],
      },
      { name: "relu1", opType: "Relu", inputs: ["c1"], outputs: ["r1"] },
      {
        name: "conv2",
        opType: "Conv",
        inputs: ["r1", "conv2.weight", "conv2.bias"],
        outputs: ["c2"],
        attributes: [{ name: "pads", ints: [1, 1, 1, 1] }, { name: "strides", ints: [2, 2] }],
      },
      { name: "relu2", opType: "Relu", inputs: ["c2"], outputs: ["r2"] },
      { name: "flatten", opType: "Flatten", inputs: ["r2"], outputs: ["f"] },
      { name: "fc1", opType: "MatMul", inputs: ["f", "fc1.weight"], outputs: ["m1"] },
      { name: "fc1_bias", opType: "Add", inputs: ["m1", "fc1.bias"], outputs: ["a1"] },
      { name: "relu3", opType: "Relu", inputs: ["a1"], outputs: ["r3"] },
      {
        name: "fc2",
        opType: "Gemm",
        inputs: ["r3", "fc2.weight", "fc2.bias"],
        outputs: ["g"],
        attributes: [{ name: "transB", i: 1 }],
      },
      cast("graph_output_cast", "g", "y", FLOAT),
    ],
    initializers: [
      weight("conv1.weight", [8, 3, 3, 3], type, 1),
      weight("conv1.bias", [8], type, 2),
      weight("conv2.weight", [16, 8, 3, 3], type, 3),
      weight("conv2.bias", [16], type, 4),
      weight("fc1.weight", [256, 64], type, 5),
      weight("fc1.bias", [64], type, 6),
      weight("fc2.weight", [16, 64], type, 7),
      weight("fc2.bias", [16], type, 8),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: CNN_INPUT } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [2, 16] } }],
  });
}

/** Input dims of `halfMlp`. */
export const MLP_INPUT = [4, 64];

/**
 * An MLP computed in `type`: x float32 [4, 64] → Cast → MatMul [64, 128] + Add → Relu →
 * Gemm(transB, [32, 128]) + bias → Cast → y float32 [4, 32]. `gain` scales fc1 (a
 * small gain gives scales below float16's normal range).
 */
export function halfMlp(type: HalfType, gain = 1): Uint8Array {
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      cast("graph_input_cast", "x", "graph_input_cast_0", type),
      {
        name: "fc1",
        opType: "MatMul",
        inputs: ["graph_input_cast_0", "fc1.weight"],
        outputs: ["m"],
      },
      { name: "fc1_bias", opType: "Add", inputs: ["m", "fc1.bias"], outputs: ["a"] },
      { name: "relu", opType: "Relu", inputs: ["a"], outputs: ["r"] },
      {
        name: "fc2",
        opType: "Gemm",
        inputs: ["r", "fc2.weight", "fc2.bias"],
        outputs: ["g"],
        attributes: [{ name: "transB", i: 1 }],
      },
      cast("graph_output_cast", "g", "y", FLOAT),
    ],
    initializers: [
      weight("fc1.weight", [64, 128], type, 11, gain),
      weight("fc1.bias", [128], type, 12, gain),
      weight("fc2.weight", [32, 128], type, 13),
      weight("fc2.bias", [32], type, 14),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: MLP_INPUT } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [4, 32] } }],
  });
}

/**
 * The same model computed in float32: bfloat16/float16 initializers widened (exactly) and every
 * Cast to bfloat16/float16 made a Cast to float32. onnxruntime has no CPU kernels for bfloat16
 * MatMul, Gemm, Add or DequantizeLinear, so a bfloat16 model is checked through this twin (its
 * values are those of the bfloat16 weights; only the rounding of intermediate results differs).
 */
export async function widenToFloat32(model: Uint8Array): Promise<Uint8Array> {
  const onnx = decodeOnnx(model);
  const edits: OnnxEdit[] = [];
  for (const t of onnx.graph.initializers) {
    if (t.dataType !== FLOAT16 && t.dataType !== BFLOAT16) continue;
    const raw = await readOnnxTensor(onnx, t);
    const bits = new Uint16Array(new Uint8Array(raw).buffer);
    const wide = t.dataType === FLOAT16 ? f16ToF32(bits) : bf16ToF32(bits);
    edits.push({ op: "removeInitializer", name: t.name }, {
      op: "addInitializer",
      tensor: { name: t.name, dataType: FLOAT, dims: t.dims, raw: bytes(wide) },
    });
  }
  onnx.graph.nodes.forEach((n, i) => {
    const to = n.attributes.find((a) => a.name === "to")?.i;
    if (n.opType !== "Cast" || (to !== FLOAT16 && to !== BFLOAT16)) return;
    edits.push({
      op: "replaceNode",
      node: i,
      with: { ...cast(n.name, n.inputs[0], n.outputs[0], FLOAT) },
    });
  });
  return editOnnx(onnx, edits).bytes;
}

/** Cosine similarity of two equal-length arrays. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * A float32 MLP whose weights are stored as float16 and widened by Casts before use (as some
 * exporters write "float16 weights"): x [4, 64] → MatMul(Cast(fc1.weight)) + Add(Cast(fc1.bias))
 * → Relu → MatMul(Cast(fc2.weight)) → y [4, 32].
 */
export function castWeightsMlp(): Uint8Array {
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      cast("fc1.weight_cast", "fc1.weight", "fc1.weight_f32", FLOAT),
      cast("fc1.bias_cast", "fc1.bias", "fc1.bias_f32", FLOAT),
      cast("fc2.weight_cast", "fc2.weight", "fc2.weight_f32", FLOAT),
      { name: "fc1", opType: "MatMul", inputs: ["x", "fc1.weight_f32"], outputs: ["m"] },
      { name: "fc1_bias", opType: "Add", inputs: ["m", "fc1.bias_f32"], outputs: ["a"] },
      { name: "relu", opType: "Relu", inputs: ["a"], outputs: ["r"] },
      { name: "fc2", opType: "MatMul", inputs: ["r", "fc2.weight_f32"], outputs: ["y"] },
    ],
    initializers: [
      weight("fc1.weight", [64, 128], FLOAT16, 21),
      weight("fc1.bias", [128], FLOAT16, 22),
      weight("fc2.weight", [128, 32], FLOAT16, 23),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: MLP_INPUT } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [4, 32] } }],
  });
}
