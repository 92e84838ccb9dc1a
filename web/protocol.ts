/**
 * Messages between the page and its workers: one worker compresses, another checks the config
 * list as it is typed (both run `worker.ts`).
 *
 * @module
 */

import type { CompressOptions } from "../src/compress/compress_model.ts";
import type { ErrorDescription } from "../src/compress/describe_error.ts";
import type { ExtraRegistry, ModuleInfo } from "../src/config/types.ts";
import type { CompressionReport } from "../src/report/types.ts";
import type { Validation } from "./_validate.ts";

/** The page asks the worker to compress a model. */
export interface CompressRequest {
  readonly type: "compress";
  readonly bytes: ArrayBuffer;
  readonly name: string;
  /** A TensorFlow.js model's weight shards by the names its manifest gives. */
  readonly shards?: readonly (readonly [string, ArrayBuffer])[];
  readonly mode: "pruning" | "quantization";
  readonly configList: unknown;
  readonly algorithm: string;
  readonly storage: NonNullable<CompressOptions["storage"]>;
  /**
   * TensorFlow.js models: `CompressOptions.channelScales`, `equalize` (graph models) and
   * `headroom` (0 to 1; absent: the default 0.02).
   */
  readonly tfjs?: {
    readonly channelScales: boolean;
    readonly equalize: boolean;
    readonly headroom?: number;
  };
  /** Extra default targets per module class (from the validation), if any. */
  readonly registry?: ExtraRegistry;
}

/** The modules later `validate` requests check the list against (sent when a model opens). */
export interface ModulesRequest {
  readonly type: "modules";
  readonly modules: readonly ModuleInfo[];
}

/** The page asks the worker to check the config text; the answer carries the same `id`. */
export interface ValidateRequest {
  readonly type: "validate";
  readonly id: number;
  readonly text: string;
  readonly mode: "pruning" | "quantization";
  readonly algorithm: string;
  /** The registry text (empty: none). */
  readonly registry?: string;
}

/** The page asks the worker to run both ONNX models in onnxruntime-web and compare them. */
export interface CompareRequest {
  readonly type: "compare";
  readonly original: ArrayBuffer;
  readonly compressed: ArrayBuffer;
  /** Timed runs per model after two warm-up runs. */
  readonly runs: number;
  /** An input tensor for the first input (an image the user chose), else random inputs. */
  readonly input?: { readonly data: Float32Array; readonly dims: readonly number[] };
}

/** One output compared. */
export interface ComparedOutput {
  readonly name: string;
  readonly dims: readonly number[];
  readonly cosine: number;
  readonly maxAbsDiff: number;
  readonly relativeError: number;
  /** Top-1 agreement along the class axis, when the output has one. */
  readonly top1?: { readonly same: number; readonly total: number };
  /** The selection op (NMS, TopK, ArgMax) the output comes after, if any. */
  readonly afterSelection?: string;
  /** Such an output's picks matched as sets: cosine over the pairs, picks left unpaired. */
  readonly matched?: { readonly cosine: number; readonly unmatched: number };
  /**
   * No output: a value the selection op named selects from, compared when every output of the
   * model is a pick.
   */
  readonly beforeSelection?: string;
}

/** What the page sends. */
export type WorkerRequest = CompressRequest | ModulesRequest | ValidateRequest | CompareRequest;

/** What the worker sends back. */
export type WorkerMessage =
  | {
    readonly type: "progress";
    readonly stage: string;
    readonly done: number;
    readonly total: number;
  }
  | {
    readonly type: "done";
    readonly bytes: ArrayBuffer;
    /** Every file by name when the output has several (TensorFlow.js: model.json, shards). */
    readonly files?: readonly (readonly [string, ArrayBuffer])[];
    readonly report: CompressionReport;
    readonly kernels: string;
  }
  | { readonly type: "error"; readonly error: ErrorDescription }
  | {
    readonly type: "compared";
    readonly outputs: readonly ComparedOutput[];
    /** Median milliseconds per run: original, compressed. */
    readonly latency: { readonly original: number; readonly compressed: number };
    readonly runs: number;
    readonly threads: number;
    /** The input dims fed. */
    readonly inputs: Readonly<Record<string, readonly number[]>>;
  }
  | { readonly type: "validation"; readonly id: number; readonly validation: Validation };
