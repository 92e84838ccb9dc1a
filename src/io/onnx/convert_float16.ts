/**
 * `convertFloat16`: an ONNX model's float32 computation converted to float16, the way
 * onnxruntime's Python converter (onnxconverter-common `convert_float_to_float16`, with the
 * block list transformers.js uses) converts it: float32 graph inputs and outputs kept, with
 * Casts; initializers, `Constant` values and tensor attributes stored as float16; operators in
 * a block list left in float32 between Casts; `If`/`Loop`/`Scan` bodies converted with their
 * inputs, outputs and value_info; and no Cast pair that only undoes another.
 *
 * @module
 */

import { ModelFormatError } from "../model_format_error.ts";
import type { OnnxModel, OnnxNode } from "./onnx_types.ts";
import { type Field, FIXED32, forEachField, LEN, VARINT, type WireContext } from "./_wire.ts";
import { concat, intField, lenField, nodeProto, varint } from "./proto_writer.ts";
import { f32BitsToF16Bits } from "../../tensor/float16.ts";
import { getKernels } from "../../kernels/default.ts";

const FLOAT = 1;
const FLOAT16 = 10;
const BOOL = 9;
const INT64 = 7;
const INT32 = 6;
const UINT8 = 2;

/**
 * The operators left in float32 by default: onnxconverter-common's `DEFAULT_OP_BLOCK_LIST` as
 * transformers.js's `scripts/float16.py` changes it (`Range` taken out; `RandomNormalLike` and
 * `Cast` added).
 */
export const DEFAULT_FLOAT16_OP_BLOCK_LIST: readonly string[] = Object.freeze([
  "ArrayFeatureExtractor",
  "Binarizer",
  "CastMap",
  "CategoryMapper",
  "DictVectorizer",
  "FeatureVectorizer",
  "Imputer",
  "LabelEncoder",
  "LinearClassifier",
  "LinearRegressor",
  "Normalizer",
  "OneHotEncoder",
  "RandomUniformLike",
  "SVMClassifier",
  "SVMRegressor",
  "Scaler",
  "TreeEnsembleClassifier",
  "TreeEnsembleRegressor",
  "ZipMap",
  "NonMaxSuppression",
  "TopK",
  "RoiAlign",
  "Resize",
  "CumSum",
  "Min",
  "Max",
  "Upsample",
  "RandomNormalLike",
  "Cast",
]);

/**
 * Operators whose float inputs or outputs onnxruntime types as float32 only (onnxruntime's
 * dynamic quantization ops): always left in float32, whatever the block list says.
 */
const FLOAT32_ONLY = new Set([
  "DynamicQuantizeLinear",
  "DynamicQuantizeMatMul",
  "DynamicQuantizeLSTM",
]);

/** Operators that carry subgraphs; they cannot be blocked (their bodies are converted). */
const CONTROL_FLOW = new Set(["If", "Loop", "Scan"]);

/** Options of `convertFloat16`. */
export interface ConvertFloat16Options {
  /**
   * Keep float32 graph inputs and outputs (default `true`, as transformers.js converts): each
   * float32 input is cast to float16 once, each float32 output cast back from float16.
   */
  readonly keepIoTypes?: boolean;
  /** Operator types left in float32 (default `DEFAULT_FLOAT16_OP_BLOCK_LIST`). */
  readonly opBlockList?: readonly string[];
  /** Node names left in float32. */
  readonly nodeBlockList?: readonly string[];
  /**
   * More nodes left in float32, chosen by a predicate (e.g. the nodes of modules a config list
   * does not select); `graph` is the graph's field path (`"graph"` or a body's, see `graphPaths`).
   */
  readonly blockNode?: (node: OnnxNode, at: { graph: string; index: number }) => boolean;
  /**
   * Non-zero magnitudes below this become it, with their sign (default 1e-7, the converter's
   * `min_positive_val`).
   */
  readonly minPositive?: number;
  /**
   * Finite magnitudes above this become it, with their sign (default 1e4, the converter's
   * `max_finite_val`; float16's largest finite value is 65504).
   */
  readonly maxFinite?: number;
  /**
   * Convert a model that already holds float16 values (default `false`: refused, as the
   * converter's `check_fp16_ready` refuses, since a second conversion may be wrong).
   */
  readonly force?: boolean;
}

/** What `convertFloat16` did. */
export interface ConvertFloat16Result {
  /** The converted model file. */
  readonly bytes: Uint8Array;
  /** Stored float32 tensors written as float16 (initializers, Constant values, attributes). */
  readonly convertedTensors: number;
  /** Bytes of those tensors' values before (float32) and after (float16). */
  readonly tensorBytes: { readonly before: number; readonly after: number };
  /** Float32 stored tensors kept because only float32 nodes read them. */
  readonly keptTensors: readonly string[];
  /** Values clamped: non-zero magnitudes raised to `minPositive`, finite ones lowered to `maxFinite`. */
  readonly clamped: { readonly small: number; readonly large: number };
  /** Nodes left in float32 (block list, node list, predicate, float32-only operators). */
  readonly blockedNodes: number;
  /** Cast nodes added. */
  readonly casts: number;
}

