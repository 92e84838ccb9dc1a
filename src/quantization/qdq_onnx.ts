/**
 * `qdqOnnx`: an ONNX model whose quantized weights are stored as integers and dequantized by
 * `DequantizeLinear` nodes.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { invertPermutation, permute } from "../model/permute.ts";
import { storedFloat32 } from "../model/stored_float32.ts";
import type { Kernels } from "../kernels/types.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import { codeArrayFor, type QuantizeOptions, quantizeTensor } from "./quantize_tensor.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { onnxCodeBytes, onnxCodeType } from "./_encode_codes.ts";
import {
  assembleOnnxParts,
  DeferredBytes,
  type DeferredTensorSpec,
  editOnnxParts,
  graphPaths,
  type OnnxEdit,
  type OnnxParts,
} from "../io/onnx/edit_onnx.ts";
import type { Attr, NodeSpec, TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { paramRef } from "./_param_ref.ts";
import { activationValue } from "./_activation_value.ts";
import { QuantizationError } from "./quantization_error.ts";
import { storedTensor, storedTensors } from "./_stored_tensor.ts";
import { defaultOpset } from "./_opset11.ts";
import {
  castNode,
  type FloatType,
  floatTypeOf,
  scaleBytes,
  scaleStorage,
  valueFloatTypes,
} from "./_float_storage.ts";

/** Options of `qdqOnnx`. */
export interface QdqOnnxOptions extends QuantizeOptions {
  /** Store codes of at most 4 bits as packed INT4/UINT4 (default `true`); else as 8-bit. */
  readonly int4?: boolean;
}

/** Where a block kernel quantizes: per tensor, or per index of one dim. */
function perAxis(p: TargetQuantParams): number | undefined {
  const blocked = p.kernel.map((k, d) => [k, d]).filter(([k, d]) => k !== -1 && p.shape[d] !== 1);
  if (blocked.length === 0 && p.scale.length === 1) return undefined;
  if (blocked.length === 1 && blocked[0][0] === 1) return blocked[0][1];
  throw new QuantizationError(
    "storage",
    `QDQ export supports per-tensor and per-channel granularity: current block kernel is ${
      JSON.stringify(p.kernel)
    } (use weightOnlyOnnx for blocks along K)`,
    { module: p.module, target: p.target, configIndex: p.configIndex, key: "granularity" },
  );
}

/**
 * A weight's blocks along one dim (`kernel` 1 on every other dim of more than one index): the
 * dim and the block size, for opset 21's blocked `DequantizeLinear`; `undefined` otherwise.
 */
function blockAxis(p: TargetQuantParams): { axis: number; blockSize: number } | undefined {
  const dims = p.shape.map((n, d) => [n, p.kernel[d] ?? -1, d]).filter(([n]) => n !== 1);
  const blocked = dims.filter(([n, k]) => k > 1 && k < n);
  if (blocked.length !== 1 || dims.some(([n, k]) => k !== 1 && !(k > 1 && k < n))) {
    return undefined;
  }
  return { axis: blocked[0][2], blockSize: blocked[0][1] };
}

