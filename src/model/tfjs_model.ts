/**
 * The module view of a TensorFlow.js model (layers models and graph models), in PyTorch layout.
 *
 * @module
 */

import { tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
import type { TfjsModel, TfjsWeight } from "../io/tfjs/tfjs_types.ts";
import type { DType } from "../tensor/dtype.ts";
import type { Graph, GraphNode, ModelGraph, Module, TensorRef } from "./model_graph.ts";
import { permute } from "./permute.ts";
import { CELL_LAYER, stackedCellIndex } from "./tfjs_cells.ts";

/** How a tfjs weight becomes a parameter: PyTorch shape and the permutation from tfjs layout. */
interface Layout {
  readonly shape: number[];
  readonly perm?: number[];
}

/** Conv kernels `[*k, in, out]` become `[out, in, *k]`. */
const convLayout = (s: readonly number[]): Layout => {
  const r = s.length;
  const perm = [r - 1, r - 2, ...Array.from({ length: r - 2 }, (_, i) => i)];
  return { shape: perm.map((p) => s[p]), perm };
};

/**
 * Depthwise kernels `[kh, kw, in, multiplier]` become `[in * multiplier, 1, kh, kw]` (output
 * channel `i * multiplier + m`, as in PyTorch's grouped conv); the permutation `[2, 3, 0, 1]`
 * gives `[in, multiplier, kh, kw]`, the same elements in the same order.
 */
const depthwiseLayout = (s: readonly number[]): Layout =>
  s.length === 4 ? { shape: [s[2] * s[3], 1, s[0], s[1]], perm: [2, 3, 0, 1] } : { shape: [...s] };

/** Dense kernels `[in, out]` become `[out, in]`. */
const denseLayout = (s: readonly number[]): Layout =>
  s.length === 2 ? { shape: [s[1], s[0]], perm: [1, 0] } : { shape: [...s] };

const same = (s: readonly number[]): Layout => ({ shape: [...s] });

const DTYPES: Record<string, DType> = {
  uint8: "U8",
  uint16: "U16",
  float16: "F16",
  float32: "F32",
  int32: "I32",
  bool: "BOOL",
};

/** The stored dtype of a weight (its quantized storage when quantized). */
function storedDType(w: TfjsWeight): DType | undefined {
  return DTYPES[w.spec.quantization?.dtype ?? w.spec.dtype];
}

/** The parameter view of a weight in the given layout. */
function tensorRef(w: TfjsWeight, layout: Layout): TensorRef {
  const fileShape = [...w.spec.shape];
  const perm = layout.perm;
  return {
    name: w.spec.name,
    dtype: storedDType(w)!,
    shape: layout.shape,
    fileShape,
    ...(perm === undefined ? {} : { transpose: perm }),
    data() {
      const raw = tfjsWeightValues(w);
      const values = raw instanceof Float32Array ? raw : Float32Array.from(raw);
      return Promise.resolve(perm === undefined ? values : permute(values, fileShape, perm));
    },
    bytes: () => Promise.resolve(w.bytes),
  };
}

/**
 * The values of a parameter in PyTorch layout put back into tfjs layout (the inverse of the
 * view's permutation).
 *
 * @param ref A parameter of `tfjsModel`.
 * @param values Values in PyTorch layout (`ref.shape`).
 * @returns The values in tfjs layout (`ref.fileShape`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toTfjsLayout } from "./tfjs_model.ts";
 *
 * const ref = { name: "k", dtype: "F32" as const, shape: [3, 2], fileShape: [2, 3], transpose: [1, 0],
 *   data: () => Promise.resolve(new Float32Array(6)), bytes: () => Promise.resolve(new Uint8Array(24)) };
 * assert.deepEqual([...toTfjsLayout(ref, Float32Array.of(1, 2, 3, 4, 5, 6))], [1, 3, 5, 2, 4, 6]);
 * ```
 */
export function toTfjsLayout(ref: TensorRef, values: Float32Array): Float32Array {
  const perm = ref.transpose;
  if (perm === undefined) return values;
  // The permuted file shape (equal to `shape` except for depthwise kernels with a multiplier).
  const permuted = perm.map((p) => ref.fileShape[p]);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, k) => inverse[p] = k);
  return permute(values, permuted, inverse);
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * A layer of a layers model: its class and config (nested models flattened), and `path`, the
 * names of the models nested in the top one that hold it, each followed by a dot (`"inner."`).
 */
