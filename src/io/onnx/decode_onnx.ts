/**
 * Decoding ONNX models with a lazy protobuf reader: the structure (graph, nodes, attributes,
 * opsets, metadata) is decoded, tensor data are not copied but located by byte offsets.
 *
 * @module
 */

import { decodeTensor } from "./_decode_tensor.ts";
import { decodeSparseTensor } from "./_decode_sparse.ts";
import type {
  OnnxAttribute,
  OnnxGraph,
  OnnxModel,
  OnnxNode,
  OnnxTensor,
  Span,
} from "./onnx_types.ts";
import {
  expectWire,
  fail,
  type Field,
  forEachField,
  LEN,
  readFloat,
  readInt64,
  readInt64s,
  readString,
  type WireContext,
} from "./_wire.ts";

/** Options of `decodeOnnx`. */
export interface DecodeOnnxOptions {
  /** The file name used in error messages (default `"<memory>"`). */
  readonly file?: string;
}

interface State extends WireContext {
  readonly tensors: OnnxTensor[];
}

/** Subgraphs nested deeper than this are rejected (a guard against stack exhaustion). */
const MAX_GRAPH_DEPTH = 64;

const span = (f: Field): Span => ({ tagStart: f.tagStart, start: f.start, end: f.end });
const lenient = new TextDecoder();

function decodeAttribute(
  st: State,
  f: Field,
  anc: readonly Span[],
  path: string,
  output: string,
): OnnxAttribute {
  expectWire(st, f, LEN, path);
  const here = [...anc, span(f)];
  const a: Record<string, unknown> & { name: string; type: number } = { name: "", type: 0 };
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  const graphs: OnnxGraph[] = [];
  const tensorFields: Field[] = [];
  const sparseFields: Field[] = [];
  forEachField(st, f.start, f.end, path, (g) => {
    switch (g.number) {
      case 1:
        a.name = readString(st, g, `${path}.name`);
        break;
      case 20:
        a.type = readInt64(st, g, `${path}.type`);
        break;
      case 2:
        a.f = readFloat(st, g, `${path}.f`);
        break;
      case 3:
        a.i = readInt64(st, g, `${path}.i`);
        break;
      case 4:
        expectWire(st, g, LEN, `${path}.s`);
        a.s = lenient.decode(st.bytes.subarray(g.start, g.end));
        break;
      case 5:
        tensorFields.push(g);
        break;
      case 6:
        a.g = decodeGraph(st, g, here, `${path}.g`);
        break;
      case 7:
        if (g.wire === LEN) {
          for (let p = g.start; p + 4 <= g.end; p += 4) {
            floats.push(readFloat(st, { ...g, wire: 5, start: p, end: p + 4 }, `${path}.floats`));
          }
        } else floats.push(readFloat(st, g, `${path}.floats`));
        break;
      case 8:
        readInt64s(st, g, `${path}.ints`, ints);
        break;
      case 9:
        expectWire(st, g, LEN, `${path}.strings`);
        strings.push(lenient.decode(st.bytes.subarray(g.start, g.end)));
        break;
      case 22:
        sparseFields.push(g);
        break;
      case 11:
        graphs.push(decodeGraph(st, g, here, `${path}.graphs[${graphs.length}]`));
        break;
    }
  });
  // A Constant node's `value` tensor is named after the node's output.
  const isValue = output !== "" && a.name === "value";
  for (const t of tensorFields) {
    a.t = decodeTensor(st, t, here, `${path}.t`, "constant", isValue ? output : undefined);
    if (isValue) st.tensors.push(a.t as OnnxTensor);
  }
  // A Constant node's `sparse_value` is listed like `value`, read as a dense tensor.
  const isSparseValue = output !== "" && a.name === "sparse_value";
  for (const t of sparseFields) {
    const name = isSparseValue ? output : undefined;
    const sparse = decodeSparseTensor(st, t, here, `${path}.sparse_tensor`, "constant", name);
    if (isSparseValue) st.tensors.push(sparse);
  }
  if (floats.length > 0) a.floats = floats;
  if (ints.length > 0) a.ints = ints;
  if (strings.length > 0) a.strings = strings;
  if (graphs.length > 0) a.graphs = graphs;
  return a as unknown as OnnxAttribute;
}

function decodeNode(st: State, f: Field, anc: readonly Span[], path: string): OnnxNode {
  expectWire(st, f, LEN, path);
  const here = [...anc, span(f)];
  const inputs: string[] = [];
  const outputs: string[] = [];
  let name = "";
  let opType = "";
  let domain = "";
  const attrFields: Field[] = [];
  forEachField(st, f.start, f.end, path, (g) => {
    if (g.number === 1) inputs.push(readString(st, g, `${path}.input`));
    else if (g.number === 2) outputs.push(readString(st, g, `${path}.output`));
    else if (g.number === 3) name = readString(st, g, `${path}.name`);
    else if (g.number === 4) opType = readString(st, g, `${path}.op_type`);
    else if (g.number === 7) domain = readString(st, g, `${path}.domain`);
    else if (g.number === 5) attrFields.push(g);
  });
  const constOut = opType === "Constant" && (domain === "" || domain === "ai.onnx")
    ? outputs[0] ?? ""
    : "";
  const attributes = attrFields.map((g, i) =>
    decodeAttribute(st, g, here, `${path}.attribute[${i}]`, constOut)
  );
  return { name, opType, domain, inputs, outputs, attributes, path };
}

