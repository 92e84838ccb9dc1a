/**
 * The module view of an ONNX model.
 *
 * @module
 */

import { readOnnxTensor, type ReadOnnxTensorOptions } from "../io/onnx/read_onnx_tensor.ts";
import type { OnnxGraph, OnnxModel, OnnxNode, OnnxTensor } from "../io/onnx/onnx_types.ts";
import { type ModuleTypeOverrides, overrideModuleType } from "./infer_module_type.ts";
import type { GraphNode, ModelGraph, Module, TensorRef } from "./model_graph.ts";
import { onnxModuleName } from "./onnx_module_name.ts";
import { permute, permuteFloat32Bytes } from "./permute.ts";
import { DEFAULT_HALF_KERNELS, type HalfKernels, toFloat32 } from "./to_float32.ts";
import { recurrentParams } from "./_recurrent.ts";
import { quantizedModule } from "./_prequantized.ts";
import { ACTIVATIONS, attr, PARAM_INPUTS, weightedType, weightTranspose } from "./_onnx_ops.ts";

const RECURRENT = new Set(["LSTM", "GRU", "RNN"]);

/** Options of `onnxModel`. */
export interface OnnxModelOptions extends ReadOnnxTensorOptions {
  /** Module types by name pattern; they win over the mapped types. */
  readonly types?: ModuleTypeOverrides;
  /** The F16/BF16 conversions used by `data()` (default: `getKernels()`). */
  readonly kernels?: HalfKernels;
}

function tensorRef(
  model: OnnxModel,
  t: OnnxTensor,
  perm: number[] | undefined,
  options: OnnxModelOptions,
): TensorRef {
  const bytes = () => readOnnxTensor(model, t, options);
  const shape = perm === undefined ? t.dims : perm.map((p) => t.dims[p]);
  return {
    name: t.name,
    dtype: t.dtype!,
    shape,
    fileShape: t.dims,
    ...(perm === undefined ? {} : { transpose: perm }),
    bytes,
    data: async (out?: Float32Array) => {
      const stored = await bytes();
      if (perm !== undefined && t.dtype === "F32" && stored.length % 4 === 0) {
        // Permuted from the stored bytes where they are (a raw_data field is rarely aligned),
        // into `out` when given: decoding first would make one more copy of the tensor.
        const into = out?.length === stored.length / 4 ? out : undefined;
        return stored.byteOffset % 4 === 0
          ? permute(
            new Float32Array(stored.buffer, stored.byteOffset, stored.length / 4),
            t.dims,
            perm,
            into,
          )
          : permuteFloat32Bytes(stored, t.dims, perm, into);
      }
      const half = t.dtype === "F16" || t.dtype === "BF16";
      if (half && perm === undefined && out?.length === stored.length / 2) {
        return halfInto(stored, t.dtype!, out, options.kernels);
      }
      const values = toFloat32(stored, t.dtype!, options.kernels);
      return perm === undefined ? values : permute(values, t.dims, perm);
    },
  };
}

/** Elements of a half-precision tensor decoded per step by `halfInto`. */
const HALF_STEP = 1 << 18;
/** `halfInto`'s aligned copy of one step's bits, reused. */
let halfBits: Uint16Array | undefined;

/**
 * F16/BF16 bytes decoded into `out` a step at a time, each step's bits copied to one aligned
 * buffer (a `raw_data` field is rarely 2-byte aligned) and converted in place: decoding the
 * whole tensor at once makes an aligned copy of its bytes and a new float32 array, garbage of
 * three times the tensor's size per read that the collector frees late.
 */
function halfInto(
  stored: Uint8Array,
  dtype: "F16" | "BF16",
  out: Float32Array,
  kernels: HalfKernels = DEFAULT_HALF_KERNELS,
): Float32Array {
  halfBits ??= new Uint16Array(HALF_STEP);
  const bytes = new Uint8Array(halfBits.buffer);
  for (let at = 0; at < out.length; at += HALF_STEP) {
    const n = Math.min(HALF_STEP, out.length - at);
    bytes.set(stored.subarray(2 * at, 2 * (at + n)));
    const into = out.subarray(at, at + n);
    const bits = halfBits.subarray(0, n);
    // A HalfKernels of the caller's may return a new array instead of filling `into`.
    const values = dtype === "F16" ? kernels.f16ToF32(bits, into) : kernels.bf16ToF32(bits, into);
    if (values !== into) into.set(values);
  }
  return out;
}

/** The value of a constant scalar float stored as raw F32 data, if it is one. */
function scalar(model: OnnxModel, t: OnnxTensor | undefined): number | undefined {
  if (t?.dtype !== "F32" || t.storage.kind !== "raw" || t.storage.end - t.storage.start !== 4) {
    return undefined;
  }
  return new DataView(model.bytes.buffer, model.bytes.byteOffset + t.storage.start, 4).getFloat32(
    0,
    true,
  );
}