interface LayerConfig {
  readonly className: string;
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly path: string;
}

function collectLayers(node: unknown, out: Map<string, LayerConfig>, path = "", top = true): void {
  if (!isRecord(node)) return;
  const config = node.config;
  const layers = isRecord(config) ? config.layers : Array.isArray(config) ? config : undefined;
  const named = isRecord(config) && typeof config.name === "string" ? config.name : undefined;
  if (typeof node.class_name === "string" && isRecord(config) && named !== undefined) {
    out.set(named, { className: node.class_name, name: named, config, path });
  }
  // The layers of a model nested in the top one are named under it (`inner.d1`), as the
  // training view (`describeTfModel`) names them.
  const inner = top || named === undefined ? path : `${path}${named}.`;
  if (Array.isArray(layers)) { for (const l of layers) collectLayers(l, out, inner, false); }
  // Wrappers (TimeDistributed, Bidirectional) hold their layer in config.layer.
  if (isRecord(config) && isRecord(config.layer)) collectLayers(config.layer, out, path, false);
}

/**
 * The layer whose weights a wrapper's or a generic RNN's are: the layer a `TimeDistributed` or
 * `Bidirectional` wrapper holds; for an `RNN`, its cell's layer class (`GRUCell` -> `GRU`), the
 * cell of a stack (`StackedRNNCells`) chosen by the index ending the weight's scope segment
 * under the layer (`stack/RNNCell_1/kernel`). Any other layer (or an unknown cell) is itself.
 */
function wrapped(layer: LayerConfig, sub: string | undefined): LayerConfig {
  const held = (inner: unknown): LayerConfig | undefined =>
    isRecord(inner) && typeof inner.class_name === "string"
      ? {
        className: inner.class_name,
        name: layer.name,
        config: isRecord(inner.config) ? inner.config : {},
        path: layer.path,
      }
      : undefined;
  if (layer.className === "TimeDistributed" || layer.className === "Bidirectional") {
    return held(layer.config.layer) ?? layer;
  }
  if (layer.className !== "RNN") return layer;
  let cell = held(layer.config.cell);
  if (cell?.className === "StackedRNNCells") {
    const cells = Array.isArray(cell.config.cells) ? cell.config.cells : [];
    const index = cells.length === 1 ? 0 : stackedCellIndex(sub);
    cell = held(cells[index]);
  }
  return cell !== undefined && Object.hasOwn(CELL_LAYER, cell.className)
    ? { ...cell, className: CELL_LAYER[cell.className] }
    : layer;
}

