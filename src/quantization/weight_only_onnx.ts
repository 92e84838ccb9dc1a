/**
 * `weightOnlyOnnx`: block-wise weight-only quantization of MatMul layers with the
 * `com.microsoft` `MatMulNBits` operator.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { computeQuantParams, type QuantScheme } from "./compute_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import { trackedRange } from "./tracked_range.ts";
import { nodeProto, ONNX_TYPE, tensorProto } from "./_onnx_wire.ts";
import { patchOnnx } from "./_patch_onnx.ts";

/** Options of `weightOnlyOnnx`. */
export interface WeightOnlyOnnxOptions extends QuantizeOptions {
  /** Bits per weight: 4 (default) or 8. */
  readonly bits?: 4 | 8;
  /** Weights per block along K: a power of two >= 16 (default 32). K need not be a multiple. */
  readonly blockSize?: number;
  /**
   * `"symmetric"` (default): NNI's `int<bits>` range ([-7, 7] for 4 bits), stored with the
   * operator's implicit zero point 2^(bits-1); `"affine"`: NNI's `uint<bits>` range with a zero
   * point per block.
   */
  readonly scheme?: QuantScheme;
  /** Module names to quantize (default: every `Linear` module computed by a MatMul). */
  readonly modules?: readonly string[];
  /** `accuracy_level` attribute of MatMulNBits (0-4; default: omitted). */
  readonly accuracyLevel?: number;
}

/** One quantized MatMul weight. */
export interface WeightOnlyLayer {
  readonly module: string;
  /** The stored weight's name. */
  readonly tensor: string;
  /** Input features (rows of the ONNX weight `[K, N]`). */
  readonly k: number;
  /** Output features. */
  readonly n: number;
  readonly bits: number;
  readonly blockSize: number;
  /** Scales `[n, ceil(k / blockSize)]`, row-major. */
  readonly scale: Float32Array;
  /** Zero points in NNI's range (0 for symmetric), same layout. */
  readonly zeroPoint: Float32Array;
  /** The weight after quantization, `[n, k]` (PyTorch layout), float32. */
  readonly dequantized: Float32Array;
}

/**
 * Replaces the MatMul of each selected `Linear` module by `MatMulNBits` (domain
 * `com.microsoft`, which onnxruntime runs on CPU) with the weight quantized in blocks of
 * `blockSize` along K, one scale (and for affine one zero point) per (output, block). The block
 * parameters follow NNI's formulas on each block. K need not be a multiple of the block: the
 * last block is shorter, which is the same as padding it with zeros because NNI's range always
 * contains 0 (the padding never changes a scale or a zero point).
 *
 * DequantizeLinear with 4-bit types and `block_size` would need default-domain opset 21; the
 * PP-OCR models are opset 9, so MatMulNBits is what runs on them.
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param options Bits, block size, scheme, modules and kernels.
 * @returns The new model bytes and the quantized layers.
 * @throws {RangeError} On a bad block size or bit width, or a named module that is not a MatMul
 * with a constant float32 weight as its second input.
 *
 * @example
 * ```ts ignore
 * const onnx = decodeOnnx(bytes);
 * const { bytes: out, layers } = await weightOnlyOnnx(onnx, onnxModel(onnx), { bits: 4, blockSize: 32 });
 * ```
 */