/** One graph of the model, as the conversion sees it. */
interface GraphInfo {
  readonly path: string;
  readonly parent?: GraphInfo;
  readonly main: boolean;
  readonly nodes: readonly OnnxNode[];
  /** Declared types of inputs, outputs and value_info (elem type codes). */
  readonly declared: Map<string, number>;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Names defined here: "input", "initializer", or the producing node's index. */
  readonly defined: Map<string, "input" | "initializer" | number>;
  readonly initializerTypes: Map<string, number>;
  /** Sparse initializers: kept as they are (float32 ones are cast for float16 readers). */
  readonly sparse: Set<string>;
  /** Original element types of the values defined here (when known). */
  readonly types: Map<string, number>;
  /** Whether each node stays in float32. */
  readonly blocked: boolean[];
  /** Float32 values defined here whose natural version (what the name holds) is float32. */
  readonly naturalFloat32: Set<string>;
  /** Casts to add, by position: -1 is the start of the graph. */
  readonly casts: Map<number, Uint8Array[]>;
  /** value -> (type -> the name holding that version) for versions made by a Cast. */
  readonly versions: Map<string, Map<number, string>>;
  /**
   * Main-graph outputs whose producer writes another name (of the given type), cast into the
   * output's own name.
   */
  readonly outputRenames: Map<string, { readonly name: string; readonly type: number }>;
}

/**
 * Converts a model's float32 computation to float16, as onnxruntime's Python float16 converter
 * does with transformers.js's block list (its `model_fp16.onnx`):
 *
 * - float32 initializers, `Constant` values (`value`, `value_float(s)`) and float32 tensor
 *   attributes (`ConstantOfShape`'s `value`) of converted nodes are stored as float16, rounded to
 *   nearest even after clamping magnitudes to `[minPositive, maxFinite]` (zeros, infinities and
 *   NaN unchanged);
 * - nodes whose type is in `opBlockList` (or named in `nodeBlockList`, or chosen by `blockNode`)
 *   run in float32: each float16 value they read is cast to float32, each float32 value they
 *   write is cast to float16 for its float16 readers — one Cast per value, placed after its
 *   producer and shared by every reader, so no Cast pair undoes another (a blocked `Cast` reads
 *   its input as it is, and a blocked `Cast` to float32 of a float16 value hands its input
 *   itself to float16 readers);
 * - with `keepIoTypes`, float32 graph inputs are cast to float16 once (`<input>_fp16`) and float32
 *   graph outputs are computed as `<output>_fp16` and cast back to float32;
 * - `If`/`Loop`/`Scan` bodies are converted too: their float32 inputs and outputs become float16;
 *   values read from an enclosing graph get their float16 version there;
 * - value_info entries follow their values' new types; a non-blocked `Cast` to float32 becomes a
 *   Cast to float16, `RandomNormal`/`RandomUniform(Like)`/`EyeLike`/`Bernoulli` with a float32
 *   `dtype` get float16, and a `ConstantOfShape` without `value` gets a float16 zero.
 *
 * Where the Python converter would leave a graph invalid, this one does not: an initializer read
 * by both blocked and converted nodes is stored as float16 and cast for the blocked ones (the
 * Python converter keeps it float32 for all), and a blocked node that writes a graph output
 * writes it in float32 directly.
 *
 * @param onnx The decoded model (tensors inline: external data must be inlined first).
 * @param options Block lists, I/O types, clamping.
 * @returns The converted file and what was done.
 * @throws {RangeError} When the model already holds float16 values (unless `force`), when a
 * tensor to convert is in an external data file, or when the block list names `If`, `Loop` or
 * `Scan`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildOnnx } from "./build_onnx.ts";
 * import { decodeOnnx } from "./decode_onnx.ts";
 * import { convertFloat16 } from "./convert_float16.ts";
 *
 * const bytes = buildOnnx({
 *   opsets: [{ domain: "", version: 13 }],
 *   nodes: [
 *     { name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"] },
 *     { name: "top", opType: "TopK", inputs: ["h", "k"], outputs: ["y", "i"] },
 *   ],
 *   initializers: [
 *     { name: "w", dataType: 1, dims: [2, 2], raw: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) },
 *     { name: "k", dataType: 7, dims: [1], raw: new Uint8Array(new BigInt64Array([1n]).buffer) },
 *   ],
 *   inputs: [{ name: "x", type: { elemType: 1, dims: [1, 2] } }],
 *   outputs: [{ name: "y", type: { elemType: 1, dims: [1, 1] } }, { name: "i", type: { elemType: 7, dims: [1, 1] } }],
 * });
 * const out = convertFloat16(decodeOnnx(bytes));
 * const g = decodeOnnx(out.bytes).graph;
 * assert.deepEqual(g.nodes.map((n) => n.opType), ["Cast", "MatMul", "Cast", "TopK"]);
 * assert.equal(out.convertedTensors, 1); // w; TopK runs in float32 and writes y as float32
 * assert.equal(out.casts, 2);
 * ```
 */
