/**
 * `bnb4Onnx`: 4-bit NormalFloat (NF4) or FP4 block quantization of MatMul weights with the
 * `com.microsoft` `MatMulBnb4` operator, as onnxruntime's `MatMulBnb4Quantizer` writes it.
 *
 * @module
 */

import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph, TensorRef } from "../model/model_graph.ts";
import { editOnnx, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { QuantizationError } from "./quantization_error.ts";
import { nodesWithGraph, storedTensor, storedTensors } from "./_stored_tensor.ts";

/** The 4-bit code tables of `MatMulBnb4`: `quant_type` 0 is FP4, 1 is NF4. */
export type Bnb4Type = "nf4" | "fp4";

/**
 * The NF4 values of the codes 0-15 (bitsandbytes' NormalFloat: quantiles of a normal
 * distribution scaled to [-1, 1], with an exact 0 at code 7), as onnxruntime's kernel stores
 * them (float32).
 */
export const NF4_TABLE: readonly number[] = [
  -1,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1,
].map(Math.fround);

/**
 * The FP4 values of the codes 0-15 (sign bit, then a 3-bit float with exponent bias 3, divided
 * by 12, its largest magnitude), as onnxruntime's kernel stores them (float32).
 */
export const FP4_TABLE: readonly number[] = [
  0,
  5.208333333e-3,
  0.66666667,
  1,
  0.33333333,
  0.5,
  0.16666667,
  0.25,
  -0,
  -5.208333333e-3,
  -0.66666667,
  -1,
  -0.33333333,
  -0.5,
  -0.16666667,
  -0.25,
].map(Math.fround);

const f = Math.fround;
// onnxruntime's decision trees (blockwise_quant_block_bnb4.h), thresholds as float32 literals.
const NF4_T = [
  0.03979014977812767,
  0.3893125355243683,
  0.6427869200706482,
  0.8614784181118011,
  0.5016634166240692,
  0.2035212516784668,
  0.2920137718319893,
  0.1202552504837513,
  -0.33967943489551544,
  -0.13791173323988914,
  -0.045525018125772476,
  -0.23460740596055984,
  -0.6106329262256622,
  -0.4599952697753906,
  -0.8480964004993439,
].map(f);
const FP4_T = [0.29166667, 0.583333, 0.8333333, 0.4166667, 0.0859375, 0.20833333, 0.00260417].map(
  f,
);

function nf4Code(x: number): number {
  const t = NF4_T;
  if (x > t[0]) {
    if (x > t[1]) {
      if (x > t[2]) return x > t[3] ? 15 : 14;
      return x > t[4] ? 13 : 12;
    }
    if (x > t[5]) return x > t[6] ? 11 : 10;
    return x > t[7] ? 9 : 8;
  }
  if (x > t[8]) {
    if (x > t[9]) return x > t[10] ? 7 : 6;
    return x > t[11] ? 5 : 4;
  }
  if (x > t[12]) return x > t[13] ? 3 : 2;
  return x > t[14] ? 1 : 0;
}

function fp4Code(v: number): number {
  const sign = v < 0 ? 8 : 0;
  const x = Math.abs(v);
  const t = FP4_T;
  if (x > t[0]) {
    if (x > t[1]) return (x > t[2] ? 3 : 2) + sign;
    return (x > t[3] ? 5 : 4) + sign;
  }
  if (x > t[4]) return (x > t[5] ? 7 : 6) + sign;
  return (x > t[6] ? 1 : 0) + sign;
}

/**
 * Block quantization as onnxruntime's `quantize_matmul_bnb4` does it: `values` (the transposed
 * weight, `[N, K]` row-major, i.e. PyTorch's `[out, in]`) is cut into blocks of `blockSize`
 * consecutive values (the last one may be shorter, and blocks may cross rows when K is not a
 * multiple); each block stores its largest magnitude (`absmax`) and each value the code whose
 * table entry is nearest to `value / absmax` (computed in float32 with onnxruntime's thresholds).
 * Two codes per byte, the first value in the high nibble; an odd count ends with the code of 0.
 *
 * @param values The values, `[N, K]` row-major.
 * @param blockSize Values per block (a power of two >= 16).
 * @param type `nf4` or `fp4`.
 * @returns The packed codes (`ceil(n / 2)` bytes) and the absmax per block.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bnb4Decode, bnb4Encode, NF4_TABLE } from "./bnb4_onnx.ts";
 *
 * const { packed, absmax } = bnb4Encode(new Float32Array([2, -2, 0, 1]), 16, "nf4");
 * assert.deepEqual([...packed], [0xf0, 0x7c]); // codes 15, 0, 7, 12
 * assert.deepEqual([...absmax], [2]);
 * assert.deepEqual([...bnb4Decode(packed, absmax, 4, 16, "nf4")], [2, -2, 0, 2 * NF4_TABLE[12]]);
 * ```
 */
export function bnb4Encode(
  values: Float32Array,
  blockSize: number,
  type: Bnb4Type,
): { packed: Uint8Array; absmax: Float32Array } {
  const n = values.length;
  const blocks = Math.ceil(n / blockSize);
  const packed = new Uint8Array(Math.ceil(n / 2));
  const absmax = new Float32Array(blocks);
  const code = type === "nf4" ? nf4Code : fp4Code;
  for (let b = 0; b < blocks; b++) {
    const start = b * blockSize;
    const len = Math.min(blockSize, n - start);
    let m = 0;
    for (let i = 0; i < len; i++) m = Math.max(m, Math.abs(values[start + i]));
    absmax[b] = m;
    const r = m === 0 ? 0 : f(1 / m);
    for (let i = 0; i < len; i += 2) {
      const hi = code(f(values[start + i] * r));
      const lo = code(i + 1 < len ? f(values[start + i + 1] * r) : 0);
      packed[(start + i) / 2] = (hi << 4) | lo;
    }
  }
  return { packed, absmax };
}

/**
 * The values `MatMulBnb4` computes with: each code's table entry times its block's absmax
 * (float32).
 *
 * @param packed Codes, two per byte, the first in the high nibble.
 * @param absmax One per block.
 * @param n The number of values.
 * @param blockSize Values per block.
 * @param type `nf4` or `fp4`.
 * @returns The values, `[N, K]` row-major.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bnb4Decode, FP4_TABLE } from "./bnb4_onnx.ts";
 *
 * assert.deepEqual([...bnb4Decode(new Uint8Array([0x3b]), new Float32Array([6]), 2, 16, "fp4")], [6, -6]);
 * assert.equal(FP4_TABLE[3], 1);
 * ```
 */
export function bnb4Decode(
  packed: Uint8Array,
  absmax: Float32Array,
  n: number,
  blockSize: number,
  type: Bnb4Type,
): Float32Array {
  const table = type === "nf4" ? NF4_TABLE : FP4_TABLE;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const byte = packed[i >> 1];
    const c = (i & 1) === 0 ? byte >> 4 : byte & 15;
    out[i] = f(table[c] * absmax[Math.floor(i / blockSize)]);
  }
  return out;
}