/** PyTorch type and per-weight layout and local name of a Keras layer class. */
function layerParam(
  className: string,
  local: string,
  shape: readonly number[],
): { type: string; name: string; layout: Layout; sub?: string } {
  switch (className) {
    case "Dense":
      return {
        type: "Linear",
        name: local === "kernel" ? "weight" : local,
        layout: local === "kernel" ? denseLayout(shape) : same(shape),
      };
    case "Conv1D":
    case "Conv2D":
    case "Conv3D": {
      const type = `Conv${className[4]}d`;
      return {
        type,
        name: local === "kernel" ? "weight" : local,
        layout: local === "kernel" ? convLayout(shape) : same(shape),
      };
    }
    case "Conv2DTranspose":
    case "Conv3DTranspose":
      // tfjs `[*k, out, in]`; PyTorch ConvTranspose `[in, out, *k]`: the same permutation.
      return {
        type: `ConvTranspose${className[4]}d`,
        name: local === "kernel" ? "weight" : local,
        layout: local === "kernel" ? convLayout(shape) : same(shape),
      };
    case "DepthwiseConv2D":
      return {
        type: "Conv2d",
        name: local === "depthwise_kernel" ? "weight" : local,
        layout: local === "depthwise_kernel" ? depthwiseLayout(shape) : same(shape),
      };
    case "SeparableConv2D":
    case "SeparableConv1D":
      if (local === "depthwise_kernel") {
        return { type: "Conv2d", name: "weight", layout: depthwiseLayout(shape), sub: "depthwise" };
      }
      return {
        type: "Conv2d",
        name: local === "pointwise_kernel" ? "weight" : local,
        layout: local === "pointwise_kernel" ? convLayout(shape) : same(shape),
        sub: "pointwise",
      };
    case "BatchNormalization": {
      const names: Record<string, string> = {
        gamma: "weight",
        beta: "bias",
        moving_mean: "running_mean",
        moving_variance: "running_var",
      };
      return { type: "BatchNorm2d", name: names[local] ?? local, layout: same(shape) };
    }
    case "LayerNormalization":
      return {
        type: "LayerNorm",
        name: local === "gamma" ? "weight" : local === "beta" ? "bias" : local,
        layout: same(shape),
      };
    case "Embedding":
      return {
        type: "Embedding",
        name: local === "embeddings" ? "weight" : local,
        layout: same(shape),
      };
    case "PReLU":
      return { type: "PReLU", name: local === "alpha" ? "weight" : local, layout: same(shape) };
    case "LSTM":
    case "GRU":
    case "SimpleRNN": {
      // Keras `kernel` [in, gates*units] and `recurrent_kernel` [units, gates*units] are
      // PyTorch's `weight_ih` and `weight_hh` transposed; the gate blocks keep Keras's order.
      const name = local === "kernel"
        ? "weight_ih"
        : local === "recurrent_kernel"
        ? "weight_hh"
        : local;
      return {
        type: className === "SimpleRNN" ? "RNN" : className,
        name,
        layout: name !== local && shape.length === 2 ? denseLayout(shape) : same(shape),
      };
    }
  }
  return { type: "Module", name: local, layout: same(shape) };
}

function layersView(model: TfjsModel): Module[] {
  const layers = new Map<string, LayerConfig>();
  collectLayers(model.json.modelTopology, layers);
  const topology = model.json.modelTopology;
  if (isRecord(topology) && isRecord(topology.model_config)) {
    collectLayers(topology.model_config, layers);
  }
  const modules = new Map<
    string,
    { type: string; params: Record<string, TensorRef>; activation?: string }
  >();
  for (const w of model.weights) {
    if (storedDType(w) === undefined) continue;
    const parts = w.spec.name.split("/");
    const local = parts.length > 1 ? parts.pop()! : "weight";
    // The layer is the innermost scope segment that names a layer of the topology.
    let layer: LayerConfig | undefined;
    let at = parts.length;
    while (at > 0 && layer === undefined) layer = layers.get(parts[--at]);
    // A wrapper's weights are its layer's (`Bidirectional`: one copy per direction, under
    // `forward_*` and `backward_*`), a generic RNN's its cell's (`RNNCell_<i>` of a stack).
    layer = layer === undefined ? undefined : wrapped(layer, parts[at + 1]);
    const mapped = layerParam(layer?.className ?? "", local, w.spec.shape);
    // A layer of a nested model: tfjs names its weights without the models that hold it
    // (`d1/kernel`); its module is named under them (`inner.d1`), as in the training view.
    const path = at === 0 && layer !== undefined ? layer.path : "";
    const name = path + [...parts, ...(mapped.sub === undefined ? [] : [mapped.sub])].join(".");
    let m = modules.get(name);
    if (m === undefined) {
      const activation = layer?.config.activation;
      m = {
        type: mapped.type,
        params: Object.create(null) as Record<string, TensorRef>,
        ...(typeof activation === "string" && activation !== "linear" && mapped.sub !== "depthwise"
          ? { activation }
          : {}),
      };
      modules.set(name, m);
    }
    m.params[mapped.name] = tensorRef(w, mapped.layout);
  }
  return [...modules].map(([name, m]) => ({ name, ...m }));
}

