/**
 * The types of a TensorFlow.js model: `model.json` (a graph model or a layers model) and the
 * weights its `weightsManifest` places in binary shards.
 *
 * @module
 */

/** A weight dtype of the tfjs manifest. */
export type TfjsDType = "float32" | "int32" | "bool" | "string" | "complex64";

/** How tfjs stores a weight at reduced precision (`spec.quantization`). */
export interface TfjsQuantization {
  /** The stored type: affine `uint8`/`uint16` codes, or `float16`. */
  readonly dtype: "uint8" | "uint16" | "float16";
  /** The value of code 0 (affine types). */
  readonly min?: number;
  /** The step between codes (affine types). */
  readonly scale?: number;
  /** The dtype before quantization, as the converter writes it. */
  readonly original_dtype?: string;
}

/** One weight of the manifest (`weightsManifest[g].weights[i]`). */
export interface TfjsWeightSpec {
  /** The weight name (a Const node name in graph models, `layer/kernel` in layers models). */
  readonly name: string;
  /** The dims, in tfjs layout. */
  readonly shape: readonly number[];
  /** The dtype of the tensor tfjs builds. */
  readonly dtype: TfjsDType;
  /** Reduced-precision storage, when present. */
  readonly quantization?: TfjsQuantization;
}

/** A weight with its stored bytes. */
export interface TfjsWeight {
  /** The manifest entry, as read. */
  readonly spec: TfjsWeightSpec;
  /** The stored bytes (the quantized codes when `spec.quantization` is set). */
  readonly bytes: Uint8Array;
  /** The manifest group it was read from. */
  readonly group: number;
  /** The byte offset of its first byte in its group (all shards of the group concatenated). */
  readonly offset: number;
}

/** A decoded TensorFlow.js model. */
export interface TfjsModel {
  /**
   * `graph-model` (a converted TensorFlow graph), `layers-model` (a Keras-style model), or
   * `weights-manifest`: a manifest alone (a JSON list of weight groups, as face-api.js ships its
   * `*-weights_manifest.json`), whose network is built in code by the library that loads it.
   */
  readonly kind: "graph-model" | "layers-model" | "weights-manifest";
  /**
   * The parsed `model.json`, untouched (its `weightsManifest` included); for a weights manifest
   * alone, `{ weightsManifest: <the list> }`.
   */
  readonly json: Readonly<Record<string, unknown>>;
  /** Every weight in manifest order. */
  readonly weights: readonly TfjsWeight[];
  /** The file name or label of `model.json` (error messages). */
  readonly file: string;
}