export function convertFloat16(
  onnx: OnnxModel,
  options: ConvertFloat16Options = {},
): ConvertFloat16Result {
  const ctx: WireContext = { bytes: onnx.bytes, file: onnx.file };
  const keepIo = options.keepIoTypes ?? true;
  const opBlock = new Set(options.opBlockList ?? DEFAULT_FLOAT16_OP_BLOCK_LIST);
  for (const op of CONTROL_FLOW) {
    if (opBlock.has(op)) {
      throw new RangeError(
        `the float16 block list cannot hold "${op}": its bodies are converted with the graph around them (block the nodes inside instead)`,
      );
    }
  }
  const nodeBlock = new Set(options.nodeBlockList ?? []);
  const minPositive = options.minPositive ?? 1e-7;
  const maxFinite = options.maxFinite ?? 1e4;
  if (!(minPositive >= 0 && maxFinite > minPositive)) {
    throw new RangeError(
      `float16 clamping needs 0 <= minPositive < maxFinite: current values are ${minPositive} and ${maxFinite}`,
    );
  }
  // Pass 1: the graphs, their declared types and what each name is.
  const graphs = new Map<string, GraphInfo>();
  const modelFields = fieldsOf(ctx, 0, ctx.bytes.length, "model");
  const graphField = modelFields.find((f) => f.number === 7 && f.wire === LEN);
  if (graphField === undefined) throw new RangeError(`${onnx.file}: the model has no graph`);
  collectGraph(ctx, graphField, "graph", onnx.graph.nodes, undefined, graphs);
  if (options.force !== true) {
    const why = alreadyHalf(onnx, graphs);
    if (why !== undefined) {
      throw new RangeError(
        `${onnx.file} already holds float16 values (${why}); converting it again may be wrong: pass force to convert it anyway`,
      );
    }
  }
  let blockedNodes = 0;
  for (const g of graphs.values()) {
    g.nodes.forEach((n, index) => {
      const b = FLOAT32_ONLY.has(n.opType) ||
        (!CONTROL_FLOW.has(n.opType) &&
          (opBlock.has(n.opType) || nodeBlock.has(n.name) ||
            options.blockNode?.(n, { graph: g.path, index }) === true)) ||
        (n.opType === "Constant" && n.attributes.some((a) => a.name === "sparse_value"));
      g.blocked.push(b);
      if (b) blockedNodes++;
    });
  }
  // Element types: declared ones first, then operator rules, parents before bodies.
  inferTypes(graphs.get("graph")!, graphs);
  const isFloat32 = (g: GraphInfo, v: string) => typeOf(g, v) === FLOAT;
  // What each float32 value holds after the conversion (its natural version): float32 when a
  // blocked node writes it, a kept graph input, or an initializer only float32 readers read.
  const readers = collectReaders(graphs, isFloat32);
  const main = graphs.get("graph")!;
  const mainOutputs = new Set(main.outputs);
  // A blocked Cast to float32 of a non-float value (int64 mask → float) whose readers all read
  // float16 becomes a Cast to float16: no float32 value between it and a Cast to float16.
  for (const g of graphs.values()) {
    g.nodes.forEach((n, index) => {
      if (!g.blocked[index] || n.opType !== "Cast" || FLOAT32_ONLY.has(n.opType)) return;
      if (n.attributes.find((a) => a.name === "to")?.i !== FLOAT) return;
      const input = n.inputs[0];
      const out = n.outputs[0];
      if (input === undefined || out === undefined || isFloat32(g, input)) return;
      const t = typeOf(g, input);
      if (t === FLOAT16 || t === undefined) return;
      const r = readers.get(keyOf(g, out));
      if (r === undefined || r.full || (g.main && mainOutputs.has(out))) return;
      g.blocked[index] = false;
      blockedNodes--;
    });
  }
  for (const g of graphs.values()) {
    for (const [v, def] of g.defined) {
      if (!isFloat32(g, v)) continue;
      const r = readers.get(keyOf(g, v));
      const natural32 = def === "input"
        ? g.main && keepIo
        : def === "initializer"
        ? g.sparse.has(v) || (r !== undefined && !r.half) ||
          (g.main && keepIo && mainOutputs.has(v))
        : g.blocked[def];
      if (natural32) g.naturalFloat32.add(v);
    }
  }
  const taken = new Set<string>();
  for (const g of graphs.values()) {
    for (const v of g.defined.keys()) taken.add(v);
    for (const n of g.nodes) for (const i of n.inputs) taken.add(i);
  }
  const fresh = (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  let casts = 0;
  // Main-graph float32 outputs keep their declared type: with keepIoTypes one computed in
  // float16 is written as `<output>_fp16` and cast back; without, one a blocked node computes is
  // written as `<output>_fp32` and cast to float16.
  for (const v of main.outputs) {
    const def = main.defined.get(v);
    if (typeof def !== "number" || !isFloat32(main, v)) continue;
    if (main.naturalFloat32.has(v) === keepIo) continue;
    const type = keepIo ? FLOAT16 : FLOAT;
    const name = fresh(`${v}_${keepIo ? "fp16" : "fp32"}`);
    main.outputRenames.set(v, { name, type });
    addCast(main, def, name, v, keepIo ? FLOAT : FLOAT16);
    casts++;
  }
  function addCast(g: GraphInfo, at: number, input: string, output: string, to: number) {
    const list = g.casts.get(at) ?? [];
    list.push(lenField(
      1,
      nodeProto({
        name: output,
        opType: "Cast",
        inputs: [input],
        outputs: [output],
        attributes: [{ name: "to", i: to }],
      }),
    ));
    g.casts.set(at, list);
  }
  /** The defining graph of `v` as seen from `g`. */
  const owner = (g: GraphInfo, v: string): GraphInfo | undefined => {
    for (let s: GraphInfo | undefined = g; s !== undefined; s = s.parent) {
      if (s.defined.has(v)) return s;
    }
    return undefined;
  };
  /** The name holding `v` in type `want` (float32 or float16), making a Cast when needed. */
  const version = (g: GraphInfo, v: string, want: number): string => {
    const o = owner(g, v);
    if (o === undefined || !isFloat32(o, v)) return v;
    if (heldType(o, v) === want) return v;
    const renamed = o.outputRenames.get(v);
    if (renamed?.type === want) return renamed.name;
    const made = o.versions.get(v)?.get(want);
    if (made !== undefined) return made;
    const name = fresh(`${v}_${want === FLOAT16 ? "fp16" : "fp32"}`);
    const def = o.defined.get(v)!;
    addCast(o, typeof def === "number" ? def : -1, v, name, want);
    casts++;
    const m = o.versions.get(v) ?? new Map<number, string>();
    m.set(want, name);
    o.versions.set(v, m);
    return name;
  };
  // Pass 2: which name each node input reads. Blocked nodes first (a blocked Cast reads its
  // input as it is: a Cast takes any type), then the aliases of blocked Casts to float32, then
  // converted nodes and body outputs.
  const inputNames = new Map<string, string[]>(); // `${graph}#${index}` -> inputs
  const subgraphOutputs = new Map<string, string[]>(); // graph path -> output names
  for (const g of graphs.values()) {
    g.nodes.forEach((n, index) => {
      if (!g.blocked[index]) return;
      inputNames.set(
        `${g.path}#${index}`,
        n.inputs.map((v) => v === "" || n.opType === "Cast" ? v : version(g, v, FLOAT)),
      );
    });
  }
  // A blocked Cast to float32 of a float16 value: its float16 readers read that value itself.
  for (const g of graphs.values()) {
    g.nodes.forEach((n, index) => {
      if (!g.blocked[index] || n.opType !== "Cast") return;
      const to = n.attributes.find((a) => a.name === "to")?.i;
      const input = n.inputs[0];
      const o = input === undefined ? undefined : owner(g, input);
      const out = n.outputs[0];
      if (
        to === FLOAT && o !== undefined && isFloat32(o, input) && heldType(o, input) === FLOAT16 &&
        out !== undefined && !g.outputRenames.has(out)
      ) {
        const m = g.versions.get(out) ?? new Map<number, string>();
        m.set(FLOAT16, input);
        g.versions.set(out, m);
      }
    });
  }
  for (const g of graphs.values()) {
    g.nodes.forEach((n, index) => {
      if (g.blocked[index]) return;
      inputNames.set(
        `${g.path}#${index}`,
        n.inputs.map((v) => v === "" ? v : version(g, v, FLOAT16)),
      );
    });
    if (!g.main) {
      subgraphOutputs.set(
        g.path,
        g.outputs.map((v) => isFloat32(g, v) ? version(g, v, FLOAT16) : v),
      );
    }
  }
  // Pass 3: write.
  const stats = {
    converted: 0,
    before: 0,
    after: 0,
    small: 0,
    large: 0,
    kept: [] as string[],
  };
  const convertTensor = (f: Field, path: string): Uint8Array | undefined =>
    halfTensor(ctx, f, path, minPositive, maxFinite, stats);
  const out: Uint8Array[] = [];
  for (const f of modelFields) {
    if (f !== graphField) {
      out.push(ctx.bytes.subarray(f.tagStart, f.end));
      continue;
    }
    out.push(lenField(
      7,
      writeGraph(ctx, f, main, {
        graphs,
        inputNames,
        subgraphOutputs,
        convertTensor,
        keepIo,
        isFloat32,
        stats,
      }),
    ));
  }
  return {
    bytes: concat(out),
    convertedTensors: stats.converted,
    tensorBytes: { before: stats.before, after: stats.after },
    keptTensors: stats.kept,
    clamped: { small: stats.small, large: stats.large },
    blockedNodes,
    casts,
  };
}

/** The type the name `v` (a float32 value of `g`) holds after the conversion. */
function heldType(g: GraphInfo, v: string): number {
  const renamed = g.outputRenames.get(v);
  if (renamed !== undefined) return renamed.type === FLOAT16 ? FLOAT : FLOAT16;
  return g.naturalFloat32.has(v) ? FLOAT : FLOAT16;
}

function keyOf(g: GraphInfo, v: string): string {
  return `${g.path}#${v}`;
}

function typeOf(g: GraphInfo, v: string): number | undefined {
  for (let s: GraphInfo | undefined = g; s !== undefined; s = s.parent) {
    if (s.defined.has(v)) return s.types.get(v);
  }
  return undefined;
}

function fieldsOf(ctx: WireContext, start: number, end: number, path: string): Field[] {
  const out: Field[] = [];
  forEachField(ctx, start, end, path, (f) => void out.push(f));
  return out;
}

const UTF8 = new TextDecoder();

function str(ctx: WireContext, f: Field): string {
  return UTF8.decode(ctx.bytes.subarray(f.start, f.end));
}

/** The name and element type of a ValueInfoProto (0 when it is not a tensor type). */
function valueInfo(ctx: WireContext, f: Field, path: string): { name: string; elem: number } {
  let name = "";
  let elem = 0;
  forEachField(ctx, f.start, f.end, path, (g) => {
    if (g.number === 1 && g.wire === LEN) name = str(ctx, g);
    if (g.number !== 2 || g.wire !== LEN) return;
    forEachField(ctx, g.start, g.end, path, (t) => {
      if (t.number !== 1 || t.wire !== LEN) return;
      forEachField(ctx, t.start, t.end, path, (e) => {
        if (e.number === 1 && e.wire === VARINT) elem = e.value;
      });
    });
  });
  return { name, elem };
}

/** The name and data type of a TensorProto. */
function tensorHeader(ctx: WireContext, f: Field, path: string): { name: string; type: number } {
  let name = "";
  let type = 0;
  forEachField(ctx, f.start, f.end, path, (g) => {
    if (g.number === 8 && g.wire === LEN) name = str(ctx, g);
    if (g.number === 2 && g.wire === VARINT) type = g.value;
  });
  return { name, type };
}

/** Reads a graph's declarations and those of its bodies (parents first). */
function collectGraph(
  ctx: WireContext,
  f: Field,
  path: string,
  nodes: readonly OnnxNode[],
  parent: GraphInfo | undefined,
  graphs: Map<string, GraphInfo>,
): void {
  const info: GraphInfo = {
    path,
    ...(parent === undefined ? {} : { parent }),
    main: parent === undefined,
    nodes,
    declared: new Map(),
    inputs: [],
    outputs: [],
    defined: new Map(),
    initializerTypes: new Map(),
    sparse: new Set(),
    types: new Map(),
    blocked: [],
    naturalFloat32: new Set(),
    casts: new Map(),
    versions: new Map(),
    outputRenames: new Map(),
  };
  const inputs = info.inputs as string[];
  const outputs = info.outputs as string[];
  const nodeFields: Field[] = [];
  forEachField(ctx, f.start, f.end, path, (g) => {
    if (g.wire !== LEN) return;
    if (g.number === 1) nodeFields.push(g);
    else if (g.number === 5) {
      const t = tensorHeader(ctx, g, `${path}.initializer`);
      info.initializerTypes.set(t.name, t.type);
    } else if (g.number === 15) {
      // SparseTensorProto: values (1) hold the name and the type.
      forEachField(ctx, g.start, g.end, `${path}.sparse_initializer`, (v) => {
        if (v.number !== 1 || v.wire !== LEN) return;
        const t = tensorHeader(ctx, v, `${path}.sparse_initializer.values`);
        info.initializerTypes.set(t.name, t.type);
        info.sparse.add(t.name);
      });
    } else if (g.number === 11 || g.number === 12 || g.number === 13) {
      const v = valueInfo(ctx, g, path);
      if (v.elem !== 0) info.declared.set(v.name, v.elem);
      if (g.number === 11) inputs.push(v.name);
      if (g.number === 12) outputs.push(v.name);
    }
  });
  for (const [name, type] of info.initializerTypes) {
    info.defined.set(name, "initializer");
    info.types.set(name, type);
  }
  for (const v of inputs) {
    if (!info.defined.has(v)) info.defined.set(v, "input");
    const t = info.declared.get(v);
    if (t !== undefined && !info.types.has(v)) info.types.set(v, t);
  }
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o !== "") info.defined.set(o, i);
  });
  graphs.set(path, info);
  nodeFields.forEach((nf, i) => {
    const node = nodes[i];
    if (node === undefined) return;
    let j = 0;
    forEachField(ctx, nf.start, nf.end, `${path}.node[${i}]`, (a) => {
      if (a.number !== 5 || a.wire !== LEN) return;
      const attr = node.attributes[j];
      const base = `${path}.node[${i}].attribute[${j}]`;
      let k = 0;
      forEachField(ctx, a.start, a.end, base, (b) => {
        if (b.number === 6 && b.wire === LEN && attr?.g !== undefined) {
          collectGraph(ctx, b, `${base}.g`, attr.g.nodes, info, graphs);
        } else if (b.number === 11 && b.wire === LEN && attr?.graphs?.[k] !== undefined) {
          collectGraph(ctx, b, `${base}.graphs[${k}]`, attr.graphs[k].nodes, info, graphs);
          k++;
        }
      });
      j++;
    });
  });
}

