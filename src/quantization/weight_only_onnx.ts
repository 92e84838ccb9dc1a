/**
 * `weightOnlyOnnx`: block-wise weight-only quantization of MatMul and Gemm layers with the
 * `com.microsoft` `MatMulNBits` operator.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { computeQuantParams, type QuantScheme } from "./compute_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import { trackedRange } from "./tracked_range.ts";
import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { NodeSpec, TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { QuantizationError } from "./quantization_error.ts";
import { roundHalfEven } from "../tensor/round_half_even.ts";
import { nodesWithGraph, storedTensor, storedTensors } from "./_stored_tensor.ts";
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
  /**
   * The grid of `"symmetric"` blocks: `"nni"` (default) — NNI's `int<bits>` range, scale
   * `absmax / qmax` ([-7, 7] for 4 bits); `"onnxruntime"` — what onnxruntime's
   * `MatMul4BitsQuantizer` (MLAS `MlasQuantizeBlockwise`) computes: the value of largest magnitude,
   * with its sign, maps to the lowest code, scale `-value / 2^(bits-1)`, codes
   * `clamp(round(x / scale), -2^(bits-1), 2^(bits-1) - 1)` (ties away from zero), so all 16 levels
   * of a 4-bit code are used. Either way the stored zero point is the implicit `2^(bits-1)`.
   */
  readonly grid?: "nni" | "onnxruntime";
  /**
   * `accuracy_level` attribute of MatMulNBits (0-4; default: omitted, as onnxruntime's
   * `MatMul4BitsQuantizer` omits it unless given).
   */
  readonly accuracyLevel?: number;
  /**
   * Grids given per module (GPTQ's, say) instead of computed: unsigned codes in `[qmin, qmax]`
   * with one scale and zero point per output row and group of `groupSize` weights along K
   * (`-1`: one per row), row-major. A group must be a multiple of `blockSize` (or the whole
   * row); its parameters are repeated over its blocks, so the codes are the grid's. Needs
   * `scheme: "affine"` (the zero points are stored).
   */
  readonly grids?: ReadonlyMap<string, WeightGrid>;
  /**
   * Per module with a given grid: the group of each input (`g_idx`, `[K]`, GPTQ's
   * `groupIndex` under act-order), written as MatMulNBits' `g_idx` input with the zero points
   * in the scales' type. The grid's groups must be the block size, one scale per (row, group).
   */
  readonly groupIndex?: ReadonlyMap<string, Int32Array>;
}

