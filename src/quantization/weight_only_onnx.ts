/**
 * `weightOnlyOnnx`: block-wise weight-only quantization of MatMul and Gemm layers with the
 * `com.microsoft` `MatMulNBits` operator.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { computeQuantParams, type QuantScheme } from "./compute_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import { trackedRange } from "./tracked_range.ts";
import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { QuantizationError } from "./quantization_error.ts";
import {
  castNode,
  type FloatType,
  floatTypeOf,
  scaleBytes,
  scaleStorage,
} from "./_float_storage.ts";

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
  /** Module names to quantize (default: every `Linear` module computed by a MatMul or a Gemm). */
  readonly modules?: readonly string[];
  /** `accuracy_level` attribute of MatMulNBits (0-4; default: omitted). */
  readonly accuracyLevel?: number;
}

/** One quantized MatMul weight. */
export interface WeightOnlyLayer {
  /** The module name. */
  readonly module: string;
  /** The stored weight's name. */
  readonly tensor: string;
  /** Input features (rows of the ONNX weight `[K, N]`). */
  readonly k: number;
  /** Output features. */
  readonly n: number;
  /** Bits per code (4). */
  readonly bits: number;
  /** Elements of a block along K. */
  readonly blockSize: number;
  /** Scales `[n, ceil(k / blockSize)]`, row-major. */
  readonly scale: Float32Array;
  /** Zero points in NNI's range (0 for symmetric), same layout. */
  readonly zeroPoint: Float32Array;
  /** The weight after quantization, `[n, k]` (PyTorch layout), float32. */
  readonly dequantized: Float32Array;
}

