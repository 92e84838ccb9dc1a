/**
 * The lazy structure of a decoded ONNX model: names, attributes and byte offsets; tensor data
 * stay in the file bytes until read.
 *
 * @module
 */

import type { DType } from "../../tensor/dtype.ts";
import type { Field, Span } from "./_wire.ts";

export type { Field, Span };

/** Where a tensor's values are. */
export type TensorStorage =
  /** `raw_data`: the absolute byte range in the model file. */
  | { readonly kind: "raw"; readonly start: number; readonly end: number }
  /** Typed fields (`float_data`, `int32_data`, …), possibly split over several occurrences. */
  | { readonly kind: "typed"; readonly fields: readonly Field[] }
  /** An external data file. */
  | {
    readonly kind: "external";
    readonly location: string;
    readonly offset: number;
    readonly length?: number;
  }
  /**
   * A `SparseTensorProto` (a `sparse_initializer` or a `Constant`'s `sparse_value`): `values`
   * holds the non-zero elements (`[NNZ]`), `indices` their positions, either linear
   * (`[NNZ]`) or as coordinates (`[NNZ, rank]`); the tensor's `dims` are the dense dims.
   */
  | {
    readonly kind: "sparse";
    readonly values: OnnxTensor;
    readonly indices: OnnxTensor;
  };

/** A tensor stored in the model: an initializer or the value of a `Constant` node. */
export interface OnnxTensor {
  /** The initializer name, or the `Constant` node's output name. */
  readonly name: string;
  /** The ONNX data type code. */
  readonly dataType: number;
  /** The dtype, when the code has one. */
  readonly dtype?: DType;
  /** The dims as stored. */
  readonly dims: readonly number[];
  /** The TensorProto message. */
  readonly span: Span;
  /** The enclosing length-delimited messages, outermost first, ending with `span`. */
  readonly ancestors: readonly Span[];
  /** The field path (`graph.node[12].attribute[0].t`). */
  readonly path: string;
  /** Whether it is an initializer or a `Constant` node's value. */
  readonly kind: "initializer" | "constant";
  /** Where the values are. */
  readonly storage: TensorStorage;
}

/** A node attribute (only the fields set in the file are present). */
export interface OnnxAttribute {
  /** The attribute name (`kernel_shape`, `value`, `then_branch`, …). */
  readonly name: string;
  /** The `AttributeProto.AttributeType` code (1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 5 GRAPH, …). */
  readonly type: number;
  /** A float value. */
  readonly f?: number;
  /** An integer value (exact up to 2^53). */
  readonly i?: number;
  /** A string value (bytes decoded as UTF-8, invalid sequences replaced). */
  readonly s?: string;
  /** A tensor value (a `Constant` node's `value` is also listed in `OnnxModel.tensors`). */
  readonly t?: OnnxTensor;
  /** A subgraph (`If` branches, `Loop`/`Scan` bodies). */
  readonly g?: OnnxGraph;
  /** Float list values. */
  readonly floats?: readonly number[];
  /** Integer list values. */
  readonly ints?: readonly number[];
  /** String list values. */
  readonly strings?: readonly string[];
  /** Subgraph list values. */
  readonly graphs?: readonly OnnxGraph[];
}

/** A node of an ONNX graph. */
export interface OnnxNode {
  /** The node name (often `""` or exporter-generated). */
  readonly name: string;
  /** The operator type. */
  readonly opType: string;
  /** The operator domain (`""` is the default ONNX domain). */
  readonly domain: string;
  /** Input value names (`""` for an omitted optional input). */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** The attributes in file order. */
  readonly attributes: readonly OnnxAttribute[];
  /** The field path (`graph.node[3]`). */
  readonly path: string;
}

/** An ONNX graph (the main graph or a subgraph of `If`/`Loop`/`Scan`). */
export interface OnnxGraph {
  /** The graph name. */
  readonly name: string;
  /** The nodes in file order. */
  readonly nodes: readonly OnnxNode[];
  /** The initializer tensors. */
  readonly initializers: readonly OnnxTensor[];
  /** The `sparse_initializer` tensors (storage kind `"sparse"`, dims of the dense tensor). */
  readonly sparseInitializers: readonly OnnxTensor[];
  /** Graph input names (including initializers listed as inputs in old IR versions). */
  readonly inputs: readonly string[];
  /** Graph output names. */
  readonly outputs: readonly string[];
}

/** A decoded ONNX model over its file bytes. */
export interface OnnxModel {
  /** The file bytes (tensor data are read from here). */
  readonly bytes: Uint8Array;
  /** The file label used in errors. */
  readonly file: string;
  /** `ir_version`. */
  readonly irVersion: number;
  /** `opset_import`: the operator set version of each domain. */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  /** `producer_name`. */
  readonly producerName: string;
  /** `producer_version`. */
  readonly producerVersion: string;
  /** `metadata_props`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The main graph. */
  readonly graph: OnnxGraph;
  /** Every stored tensor (initializers and `Constant` values), subgraphs included, in file order. */
  readonly tensors: readonly OnnxTensor[];
}
