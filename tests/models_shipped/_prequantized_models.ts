// Small pre-quantized ONNX models, written with the project's `buildOnnx`, in the forms that
// quantization tools ship: onnxruntime's dynamic quantization (DynamicQuantizeLinear →
// ConvInteger / MatMulInteger → Cast → Mul), the QOperator form (QLinearConv, QLinearMatMul),
// the QDQ form (a DequantizeLinear of int8 codes feeding Conv / MatMul) and 4-bit MatMulNBits.
// Each comes with the same network written in float32 with the dequantized weights, so a test
// can check that onnxruntime runs the pre-quantized graph as intended.
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import type { NodeSpec, TensorSpec } from "../../src/io/onnx/proto_writer.ts";

const FLOAT = 1, UINT8 = 2, INT8 = 3, INT32 = 6;

function raw(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}
const f32 = (name: string, dims: number[], v: ArrayLike<number>): TensorSpec => ({
  name,
  dataType: FLOAT,
  dims,
  raw: raw(Float32Array.from(v)),
});
const i8 = (name: string, dims: number[], v: ArrayLike<number>): TensorSpec => ({
  name,
  dataType: INT8,
  dims,
  raw: raw(Int8Array.from(v)),
});
const u8 = (name: string, dims: number[], v: ArrayLike<number>): TensorSpec => ({
  name,
  dataType: UINT8,
  dims,
  raw: raw(Uint8Array.from(v)),
});
const i32 = (name: string, dims: number[], v: ArrayLike<number>): TensorSpec => ({
  name,
  dataType: INT32,
  dims,
  raw: raw(Int32Array.from(v)),
});

/** Deterministic values in [-1, 1). */
export function wave(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 0.7) * 0.999);
}

/** A model in two forms: as shipped (pre-quantized) and in float32 with dequantized weights. */
export interface PrequantizedCase {
  /** The pre-quantized model. */
  readonly quantized: Uint8Array;
  /** The same network in float32. */
  readonly float: Uint8Array;
  /** The input name and shape. */
  readonly input: { readonly name: string; readonly dims: readonly number[] };
  /** The module names `inspect` gives the pre-quantized layers. */
  readonly modules: readonly string[];
}

const C = 3, M = 4, K = 3, H = 6; // Conv: 3 → 4 channels, 3x3 kernel, 6x6 input
const OH = H - K + 1, FLAT = M * OH * OH, N = 5; // then Flatten → Linear FLAT → 5

/** Codes in [-qmax, qmax] and a scale per output channel (dim 0) of a float weight. */
function perChannel(
  w: Float32Array,
  rows: number,
  qmax = 127,
): { codes: Int8Array; scale: Float32Array } {
  const per = w.length / rows;
  const codes = new Int8Array(w.length);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let j = 0; j < per; j++) max = Math.max(max, Math.abs(w[r * per + j]));
    scale[r] = max / qmax;
    for (let j = 0; j < per; j++) codes[r * per + j] = Math.round(w[r * per + j] / scale[r]);
  }
  return { codes, scale };
}

function dequantized(codes: ArrayLike<number>, scale: Float32Array, per: number, zp = 0) {
  return Float32Array.from(codes, (q, i) => (q - zp) * scale[Math.floor(i / per)]);
}

/** The float network: Conv (with bias) → Relu → Flatten → MatMul (+ Add bias). */
function floatNet(conv: Float32Array, bias: Float32Array, fc: Float32Array, fcBias: Float32Array) {
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "conv", opType: "Conv", inputs: ["x", "conv.weight", "conv.bias"], outputs: ["c"] },
      { name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"] },
      { name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"] },
      { name: "fc", opType: "MatMul", inputs: ["f", "fc.weight"], outputs: ["m"] },
      { name: "fc_add", opType: "Add", inputs: ["m", "fc.bias"], outputs: ["y"] },
    ],
    initializers: [
      f32("conv.weight", [M, C, K, K], conv),
      f32("conv.bias", [M], bias),
      f32("fc.weight", [FLAT, N], fc),
      f32("fc.bias", [N], fcBias),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, C, H, H] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N] } }],
  });
}

const input = { name: "x", dims: [1, C, H, H] } as const;
const convW = wave(M * C * K * K, 1);
const convB = wave(M, 2);
const fcW = wave(FLAT * N, 3).map((v) => v * 0.2);
const fcB = wave(N, 4);

