/**
 * Plain-data types of a compression report: what was compressed, how, per-layer results and the
 * evaluation, in the form the JSON, table and HTML renderers read.
 *
 * @module
 */

/** The compression mode of a run; `none` for an uncompressed baseline. */
export type ReportMode = "pruning" | "quantization" | "none";

/** One configured parameter of one module, after compression. */
export interface LayerReport {
  /** The module name. */
  readonly module: string;
  /** The target name (`weight`, `bias`). */
  readonly target: string;
  /** The module type (`Linear`, `Conv2d`). */
  readonly type: string;
  /** The shape in PyTorch layout. */
  readonly shape: readonly number[];
  /** The number of elements. */
  readonly elements: number;
  /** The fraction of exact zeros before compression, in [0, 1]. */
  readonly sparsityBefore: number;
  /** The fraction of exact zeros after compression, in [0, 1]. */
  readonly sparsity: number;
  /** The quantized bit-width, or `null` when the target keeps its float type. */
  readonly bits: number | null;
  /** The stored float type (`F32`, `F16`, …). */
  readonly dtype: string;
  /** The granularity as configured (`out_channel`, `[1, 24]`), or `null`. */
  readonly granularity: string | null;
}

/** The result of one evaluation of a model. */
export interface EvaluationResult {
  /** What was evaluated (`recognizer exact lines`, `classifier accuracy`). */
  readonly name: string;
  /** Correct items. */
  readonly correct: number;
  /** All items. */
  readonly total: number;
  /** The same evaluation of the uncompressed model, when it ran. */
  readonly baseline?: number;
}

/** Inference time of the original and the result on one onnxruntime backend. */
export interface LatencyReport {
  /** The backend (`node`: onnxruntime-node; `web`: onnxruntime-web's WebAssembly CPU backend). */
  readonly backend: string;
  /** Intra-op threads per session. */
  readonly threads: number;
  /** Timed runs per model (the median is reported). */
  readonly runs: number;
  /** Untimed warm-up runs per model before them. */
  readonly warmup: number;
  /** The inputs timed (`x [1, 3, 48, 480]`, `labelled line 0`). */
  readonly input: string;
  /** The result's median time per run, in milliseconds. */
  readonly resultMs: number;
  /** The result's fastest run, in milliseconds. */
  readonly resultMinMs: number;
  /** The original's median time per run (`null` when only the result was timed). */
  readonly originalMs: number | null;
  /** The original's fastest run (`null` when only the result was timed). */
  readonly originalMinMs: number | null;
}

/** Sizes of a model in bytes. */
export interface ModelSize {
  /** The file size. */
  readonly fileBytes: number;
  /**
   * The bytes the parameters take in the file: before compression, every module parameter at
   * its stored dtype; after, that plus the change in stored tensor bytes of the written file
   * (integer codes, scales and zero points as written; float storage keeps each dtype, so its
   * size does not change).
   */
  readonly packedBytes: number;
}

/** The report of one model compressed with one config list. */
export interface CompressionReport {
  /** A short label of the run (`int8 per-channel`). */
  readonly label: string;
  /** The input model's file name. */
  readonly model: string;
  /** `onnx`, `safetensors` or `tfjs` (a TensorFlow.js `model.json` with its shards). */
  readonly format: "onnx" | "safetensors" | "tfjs";
  /** The compression mode. */
  readonly mode: ReportMode;
  /** The algorithm (`LevelPruner`, `PtqQuantizer`), when compressing. */
  readonly algorithm?: string;
  /** The config list as given. */
  readonly configList: unknown;
  /**
   * How the compressed tensors are stored in the written file: `float` (masked or
   * fake-quantized values in the original dtype), `qdq` (ONNX integer codes with
   * `DequantizeLinear`), `int` (safetensors integer codes with scales and zero points), `nbits`
   * (ONNX `MatMulNBits`: packed codes in blocks along K with a scale per block), `float16` (ONNX
   * converted to float16 computation), `dynamic` (ONNX `MatMulInteger`/`ConvInteger` on 8-bit
   * codes, activations quantized at run time), `bnb4` (ONNX `MatMulBnb4`: NF4/FP4 codes with an
   * absmax per block), `compressed-tensors` (safetensors in the compressed-tensors
   * `pack-quantized` format).
   */
  readonly storage?:
    | "float"
    | "qdq"
    | "int"
    | "nbits"
    | "float16"
    | "dynamic"
    | "bnb4"
    | "compressed-tensors";
  /** Sizes before compression. */
  readonly before: ModelSize;
  /** Sizes after compression. */
  readonly after: ModelSize;
  /** All parameters of the model (elements). */
  readonly parameters: number;
  /** The configured parameters, in config order then model order. */
  readonly layers: readonly LayerReport[];
  /** Warnings of the config, pruning and quantization stages, one line each. */
  readonly warnings: readonly string[];
  /** Evaluations of the compressed model. */
  readonly evaluation: readonly EvaluationResult[];
  /**
   * Inference time of the original and the result, one entry per backend timed (absent or empty
   * when the run was not evaluated, or the model cannot run in onnxruntime).
   */
  readonly latency?: readonly LatencyReport[];
  /** Compression time in milliseconds (reading, computing and encoding; not evaluation). */
  readonly timeMs: number;
  /**
   * Set when the run changed nothing, saying why (`"the config list is empty"`, `"the config
   * list selects no target of the model"`); absent otherwise.
   */
  readonly unchanged?: string;
}

/** A set of runs shown together (a demo, or one CLI command). */
export interface ReportBundle {
  /** The title. */
  readonly title: string;
  /** The tool and version that made it. */
  readonly generator: string;
  /** When it was made (ISO 8601). */
  readonly createdAt: string;
  /** The runs. */
  readonly runs: readonly CompressionReport[];
}
