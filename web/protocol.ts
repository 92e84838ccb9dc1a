/**
 * Messages between the page and the compression worker.
 *
 * @module
 */

import type { ErrorDescription } from "../src/compress/describe_error.ts";
import type { CompressionReport } from "../src/report/types.ts";

/** The page asks the worker to compress a model. */
export interface CompressRequest {
  readonly bytes: ArrayBuffer;
  readonly name: string;
  readonly mode: "pruning" | "quantization";
  readonly configList: unknown;
  readonly algorithm: string;
  readonly storage: "auto" | "float" | "int" | "nbits";
}

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
    readonly report: CompressionReport;
    readonly kernels: string;
  }
  | { readonly type: "error"; readonly error: ErrorDescription };