export async function weightOnlyOnnx(
  onnx: OnnxModel,
  model: ModelGraph,
  options: WeightOnlyOnnxOptions = {},
): Promise<{ bytes: Uint8Array; layers: WeightOnlyLayer[] }> {
  const kernels = options.kernels ?? getKernels();
  const bits = options.bits ?? 4;
  const bs = options.blockSize ?? 32;
  const scheme = options.scheme ?? "symmetric";
  if (bits !== 4 && bits !== 8) {
    throw new RangeError(`"bits" must be 4 or 8: current value is ${bits}`);
  }
  if (!Number.isInteger(bs) || bs < 16 || (bs & (bs - 1)) !== 0) {
    throw new RangeError(`"blockSize" must be a power of two >= 16: current value is ${bs}`);
  }
  const range = quantDtypeRange(`${scheme === "symmetric" ? "" : "u"}int${bits}`);
  const offset = scheme === "symmetric" ? 2 ** (bits - 1) : 0;
  const selected = options.modules ??
    model.modules.filter((m) => m.type === "Linear" && m.opType === "MatMul").map((m) => m.name);
  const consumers = new Map<string, number>();
  for (const n of onnx.graph.nodes) {
    for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const constantOutputs = new Set(
    onnx.graph.nodes.filter((n) => n.opType === "Constant").flatMap((n) => n.outputs),
  );
  const initializerNames = new Set(onnx.graph.initializers.map((t) => t.name));
  const layers: WeightOnlyLayer[] = [];
  const initializers: Uint8Array[] = [];
  const nodesReplacing = new Map<string, Uint8Array>();
  const dropNodeOutputs = new Set<string>();
  const dropInitializers = new Set<string>();
  for (const name of selected) {
    const mod = model.modules.find((m) => m.name === name);
    const ref = mod?.params.weight;
    const node = onnx.graph.nodes.find((n) => n.opType === "MatMul" && n.inputs[1] === ref?.name);
    if (mod === undefined || ref === undefined || node === undefined || ref.shape.length !== 2) {
      throw new RangeError(
        `module "${name}" is not a MatMul with a constant 2-D weight as its second input`,
      );
    }
    if (ref.dtype !== "F32") {
      throw new RangeError(
        `weight "${ref.name}" of module "${name}" is ${ref.dtype}; float32 is supported`,
      );
    }
    const [n, k] = ref.shape;
    const blocks = Math.ceil(k / bs);
    const kp = blocks * bs;
    const w = await ref.data();
    const padded = new Float32Array(n * kp);
    for (let r = 0; r < n; r++) padded.set(w.subarray(r * k, (r + 1) * k), r * kp);
    const kernel = [1, bs];
    const tracked = trackedRange(padded, [n, kp], kernel, { kernels });
    const { scale, zeroPoint } = computeQuantParams({
      trackedMin: tracked.min,
      trackedMax: tracked.max,
      qmin: range.qmin,
      qmax: range.qmax,
      scheme,
    });
    const p = { kernel, scale, zeroPoint, qmin: range.qmin, qmax: range.qmax };
    const codes = quantizeTensor(padded, [n, kp], p, { kernels });
    const deq = kernels.dequantize(codes, [n, kp], p);
    const dequantized = new Float32Array(n * k);
    for (let r = 0; r < n; r++) dequantized.set(deq.subarray(r * kp, r * kp + k), r * k);
    const stored = Uint8Array.from(codes, (c) => c + offset);
    const b = bits === 4 ? kernels.packInt4(stored) : stored;
    const t = ref.name;
    initializers.push(
      tensorProto(`${t}_nbits`, ONNX_TYPE.UINT8, [n, blocks, (bs * bits) / 8], b),
      tensorProto(
        `${t}_nbits_scale`,
        ONNX_TYPE.FLOAT,
        [n * blocks],
        new Uint8Array(scale.slice().buffer),
      ),
    );
    const inputs = [node.inputs[0], `${t}_nbits`, `${t}_nbits_scale`];
    if (scheme === "affine") {
      const perRow = Math.ceil((blocks * bits) / 8);
      const zp = new Uint8Array(n * perRow);
      for (let r = 0; r < n; r++) {
        const row = Uint8Array.from(zeroPoint.subarray(r * blocks, (r + 1) * blocks));
        zp.set(bits === 4 ? kernels.packInt4(row) : row, r * perRow);
      }
      initializers.push(tensorProto(`${t}_nbits_zero_point`, ONNX_TYPE.UINT8, [n * perRow], zp));
      inputs.push(`${t}_nbits_zero_point`);
    }
    const attributes = [
      { name: "K", i: k },
      { name: "N", i: n },
      { name: "bits", i: bits },
      { name: "block_size", i: bs },
      ...(options.accuracyLevel === undefined
        ? []
        : [{ name: "accuracy_level", i: options.accuracyLevel }]),
    ];
    nodesReplacing.set(
      node.outputs[0],
      nodeProto({
        name: `${node.name || t}_MatMulNBits`,
        opType: "MatMulNBits",
        domain: "com.microsoft",
        inputs,
        outputs: node.outputs,
        attributes,
      }),
    );
    if ((consumers.get(t) ?? 0) <= 1) {
      if (constantOutputs.has(t)) dropNodeOutputs.add(t);
      else if (initializerNames.has(t)) dropInitializers.add(t);
    }
    layers.push({
      module: name,
      tensor: t,
      k,
      n,
      bits,
      blockSize: bs,
      scale,
      zeroPoint,
      dequantized,
    });
  }
  const bytes = patchOnnx(onnx, {
    dropNodeOutputs,
    dropInitializers,
    initializers,
    nodesFirst: [],
    nodesReplacing,
    opsets: [{ domain: "com.microsoft", version: 1 }],
  });
  return { bytes, layers };
}