/** Why a model already holds float16 values, or `undefined`. */
function alreadyHalf(onnx: OnnxModel, graphs: Map<string, GraphInfo>): string | undefined {
  const t = onnx.tensors.find((t) => t.dataType === FLOAT16);
  if (t !== undefined) return `tensor "${t.name}" is float16`;
  for (const g of graphs.values()) {
    for (const [v, type] of g.declared) {
      if (type === FLOAT16) return `value "${v}" is declared float16`;
    }
    const c = g.nodes.find((n) =>
      n.opType === "Cast" && n.attributes.find((a) => a.name === "to")?.i === FLOAT16
    );
    if (c !== undefined) return `Cast node "${c.name}" casts to float16`;
  }
  return undefined;
}

const BOOL_OUT = new Set([
  "Equal",
  "Less",
  "Greater",
  "LessOrEqual",
  "GreaterOrEqual",
  "Not",
  "And",
  "Or",
  "Xor",
  "IsNaN",
  "IsInf",
]);
const INT64_OUT = new Set(["Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression"]);

/** The element types of a node's outputs, where the operator's rules tell them. */
function outputTypes(
  n: OnnxNode,
  input: (i: number) => number | undefined,
  bodyOutputs: (attr: string) => (number | undefined)[] | undefined,
): (number | undefined)[] {
  const attr = (name: string) => n.attributes.find((a) => a.name === name);
  const all = (t: number | undefined) => n.outputs.map(() => t);
  const first = () => {
    for (let i = 0; i < n.inputs.length; i++) {
      const t = input(i);
      if (t !== undefined) return t;
    }
    return undefined;
  };
  switch (n.opType) {
    case "Cast":
      return [attr("to")?.i];
    case "CastLike":
      return [input(1)];
    case "Constant": {
      const a = n.attributes[0];
      if (a?.t !== undefined) return [a.t.dataType];
      if (a?.name === "value_float" || a?.name === "value_floats") return [FLOAT];
      if (a?.name === "value_int" || a?.name === "value_ints") return [INT64];
      if (a?.name === "value_string" || a?.name === "value_strings") return [8];
      return [undefined];
    }
    case "ConstantOfShape":
      return [attr("value")?.t?.dataType ?? FLOAT];
    case "RandomNormal":
    case "RandomUniform":
      return [attr("dtype")?.i ?? FLOAT];
    case "RandomNormalLike":
    case "RandomUniformLike":
    case "EyeLike":
    case "Bernoulli":
      return [attr("dtype")?.i ?? input(0)];
    case "Multinomial":
      return [attr("dtype")?.i ?? INT32];
    case "QuantizeLinear":
      return [input(2) ?? attr("output_dtype")?.i ?? UINT8];
    case "DequantizeLinear":
      return [input(1)];
    case "DynamicQuantizeLinear":
      return [UINT8, FLOAT, UINT8];
    case "MatMulInteger":
    case "ConvInteger":
      return all(INT32);
    case "MatMulIntegerToFloat":
      return [input(2)];
    case "DynamicQuantizeMatMul":
      return [FLOAT];
    case "TopK":
      return [input(0), INT64];
    case "Unique":
      return [input(0), INT64, INT64, INT64];
    case "MaxPool":
      return [input(0), INT64];
    case "Dropout":
      return [input(0), BOOL];
    case "LayerNormalization":
      return [input(0), attr("stash_type")?.i ?? FLOAT, attr("stash_type")?.i ?? FLOAT];
    case "OneHot":
      return [input(2)];
    case "Where":
      return [input(1) ?? input(2)];
    case "If":
      return bodyOutputs("then_branch") ?? bodyOutputs("else_branch") ?? all(undefined);
    case "Loop": {
      const body = bodyOutputs("body");
      return body === undefined ? all(undefined) : body.slice(1);
    }
    case "Scan":
      return bodyOutputs("body") ?? all(undefined);
  }
  if (BOOL_OUT.has(n.opType)) return all(BOOL);
  if (INT64_OUT.has(n.opType)) return all(INT64);
  return all(first());
}