/**
 * Rewrites an ONNX model so that every quantized parameter (weight, bias) is stored as integer
 * codes (NNI's codes, in the file layout) with its scale and zero point, and a
 * `DequantizeLinear` node (domain `com.microsoft`, so it runs at any default opset, with `axis`
 * for per-channel scales) recomputes the float tensor under the original name. Blocks along one
 * dim (granularity `[1, G]`, GPTQ's groups) take the default-domain `DequantizeLinear` with
 * `axis` and `block_size`, which needs default-domain opset 21 (the model's is not raised:
 * below 21 they are refused). The model then
 * computes what NNI's simulated quantization computes for the weights, and onnxruntime runs it.
 * The codes and the `DequantizeLinear` go to the graph that stores the weight: an `If` branch or
 * `Loop`/`Scan` body for its own initializers and `Constant`s, the main graph for a main-graph
 * initializer, also when a subgraph reads it.
 *
 * Activation targets (with ranges from `calibrateOnnx`) get a `QuantizeLinear` /
 * `DequantizeLinear` pair: `_input_<i>` on the i-th non-constant input of the module's first
 * node, seen through the pair by the module's nodes only; `_output_<i>` on the i-th output of its
 * last node, which every consumer (and a graph output of that name) then reads through the pair,
 * like NNI's wrapper. `QuantizeLinear` saturates to the full type range (int8 [-128, 127]), so
 * values beyond the calibrated range may get one code more than NNI's narrow range.
 *
 * Float16 weights get float16 scales, so `DequantizeLinear` writes float16 where the graph reads
 * it. bfloat16 weights (onnxruntime has no bfloat16 `DequantizeLinear` kernel, and the
 * `com.microsoft` one takes float32 and float16 scales only), and float16 ones whose scales are
 * not all float16 numbers, are dequantized with float32 scales and cast back by a `Cast` node
 * (`<tensor>_Cast`). Activations of float16 or bfloat16 values are quantized in float32 between
 * two Casts (`<prefix>_CastIn`, `<prefix>_CastOut`): onnxruntime's QDQ fusions break float16
 * Q/DQ pairs.
 *
 * Names: `<tensor>_quantized`, `<tensor>_scale`, `<tensor>_zero_point`, node
 * `<tensor>_DequantizeLinear`; for activations the prefix is `<value>_<module><target>`. Codes
 * of at most 4 bits are stored as INT4/UINT4. With quantized inputs and weights, quantize the
 * biases too on models below opset 11: onnxruntime otherwise inserts an opset-11 `Round` to
 * quantize float biases, which such models cannot hold.
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`) on which `params` were computed.
 * @param params Parameters from `quantizeWeights`.
 * @param options 4-bit storage and kernels.
 * @returns The new model bytes.
 * @throws {QuantizationError} Code `storage` for block granularities (other than blocks along
 * one dim at opset 21 or later), tensors that are not
 * stored as dense initializers or `Constant` values, are shared by two modules that quantize
 * them differently (alike, they are stored once) or whose name two
 * subgraphs define, or stored dtypes other than float32, float16 and bfloat16; `activation` for
 * activation targets
 * without a main-graph tensor (modules inside subgraphs included). Each names the module, the
 * target and the config.
 *
 * @example
 * ```ts ignore
 * const onnx = decodeOnnx(bytes);
 * const model = onnxModel(onnx);
 * const { params } = await quantizeWeights(model, [{ op_types: ["Conv2d"], target_names: ["weight"], quant_dtype: "int8", granularity: "out_channel" }]);
 * const out = await qdqOnnx(onnx, model, params); // runs in onnxruntime
 * ```
 */
export async function qdqOnnx(
  onnx: OnnxModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QdqOnnxOptions = {},
): Promise<Uint8Array> {
  return await assembleOnnxParts(qdqOnnxParts(onnx, model, params, options));
}