/** Options of `bnb4Onnx`. */
export interface Bnb4OnnxOptions {
  /** `nf4` (default) or `fp4`. */
  readonly quantType?: Bnb4Type;
  /** Values per block: a power of two >= 16 (default 64, bitsandbytes' `Linear4bit`'s). */
  readonly blockSize?: number;
  /** Module names (default: every `Linear` computed by a MatMul). */
  readonly modules?: readonly string[];
}

/** One MatMulBnb4 weight. */
export interface Bnb4Layer {
  /** The module name. */
  readonly module: string;
  /** The stored weight's name. */
  readonly tensor: string;
  /** Input features. */
  readonly k: number;
  /** Output features. */
  readonly n: number;
  /** Values per block. */
  readonly blockSize: number;
  /** The code table. */
  readonly quantType: Bnb4Type;
  /** The absmax per block. */
  readonly absmax: Float32Array;
  /** The packed codes, as stored. */
  readonly packed: Uint8Array;
  /** The weight after quantization, `[n, k]` (PyTorch layout), float32. */
  readonly dequantized: Float32Array;
}

/**
 * Replaces the MatMul of each selected `Linear` module by `MatMulBnb4` (domain `com.microsoft`)
 * as onnxruntime's `MatMulBnb4Quantizer` writes it: inputs `A`, `<weight>_Bnb4` (uint8, 1-D,
 * `ceil(K * N / 2)` bytes, `bnb4Encode` of the transposed weight) and `<weight>_absmax` (float32,
 * one per block), attributes `K`, `N`, `block_size`, `quant_type` (0 FP4, 1 NF4), node name
 * `<node>_Bnb4`. Only MatMul is replaced (the Python tool's rule: Gemm stays float).
 *
 * A weight that several MatMuls read (the same layer in both branches of an `If`) is quantized
 * once, into the graph that stores it, and every reader uses the same tensors; the float weight
 * goes when every reader is replaced, and stays for the others (`kept`: no operator dequantizes
 * NF4 for a `Gather`).
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param options Table, block size and modules.
 * @returns The new model bytes, the layers, and the float weights kept for other readers.
 * @throws {QuantizationError} Code `argument` for a bad block size or type; code `storage`,
 * naming the module, for a module that is not a MatMul with a constant float32 2-D weight as its
 * second input, or a weight whose name two subgraphs define.
 *
 * @example
 * ```ts ignore
 * const onnx = decodeOnnx(bytes);
 * const { bytes: out } = await bnb4Onnx(onnx, onnxModel(onnx), { quantType: "nf4", blockSize: 64 });
 * ```
 */