function allNodes(graph: OnnxGraph, out: OnnxNode[] = []): OnnxNode[] {
  for (const node of graph.nodes) {
    out.push(node);
    for (const a of node.attributes) {
      for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) allNodes(g, out);
    }
  }
  return out;
}

// ONNX FLOAT, FLOAT16, BFLOAT16 and DOUBLE.
const FLOAT_CODES = new Set([1, 10, 16, 11]);
const isFloatDType = (d: string | undefined) =>
  d === "F32" || d === "F16" || d === "BF16" || d === "F64";

/**
 * Builds the module view of a decoded ONNX model. Each node with constant parameters
 * (initializers or `Constant` values) becomes a module, and so does each activation:
 * - Conv / ConvTranspose with 1, 2, 3 spatial dims → `Conv1d`/`2d`/`3d`, `ConvTranspose*`;
 * - Gemm and MatMul with a constant 2-D weight → `Linear`, the weight seen as `[out, in]`
 *   (`transpose: [1, 0]` for MatMul and for Gemm without `transB`); a MatMul whose only
 *   consumer is an `Add` of a constant 1-D tensor gets that tensor as its `bias`;
 * - Gather on a constant 2-D table → `Embedding`;
 * - BatchNormalization → `BatchNorm1d`/`2d`/`3d` (rank from the producing Conv, else 2d) with
 *   `weight`, `bias`, `running_mean`, `running_var`; LayerNormalization → `LayerNorm`;
 *   InstanceNormalization, GroupNormalization, PRelu likewise;
 * - LSTM, GRU, RNN → `LSTM`, `GRU`, `RNN` with `weight_ih` (`W`), `weight_hh` (`R`) and `bias`
 *   (`B`) in ONNX layout (`[directions, gates * hidden, …]`, ONNX gate order: see
 *   `reorderGates`); when the weights are computed from stored tensors by Slice/Concat/
 *   Unsqueeze (the PyTorch exporter's gate reordering), those tensors are the parameters
 *   (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, in PyTorch layout);
 * - activations (Relu → `ReLU`, Clip → `Hardtanh`, `ReLU6` for [0, 6], HardSwish → `Hardswish`,
 *   …) → modules without parameters; Clip bounds come from attributes (opset < 11) or constant
 *   inputs.
 * - pre-quantized weights (`QLinearConv`, `ConvInteger`, `QLinearMatMul`, `MatMulInteger`,
 *   `com.microsoft` `MatMulNBits`, `QGemm`, `DynamicQuantizeMatMul`, `MatMulIntegerToFloat`, and
 *   Conv/ConvTranspose/Gemm/MatMul nodes whose weight is a `DequantizeLinear` of a constant) → `Conv*d` / `Linear` modules with `quantized` set (the
 *   codes as `weight`, then `weight_scale`, `weight_zero_point` and `bias` when stored);
 * Names follow `onnxModuleName`; nodes of `If`/`Loop`/`Scan` subgraphs are included after their
 * parent node (at any depth), named by the same rules as main-graph nodes, and carry the field
 * path of their graph as `subgraph`. The raw op type is kept as `opType`.
 *
 * @param model A model from `decodeOnnx`.
 * @param options Type overrides, kernels, and the external-data opener.
 * @returns The model with its graph (main graph nodes, inputs without initializers, outputs).
 *
 * @example
 * ```ts ignore
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "./onnx_model.ts";
 * const model = onnxModel(decodeOnnx(await Deno.readFile("model.onnx")));
 * console.log(model.modules.map((m) => `${m.name}: ${m.type}`));
 * ```
 */