/**
 * `qdqOnnx` as pieces (`editOnnxParts`): every check runs now, and each weight's codes are
 * made only when its place in the output is written (`assembleOnnxParts` into the one output
 * buffer, `writeOnnxParts` into a reused buffer on its way to a file), so the codes of all
 * weights are never held at once. The pieces read the weights when written: keep `onnx` as it
 * is until then, and write them once.
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`) on which `params` were computed.
 * @param params Parameters from `quantizeWeights`.
 * @param options 4-bit storage and kernels.
 * @returns The pieces of the new model.
 * @throws {QuantizationError} As `qdqOnnx` (the checks), before any piece is written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "../io/onnx/build_onnx.ts";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { assembleOnnxParts } from "../io/onnx/edit_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { quantizeWeights } from "./quantize_weights.ts";
 * import { qdqOnnx, qdqOnnxParts } from "./qdq_onnx.ts";
 *
 * const w = new Uint8Array(new Float32Array([0.5, -1, 0.25, 1]).buffer);
 * const onnx = decodeOnnx(buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [{ name: "fc", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
 *   initializers: [{ name: "w", dataType: 1, dims: [2, 2], raw: w }],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 2] } }],
 * }));
 * const model = onnxModel(onnx);
 * const { params } = await quantizeWeights(model, [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" },
 * ]);
 * const parts = qdqOnnxParts(onnx, model, params);
 * const bytes = await assembleOnnxParts(parts);
 * assert.equal(bytes.length, parts.length);
 * assert.deepEqual(bytes, await qdqOnnx(onnx, model, params));
 * const names = decodeOnnx(bytes).graph.initializers.map((t) => t.name);
 * assert.ok(names.includes("w_quantized"));
 * ```
 */