/**
 * QDQ weights: a `DequantizeLinear` of per-channel int8 codes (axis 0) feeds the Conv, one of
 * per-tensor int8 codes feeds the MatMul; activations stay float (onnxruntime's weight-only
 * QDQ). The MatMul is left float in `mixed` (a partly quantized model).
 */
export function qdqWeights(mixed = false): PrequantizedCase {
  const conv = perChannel(convW, M);
  const fcMax = fcW.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const fcScale = Float32Array.of(fcMax / 127);
  const fcCodes = Int8Array.from(fcW, (v) => Math.round(v / fcScale[0]));
  // the Conv bias as int32 codes (onnxruntime's QDQ form), dequantized with one scale
  const biasScale = Float32Array.of(1 / 4096);
  const biasCodes = Int32Array.from(convB, (b) => Math.round(b / biasScale[0]));
  const nodes: NodeSpec[] = [
    {
      name: "conv.b_dq",
      opType: "DequantizeLinear",
      inputs: ["conv.bias_quantized", "conv.b_scale"],
      outputs: ["conv.bias"],
    },
    {
      name: "conv.w_dq",
      opType: "DequantizeLinear",
      inputs: ["conv.weight_quantized", "conv.w_scale", "conv.w_zp"],
      outputs: ["conv.weight"],
      attributes: [{ name: "axis", i: 0 }],
    },
    ...(mixed ? [] : [{
      name: "fc.w_dq",
      opType: "DequantizeLinear",
      inputs: ["fc.weight_quantized", "fc.w_scale"],
      outputs: ["fc.weight"],
    }]),
    { name: "conv", opType: "Conv", inputs: ["x", "conv.weight", "conv.bias"], outputs: ["c"] },
    { name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"] },
    { name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"] },
    { name: "fc", opType: "MatMul", inputs: ["f", "fc.weight"], outputs: ["m"] },
    { name: "fc_add", opType: "Add", inputs: ["m", "fc.bias"], outputs: ["y"] },
  ];
  const quantized = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes,
    initializers: [
      i8("conv.weight_quantized", [M, C, K, K], conv.codes),
      f32("conv.w_scale", [M], conv.scale),
      i8("conv.w_zp", [M], new Int8Array(M)),
      i32("conv.bias_quantized", [M], biasCodes),
      f32("conv.b_scale", [], biasScale),
      ...(mixed ? [f32("fc.weight", [FLAT, N], fcW)] : [
        i8("fc.weight_quantized", [FLAT, N], fcCodes),
        f32("fc.w_scale", [], fcScale),
      ]),
      f32("fc.bias", [N], fcB),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, C, H, H] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N] } }],
  });
  const float = floatNet(
    dequantized(conv.codes, conv.scale, C * K * K),
    dequantized(biasCodes, biasScale, M),
    mixed ? fcW : dequantized(fcCodes, fcScale, FLAT * N),
    fcB,
  );
  return { quantized, float, input, modules: mixed ? ["conv"] : ["conv", "fc"] };
}

/**
 * onnxruntime's dynamic quantization: the input is quantized at run time
 * (`DynamicQuantizeLinear`), `ConvInteger` and `MatMulInteger` take uint8 weight codes with a
 * zero point of 128, and the scales are multiplied in after a `Cast`.
 */