/** A weight's quantization grid (see `WeightOnlyOnnxOptions.grids`). */
export interface WeightGrid {
  /** Scales, `[out, groups]` row-major. */
  readonly scale: Float32Array;
  /** Zero points, same layout. */
  readonly zeroPoint: Float32Array;
  /** The smallest code (0). */
  readonly qmin: number;
  /** The largest code. */
  readonly qmax: number;
  /** Weights per group along K, or `-1` for one group per row. */
  readonly groupSize: number;
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
 * `com.microsoft`, which onnxruntime runs on CPU) with the weight quantized in blocks of
 * `blockSize` along K, one scale (and for affine one zero point) per (output, block). Every Gemm
 * form is kept: `transA` becomes a `Transpose` of A before the MatMulNBits, `alpha` a `Mul`
 * after it, the bias `C` an `Add` (with a `Mul` by `beta` when it is not 1); `transB` needs
 * nothing, as MatMulNBits stores B as `[N, K]` whatever the file layout. The node may sit in an
 * `If`/`Loop`/`Scan` body: the new nodes go to that graph, the codes and scales to the graph
 * that stores the weight (quantized once when several modules read it, e.g. in both branches),
 * and the float weight is removed there once every reader is replaced. The block
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
 * K) or bit width; code `storage`, naming the module, for a named module that is not a MatMul
 * or Gemm with a constant float32, float16 or bfloat16 weight (or one widened by a `Cast`) as
 * its second input, or a weight whose name two subgraphs define.
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
  const all = nodesWithGraph(onnx);
  const consumers = new Map<string, number>();
  for (const { node: n } of all) {
    for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const places = storedTensors(onnx);
  const layers: WeightOnlyLayer[] = [];
  const edits: OnnxEdit[] = [];
  /** Codes and scales of a weight, as initializers of the graph that stores it. */
  const quantizeWeight = async (
    ref: TensorRef,
    at: { module: string; target: string },
    floatType: FloatType,
    grid?: WeightGrid,
  ): Promise<
    { inputs: string[]; layer: Omit<WeightOnlyLayer, "module">; castA: boolean }
  > => {
    const place = storedTensor(places, onnx, ref.name, "MatMulNBits export", at);
    const add = (...tensors: TensorSpec[]) =>
      edits.push(
        ...tensors.map((tensor) => ({
          op: "addInitializer" as const,
          tensor,
          graph: place.graph,
        })),
      );
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
    if (grid === undefined && scheme === "symmetric" && options.grid === "onnxruntime") {
      const o = onnxruntimeGrid(padded, n, kp, bs, bits);
      const dequantized = new Float32Array(n * k);
      for (let r = 0; r < n; r++) dequantized.set(o.deq.subarray(r * kp, r * kp + k), r * k);
      const t = ref.name;
      const { scaleType, cast: castA } = scaleStorage(floatType, o.scale);
      add(
        {
          name: `${t}_nbits`,
          dataType: ONNX_DATA_TYPE.UINT8,
          dims: [n, blocks, (bs * bits) / 8],
          raw: bits === 4 ? kernels.packInt4(o.stored) : o.stored,
        },
        {
          name: `${t}_nbits_scale`,
          dataType: scaleType,
          dims: [n * blocks],
          raw: scaleBytes(o.scale, scaleType),
        },
      );
      const layer = {
        tensor: t,
        k,
        n,
        bits,
        blockSize: bs,
        scale: o.scale,
        zeroPoint: new Float32Array(n * blocks),
        dequantized,
      };
      return { inputs: [`${t}_nbits`, `${t}_nbits_scale`], layer, castA };
    }
    const p = grid === undefined
      ? {
        kernel,
        ...computeQuantParams({
          ...(() => {
            const tracked = trackedRange(padded, [n, kp], kernel, { kernels });
            return { trackedMin: tracked.min, trackedMax: tracked.max };
          })(),
          qmin: range.qmin,
          qmax: range.qmax,
          scheme,
        }),
        qmin: range.qmin,
        qmax: range.qmax,
      }
      : { kernel, ...blockGrid(grid, n, k, bs, blocks, at), qmin: grid.qmin, qmax: grid.qmax };
    const gIdx = grid === undefined ? undefined : options.groupIndex?.get(at.module);
    const { scale, zeroPoint, codes, deq } = gIdx === undefined
      ? (() => {
        const codes = quantizeTensor(padded, [n, kp], p, { kernels });
        return { ...p, codes, deq: kernels.dequantize(codes, [n, kp], p) };
      })()
      : indexedGrid(grid!, gIdx, padded, n, k, bs, at);
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
    const inputs = [`${t}_nbits`, `${t}_nbits_scale`];
    if (gIdx !== undefined) {
      // With g_idx, onnxruntime (1.30, CPU) reads packed uint8 zero points at the wrong place;
      // zero points in the scales' type ([N · blocks], unpacked) give the documented result.
      add(
        {
          name: `${t}_nbits_zero_point`,
          dataType: scaleType,
          dims: [n * blocks],
          raw: scaleBytes(zeroPoint, scaleType),
        },
        {
          name: `${t}_nbits_g_idx`,
          dataType: ONNX_DATA_TYPE.INT32,
          dims: [k],
          raw: new Uint8Array(Int32Array.from(gIdx).buffer),
        },
      );
      inputs.push(`${t}_nbits_zero_point`, `${t}_nbits_g_idx`);
    } else if (scheme === "affine") {
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
    const layer = { tensor: t, k, n, bits, blockSize: bs, scale, zeroPoint, dequantized };
    return { inputs, layer, castA };
  };
  // A weight that several modules read (say the same layer in both branches of an If) is
  // quantized once, into the graph that stores it, which every reader sees.
  const done = new Map<
    string,
    { inputs: string[]; layer: Omit<WeightOnlyLayer, "module">; castA: boolean }
  >();
  // Readers of a value that go away (a replaced MatMul/Gemm, a removed Cast); the value goes
  // when all of its readers have.
  const gone = new Map<string, number>();
  const leave = (v: string) => gone.set(v, (gone.get(v) ?? 0) + 1);
  // A weight stored in another float type and widened by a Cast before the MatMul.
  const casts = new Map(
    all.filter((x) => x.node.opType === "Cast").map((x) => [x.node.outputs[0], x] as const),
  );
  const storedName = (v: string | undefined) => {
    const c = v === undefined ? undefined : casts.get(v);
    return c === undefined ? v : c.node.inputs[0];
  };
  const isLayer = (n: { opType: string; inputs: readonly string[] }, w?: string) =>
    (n.opType === "MatMul" || n.opType === "Gemm") && storedName(n.inputs[1]) === w;
  for (const name of selected) {
    const mod = model.modules.find((m) => m.name === name);
    const ref = mod?.params.weight;
    // The node may sit in the main graph or in an If/Loop/Scan body: the module's own node
    // (labelled in the module view), else the first that reads the weight. The new node and the
    // Gemm epilogue go to its graph.
    const view = mod?.subgraph === undefined
      ? model.graph?.nodes
      : model.graph?.subgraphs?.[mod.subgraph];
    const own = view?.findIndex((n) => n.module === name && isLayer(n, ref?.name)) ?? -1;
    const found = own >= 0
      ? all.find((x) => x.graph === (mod?.subgraph ?? "graph") && x.index === own)
      : all.find(({ node: n }) => isLayer(n, ref?.name));
    const at = { module: name, target: "weight" };
    if (mod === undefined || ref === undefined || found === undefined || ref.shape.length !== 2) {
      throw new QuantizationError(
        "storage",
        `MatMulNBits replaces a MatMul or Gemm with a constant 2-D weight as its second input: the module has none`,
        at,
      );
    }
    const { node, graph, index } = found;
    const add = (...tensors: TensorSpec[]) =>
      edits.push(...tensors.map((tensor) => ({ op: "addInitializer" as const, tensor, graph })));
    const gemm = node.opType === "Gemm" ? gemmForm(node) : undefined;
    const t = ref.name;
    // The type the layer computes in: the weight's, or the one its Cast gives it.
    const read = node.inputs[1];
    const cast = read === t ? undefined : casts.get(read);
    const castTo = cast?.node.attributes.find((x) => x.name === "to")?.i;
    const floatType = castTo === undefined
      ? floatTypeOf(ref.dtype)
      : [1, 10, 16].includes(castTo)
      ? castTo as FloatType
      : undefined;
    if (floatType === undefined) {
      throw new QuantizationError(
        "storage",
        `MatMulNBits export supports layers computed in float32, float16 or bfloat16: tensor "${t}" is ${ref.dtype}${
          castTo === undefined ? "" : ` cast to ONNX type ${castTo}`
        }`,
        at,
      );
    }
    leave(read);
    const quantized = done.get(t) ??
      await quantizeWeight(ref, at, floatType, options.grids?.get(name));
    done.set(t, quantized);
    const { k, n } = quantized.layer;
    const castA = quantized.castA;
    layers.push({ module: name, ...quantized.layer });
    const out = node.outputs[0];
    const label = node.name || t;
    const aIn = gemm?.transA ? `${out}_nbits_a` : node.inputs[0];
    const a = castA ? `${label}_nbits_input` : aIn;
    const inputs = [a, ...quantized.inputs];
    const attributes = [
      { name: "K", i: k },
      { name: "N", i: n },
      { name: "bits", i: bits },
      { name: "block_size", i: bs },
      ...(options.accuracyLevel === undefined
        ? []
        : [{ name: "accuracy_level", i: options.accuracyLevel }]),
    ];
    // Gemm: Y = alpha * A' * B' + beta * C. MatMulNBits computes A * B' whatever transB was
    // (the module view reads B as [out, in], the layout MatMulNBits stores); transA becomes a
    // Transpose before it, alpha a Mul after it, beta * C a Mul and an Add.
    const before: NodeSpec[] = [];
    const after: NodeSpec[] = [];
    if (gemm?.transA) {
      before.push({
        name: `${label}_nbits_transpose_a`,
        opType: "Transpose",
        inputs: [node.inputs[0]],
        outputs: [aIn],
        attributes: [{ name: "perm", ints: [1, 0] }],
      });
    }
    if (castA) before.push(castNode(`${label}_CastIn`, aIn, a, ONNX_DATA_TYPE.FLOAT));
    // alpha and beta in the layer's type, so the Mul reads one type.
    const scalar = (suffix: string, v: number) => {
      add({
        name: `${out}_nbits_${suffix}`,
        dataType: floatType,
        dims: [],
        raw: scaleBytes(Float32Array.of(v), floatType),
      });
      return `${out}_nbits_${suffix}`;
    };
    let value = gemm === undefined || (gemm.alpha === 1 && gemm.bias === undefined)
      ? out
      : `${out}_nbits_product`;
    const product = value;
    if (castA) after.push(castNode(`${label}_CastOut`, `${product}_float32`, product, floatType));
    if (gemm !== undefined && gemm.alpha !== 1) {
      const scaled = gemm.bias === undefined ? out : `${out}_nbits_scaled`;
      after.push({
        name: `${label}_nbits_alpha`,
        opType: "Mul",
        inputs: [value, scalar("alpha", gemm.alpha)],
        outputs: [scaled],
      });
      value = scaled;
    }
    if (gemm?.bias !== undefined) {
      let c = gemm.bias;
      if (gemm.beta !== 1) {
        after.push({
          name: `${label}_nbits_beta`,
          opType: "Mul",
          inputs: [c, scalar("beta", gemm.beta)],
          outputs: [`${out}_nbits_bias`],
        });
        c = `${out}_nbits_bias`;
      }
      after.push({ name: `${label}_bias`, opType: "Add", inputs: [value, c], outputs: [out] });
    }
    if (before.length > 0) {
      edits.push({ op: "insertNodes", at: { before: index }, nodes: before, graph });
    }
    edits.push({
      op: "replaceNode",
      node: index,
      graph,
      with: {
        name: `${label}_MatMulNBits`,
        opType: "MatMulNBits",
        domain: "com.microsoft",
        inputs,
        outputs: [castA ? `${product}_float32` : product],
        attributes,
      },
    });
    if (after.length > 0) {
      edits.push({ op: "insertNodes", at: { after: index }, nodes: after, graph });
    }
    // The weight's own Cast goes once nothing else reads it; the float weight once every node
    // that read it reads the codes instead.
    if (cast !== undefined && gone.get(read) === consumers.get(read)) {
      edits.push({ op: "removeNode", node: cast.index, graph: cast.graph });
      leave(t);
    }
    if (gone.get(t) === consumers.get(t)) {
      const place = storedTensor(places, onnx, t, "MatMulNBits export", at);
      if (place.constantNode !== undefined) {
        edits.push({ op: "removeNode", node: place.constantNode, graph: place.graph });
      } else edits.push({ op: "removeInitializer", name: t, graph: place.graph });
    }
  }
  edits.push({ op: "addOpset", domain: "com.microsoft", version: 1 });
  const { bytes } = editOnnx(onnx, edits);
  return { bytes, layers };
}

/**
 * onnxruntime's symmetric block grid (MLAS `range2scale` and `MlasQuantizeBlockwise`): per block
 * of `bs` along K, `scale = -v / 2^(bits-1)` with `v` the value of largest magnitude (the first
 * such when two tie with opposite signs: the maximum wins only when strictly larger in
 * magnitude), codes `clamp(round(x * (1 / scale) + 2^(bits-1)), 0, 2^bits - 1)` with rounding
 * half away from zero, all in float32. Returns the stored (unsigned) codes, the scales and the
 * dequantized weights `(code - 2^(bits-1)) * scale`.
 */
function onnxruntimeGrid(
  w: Float32Array,
  n: number,
  kp: number,
  bs: number,
  bits: number,
): { stored: Uint8Array; scale: Float32Array; deq: Float32Array } {
  const blocks = kp / bs;
  const mid = 2 ** (bits - 1);
  const top = 2 ** bits - 1;
  const stored = new Uint8Array(n * kp);
  const scale = new Float32Array(n * blocks);
  const deq = new Float32Array(n * kp);
  const f = Math.fround;
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * kp + b * bs;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = from; i < from + bs; i++) {
        mn = Math.min(mn, w[i]);
        mx = Math.max(mx, w[i]);
      }
      const v = Math.abs(mx) > Math.abs(mn) ? mx : mn;
      const s = f(v / -mid);
      scale[r * blocks + b] = s;
      const inv = s === 0 ? 0 : f(1 / s);
      for (let i = from; i < from + bs; i++) {
        const x = f(f(w[i] * inv) + mid);
        const q = Math.min(top, Math.max(0, Math.sign(x) * Math.round(Math.abs(x))));
        stored[i] = q;
        deq[i] = f((q - mid) * s);
      }
    }
  }
  return { stored, scale, deq };
}