/** Fills `types` of every graph: declared types, stored tensors, then operator rules. */
function inferTypes(g: GraphInfo, graphs: Map<string, GraphInfo>): void {
  const children = [...graphs.values()].filter((c) => c.parent === g);
  g.nodes.forEach((n, i) => {
    const nodePath = `${g.path}.node[${i}]`;
    const bodies = children.filter((c) => c.path.startsWith(`${nodePath}.`));
    for (const b of bodies) inferTypes(b, graphs);
    const bodyOutputs = (name: string) => {
      const j = n.attributes.findIndex((a) => a.name === name);
      const body = bodies.find((b) => b.path === `${nodePath}.attribute[${j}].g`);
      return body?.outputs.map((v) => body.declared.get(v) ?? typeOf(body, v));
    };
    const types = outputTypes(n, (k) => {
      const v = n.inputs[k];
      return v === undefined || v === "" ? undefined : typeOf(g, v) ?? g.declared.get(v);
    }, bodyOutputs);
    n.outputs.forEach((o, k) => {
      if (o === "") return;
      const t = g.declared.get(o) ?? types[k];
      if (t !== undefined) g.types.set(o, t);
    });
  });
}

/**
 * Whether each float32 value is read in float16 somewhere (a converted node, a body output),
 * by `<graph path>#<name>` of its defining graph.
 */
