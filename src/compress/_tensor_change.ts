// One parameter changed by compression, with what the report needs.
import type { TensorRef } from "../model/model_graph.ts";

/** A compressed parameter: its values before and after (PyTorch layout). */
export interface TensorChange {
  readonly module: string;
  readonly target: string;
  /** The module type (`Linear`). */
  readonly type: string;
  /** The configured granularity, if any. */
  readonly granularity: unknown;
  readonly ref: TensorRef;
  readonly before: Float32Array;
  readonly after: Float32Array;
  /** The quantized bit-width, or `null`. */
  readonly bits: number | null;
  /** Quantization blocks (scales), for the packed size. */
  readonly blocks?: number;
  /** Whether each block also stores a zero point (affine). */
  readonly zeroPoints?: boolean;
}

/** Reports progress of a stage: `done` of `total` items. */
export type Progress = (stage: string, done: number, total: number) => void;
