/**
 * The model view every compression stage works on: named modules with typed parameters in
 * PyTorch layout, plus the computation graph when the file format has one.
 *
 * @module
 */

import type { DType } from "../tensor/dtype.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { LazySafetensors } from "../io/safetensors/open_safetensors.ts";
import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";

/**
 * A module type: the PyTorch class name (`"Linear"`, `"Conv2d"`, `"BatchNorm2d"`,
 * `"LayerNorm"`, `"Embedding"`, `"ReLU"`, …) that `op_types` selects, or `"Module"` when no
 * better name is known.
 */
export type ModuleType = string;

/** A parameter or buffer of a module, read from the file on demand. */
export interface TensorRef {
  /** The tensor's name in the file (safetensors key, ONNX initializer or Constant output). */
  readonly name: string;
  /** The stored element type. */
  readonly dtype: DType;
  /** The dims in PyTorch layout (dim 0 = output channels for weights). */
  readonly shape: readonly number[];
  /** The dims as stored in the file. */
  readonly fileShape: readonly number[];
  /**
   * The permutation from the file layout to PyTorch layout: `shape[k] = fileShape[perm[k]]`
   * (`[1, 0]` for an ONNX MatMul weight stored `[in, out]`); absent when the layouts agree.
   */
  readonly transpose?: readonly number[];
  /**
   * Reads the values as float32 in PyTorch layout.
   *
   * @param out Where the values may go (a scratch array of the tensor's length, reused by a
   * caller that reads tensor after tensor); a reader may ignore it.
   * @returns A new array of the tensor's elements, or `out` holding them.
   */
  data(out?: Float32Array): Promise<Float32Array>;
  /**
   * Reads the stored bytes (file layout and dtype), without conversion.
   *
   * @returns The bytes; do not modify them.
   */
  bytes(): Promise<Uint8Array>;
}

/** A named module, as `op_names` and `op_types` see it. */
export interface Module {
  /** The dotted module name (`"blocks.0.mixer.fc1"`); `""` for the root. */
  readonly name: string;
  /** The PyTorch-style type. */
  readonly type: ModuleType;
  /** The raw operator type of the file (ONNX `op_type`), when the format has one. */
  readonly opType?: string;
  /**
   * ONNX: the field path of the `If`/`Loop`/`Scan` body whose node computes the module
   * (`"graph.node[0].attribute[1].g"`); absent for main-graph modules and other formats.
   */
  readonly subgraph?: string;
  /** The parameters and buffers by local name (`weight`, `bias`, `running_mean`, …). */
  readonly params: Readonly<Record<string, TensorRef>>;
  /**
   * The activation a fused operator applies after the module (TensorFlow.js `_FusedConv2D`,
   * `FusedDepthwiseConv2dNative`, `_FusedMatMul`: `Relu`, `Relu6`, `Elu`, `Prelu`, …), or a
   * layer's own `activation` setting; absent when none.
   */
  readonly activation?: string;
  /**
   * How the module's weight is stored when the file already holds it quantized (ONNX
   * `QLinearConv`, `ConvInteger`, `MatMulNBits`, a weight fed by `DequantizeLinear`, …); such a
   * module is listed by `inspect` and never compressed again.
   */
  readonly quantized?: QuantizedWeight;
}

/** A weight stored as integer codes in the file (a pre-quantized module). */
export interface QuantizedWeight {
  /** The operator that holds or dequantizes the codes (`QLinearConv`, `DequantizeLinear`, …). */
  readonly op: string;
  /** The code type (`int8`, `uint8`, `int4`, `uint4`, `int16`, …). */
  readonly codes: string;
  /** Bits per code. */
  readonly bits: number;
  /** The weight's shape in PyTorch layout (unpacked). */
  readonly shape: readonly number[];
  /** One scale for the tensor, one per slice along `axis`, or one per block of `blockSize`. */
  readonly granularity: "per_tensor" | "per_axis" | "block";
  /** The axis of the scales in the file layout (`per_axis`, `block`). */
  readonly axis?: number;
  /** Codes per scale along `axis` (`block`). */
  readonly blockSize?: number;
  /**
   * The scales' shape as stored, or `null` when none was found (`ConvInteger` and
   * `MatMulInteger` take none: the scale is multiplied in after them, see `scaleAfter`).
   */
  readonly scaleShape: readonly number[] | null;
  /** True when the scale is a `Mul` after the operator (onnxruntime's dynamic quantization). */
  readonly scaleAfter?: boolean;
  /** The zero points' shape as stored, or `null` when there are none (symmetric). */
  readonly zeroPointShape: readonly number[] | null;
}

/** A node of the computation graph. */
export interface GraphNode {
  /** The node name (may be `""` in ONNX). */
  readonly name: string;
  /** The operator type (`"Conv"`, `"MatMul"`, …). */
  readonly opType: string;
  /** The operator domain (`""` for the default ONNX domain). */
  readonly domain: string;
  /** Input value names (`""` for an omitted optional input). */
  readonly inputs: readonly string[];
  /** Output value names. */
  readonly outputs: readonly string[];
  /** The module this node belongs to, if any. */
  readonly module?: string;
}

/** The computation graph of a model. */
export interface Graph {
  /** Nodes in file order (topological in valid ONNX files); subgraph nodes are not listed. */
  readonly nodes: readonly GraphNode[];
  /** The graph inputs that are not weights. */
  readonly inputs: readonly string[];
  /** The graph outputs. */
  readonly outputs: readonly string[];
  /**
   * ONNX: the nodes of each `If`/`Loop`/`Scan` body by the field path of its graph (what
   * `Module.subgraph` names), in file order, with their modules; absent without subgraphs.
   */
  readonly subgraphs?: Readonly<Record<string, readonly GraphNode[]>>;
}

/**
 * The decoded file a model view was built from, so that writing a compressed copy needs nothing
 * but the view: an ONNX model, a safetensors file read whole or opened lazily, or a
 * TensorFlow.js model (`model.json` and its shards).
 */
export type ModelSource =
  | { readonly format: "onnx"; readonly onnx: OnnxModel }
  | { readonly format: "safetensors"; readonly file: SafetensorsFile | LazySafetensors }
  | { readonly format: "tfjs"; readonly tfjs: TfjsModel };

/**
 * The bytes of a saved model file. A format of several files (TensorFlow.js: `model.json` and
 * weight shards) gives the bytes of its main file and every file by name in `files`
 * (`model.json` first, then the shards, named as `model.json` refers to them).
 */
export type SavedModel = Uint8Array & { readonly files?: ReadonlyMap<string, Uint8Array> };

/** A model file seen as modules. */
export interface ModelGraph {
  /** The file format. */
  readonly format: "onnx" | "safetensors" | "tfjs";
  /**
   * The decoded file the view was built from (`onnxModel`, `safetensorsModel`, `tfjsModel` set
   * it); absent for views built from other sources (a hand-made module list).
   */
  readonly source?: ModelSource;
  /** The modules, in file order. */
  readonly modules: readonly Module[];
  /** The computation graph, for formats that have one. */
  readonly graph?: Graph;
  /** Free-form metadata (safetensors `__metadata__`, ONNX `metadata_props`). */
  readonly metadata: Readonly<Record<string, string>>;
}