function collectReaders(
  graphs: Map<string, GraphInfo>,
  isFloat32: (g: GraphInfo, v: string) => boolean,
): Map<string, { half: boolean; full: boolean }> {
  const out = new Map<string, { half: boolean; full: boolean }>();
  const mark = (g: GraphInfo, v: string, half: boolean) => {
    for (let s: GraphInfo | undefined = g; s !== undefined; s = s.parent) {
      if (!s.defined.has(v)) continue;
      if (!isFloat32(s, v)) return;
      const r = out.get(keyOf(s, v)) ?? { half: false, full: false };
      r.half ||= half;
      r.full ||= !half;
      out.set(keyOf(s, v), r);
      return;
    }
  };
  for (const g of graphs.values()) {
    g.nodes.forEach((n, i) => {
      const half = !g.blocked[i] || n.opType === "Cast";
      for (const v of n.inputs) if (v !== "") mark(g, v, half);
    });
    if (!g.main) { for (const v of g.outputs) mark(g, v, true); }
  }
  return out;
}

interface WriteContext {
  readonly graphs: Map<string, GraphInfo>;
  readonly inputNames: Map<string, string[]>;
  readonly subgraphOutputs: Map<string, string[]>;
  readonly convertTensor: (f: Field, path: string) => Uint8Array | undefined;
  readonly keepIo: boolean;
  readonly isFloat32: (g: GraphInfo, v: string) => boolean;
  readonly stats: { kept: string[] };
}

/** A ValueInfoProto with a new name and/or element type (other fields copied). */
function rewriteValueInfo(
  ctx: WireContext,
  f: Field,
  name: string | undefined,
  elem: number | undefined,
): Uint8Array {
  const parts: Uint8Array[] = [];
  forEachField(ctx, f.start, f.end, "value_info", (g) => {
    if (g.number === 1 && g.wire === LEN && name !== undefined) {
      parts.push(lenField(1, name));
    } else if (g.number === 2 && g.wire === LEN && elem !== undefined) {
      const type: Uint8Array[] = [];
      forEachField(ctx, g.start, g.end, "type", (t) => {
        if (t.number !== 1 || t.wire !== LEN) {
          type.push(ctx.bytes.subarray(t.tagStart, t.end));
          return;
        }
        const tensor: Uint8Array[] = [];
        forEachField(ctx, t.start, t.end, "tensor_type", (e) => {
          tensor.push(
            e.number === 1 && e.wire === VARINT
              ? intField(1, elem)
              : ctx.bytes.subarray(e.tagStart, e.end),
          );
        });
        type.push(lenField(1, concat(tensor)));
      });
      parts.push(lenField(2, concat(type)));
    } else parts.push(ctx.bytes.subarray(g.tagStart, g.end));
  });
  return concat(parts);
}