export function dynamicInteger(): PrequantizedCase {
  const convScale = convW.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
  const fcScale = fcW.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
  const convCodes = Uint8Array.from(convW, (v) => Math.round(v / convScale) + 128);
  const fcCodes = Uint8Array.from(fcW, (v) => Math.round(v / fcScale) + 128);
  const quantized = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "xq", opType: "DynamicQuantizeLinear", inputs: ["x"], outputs: ["xq", "xs", "xz"] },
      {
        name: "conv",
        opType: "ConvInteger",
        inputs: ["xq", "conv.weight_quantized", "xz", "conv.w_zp"],
        outputs: ["ci"],
      },
      {
        name: "conv_cast",
        opType: "Cast",
        inputs: ["ci"],
        outputs: ["cf"],
        attributes: [{ name: "to", i: FLOAT }],
      },
      { name: "conv_scale", opType: "Mul", inputs: ["xs", "conv.w_scale"], outputs: ["cs"] },
      { name: "conv_mul", opType: "Mul", inputs: ["cf", "cs"], outputs: ["cm"] },
      { name: "conv_bias", opType: "Add", inputs: ["cm", "conv.b4"], outputs: ["c"] },
      { name: "relu", opType: "Relu", inputs: ["c"], outputs: ["r"] },
      { name: "flat", opType: "Flatten", inputs: ["r"], outputs: ["f"] },
      { name: "fq", opType: "DynamicQuantizeLinear", inputs: ["f"], outputs: ["fq", "fs", "fz"] },
      {
        name: "fc",
        opType: "MatMulInteger",
        inputs: ["fq", "fc.weight_quantized", "fz", "fc.w_zp"],
        outputs: ["mi"],
      },
      {
        name: "fc_cast",
        opType: "Cast",
        inputs: ["mi"],
        outputs: ["mf"],
        attributes: [{ name: "to", i: FLOAT }],
      },
      { name: "fc_scale", opType: "Mul", inputs: ["fs", "fc.w_scale"], outputs: ["ms"] },
      { name: "fc_mul", opType: "Mul", inputs: ["mf", "ms"], outputs: ["m"] },
      { name: "fc_add", opType: "Add", inputs: ["m", "fc.bias"], outputs: ["y"] },
    ],
    initializers: [
      u8("conv.weight_quantized", [M, C, K, K], convCodes),
      u8("conv.w_zp", [], [128]),
      f32("conv.w_scale", [], [convScale]),
      f32("conv.b4", [1, M, 1, 1], convB),
      u8("fc.weight_quantized", [FLAT, N], fcCodes),
      u8("fc.w_zp", [], [128]),
      f32("fc.w_scale", [], [fcScale]),
      f32("fc.bias", [N], fcB),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, C, H, H] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N] } }],
  });
  const float = floatNet(
    dequantized(convCodes, Float32Array.of(convScale), convCodes.length, 128),
    convB,
    dequantized(fcCodes, Float32Array.of(fcScale), fcCodes.length, 128),
    fcB,
  );
  return { quantized, float, input, modules: ["conv", "fc"] };
}

/**
 * The QOperator form: the input quantized to uint8 once, `QLinearConv` with per-channel int8
 * weights and an int32 bias, `QLinearMatMul` with per-tensor int8 weights, and the output
 * dequantized. Scales of the activations are fixed from the ranges of the test inputs.
 */
export function qoperator(): PrequantizedCase {
  // 7-bit weight codes, like onnxruntime's `reduce_range`: its uint8 x int8 kernels add pairs of
  // products in int16, which full-range codes can overflow.
  const conv = perChannel(convW, M, 63);
  const fcScale = fcW.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 63;
  const fcCodes = Int8Array.from(fcW, (v) => Math.round(v / fcScale));
  const xs = 2 / 255, cs = 16 / 255, ys = 12 / 255; // x in [-1, 1], relu(conv) in [0, 16], y in ±6
  const biasCodes = Int32Array.from(convB, (b, m) => Math.round(b / (xs * conv.scale[m])));
  const quantized = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "xq", opType: "QuantizeLinear", inputs: ["x", "xs", "xz"], outputs: ["xq"] },
      {
        name: "conv",
        opType: "QLinearConv",
        inputs: [
          "xq",
          "xs",
          "xz",
          "conv.weight_quantized",
          "conv.w_scale",
          "conv.w_zp",
          "cs",
          "cz",
          "conv.b_q",
        ],
        outputs: ["cq"],
      },
      // Relu on uint8 codes with zero point 0 is a no-op below 0: the float net's Relu.
      { name: "flat", opType: "Flatten", inputs: ["cq"], outputs: ["fq"] },
      {
        name: "fc",
        opType: "QLinearMatMul",
        inputs: ["fq", "cs", "cz", "fc.weight_quantized", "fc.w_scale", "fc.w_zp", "ys", "yz"],
        outputs: ["mq"],
      },
      { name: "mdq", opType: "DequantizeLinear", inputs: ["mq", "ys", "yz"], outputs: ["m"] },
      { name: "fc_add", opType: "Add", inputs: ["m", "fc.bias"], outputs: ["y"] },
    ],
    initializers: [
      f32("xs", [], [xs]),
      u8("xz", [], [128]),
      f32("cs", [], [cs]),
      u8("cz", [], [0]),
      f32("ys", [], [ys]),
      u8("yz", [], [128]),
      i8("conv.weight_quantized", [M, C, K, K], conv.codes),
      f32("conv.w_scale", [M], conv.scale),
      i8("conv.w_zp", [M], new Int8Array(M)),
      i32("conv.b_q", [M], biasCodes),
      i8("fc.weight_quantized", [FLAT, N], fcCodes),
      f32("fc.w_scale", [], [fcScale]),
      i8("fc.w_zp", [], [0]),
      f32("fc.bias", [N], fcB),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, C, H, H] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N] } }],
  });
  const float = floatNet(
    dequantized(conv.codes, conv.scale, C * K * K),
    Float32Array.from(biasCodes, (q, m) => q * xs * conv.scale[m]),
    dequantized(fcCodes, Float32Array.of(fcScale), fcCodes.length),
    fcB,
  );
  return { quantized, float, input, modules: ["conv", "fc"] };
}

