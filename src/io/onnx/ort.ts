/**
 * The part of the onnxruntime API nncompress uses (calibration, Wanda's input norms, evaluation),
 * as structural types: `onnxruntime-node` and `onnxruntime-web` both satisfy them, and neither is
 * a dependency of the library.
 *
 * @module
 */

/** An onnxruntime inference session. */
export interface OrtSession {
  /** The graph's input names. */
  readonly inputNames: readonly string[];
  /** The graph's output names. */
  readonly outputNames: readonly string[];
  /** Input types and shapes (onnxruntime >= 1.21); checked against each batch when present. */
  readonly inputMetadata?: readonly {
    readonly name: string;
    readonly isTensor: boolean;
    readonly type?: string;
    readonly shape?: readonly (number | string)[];
  }[];
  /** Runs the graph on named inputs; resolves with every output. */
  run(
    feeds: Record<string, unknown>,
  ): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
  /** Frees the session's native memory. */
  release?(): Promise<void>;
}

/**
 * The onnxruntime module: `await import("onnxruntime-node")` or `await import("onnxruntime-web")`.
 *
 * @example
 * ```ts
 * import type { OrtLike } from "./ort.ts";
 *
 * const ort: OrtLike = await import("onnxruntime-node");
 * if (typeof ort.InferenceSession.create !== "function") throw new Error("unexpected");
 * ```
 */
export interface OrtLike {
  /** Creates sessions from model bytes. */
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  /** The tensor class. */
  readonly Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => unknown;
}