/** The attributes of a Gemm and its bias input `C` (absent without one, or with `beta` 0). */
function gemmForm(
  node: OnnxNode,
): { alpha: number; beta: number; transA: boolean; bias?: string } {
  const get = (name: string) => node.attributes.find((a) => a.name === name);
  const beta = get("beta")?.f ?? 1;
  const c = node.inputs[2];
  return {
    alpha: get("alpha")?.f ?? 1,
    beta,
    transA: (get("transA")?.i ?? 0) !== 0,
    ...(c === undefined || c === "" || beta === 0 ? {} : { bias: c }),
  };
}

/**
 * A given grid whose groups are listed per input (`g_idx`, GPTQ's act-order groups): group `g`
 * of row `r` has scale `grid.scale[r * groups + g]`; codes `clamp(round(w / s) + z)` (half to
 * even), the padding columns at the zero point.
 */
function indexedGrid(
  grid: WeightGrid,
  gIdx: Int32Array,
  padded: Float32Array,
  n: number,
  k: number,
  bs: number,
  at: { module: string; target: string },
): { scale: Float32Array; zeroPoint: Float32Array; codes: Float32Array; deq: Float32Array } {
  const blocks = Math.ceil(k / bs);
  const kp = blocks * bs;
  if (
    grid.groupSize !== bs || gIdx.length !== k || grid.scale.length !== n * blocks ||
    grid.zeroPoint.length !== n * blocks || gIdx.some((g) => !(g >= 0 && g < blocks))
  ) {
    throw new QuantizationError(
      "storage",
      `MatMulNBits with g_idx stores groups of the block size ${bs}, one index in [0, ${blocks}) per input: the grid has groups of ${grid.groupSize}, ${grid.scale.length} scales for ${n} rows of ${k} and ${gIdx.length} indices`,
      at,
    );
  }
  const codes = new Float32Array(n * kp);
  const deq = new Float32Array(n * kp);
  const f = Math.fround;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < kp; c++) {
      const g = r * blocks + (c < k ? gIdx[c] : 0);
      const s = grid.scale[g];
      const z = grid.zeroPoint[g];
      const q = c < k
        ? Math.min(grid.qmax, Math.max(grid.qmin, roundHalfEven(f(padded[r * kp + c] / s)) + z))
        : z;
      codes[r * kp + c] = q;
      deq[r * kp + c] = f(f(q - z) * s);
    }
  }
  return { scale: grid.scale, zeroPoint: grid.zeroPoint, codes, deq };
}

/** A given grid as one scale and zero point per block of `bs` along K. */
function blockGrid(
  grid: WeightGrid,
  n: number,
  k: number,
  bs: number,
  blocks: number,
  at: { module: string; target: string },
): { scale: Float32Array; zeroPoint: Float32Array } {
  const g = grid.groupSize === -1 ? blocks * bs : grid.groupSize;
  const groups = grid.groupSize === -1 ? 1 : Math.ceil(k / g);
  if (
    (grid.groupSize !== -1 && g % bs !== 0) || grid.scale.length !== n * groups ||
    grid.zeroPoint.length !== n * groups
  ) {
    throw new QuantizationError(
      "storage",
      `MatMulNBits stores a given grid whose groups are whole blocks of ${bs} along K: the grid has groups of ${grid.groupSize} and ${grid.scale.length} scales for ${n} rows of ${k}`,
      at,
    );
  }
  const scale = new Float32Array(n * blocks);
  const zeroPoint = new Float32Array(n * blocks);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * groups + Math.floor((b * bs) / g);
      scale[r * blocks + b] = grid.scale[from];
      zeroPoint[r * blocks + b] = grid.zeroPoint[from];
    }
  }
  return { scale, zeroPoint };
}