const NK = 64, NN = 6, BLOCK = 32; // MatMulNBits: K 64, N 6, blocks of 32

/**
 * A 4-bit `MatMulNBits` (com.microsoft) Linear of K 64 → N 6 in blocks of 32 along K, with
 * uint4 zero points, followed by a float MatMul 6 → 3 (left float: a mixed model).
 */
export function matMulNBits(): PrequantizedCase {
  const w = wave(NN * NK, 5); // [N, K]
  const blocks = NK / BLOCK;
  const codes = new Uint8Array(NN * NK);
  const scales = new Float32Array(NN * blocks);
  const zps = new Uint8Array(NN * blocks);
  for (let n = 0; n < NN; n++) {
    for (let b = 0; b < blocks; b++) {
      let lo = 0, hi = 0;
      for (let j = 0; j < BLOCK; j++) {
        const v = w[n * NK + b * BLOCK + j];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const s = (hi - lo) / 15;
      const z = Math.min(15, Math.max(0, Math.round(-lo / s)));
      scales[n * blocks + b] = s;
      zps[n * blocks + b] = z;
      for (let j = 0; j < BLOCK; j++) {
        const i = n * NK + b * BLOCK + j;
        codes[i] = Math.min(15, Math.max(0, Math.round(w[i] / s) + z));
      }
    }
  }
  // B: [N, blocks, BLOCK / 2], two codes per byte, the first in the low nibble.
  const packed = new Uint8Array(NN * NK / 2);
  for (let i = 0; i < packed.length; i++) packed[i] = codes[2 * i] | (codes[2 * i + 1] << 4);
  // zero points: [N, ceil(blocks / 2)] packed the same way
  const zpCols = Math.ceil(blocks / 2);
  const zpPacked = new Uint8Array(NN * zpCols);
  for (let n = 0; n < NN; n++) {
    for (let b = 0; b < blocks; b++) {
      zpPacked[n * zpCols + (b >> 1)] |= zps[n * blocks + b] << ((b & 1) * 4);
    }
  }
  const out = wave(NN * 3, 6);
  const head = (fcW: TensorSpec, first: NodeSpec) =>
    buildOnnx({
      opsets: [{ domain: "", version: 13 }, { domain: "com.microsoft", version: 1 }],
      nodes: [first, {
        name: "out",
        opType: "MatMul",
        inputs: ["h", "out.weight"],
        outputs: ["y"],
      }],
      initializers: [
        fcW,
        ...(first.opType === "MatMulNBits"
          ? [
            f32("fc.w_scale", [NN * blocks], scales),
            u8("fc.w_zp", [NN * zpCols], zpPacked),
          ]
          : []),
        f32("out.weight", [NN, 3], out),
      ],
      inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, NK] } }],
      outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, 3] } }],
    });
  const quantized = head(u8("fc.weight_quantized", [NN, blocks, BLOCK / 2], packed), {
    name: "fc",
    opType: "MatMulNBits",
    domain: "com.microsoft",
    inputs: ["x", "fc.weight_quantized", "fc.w_scale", "fc.w_zp"],
    outputs: ["h"],
    attributes: [
      { name: "K", i: NK },
      { name: "N", i: NN },
      { name: "bits", i: 4 },
      { name: "block_size", i: BLOCK },
    ],
  });
  // float: W^T as [K, N] for MatMul
  const deq = new Float32Array(NK * NN);
  for (let n = 0; n < NN; n++) {
    for (let k = 0; k < NK; k++) {
      const b = n * blocks + Math.floor(k / BLOCK);
      deq[k * NN + n] = (codes[n * NK + k] - zps[b]) * scales[b];
    }
  }
  const float = head(f32("fc.weight", [NK, NN], deq), {
    name: "fc",
    opType: "MatMul",
    inputs: ["x", "fc.weight"],
    outputs: ["h"],
  });
  return { quantized, float, input: { name: "x", dims: [1, NK] }, modules: ["fc"] };
}