export function qdqOnnxParts(
  onnx: OnnxModel,
  model: ModelGraph,
  params: readonly TargetQuantParams[],
  options: QdqOnnxOptions = {},
): OnnxParts {
  const kernels = options.kernels ?? getKernels();
  const stored = storedTensors(onnx);
  const removals: OnnxEdit[] = [];
  // New initializers and DequantizeLinear nodes go to the graph that stores the tensor (the main
  // graph, or the If/Loop/Scan body that holds it), so every reader, nested or not, sees it.
  const initializers: { graph: string; tensor: TensorSpec | DeferredTensorSpec }[] = [];
  const nodesFirst = new Map<string, NodeSpec[]>();
  const done = new Map<string, TargetQuantParams>();
  const acts = activationPatch(onnx, model);
  // Each weight's float values are read into one scratch array, reused: the codes are made when
  // the output is written, one weight at a time (`codeBytes`).
  const scratch = { values: new Float32Array(0), codes: new ArrayBuffer(0) };
  for (const p of params) {
    if (p.kind !== "parameter") {
      const { signed } = quantDtypeRange(p.quantDtype);
      const tensors: TensorSpec[] = [];
      const graph = acts.add(
        p,
        onnxCodeType(p.bits, signed, options.int4 ?? true),
        tensors,
        kernels,
      );
      for (const tensor of tensors) initializers.push({ graph, tensor });
      continue;
    }
    const ref = paramRef(model, p.module, p.target, p.configIndex);
    const name = ref.name;
    const at = { module: p.module, target: p.target, configIndex: p.configIndex };
    const owner = done.get(name);
    if (owner !== undefined) {
      // A weight several modules read (the same layer in two If branches, say) is stored once
      // when they quantize it alike; otherwise one file tensor cannot hold both.
      if (sameQuantization(owner, p)) continue;
      throw new QuantizationError(
        "storage",
        `QDQ export stores each tensor once: tensor "${name}" is shared with module "${owner.module}", which quantizes it differently`,
        at,
      );
    }
    done.set(name, p);
    const place = storedTensor(stored, onnx, name, "QDQ export", at);
    const floatType = floatTypeOf(ref.dtype);
    if (floatType === undefined) {
      throw new QuantizationError(
        "storage",
        `QDQ export supports float32, float16 and bfloat16 weights: tensor "${name}" is ${ref.dtype}`,
        at,
      );
    }
    // Blocks along one dim (GPTQ's `[1, G]` groups, say): default-domain DequantizeLinear with
    // `block_size`, which opset 21 introduced; the com.microsoft one has per-axis scales only.
    const block = blockAxis(p);
    if (block !== undefined && defaultOpset(onnx) < 21) {
      throw new QuantizationError(
        "storage",
        `QDQ export supports per-tensor and per-channel granularity, and blocks along one dim (current block kernel is ${
          JSON.stringify(p.kernel)
        }) with DequantizeLinear's block_size, which needs default-domain opset 21: the model's opset is ${
          defaultOpset(onnx)
        } (use weightOnlyOnnx for blocks along K)`,
        { ...at, key: "granularity" },
      );
    }
    const axis = block?.axis ?? perAxis(p);
    const fileAxis = axis === undefined ? undefined : (ref.transpose?.[axis] ?? axis);
    const { signed } = quantDtypeRange(p.quantDtype);
    const type = onnxCodeType(p.bits, signed, options.int4 ?? true);
    const { scaleType, cast } = scaleStorage(floatType, p.scale);
    const q = block === undefined
      ? qparamTensors(name, p, type, fileAxis, kernels, scaleType)
      : blockTensors(name, p, type, ref.transpose, fileAxis!, block.blockSize, kernels, scaleType);
    for (
      const tensor of [
        {
          name: `${name}_quantized`,
          dataType: type,
          dims: ref.fileShape,
          raw: codeBytes(ref, p, type, kernels, scratch),
        },
        ...q.tensors,
      ]
    ) initializers.push({ graph: place.graph, tensor });
    const first = nodesFirst.get(place.graph) ?? [];
    nodesFirst.set(place.graph, first);
    first.push({
      name: `${name}_DequantizeLinear`,
      opType: "DequantizeLinear",
      domain: block === undefined ? "com.microsoft" : "",
      inputs: [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`],
      outputs: [cast ? `${name}_dequantized` : name],
      attributes: q.attributes,
    });
    if (cast) first.push(castNode(`${name}_Cast`, `${name}_dequantized`, name, floatType));
    const graph = place.graph;
    if (place.constantNode !== undefined) {
      removals.push({ op: "removeNode", node: place.constantNode, graph });
    } else removals.push({ op: "removeInitializer", name, graph });
  }
  const edits: OnnxEdit[] = [
    ...removals,
    ...initializers.map(({ graph, tensor }) => ({
      op: "addInitializer" as const,
      tensor,
      graph,
    })),
    ...[...nodesFirst].map(([graph, nodes]) => ({
      op: "insertNodes" as const,
      at: "start" as const,
      nodes,
      graph,
    })),
    ...acts.edits,
    { op: "addOpset", domain: "com.microsoft", version: 1 },
  ];
  return editOnnxParts(onnx, edits);
}

/** The byte length of `n` codes stored as `type`. */
function codeByteLength(n: number, type: number): number {
  if (type === ONNX_DATA_TYPE.INT4 || type === ONNX_DATA_TYPE.UINT4) return Math.ceil(n / 2);
  if (type === ONNX_DATA_TYPE.INT16 || type === ONNX_DATA_TYPE.UINT16) return 2 * n;
  return n;
}

/**
 * A weight's codes in the file layout as `type`, made when written. One-byte codes go straight
 * into the output (through one reused array when the file layout is transposed); the others
 * through one array of codes per tensor.
 */
function codeBytes(
  ref: TensorRef,
  p: TargetQuantParams,
  type: number,
  kernels: Kernels,
  scratch: { values: Float32Array; codes: ArrayBuffer },
): DeferredBytes {
  const n = ref.shape.reduce((a, b) => a * b, 1);
  const length = codeByteLength(n, type);
  return new DeferredBytes(length, async (into) => {
    if (scratch.values.length < n) scratch.values = new Float32Array(n);
    const values = await storedFloat32(ref) ?? await ref.data(scratch.values.subarray(0, n));
    const Codes = codeArrayFor(p.qmin, p.qmax, 0).constructor as Int8ArrayConstructor;
    if (
      (type === ONNX_DATA_TYPE.INT8 || type === ONNX_DATA_TYPE.UINT8) &&
      Codes.BYTES_PER_ELEMENT === 1
    ) {
      // Int8Array or Uint8Array codes in the range of the file type: the same bytes either way.
      const view = new Codes(into.buffer, into.byteOffset, n);
      if (ref.transpose === undefined) {
        kernels.quantize(values, ref.shape, p, view);
        return;
      }
      if (scratch.codes.byteLength < n) scratch.codes = new ArrayBuffer(n);
      const codes = kernels.quantize(values, ref.shape, p, new Codes(scratch.codes, 0, n));
      permute(codes as Int8Array, ref.shape, invertPermutation(ref.transpose), view);
      return;
    }
    let codes = quantizeTensor(values, ref.shape, p, { kernels });
    // The codes go back to the file layout as they are (as float32 they took 4 bytes each).
    if (ref.transpose !== undefined) {
      codes = permute(codes, ref.shape, invertPermutation(ref.transpose));
    }
    const bytes = onnxCodeBytes(codes, type, kernels);
    if (bytes.length !== length) {
      throw new RangeError(
        `tensor "${ref.name}": ${bytes.length} bytes of codes, the file type holds ${length}`,
      );
    }
    into.set(bytes);
  });
}

/** Whether two targets give the same codes, scales and zero points for one tensor. */
function sameQuantization(a: TargetQuantParams, b: TargetQuantParams): boolean {
  const same = (x: ArrayLike<number>, y: ArrayLike<number>) =>
    x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  return a.bits === b.bits && a.quantDtype === b.quantDtype && same(a.kernel, b.kernel) &&
    same(a.scale, b.scale) && same(a.zeroPoint, b.zeroPoint) && a.qmin === b.qmin &&
    a.qmax === b.qmax;
}

/** Scale and zero point initializers of a target, and the `axis` attribute if per channel. */
function qparamTensors(
  prefix: string,
  p: TargetQuantParams,
  type: number,
  axis: number | undefined,
  kernels: Kernels,
  scaleType: FloatType,
): { tensors: TensorSpec[]; attributes: Attr[] } {
  const dims = axis === undefined ? [] : [p.scale.length];
  return {
    tensors: [
      {
        name: `${prefix}_scale`,
        dataType: scaleType,
        dims,
        raw: scaleBytes(p.scale, scaleType),
      },
      {
        name: `${prefix}_zero_point`,
        dataType: type,
        dims,
        raw: onnxCodeBytes(p.zeroPoint, type, kernels),
      },
    ],
    attributes: axis === undefined ? [] : [{ name: "axis", i: axis }],
  };
}

/**
 * Scale and zero point initializers of blocks along one dim, in the file layout (the grid
 * permuted like the codes), and the `axis` and `block_size` attributes.
 */
function blockTensors(
  prefix: string,
  p: TargetQuantParams,
  type: number,
  transpose: readonly number[] | undefined,
  fileAxis: number,
  blockSize: number,
  kernels: Kernels,
  scaleType: FloatType,
): { tensors: TensorSpec[]; attributes: Attr[] } {
  const grid = p.shape.map((n, d) => (p.kernel[d] > 1 ? Math.ceil(n / p.kernel[d]) : n));
  const toFile = (v: Float32Array) =>
    transpose === undefined ? v : permute(v, grid, invertPermutation(transpose));
  const dims = transpose === undefined ? grid : invertPermutation(transpose).map((d) => grid[d]);
  return {
    tensors: [
      {
        name: `${prefix}_scale`,
        dataType: scaleType,
        dims,
        raw: scaleBytes(toFile(p.scale), scaleType),
      },
      {
        name: `${prefix}_zero_point`,
        dataType: type,
        dims,
        raw: onnxCodeBytes(toFile(Float32Array.from(p.zeroPoint)), type, kernels),
      },
    ],
    attributes: [{ name: "axis", i: fileAxis }, { name: "block_size", i: blockSize }],
  };
}

/**
 * QuantizeLinear/DequantizeLinear pairs at activation targets: `_input_<i>` of a module is the
 * i-th non-constant input of its first node, seen through the pair by the module's nodes only;
 * `_output_<i>` is the i-th output of its last node, which every consumer then reads through the
 * pair (like NNI's wrapper, which quantizes what the module returns).
 */
function activationPatch(onnx: OnnxModel, model: ModelGraph) {
  const edits: OnnxEdit[] = [];
  const graphs = graphPaths(onnx);
  const types = new Map<string, Map<string, number>>();
  return {
    edits,
    /** Adds the pair of a target; returns the graph its scale and zero point go to. */
    add(p: TargetQuantParams, type: number, initializers: TensorSpec[], kernels: Kernels): string {
      const { value, kind, nodes: own, graph } = activationValue(
        onnx,
        model,
        p.module,
        p.target,
        p.configIndex,
      );
      const axis = perAxis(p);
      const prefix = `${value}_${p.module}${p.target}`;
      // A float16 or bfloat16 value is quantized in float32 between Casts: QuantizeLinear and
      // DequantizeLinear with float32 scales (see _float_storage.ts for why not float16 scales).
      const g = graphs.get(graph)!;
      let known = types.get(graph);
      if (known === undefined) {
        known = valueFloatTypes(g, onnx.tensors.filter((t) => t.kind === "constant"));
        types.set(graph, known);
      }
      const seen = known.get(value);
      const floatType: FloatType =
        seen === ONNX_DATA_TYPE.FLOAT16 || seen === ONNX_DATA_TYPE.BFLOAT16
          ? seen
          : ONNX_DATA_TYPE.FLOAT;
      const cast = floatType !== ONNX_DATA_TYPE.FLOAT;
      const { tensors, attributes } = qparamTensors(
        prefix,
        p,
        type,
        axis,
        kernels,
        ONNX_DATA_TYPE.FLOAT,
      );
      for (const t of tensors) initializers.push(t);
      const source = kind === "input" ? value : `${prefix}_float`;
      const result = kind === "input" ? `${prefix}_dequantized` : value;
      const pair: NodeSpec[] = [
        {
          name: `${prefix}_QuantizeLinear`,
          opType: "QuantizeLinear",
          domain: "com.microsoft",
          inputs: [cast ? `${prefix}_float32` : source, `${prefix}_scale`, `${prefix}_zero_point`],
          outputs: [`${prefix}_quantized`],
          attributes,
        },
        {
          name: `${prefix}_DequantizeLinear`,
          opType: "DequantizeLinear",
          domain: "com.microsoft",
          inputs: [`${prefix}_quantized`, `${prefix}_scale`, `${prefix}_zero_point`],
          outputs: [cast ? `${prefix}_dequantized_float32` : result],
          attributes,
        },
      ];
      if (cast) {
        pair.unshift(
          castNode(`${prefix}_CastIn`, source, `${prefix}_float32`, ONNX_DATA_TYPE.FLOAT),
        );
        pair.push(
          castNode(`${prefix}_CastOut`, `${prefix}_dequantized_float32`, result, floatType),
        );
      }
      // A module inside an If/Loop/Scan body gets its pair in that body.
      const where = graph === "graph" ? {} : { graph };
      if (kind === "input") {
        edits.push({ op: "insertNodes", at: { before: own[0] }, nodes: pair, ...where });
        for (const i of own) {
          const at = g.nodes[i].inputs.flatMap((v, k) => (v === value ? [[k, result]] : []));
          if (at.length > 0) {
            edits.push({ op: "rewireNode", node: i, inputs: Object.fromEntries(at), ...where });
          }
        }
      } else {
        const last = own[own.length - 1];
        const outputs = g.nodes[last].outputs.flatMap((v, k) => v === value ? [[k, source]] : []);
        edits.push({
          op: "rewireNode",
          node: last,
          outputs: Object.fromEntries(outputs),
          ...where,
        });
        edits.push({ op: "insertNodes", at: { after: last }, nodes: pair, ...where });
      }
      return graph;
    },
  };
}
