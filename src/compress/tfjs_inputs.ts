// The inputs given to a tfjs model for scoring and calibration. Kept apart from compare_tfjs.ts,
// whose declarations import tfjs-core's types: the package's root declarations reference these
// (compressModel's `tfjsInputs`) and must type-check without tfjs-core's dependencies' types.

/** One tensor fed to a tfjs model: its values and shape (int32 inputs take an `Int32Array`). */
export interface TfjsInputTensor {
  /** The values, row-major. */
  readonly data: Float32Array | Int32Array;
  /** The shape. */
  readonly dims: readonly number[];
}

/** One set of inputs: a tensor per model input, in the model's input order. */
export type TfjsInputSet = readonly TfjsInputTensor[];