/**
 * Replaces the MatMul or Gemm of each selected `Linear` module by `MatMulNBits` (domain
 * `com.microsoft`, which onnxruntime runs on CPU; a Gemm's bias `C` is added by an `Add` node
 * after it) with the weight quantized in blocks of
 * `blockSize` along K, one scale (and for affine one zero point) per (output, block). The block
 * parameters follow NNI's formulas on each block. K need not be a multiple of the block: the
 * last block is shorter, which is the same as padding it with zeros because NNI's range always
 * contains 0 (the padding never changes a scale or a zero point).
 *
 * MatMulNBits takes A, the scales and its output in one type: a float16 layer gets float16
 * scales; a bfloat16 layer (onnxruntime has no bfloat16 MatMulNBits CPU kernel), or a float16
 * one whose scales are not all float16 numbers, runs it in float32 between a `Cast` of A and a
 * `Cast` of the product. A weight stored in another float type and widened by a `Cast` before
 * the MatMul is read through it; the layer computes in the Cast's type and the Cast goes when
 * nothing else reads it.
 *
 * DequantizeLinear with 4-bit types and `block_size` would need default-domain opset 21; the
 * PP-OCR models are opset 9, so MatMulNBits is what runs on them.
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param options Bits, block size, scheme, modules and kernels.
 * @returns The new model bytes and the quantized layers.
 * @throws {QuantizationError} Code `argument` on a bad block size (not a power of two >= 16, or larger than a weight's
 * K) or bit width, a named module that is not a MatMul or Gemm with a constant float32, float16 or bfloat16 weight
 * as its second input, or a Gemm with `alpha` or `beta` other than 1 or with `transA` (code
 * `storage`, naming the module).
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
    throw new QuantizationError("argument", `"bits" must be 4 or 8: current value is ${bits}`);
  }
  if (!Number.isInteger(bs) || bs < 16 || (bs & (bs - 1)) !== 0) {
    throw new QuantizationError(
      "argument",
      `"blockSize" must be a power of two >= 16: current value is ${bs}`,
    );
  }
  const range = quantDtypeRange(`${scheme === "symmetric" ? "" : "u"}int${bits}`);
  const offset = scheme === "symmetric" ? 2 ** (bits - 1) : 0;
  const selected = options.modules ??
    model.modules.filter((m) =>
      m.type === "Linear" && (m.opType === "MatMul" || m.opType === "Gemm")
    )
      .map((m) => m.name);
  const consumers = new Map<string, number>();
  for (const n of onnx.graph.nodes) {
    for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const constantOutputs = new Set(
    onnx.graph.nodes.filter((n) => n.opType === "Constant").flatMap((n) => n.outputs),
  );
  const initializerNames = new Set(onnx.graph.initializers.map((t) => t.name));
  const layers: WeightOnlyLayer[] = [];
  const constantNodes = new Map(
    onnx.graph.nodes.flatMap((n, i) => n.opType === "Constant" ? n.outputs.map((o) => [o, i]) : []),
  );
  // A weight stored in another float type and widened by a Cast before the MatMul.
  const casts = new Map(
    onnx.graph.nodes.flatMap((n, i) => n.opType === "Cast" ? [[n.outputs[0], i] as const] : []),
  );
  const storedName = (v: string | undefined) => {
    const c = v === undefined ? undefined : casts.get(v);
    return c === undefined ? v : onnx.graph.nodes[c].inputs[0];
  };
  const edits: OnnxEdit[] = [];
  const add = (...tensors: TensorSpec[]) =>
    edits.push(...tensors.map((tensor) => ({ op: "addInitializer" as const, tensor })));
  for (const name of selected) {
    const mod = model.modules.find((m) => m.name === name);
    const ref = mod?.params.weight;
    const index = onnx.graph.nodes.findIndex((n) =>
      (n.opType === "MatMul" || n.opType === "Gemm") && storedName(n.inputs[1]) === ref?.name
    );
    const node = onnx.graph.nodes[index];
    const at = { module: name, target: "weight" };
    if (mod === undefined || ref === undefined || node === undefined || ref.shape.length !== 2) {
      throw new QuantizationError(
        "storage",
        `MatMulNBits replaces a MatMul or Gemm with a constant 2-D weight as its second input: the module has none`,
        at,
      );
    }
    const bias = node.opType === "Gemm" ? gemmBias(node, name) : undefined;
    // The type the layer computes in: the weight's, or the one its Cast gives it.
    const cast = node.inputs[1] === ref.name ? undefined : casts.get(node.inputs[1]);
    const castTo = cast === undefined
      ? undefined
      : onnx.graph.nodes[cast].attributes.find((a) => a.name === "to")?.i;
    const floatType = castTo === undefined
      ? floatTypeOf(ref.dtype)
      : [1, 10, 16].includes(castTo)
      ? castTo as FloatType
      : undefined;
    if (floatType === undefined) {
      throw new QuantizationError(
        "storage",
        `MatMulNBits export supports layers computed in float32, float16 or bfloat16: tensor "${ref.name}" is ${ref.dtype}${
          castTo === undefined ? "" : ` cast to ONNX type ${castTo}`
        }`,
        at,
      );
    }
    const [n, k] = ref.shape;
    if (bs > k) {
      throw new QuantizationError(
        "argument",
        `"blockSize" must be at most K = ${k} (the input dim of weight "${ref.name}"): current value is ${bs}`,
        at,
      );
    }
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
    // MatMulNBits binds A, the scales and the output to one type (float or float16 on CPU):
    // bfloat16 layers, and float16 ones whose scales float16 cannot hold, run it in float32
    // between Casts.
    const { scaleType, cast: castA } = scaleStorage(floatType, scale);
    add(
      {
        name: `${t}_nbits`,
        dataType: ONNX_DATA_TYPE.UINT8,
        dims: [n, blocks, (bs * bits) / 8],
        raw: b,
      },
      {
        name: `${t}_nbits_scale`,
        dataType: scaleType,
        dims: [n * blocks],
        raw: scaleBytes(scale, scaleType),
      },
    );
    const input = castA ? `${t}_nbits_input` : node.inputs[0];
    const inputs = [input, `${t}_nbits`, `${t}_nbits_scale`];
    if (scheme === "affine") {
      const perRow = Math.ceil((blocks * bits) / 8);
      const zp = new Uint8Array(n * perRow);
      for (let r = 0; r < n; r++) {
        const row = Uint8Array.from(zeroPoint.subarray(r * blocks, (r + 1) * blocks));
        zp.set(bits === 4 ? kernels.packInt4(row) : row, r * perRow);
      }
      add({
        name: `${t}_nbits_zero_point`,
        dataType: ONNX_DATA_TYPE.UINT8,
        dims: [n * perRow],
        raw: zp,
      });
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
    const product = bias === undefined ? node.outputs[0] : `${node.outputs[0]}_nbits_product`;
    if (castA) {
      edits.push({
        op: "insertNodes",
        at: { before: index },
        nodes: [castNode(`${node.name || t}_CastIn`, node.inputs[0], input, ONNX_DATA_TYPE.FLOAT)],
      });
    }
    edits.push({
      op: "replaceNode",
      node: index,
      with: {
        name: `${node.name || t}_MatMulNBits`,
        opType: "MatMulNBits",
        domain: "com.microsoft",
        inputs,
        outputs: [castA ? `${product}_float32` : product],
        attributes,
      },
    });
    if (castA) {
      edits.push({
        op: "insertNodes",
        at: { after: index },
        nodes: [castNode(`${node.name || t}_CastOut`, `${product}_float32`, product, floatType)],
      });
    }
    if (bias !== undefined) {
      edits.push({
        op: "insertNodes",
        at: { after: index },
        nodes: [{
          name: `${node.name || t}_bias`,
          opType: "Add",
          inputs: [product, bias],
          outputs: [node.outputs[0]],
        }],
      });
    }
    // The weight's own Cast goes with it when nothing else reads it.
    const castUsed = cast !== undefined && (consumers.get(node.inputs[1]) ?? 0) > 1;
    if (cast !== undefined && !castUsed) edits.push({ op: "removeNode", node: cast });
    if ((consumers.get(t) ?? 0) <= 1 && !castUsed) {
      if (constantOutputs.has(t)) edits.push({ op: "removeNode", node: constantNodes.get(t)! });
      else if (initializerNames.has(t)) edits.push({ op: "removeInitializer", name: t });
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
  edits.push({ op: "addOpset", domain: "com.microsoft", version: 1 });
  const { bytes } = editOnnx(onnx, edits);
  return { bytes, layers };
}

/**
 * The bias input of a Gemm that MatMulNBits plus an Add can replace (`alpha` 1, no `transA`,
 * `beta` 1 when there is a bias; `transB` either way, as the module view reads the weight as
 * `[out, in]`), or `undefined` without one.
 */
function gemmBias(node: OnnxNode, module: string): string | undefined {
  const get = (name: string) => node.attributes.find((a) => a.name === name);
  const alpha = get("alpha")?.f ?? 1;
  const beta = get("beta")?.f ?? 1;
  const transA = get("transA")?.i ?? 0;
  const bias = node.inputs[2] === undefined || node.inputs[2] === "" ? undefined : node.inputs[2];
  if (alpha !== 1 || transA !== 0 || (bias !== undefined && beta !== 1)) {
    throw new QuantizationError(
      "storage",
      `a Gemm can become MatMulNBits with alpha 1, transA 0 and beta 1: current values are alpha ${alpha}, transA ${transA}, beta ${beta}`,
      { module, target: "weight" },
    );
  }
  return bias;
}