function writeGraph(ctx: WireContext, f: Field, g: GraphInfo, w: WriteContext): Uint8Array {
  const parts: Uint8Array[] = [];
  let index = 0;
  const start = () => {
    if (index === 0) parts.push(...(g.casts.get(-1) ?? []));
  };
  let outputIndex = 0;
  forEachField(ctx, f.start, f.end, g.path, (h) => {
    if (h.number === 1 && h.wire === LEN) {
      start();
      parts.push(lenField(1, writeNode(ctx, h, g, index, w)));
      parts.push(...(g.casts.get(index) ?? []));
      index++;
      return;
    }
    if (h.number === 5 && h.wire === LEN) {
      const { name, type } = tensorHeader(ctx, h, `${g.path}.initializer`);
      if (type === FLOAT && !g.naturalFloat32.has(name)) {
        parts.push(lenField(5, w.convertTensor(h, `${g.path}.initializer`)!));
      } else {
        if (type === FLOAT) w.stats.kept.push(name);
        parts.push(ctx.bytes.subarray(h.tagStart, h.end));
      }
      return;
    }
    if ((h.number === 11 || h.number === 12 || h.number === 13) && h.wire === LEN) {
      const v = valueInfo(ctx, h, g.path);
      const oi = h.number === 12 ? outputIndex++ : -1;
      if (v.elem !== FLOAT) {
        parts.push(ctx.bytes.subarray(h.tagStart, h.end));
        return;
      }
      let name: string | undefined;
      let elem: number | undefined;
      if (h.number === 11) {
        elem = g.main && w.keepIo ? undefined : FLOAT16;
      } else if (h.number === 12) {
        if (g.main) elem = w.keepIo ? undefined : FLOAT16;
        else {
          const renamed = w.subgraphOutputs.get(g.path)?.[oi];
          if (renamed !== undefined && renamed !== v.name) name = renamed;
          elem = FLOAT16;
        }
      } else {
        // value_info: the value's type after the conversion (a main-graph output keeps float32
        // under its own name; blocked nodes' outputs keep float32).
        const owner = ((): GraphInfo | undefined => {
          for (let s: GraphInfo | undefined = g; s !== undefined; s = s.parent) {
            if (s.defined.has(v.name)) return s;
          }
          return undefined;
        })();
        elem = owner !== undefined && heldType(owner, v.name) === FLOAT ? undefined : FLOAT16;
      }
      parts.push(
        name === undefined && elem === undefined
          ? ctx.bytes.subarray(h.tagStart, h.end)
          : lenField(h.number, rewriteValueInfo(ctx, h, name, elem)),
      );
      return;
    }
    parts.push(ctx.bytes.subarray(h.tagStart, h.end));
  });
  start();
  return concat(parts);
}

const DTYPE_OPS = new Set([
  "RandomNormal",
  "RandomUniform",
  "RandomNormalLike",
  "RandomUniformLike",
  "EyeLike",
  "Bernoulli",
]);

function writeNode(
  ctx: WireContext,
  f: Field,
  g: GraphInfo,
  index: number,
  w: WriteContext,
): Uint8Array {
  const node = g.nodes[index];
  const blocked = g.blocked[index];
  const inputs = w.inputNames.get(`${g.path}#${index}`) ?? [...node.inputs];
  const parts: Uint8Array[] = [];
  let i = 0;
  let a = 0;
  let hasValue = false;
  let hasDtype = false;
  forEachField(ctx, f.start, f.end, `${g.path}.node[${index}]`, (h) => {
    if (h.number === 1 && h.wire === LEN) {
      parts.push(lenField(1, inputs[i++] ?? str(ctx, h)));
    } else if (h.number === 2 && h.wire === LEN) {
      const name = str(ctx, h);
      parts.push(lenField(2, g.outputRenames.get(name)?.name ?? name));
    } else if (h.number === 5 && h.wire === LEN) {
      const attr = node.attributes[a];
      const path = `${g.path}.node[${index}].attribute[${a}]`;
      a++;
      if (attr?.name === "value") hasValue = true;
      if (attr?.name === "dtype") hasDtype = true;
      parts.push(lenField(5, writeAttribute(ctx, h, node, attr?.name ?? "", path, blocked, w)));
    } else parts.push(ctx.bytes.subarray(h.tagStart, h.end));
  });
  if (!blocked && node.opType === "ConstantOfShape" && !hasValue) {
    // The default value is a float32 zero: give it as float16.
    parts.push(lenField(
      5,
      concat([
        lenField(1, "value"),
        lenField(5, concat([intField(1, 1), intField(2, FLOAT16), lenField(9, new Uint8Array(2))])),
        intField(20, 4),
      ]),
    ));
  }
  if (
    !blocked && (node.opType === "RandomNormal" || node.opType === "RandomUniform") && !hasDtype
  ) {
    parts.push(lenField(5, concat([lenField(1, "dtype"), intField(3, FLOAT16), intField(20, 2)])));
  }
  return concat(parts);
}