/** Kernel names of a weights manifest alone (face-api.js, TF-Slim): the local name. */
const KERNEL = /^(filters?|kernels?|weights?|w|fc)$/i;
const DEPTHWISE = /^depthwise_(filters?|kernels?|weights?)$/i;
const POINTWISE = /^pointwise_(filters?|kernels?|weights?)$/i;
/** Bias names, and the offset of a batch norm folded into a convolution. */
const BIAS = /^(bias|biases|b|\w*bn_offset)$/i;
const BATCH_NORM: Record<string, string> = {
  gamma: "weight",
  beta: "bias",
  moving_mean: "running_mean",
  moving_variance: "running_var",
};

/**
 * The module view of a weights manifest alone, from the weight names and shapes: there is no
 * topology, so the layouts are TensorFlow's conventions (see `tfjsModel`).
 */
function manifestView(model: TfjsModel): Module[] {
  const scopes = new Map<string, { local: string; w: TfjsWeight }[]>();
  for (const w of model.weights) {
    if (storedDType(w) === undefined) continue;
    const parts = w.spec.name.split("/");
    // A weight without a scope (face-api.js's `fc`) is classified by its whole name.
    const local = parts.pop()!;
    const scope = parts.join(".");
    let list = scopes.get(scope);
    if (list === undefined) scopes.set(scope, list = []);
    list.push({ local, w });
  }
  const modules: Module[] = [];
  // A name taken twice (a weight name repeated in the manifest) gets a suffix: names are unique.
  const taken = new Set<string>();
  const add = (name: string, type: string, params: Record<string, TensorRef>) => {
    let unique = name;
    for (let k = 2; taken.has(unique); k++) unique = `${name}_${k}`;
    taken.add(unique);
    modules.push({ name: unique, type, params });
  };
  const float = (w: TfjsWeight) => w.spec.dtype === "float32";
  const rank = (w: TfjsWeight) => w.spec.shape.length;
  for (const [scope, list] of scopes) {
    const kernels = list.filter(({ local, w }) =>
      float(w) &&
      ((DEPTHWISE.test(local) && rank(w) === 4) ||
        ((KERNEL.test(local) || POINTWISE.test(local)) && rank(w) >= 2 && rank(w) <= 5))
    );
    const rest = list.filter((e) => !kernels.includes(e));
    const bias = kernels.length === 0
      ? undefined
      : rest.find(({ local, w }) => float(w) && rank(w) === 1 && BIAS.test(local));
    // Several kernels in one scope (a separable convolution's depthwise and pointwise kernels):
    // one module each; the bias follows the pointwise kernel, else the last kernel.
    const biasOwner = kernels.find(({ local }) => POINTWISE.test(local)) ?? kernels.at(-1);
    for (const k of kernels) {
      const depthwise = DEPTHWISE.test(k.local);
      const sub = kernels.length === 1
        ? ""
        : depthwise
        ? "depthwise"
        : POINTWISE.test(k.local)
        ? "pointwise"
        : k.local;
      const r = rank(k.w);
      const layout = depthwise ? depthwiseLayout : r === 2 ? denseLayout : convLayout;
      const params = Object.create(null) as Record<string, TensorRef>;
      params.weight = tensorRef(k.w, layout(k.w.spec.shape));
      if (bias !== undefined && k === biasOwner) {
        params.bias = tensorRef(bias.w, same(bias.w.spec.shape));
      }
      add(
        [scope, sub].filter((x) => x !== "").join(".") || k.w.spec.name,
        r === 2 ? "Linear" : `Conv${depthwise ? 2 : r - 2}d`,
        params,
      );
    }
    // An empty constant, or a float one holding an infinity or a NaN (a sentinel), is no module,
    // as in a graph model: written back as read.
    const others = rest.filter(({ w }) =>
      w !== bias?.w && !w.spec.shape.includes(0) &&
      (w.spec.dtype !== "float32" || tfjsWeightValues(w).every(Number.isFinite))
    );
    if (others.length === 0) continue;
    const norm = others.length > 1 && others.every(({ local }) => Object.hasOwn(BATCH_NORM, local));
    const params = Object.create(null) as Record<string, TensorRef>;
    const loose: { local: string; w: TfjsWeight }[] = [];
    for (const { local, w } of others) {
      const name = norm
        ? BATCH_NORM[local]
        : /^weights?$/i.test(local)
        ? "weight"
        : /^(bias|biases|b)$/i.test(local)
        ? "bias"
        : undefined;
      if (name === undefined || name in params || scope === "" || kernels.length > 0) {
        loose.push({ local, w });
      } else params[name] = tensorRef(w, same(w.spec.shape));
    }
    if (Object.keys(params).length > 0) add(scope, norm ? "BatchNorm2d" : "Module", params);
    // Any other weight (a constant, a name twice over, a weight without a scope or in a scope
    // that has kernels already): a module of its own named after the weight, with parameter
    // `weight`, as a graph model's constants.
    for (const { w } of loose) {
      const params = Object.create(null) as Record<string, TensorRef>;
      params.weight = tensorRef(w, same(w.spec.shape));
      add(w.spec.name.split("/").join("."), "Module", params);
    }
  }
  return modules;
}