function valueInfoName(st: State, g: Field, path: string): string {
  expectWire(st, g, LEN, path);
  let name = "";
  forEachField(st, g.start, g.end, path, (h) => {
    if (h.number === 1) name = readString(st, h, `${path}.name`);
  });
  return name;
}

function decodeGraph(st: State, f: Field, anc: readonly Span[], path: string): OnnxGraph {
  expectWire(st, f, LEN, path);
  if (anc.length > MAX_GRAPH_DEPTH * 3) {
    fail(st, path, f.tagStart, `subgraphs are nested more than ${MAX_GRAPH_DEPTH} deep`);
  }
  const here = [...anc, span(f)];
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const sparseInitializers: OnnxTensor[] = [];
  const inputs: string[] = [];
  const outputs: string[] = [];
  let name = "";
  forEachField(st, f.start, f.end, path, (g) => {
    if (g.number === 1) nodes.push(decodeNode(st, g, here, `${path}.node[${nodes.length}]`));
    else if (g.number === 2) name = readString(st, g, `${path}.name`);
    else if (g.number === 5) {
      const t = decodeTensor(
        st,
        g,
        here,
        `${path}.initializer[${initializers.length}]`,
        "initializer",
      );
      initializers.push(t);
      st.tensors.push(t);
    } else if (g.number === 15) {
      const path2 = `${path}.sparse_initializer[${sparseInitializers.length}]`;
      const t = decodeSparseTensor(st, g, here, path2, "initializer");
      sparseInitializers.push(t);
      st.tensors.push(t);
    } else if (g.number === 11) {
      inputs.push(valueInfoName(st, g, `${path}.input[${inputs.length}]`));
    } else if (g.number === 12) {
      outputs.push(valueInfoName(st, g, `${path}.output[${outputs.length}]`));
    }
  });
  return { name, nodes, initializers, sparseInitializers, inputs, outputs };
}

/**
 * Decodes an ONNX model from its bytes. Nothing is copied: tensors (initializers, `Constant`
 * node values, and those inside `If`/`Loop`/`Scan` subgraphs) are described by byte offsets
 * into `bytes`; read them with `readOnnxTensor`.
 *
 * @param bytes The `.onnx` file.
 * @param options The file name for error messages.
 * @returns The decoded model.
 * @throws {ModelFormatError} On malformed protobuf (bad wire types, lengths past the end,
 * truncation) or inconsistent tensors, naming the field path and the byte offset.
 *
 * @example
 * ```ts ignore
 * import { decodeOnnx } from "./decode_onnx.ts";
 * const model = decodeOnnx(await Deno.readFile("model.onnx"), { file: "model.onnx" });
 * console.log(model.graph.nodes.length, model.tensors.length);
 * ```
 */
export function decodeOnnx(bytes: Uint8Array, options: DecodeOnnxOptions = {}): OnnxModel {
  const st: State = { bytes, file: options.file ?? "<memory>", tensors: [] };
  const root: Span = { tagStart: 0, start: 0, end: bytes.length };
  let irVersion = 0;
  let producerName = "";
  let producerVersion = "";
  const opsets: { domain: string; version: number }[] = [];
  const metadata: Record<string, string> = {};
  let graph: OnnxGraph | undefined;
  forEachField(st, 0, bytes.length, "model", (g) => {
    switch (g.number) {
      case 1:
        irVersion = readInt64(st, g, "model.ir_version");
        break;
      case 2:
        producerName = readString(st, g, "model.producer_name");
        break;
      case 3:
        producerVersion = readString(st, g, "model.producer_version");
        break;
      case 7:
        graph = decodeGraph(st, g, [root], "graph");
        break;
      case 8:
      case 14: {
        const path = g.number === 8
          ? `model.opset_import[${opsets.length}]`
          : "model.metadata_props";
        expectWire(st, g, LEN, path);
        let key = "";
        let value = "";
        let version = 0;
        forEachField(st, g.start, g.end, path, (h) => {
          if (h.number === 1) key = readString(st, h, `${path}.key`);
          else if (h.number === 2 && g.number === 14) value = readString(st, h, `${path}.value`);
          else if (h.number === 2) version = readInt64(st, h, `${path}.version`);
        });
        if (g.number === 8) opsets.push({ domain: key, version });
        else metadata[key] = value;
        break;
      }
    }
  });
  if (graph === undefined) fail(st, "model.graph", bytes.length, "model has no graph");
  if (irVersion === 0) {
    fail(st, "model.ir_version", 0, "model has no ir_version (not an ONNX model?)");
  }
  return {
    bytes,
    file: st.file,
    irVersion,
    opsets,
    producerName,
    producerVersion,
    metadata,
    graph,
    tensors: st.tensors,
  };
}