export async function bnb4Onnx(
  onnx: OnnxModel,
  model: ModelGraph,
  options: Bnb4OnnxOptions = {},
): Promise<{ bytes: Uint8Array; layers: Bnb4Layer[]; kept: string[] }> {
  const quantType = options.quantType ?? "nf4";
  const bs = options.blockSize ?? 64;
  if (quantType !== "nf4" && quantType !== "fp4") {
    throw new QuantizationError(
      "argument",
      `"quantType" must be nf4 or fp4: current value is ${JSON.stringify(quantType)}`,
    );
  }
  if (!Number.isInteger(bs) || bs < 16 || (bs & (bs - 1)) !== 0) {
    throw new QuantizationError(
      "argument",
      `"blockSize" must be a power of two >= 16: current value is ${bs}`,
    );
  }
  const selected = options.modules ??
    model.modules.filter((m) => m.type === "Linear" && m.opType === "MatMul").map((m) => m.name);
  const all = nodesWithGraph(onnx);
  const consumers = new Map<string, number>();
  for (const { node: n } of all) {
    for (const i of n.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const places = storedTensors(onnx);
  const edits: OnnxEdit[] = [];
  const layers: Bnb4Layer[] = [];
  const done = new Map<string, Omit<Bnb4Layer, "module">>();
  const replaced = new Map<string, number>();
  const quantize = async (ref: TensorRef, at: { module: string; target: string }) => {
    const place = storedTensor(places, onnx, ref.name, "MatMulBnb4 export", at);
    if (ref.dtype !== "F32" || ref.shape.length !== 2) {
      throw new QuantizationError(
        "storage",
        `MatMulBnb4 export stores 2-D float32 weights: tensor "${ref.name}" is ${ref.dtype} [${ref.shape}]`,
        at,
      );
    }
    const [n, k] = ref.shape;
    const w = await ref.data();
    const { packed, absmax } = bnb4Encode(w, bs, quantType);
    const t = ref.name;
    for (
      const tensor of [
        { name: `${t}_Bnb4`, dataType: ONNX_DATA_TYPE.UINT8, dims: [packed.length], raw: packed },
        {
          name: `${t}_absmax`,
          dataType: ONNX_DATA_TYPE.FLOAT,
          dims: [absmax.length],
          raw: new Uint8Array(absmax.buffer),
        },
      ]
    ) edits.push({ op: "addInitializer", tensor, graph: place.graph });
    const dequantized = bnb4Decode(packed, absmax, n * k, bs, quantType);
    return { tensor: t, k, n, blockSize: bs, quantType, absmax, packed, dequantized };
  };
  for (const name of selected) {
    const mod = model.modules.find((m) => m.name === name);
    const ref = mod?.params.weight;
    const at = { module: name, target: "weight" };
    const isLayer = (x: { opType: string; inputs: readonly string[] }) =>
      x.opType === "MatMul" && ref !== undefined && x.inputs[1] === ref.name;
    const view = mod?.subgraph === undefined
      ? model.graph?.nodes
      : model.graph?.subgraphs?.[mod.subgraph];
    const own = view?.findIndex((x) => x.module === name && isLayer(x)) ?? -1;
    const found = own >= 0
      ? all.find((x) => x.graph === (mod?.subgraph ?? "graph") && x.index === own)
      : all.find(({ node: x }) => isLayer(x));
    if (mod === undefined || ref === undefined || found === undefined) {
      throw new QuantizationError(
        "storage",
        `MatMulBnb4 replaces a MatMul with a constant 2-D weight as its second input (onnxruntime's MatMulBnb4Quantizer leaves Gemm in float): the module is ${
          mod?.opType ?? "missing"
        }`,
        at,
      );
    }
    const q = done.get(ref.name) ?? await quantize(ref, at);
    done.set(ref.name, q);
    replaced.set(ref.name, (replaced.get(ref.name) ?? 0) + 1);
    layers.push({ module: name, ...q });
    const { node, graph, index } = found;
    edits.push({
      op: "replaceNode",
      node: index,
      graph,
      with: {
        name: node.name === "" ? "" : `${node.name}_Bnb4`,
        opType: "MatMulBnb4",
        domain: "com.microsoft",
        inputs: [node.inputs[0], `${ref.name}_Bnb4`, `${ref.name}_absmax`],
        outputs: [node.outputs[0]],
        attributes: [
          { name: "K", i: q.k },
          { name: "N", i: q.n },
          { name: "block_size", i: bs },
          { name: "quant_type", i: quantType === "nf4" ? 1 : 0 },
        ],
      },
    });
  }
  const kept: string[] = [];
  for (const t of done.keys()) {
    if ((replaced.get(t) ?? 0) < (consumers.get(t) ?? 0)) {
      kept.push(t);
      continue;
    }
    const at = { module: layers.find((l) => l.tensor === t)!.module, target: "weight" };
    const place = storedTensor(places, onnx, t, "MatMulBnb4 export", at);
    if (place.constantNode !== undefined) {
      edits.push({ op: "removeNode", node: place.constantNode, graph: place.graph });
    } else edits.push({ op: "removeInitializer", name: t, graph: place.graph });
  }
  edits.push({ op: "addOpset", domain: "com.microsoft", version: 1 });
  const { bytes } = editOnnx(onnx, edits);
  return { bytes, layers, kept };
}