/** A node of a graph model's `modelTopology.node`. */
interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input: readonly string[];
  readonly attr: Record<string, unknown>;
}

/** The value name an input refers to (`"x:1"` -> `"x"`, control inputs `"^x"` dropped). */
const producer = (input: string) => input.replace(/:\d+$/, "");

function attrString(node: TfNode, key: string): string[] {
  const a = node.attr[key];
  if (!isRecord(a)) return [];
  const list = isRecord(a.list) && Array.isArray(a.list.s)
    ? a.list.s
    : typeof a.s === "string"
    ? [a.s]
    : [];
  return list.map((s) => {
    try {
      return atob(String(s));
    } catch {
      return String(s);
    }
  });
}

const attrBool = (node: TfNode, key: string) => {
  const a = node.attr[key];
  return isRecord(a) && a.b === true;
};

/**
 * Which operand of a two-operand `Einsum` is a dense layer's kernel, and whether its first axis
 * is the contracted one (`[in, out]`, as a MatMul kernel) — or `undefined` when the equation is
 * not a dense layer: the kernel has two distinct labels, one contracted with a label of the other
 * operand and absent from the output, the other absent from that operand and kept in the output,
 * and the output holds nothing else than the other operand's remaining labels. `keptLast`: the
 * kept axis is the output's last (a scale per output channel broadcasts onto it). jax2tf writes its
 * `Dense` layers this way (`abcg,gf->abcf`); an ellipsis counts as one label.
 */
export function einsumDense(
  equation: string,
  isKernel: (operand: number) => boolean,
): { operand: number; inOut: boolean; keptLast: boolean } | undefined {
  const eq = equation.replace(/\s+/g, "").replaceAll("...", "*");
  const sides = eq.split("->");
  const [lhs, out] = sides;
  if (sides.length !== 2 || !/^[A-Za-z*,]+$/.test(lhs) || !/^[A-Za-z*]*$/.test(out)) {
    return undefined;
  }
  const ops = lhs.split(",");
  if (ops.length !== 2) return undefined;
  const distinct = (t: string) => new Set(t).size === t.length;
  for (const operand of [1, 0]) {
    const k = ops[operand];
    const x = ops[1 - operand];
    if (!isKernel(operand) || k.length !== 2 || k.includes("*") || !distinct(k)) continue;
    if (!distinct(x) || !distinct(out)) continue;
    for (const inAxis of [0, 1]) {
      const i = k[inAxis];
      const o = k[1 - inAxis];
      if (!x.includes(i) || out.includes(i) || x.includes(o) || !out.includes(o)) continue;
      const rest = [...x].filter((c) => c !== i);
      if (out.length !== rest.length + 1 || !rest.every((c) => out.includes(c))) continue;
      return { operand, inOut: inAxis === 0, keptLast: out.endsWith(o) };
    }
  }
  return undefined;
}