export function onnxModel(model: OnnxModel, options: OnnxModelOptions = {}): ModelGraph {
  const constants = new Map<string, OnnxTensor>();
  const stored = new Map<string, OnnxTensor>(); // also codes without a dtype (INT4, UINT4)
  for (const t of model.tensors) {
    if (t.dtype !== undefined && !constants.has(t.name)) constants.set(t.name, t);
    if (!stored.has(t.name)) stored.set(t.name, t);
  }
  const nodes = allNodes(model.graph);
  // A float weight stored in another float type and cast before use (float16 initializers of a
  // float32 graph, `Cast(to: FLOAT)`) is that stored tensor: writers store it in its own dtype
  // and the Cast still widens it.
  for (const n of nodes) {
    const t = n.opType === "Cast" ? constants.get(n.inputs[0] ?? "") : undefined;
    const to = n.attributes.find((a) => a.name === "to")?.i;
    if (t === undefined || !isFloatDType(t.dtype) || !FLOAT_CODES.has(to ?? 0)) continue;
    if (n.outputs[0] !== undefined && !constants.has(n.outputs[0])) constants.set(n.outputs[0], t);
  }
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const modules: Module[] = [];
  const moduleOf = new Map<OnnxNode, string>();
  const taken = new Set<string>();
  const unique = (name: string) => {
    let out = name;
    for (let k = 1; taken.has(out); k++) out = `${name}_${k}`;
    taken.add(out);
    return out;
  };
  for (const node of nodes) {
    const pre = quantizedModule(node, stored, producer, consumers);
    if (pre !== undefined) {
      const params: Record<string, TensorRef> = {};
      for (const p of pre.params) {
        if (p.tensor.dtype !== undefined) {
          params[p.name] = tensorRef(model, p.tensor, p.transpose, options);
        }
      }
      const name = unique(
        // onnxruntime's quantizer names codes `<param>_quantized`.
        onnxModuleName(
          { name: node.name, output: node.outputs[0] ?? "" },
          pre.weight.name.replace(/_(quantized|quant|q)$/, ""),
        ),
      );
      moduleOf.set(node, name);
      modules.push({
        name,
        type: overrideModuleType(name, options.types) ?? pre.type,
        opType: node.opType,
        params,
        quantized: pre.quantized,
      });
      continue;
    }
    if (node.domain !== "" && node.domain !== "ai.onnx") continue;
    const inputs = PARAM_INPUTS[node.opType];
    const weight = inputs && constants.get(node.inputs[inputs[0][0]] ?? "");
    const up = producer.get(node.inputs[0] ?? "");
    const upWeight = up && constants.get(up.inputs[1] ?? "");
    const bnRank = up?.opType === "Conv" && upWeight && upWeight.dims.length >= 3
      ? Math.min(3, upWeight.dims.length - 2)
      : up?.opType === "MatMul" || up?.opType === "Gemm"
      ? 1
      : 2;
    let type = weight ? weightedType(node, weight.dims.length, bnRank) : undefined;
    const params: Record<string, TensorRef> = {};
    let biasAdd: OnnxNode | undefined;
    let recurrentWeight: TensorRef | undefined;
    if (type !== undefined && weight && inputs) {
      for (const [index, pname] of inputs) {
        const t = constants.get(node.inputs[index] ?? "");
        if (t) {
          params[pname] = tensorRef(
            model,
            t,
            pname === "weight" ? weightTranspose(node) : undefined,
            options,
          );
        }
      }
      const next = consumers.get(node.outputs[0]) ?? [];
      if (node.opType === "MatMul" && next.length === 1 && next[0].opType === "Add") {
        const other = next[0].inputs.find((i) => i !== node.outputs[0]);
        const b = other === undefined ? undefined : constants.get(other);
        if (b && b.dims.length === 1 && b.dims[0] === weight.dims[1]) {
          params.bias = tensorRef(model, b, undefined, options);
          biasAdd = next[0];
        }
      }
    } else if (RECURRENT.has(node.opType)) {
      type = node.opType;
      for (const [pname, t] of recurrentParams(node, constants, producer)) {
        params[pname] = tensorRef(model, t, undefined, options);
      }
      recurrentWeight = params.weight_ih;
    } else if (ACTIVATIONS[node.opType] !== undefined) {
      type = ACTIVATIONS[node.opType];
      if (node.opType === "Clip") {
        const min = attr(node, "min")?.f ?? scalar(model, constants.get(node.inputs[1] ?? ""));
        const max = attr(node, "max")?.f ?? scalar(model, constants.get(node.inputs[2] ?? ""));
        if (min === 0 && max === 6) type = "ReLU6";
      }
    } else continue;
    const name = unique(
      onnxModuleName(
        { name: node.name, output: node.outputs[0] ?? "" },
        weight?.name ?? recurrentWeight?.name,
      ),
    );
    moduleOf.set(node, name);
    if (biasAdd) moduleOf.set(biasAdd, name);
    const graph = node.path.replace(/\.node\[\d+\]$/, "");
    modules.push({
      name,
      type: overrideModuleType(name, options.types) ?? type!,
      opType: node.opType,
      ...(graph === "graph" ? {} : { subgraph: graph }),
      params,
    });
  }
  const initNames = new Set(
    [...model.graph.initializers, ...model.graph.sparseInitializers].map((t) => t.name),
  );
  const graphNode = (n: OnnxNode): GraphNode => ({
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    inputs: n.inputs,
    outputs: n.outputs,
    ...(moduleOf.has(n) ? { module: moduleOf.get(n) } : {}),
  });
  const graphNodes = model.graph.nodes.map(graphNode);
  const subgraphs: Record<string, GraphNode[]> = {};
  for (const n of nodes) {
    const graph = n.path.replace(/\.node\[\d+\]$/, "");
    if (graph !== "graph") (subgraphs[graph] ??= []).push(graphNode(n));
  }
  return {
    format: "onnx",
    source: { format: "onnx", onnx: model },
    modules,
    graph: {
      nodes: graphNodes,
      inputs: model.graph.inputs.filter((i) => !initNames.has(i)),
      outputs: model.graph.outputs,
      ...(Object.keys(subgraphs).length === 0 ? {} : { subgraphs }),
    },
    metadata: { ...model.metadata },
  };
}