/**
 * onnxruntime's `com.microsoft` integer operators: `DynamicQuantizeMatMul` (float input, int8
 * weight `[K, N]` per tensor, float bias) then `QGemm` with `transB = 1` (uint8 input, int8
 * weight `[N, K]` per output channel, int32 bias, float output).
 */
export function contribOps(): PrequantizedCase {
  const K1 = 64, N1 = 5, N2 = 3;
  const w1 = wave(K1 * N1, 7).map((v) => v * 0.3); // [K, N]
  const s1 = w1.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
  const c1 = Int8Array.from(w1, (v) => Math.round(v / s1));
  const b1 = wave(N1, 8);
  const w2 = wave(N2 * N1, 10); // [N, K]
  const q2 = perChannel(w2, N2, 63);
  const hs = 8 / 255; // h in [-4, 4] around zero point 128
  const b2 = wave(N2, 11);
  const b2q = Int32Array.from(b2, (b, n) => Math.round(b / (hs * q2.scale[n])));
  const quantized = buildOnnx({
    opsets: [{ domain: "", version: 13 }, { domain: "com.microsoft", version: 1 }],
    nodes: [
      {
        name: "fc1",
        opType: "DynamicQuantizeMatMul",
        domain: "com.microsoft",
        inputs: ["x", "fc1.weight_quantized", "fc1.w_scale", "fc1.w_zp", "fc1.bias"],
        outputs: ["h"],
      },
      { name: "hq", opType: "QuantizeLinear", inputs: ["h", "hs", "hz"], outputs: ["hq"] },
      {
        name: "fc2",
        opType: "QGemm",
        domain: "com.microsoft",
        inputs: ["hq", "hs", "hz", "fc2.weight_quantized", "fc2.w_scale", "fc2.w_zp", "fc2.b_q"],
        outputs: ["y"],
        attributes: [{ name: "transB", i: 1 }],
      },
    ],
    initializers: [
      i8("fc1.weight_quantized", [K1, N1], c1),
      f32("fc1.w_scale", [], [s1]),
      i8("fc1.w_zp", [], [0]),
      f32("fc1.bias", [N1], b1),
      f32("hs", [], [hs]),
      u8("hz", [], [128]),
      i8("fc2.weight_quantized", [N2, N1], q2.codes),
      f32("fc2.w_scale", [N2], q2.scale),
      i8("fc2.w_zp", [N2], new Int8Array(N2)),
      i32("fc2.b_q", [N2], b2q),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, K1] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N2] } }],
  });
  const float = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "fc1", opType: "MatMul", inputs: ["x", "fc1.weight"], outputs: ["m"] },
      { name: "fc1_add", opType: "Add", inputs: ["m", "fc1.bias"], outputs: ["h"] },
      {
        name: "fc2",
        opType: "Gemm",
        inputs: ["h", "fc2.weight", "fc2.bias"],
        outputs: ["y"],
        attributes: [{ name: "transB", i: 1 }],
      },
    ],
    initializers: [
      f32("fc1.weight", [K1, N1], dequantized(c1, Float32Array.of(s1), K1 * N1)),
      f32("fc1.bias", [N1], b1),
      f32("fc2.weight", [N2, N1], dequantized(q2.codes, q2.scale, N1)),
      f32("fc2.bias", [N2], Float32Array.from(b2q, (q, n) => q * hs * q2.scale[n])),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, K1] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [1, N2] } }],
  });
  return { quantized, float, input: { name: "x", dims: [1, K1] }, modules: ["fc1", "fc2"] };
}