/** The module name of a graph node: its scope (`model/conv1/Relu` -> `model.conv1`). */
function scopeName(node: string): string {
  const parts = node.split("/");
  return (parts.length > 1 ? parts.slice(0, -1) : parts).join(".");
}

function graphView(model: TfjsModel): { modules: Module[]; graph: Graph } {
  const topology = isRecord(model.json.modelTopology) ? model.json.modelTopology : {};
  const nodes: TfNode[] = (Array.isArray(topology.node) ? topology.node : []).filter(isRecord).map(
    (n) => ({
      name: String(n.name ?? ""),
      op: String(n.op ?? ""),
      input: Array.isArray(n.input) ? n.input.map(String) : [],
      attr: isRecord(n.attr) ? n.attr : {},
    }),
  );
  const weights = new Map(model.weights.map((w) => [w.spec.name, w]));
  const weightOf = (input: string | undefined) =>
    input === undefined || input.startsWith("^") ? undefined : weights.get(producer(input));
  const claimed = new Set<string>();
  const found: {
    node: TfNode;
    type: string;
    params: [string, TfjsWeight, Layout][];
    activation?: string;
  }[] = [];
  const byOutput = new Map<string, (typeof found)[number]>();
  for (const node of nodes) {
    const params: [string, TfjsWeight, Layout][] = [];
    let type = "";
    let activation: string | undefined;
    const add = (
      local: string,
      input: string | undefined,
      layout: (s: readonly number[]) => Layout,
    ) => {
      const w = weightOf(input);
      if (w !== undefined && storedDType(w) !== undefined) {
        params.push([local, w, layout(w.spec.shape)]);
      }
    };
    const fused = () => {
      const ops = attrString(node, "fused_ops");
      if (ops[0] === "BiasAdd") add("bias", node.input[2], same);
      const act = ops[0] === "BiasAdd" ? ops[1] : ops[0];
      if (act !== undefined) {
        activation = act;
        if (act === "Prelu") add("prelu_alpha", node.input[ops[0] === "BiasAdd" ? 3 : 2], same);
      }
    };
    switch (node.op) {
      case "Conv2D":
      case "Conv3D":
      case "_FusedConv2D":
      case "Conv1D":
        type = `Conv${node.op === "Conv3D" ? 3 : node.op === "Conv1D" ? 1 : 2}d`;
        add("weight", node.input[1], convLayout);
        if (node.op === "_FusedConv2D") fused();
        break;
      case "DepthwiseConv2dNative":
      case "DepthwiseConv2D":
      case "FusedDepthwiseConv2dNative":
        type = "Conv2d";
        add("weight", node.input[1], depthwiseLayout);
        if (node.op === "FusedDepthwiseConv2dNative") fused();
        break;
      case "Conv2DBackpropInput":
        type = "ConvTranspose2d";
        add("weight", node.input[1], convLayout);
        break;
      case "MatMul":
      case "_FusedMatMul":
      case "BatchMatMul":
      case "BatchMatMulV2": {
        type = "Linear";
        // A weight stored [out, in] (transpose_b) is already in PyTorch layout.
        const tb = attrBool(node, "transpose_b") || attrBool(node, "adj_y");
        add("weight", node.input[1], tb ? same : denseLayout);
        if (node.op === "_FusedMatMul") fused();
        break;
      }
      case "Einsum": {
        // A dense layer written as an einsum (jax2tf): a Linear like a MatMul.
        const dense = einsumDense(
          attrString(node, "equation")[0] ?? "",
          (i) => weightOf(node.input[i])?.spec.shape.length === 2,
        );
        if (dense === undefined) continue;
        type = "Linear";
        add("weight", node.input[dense.operand], dense.inOut ? denseLayout : same);
        break;
      }
      case "FusedBatchNorm":
      case "FusedBatchNormV2":
      case "FusedBatchNormV3":
        type = "BatchNorm2d";
        add("weight", node.input[1], same);
        add("bias", node.input[2], same);
        add("running_mean", node.input[3], same);
        add("running_var", node.input[4], same);
        break;
      case "Prelu":
        type = "PReLU";
        add("weight", node.input[1], same);
        break;
      case "BiasAdd":
      case "Add":
      case "AddV2": {
        // A bias of the module whose output it adds to (unfused graphs).
        const target = byOutput.get(producer(node.input[0] ?? ""));
        const w = weightOf(node.input[1]);
        if (
          target !== undefined && w !== undefined && !target.params.some(([l]) => l === "bias") &&
          w.spec.shape.length === 1 && !claimed.has(w.spec.name)
        ) {
          target.params.push(["bias", w, same(w.spec.shape)]);
          claimed.add(w.spec.name);
          byOutput.set(node.name, target);
        }
        continue;
      }
      case "Relu":
      case "Relu6":
      case "Elu":
      case "Sigmoid":
      case "Tanh": {
        const target = byOutput.get(producer(node.input[0] ?? ""));
        if (target !== undefined && target.activation === undefined) {
          target.activation = node.op;
          byOutput.set(node.name, target);
        }
        continue;
      }
      default:
        continue;
    }
    const weight = params.find(([l]) => l === "weight" || l === "running_mean");
    if (weight === undefined || claimed.has(weight[1].spec.name)) continue;
    for (const [, w] of params) claimed.add(w.spec.name);
    const entry = { node, type, params, ...(activation === undefined ? {} : { activation }) };
    found.push(entry);
    byOutput.set(node.name, entry);
  }
  // Module names: the node's scope, unless two modules share it (then the node name).
  const scopes = new Map<string, number>();
  for (const f of found) {
    scopes.set(scopeName(f.node.name), (scopes.get(scopeName(f.node.name)) ?? 0) + 1);
  }
  const moduleOf = new Map<string, string>();
  const modules: Module[] = found.map((f) => {
    const scope = scopeName(f.node.name);
    const name = scopes.get(scope) === 1 ? scope : f.node.name.split("/").join(".");
    moduleOf.set(f.node.name, name);
    const params = Object.create(null) as Record<string, TensorRef>;
    for (const [local, w, layout] of f.params) params[local] = tensorRef(w, layout);
    return {
      name,
      type: f.type,
      opType: f.node.op,
      params,
      ...(f.activation === undefined ? {} : { activation: f.activation }),
    };
  });
  // Weights no operator above claims (shape constants, embeddings, ...): one module each. An
  // empty constant (a dim of 0) has nothing to prune or quantize, and a float constant holding an
  // infinity or a NaN is a sentinel (a max-pool's -inf padding value, a score threshold of
  // -inf in nanodet and faceboxes) that no grid holds: neither is a module, and both are written
  // back as read.
  for (const w of model.weights) {
    if (claimed.has(w.spec.name) || storedDType(w) === undefined) continue;
    if (w.spec.shape.includes(0)) continue;
    if (w.spec.dtype === "float32" && !tfjsWeightValues(w).every(Number.isFinite)) continue;
    const params = Object.create(null) as Record<string, TensorRef>;
    params.weight = tensorRef(w, same(w.spec.shape));
    modules.push({
      name: w.spec.name.split("/").join("."),
      type: "Module",
      opType: "Const",
      params,
    });
  }
  const consumed = new Set(nodes.flatMap((n) => n.input.map(producer)));
  const graphNodes: GraphNode[] = nodes.filter((n) => n.op !== "Const").map((n) => ({
    name: n.name,
    opType: n.op,
    domain: "",
    inputs: n.input.filter((i) => !i.startsWith("^")),
    outputs: [n.name],
    ...(moduleOf.has(n.name) ? { module: moduleOf.get(n.name)! } : {}),
  }));
  return {
    modules,
    graph: {
      nodes: graphNodes,
      inputs: nodes.filter((n) => n.op === "Placeholder").map((n) => n.name),
      outputs: graphNodes.filter((n) => !consumed.has(n.name)).map((n) => n.name),
    },
  };
}