function writeAttribute(
  ctx: WireContext,
  f: Field,
  node: OnnxNode,
  name: string,
  path: string,
  blocked: boolean,
  w: WriteContext,
): Uint8Array {
  // Constant value_float / value_floats of a converted node: a float16 `value` tensor.
  if (
    !blocked && node.opType === "Constant" && (name === "value_float" || name === "value_floats")
  ) {
    const values: number[] = [];
    forEachField(ctx, f.start, f.end, path, (h) => {
      if ((h.number === 2 || h.number === 7) && h.wire === FIXED32) {
        values.push(
          new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset + h.start, 4).getFloat32(0, true),
        );
      } else if (h.number === 7 && h.wire === LEN) {
        const view = new DataView(
          ctx.bytes.buffer,
          ctx.bytes.byteOffset + h.start,
          h.end - h.start,
        );
        for (let k = 0; k + 4 <= h.end - h.start; k += 4) values.push(view.getFloat32(k, true));
      }
    });
    const raw = new Uint8Array(values.length * 2);
    const view = new DataView(raw.buffer);
    values.forEach((v, k) => view.setUint16(k * 2, halfBits(v), true));
    const dims = name === "value_float" ? [] : [values.length];
    const tensor = concat([
      ...dims.map((d) => intField(1, d)),
      intField(2, FLOAT16),
      lenField(9, raw),
    ]);
    return concat([lenField(1, "value"), lenField(5, tensor), intField(20, 4)]);
  }
  const parts: Uint8Array[] = [];
  let k = 0;
  forEachField(ctx, f.start, f.end, path, (h) => {
    if (
      h.number === 3 && h.wire === VARINT && !blocked && h.value === FLOAT &&
      ((name === "to" && node.opType === "Cast") ||
        (name === "dtype" && DTYPE_OPS.has(node.opType)))
    ) {
      parts.push(intField(3, FLOAT16));
    } else if ((h.number === 5 || h.number === 10) && h.wire === LEN && !blocked) {
      const converted = tensorHeader(ctx, h, path).type === FLOAT
        ? w.convertTensor(h, `${path}.t`)
        : undefined;
      parts.push(
        converted === undefined
          ? ctx.bytes.subarray(h.tagStart, h.end)
          : lenField(h.number, converted),
      );
    } else if (h.number === 6 && h.wire === LEN) {
      const body = w.graphs.get(`${path}.g`);
      parts.push(
        body === undefined
          ? ctx.bytes.subarray(h.tagStart, h.end)
          : lenField(6, writeGraph(ctx, h, body, w)),
      );
    } else if (h.number === 11 && h.wire === LEN) {
      const body = w.graphs.get(`${path}.graphs[${k++}]`);
      parts.push(
        body === undefined
          ? ctx.bytes.subarray(h.tagStart, h.end)
          : lenField(11, writeGraph(ctx, h, body, w)),
      );
    } else parts.push(ctx.bytes.subarray(h.tagStart, h.end));
  });
  return concat(parts);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function halfBits(v: number): number {
  F32[0] = v;
  return f32BitsToF16Bits(U32[0]);
}

/**
 * A float32 TensorProto as float16: values clamped like the Python converter, rounded to nearest
 * even, written as `raw_data`; every other field copied.
 */
function halfTensor(
  ctx: WireContext,
  f: Field,
  path: string,
  minPositive: number,
  maxFinite: number,
  stats: { converted: number; before: number; after: number; small: number; large: number },
): Uint8Array {
  const parts: Uint8Array[] = [];
  let values: Float32Array | undefined;
  const floats: number[] = [];
  let external = false;
  forEachField(ctx, f.start, f.end, path, (h) => {
    if (h.number === 9 && h.wire === LEN) {
      // A copy, aligned for a Float32Array view (little-endian, as every supported platform).
      values = new Float32Array(ctx.bytes.slice(h.start, h.end).buffer, 0, (h.end - h.start) >> 2);
    } else if (h.number === 4 && h.wire === LEN) {
      const view = new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset + h.start, h.end - h.start);
      for (let k = 0; k + 4 <= h.end - h.start; k += 4) floats.push(view.getFloat32(k, true));
    } else if (h.number === 4 && h.wire === FIXED32) {
      floats.push(
        new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset + h.start, 4).getFloat32(0, true),
      );
    } else if (h.number === 2 && h.wire === VARINT) {
      parts.push(intField(2, FLOAT16));
    } else if (h.number === 14 && h.wire === VARINT && h.value === 1) {
      external = true;
    } else parts.push(ctx.bytes.subarray(h.tagStart, h.end));
  });
  if (external) {
    throw new ModelFormatError(
      "a float32 tensor to convert to float16 is in an external data file: inline the model's external data first",
      { file: ctx.file, field: path, offset: f.start },
    );
  }
  const data = values ?? Float32Array.from(floats);
  for (let k = 0; k < data.length; k++) {
    const v = data[k];
    const m = v < 0 ? -v : v;
    if (m > 0 && m < minPositive) {
      data[k] = v < 0 ? -minPositive : minPositive;
      stats.small++;
    } else if (m > maxFinite && m !== Infinity) {
      data[k] = v < 0 ? -maxFinite : maxFinite;
      stats.large++;
    }
  }
  let raw: Uint8Array;
  if (data.length >= 4096) {
    const half = getKernels().f32ToF16(data);
    raw = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  } else {
    // Small tensors: a kernel call costs more than the loop.
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const half = new Uint16Array(data.length);
    for (let k = 0; k < data.length; k++) half[k] = f32BitsToF16Bits(bits[k]);
    raw = new Uint8Array(half.buffer);
  }
  stats.converted++;
  stats.before += data.length * 4;
  stats.after += raw.length;
  parts.push(concat([varint(9 * 8 + LEN), varint(raw.length)]), raw);
  return concat(parts);
}