/**
 * Builds the module view of a TensorFlow.js model, parameters in PyTorch layout. Layers models:
 * a weight `scope/layer/kernel` is parameter `weight` of module `scope.layer` (a layer of a
 * model nested in the top one, `layer/kernel`, is module `inner.layer`), typed by the
 * layer's class in `modelTopology` (Dense -> `Linear` with the kernel `[in, out]` seen as
 * `[out, in]`; Conv1D/2D/3D -> `Conv1d`/`Conv2d`/`Conv3d` with `[*k, in, out]` seen as
 * `[out, in, *k]`; DepthwiseConv2D -> `Conv2d` with `[kh, kw, in, m]` seen as
 * `[in * m, 1, kh, kw]`; SeparableConv2D -> modules `.depthwise` and `.pointwise`;
 * BatchNormalization -> `BatchNorm2d` with `weight`, `bias`, `running_mean`, `running_var`;
 * LayerNormalization, Embedding, PReLU likewise). Graph models: every operator that reads a
 * weight is a module named by its scope (`model/conv1/Relu` -> `model.conv1`): Conv2D and
 * `_FusedConv2D` (its `BiasAdd` argument as `bias`, its activation as `activation`),
 * DepthwiseConv2dNative and `FusedDepthwiseConv2dNative`, MatMul and `_FusedMatMul` (`Linear`;
 * a `transpose_b` weight is already `[out, in]`), an `Einsum` that is a dense layer
 * (`abcg,gf->abcf`, as jax2tf writes one: `Linear` too), FusedBatchNorm, Prelu; a BiasAdd/Add of a
 * 1-D weight after such an operator becomes its `bias`. Weights no operator claims (constants
 * of other operators: shapes, scales, embeddings) are modules of type `Module`, named after the
 * weight, with parameter `weight`. Quantized weights report their stored dtype (`U8`,
 * `U16`, `F16`) and `data()` dequantizes them as tfjs does.
 *
 * @param model A model from `readTfjs`.
 * @returns The model view (graph models with their graph).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTfjs } from "../io/tfjs/read_tfjs.ts";
 * import { tfjsModel } from "./tfjs_model.ts";
 *
 * const json = JSON.stringify({
 *   format: "layers-model",
 *   modelTopology: { class_name: "Sequential", config: { name: "s", layers: [
 *     { class_name: "Dense", config: { name: "fc", units: 2, activation: "relu" } },
 *   ] } },
 *   weightsManifest: [{ paths: ["w.bin"], weights: [{ name: "fc/kernel", shape: [3, 2], dtype: "float32" }] }],
 * });
 * const view = tfjsModel(readTfjs(json, new Map([["w.bin", new Uint8Array(24)]])));
 * assert.equal(view.modules[0].type, "Linear");
 * assert.deepEqual(view.modules[0].params.weight.shape, [2, 3]);
 * assert.equal(view.modules[0].activation, "relu");
 * ```
 */
export function tfjsModel(model: TfjsModel): ModelGraph {
  const metadata: Record<string, string> = { tfjs_format: model.kind };
  for (const key of ["generatedBy", "convertedBy"]) {
    const v = model.json[key];
    if (typeof v === "string") metadata[key] = v;
  }
  if (model.kind !== "graph-model") {
    return {
      format: "tfjs",
      source: { format: "tfjs", tfjs: model },
      modules: model.kind === "layers-model" ? layersView(model) : manifestView(model),
      metadata,
    };
  }
  const { modules, graph } = graphView(model);
  return { format: "tfjs", source: { format: "tfjs", tfjs: model }, modules, graph, metadata };
}
