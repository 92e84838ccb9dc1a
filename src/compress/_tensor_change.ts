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
  /** Elements of the tensor. */
  readonly elements: number;
  /** Zeros before compression. */
  readonly zerosBefore: number;
  /** Zeros after compression. */
  readonly zerosAfter: number;
  /** The quantized bit-width, or `null`. */
  readonly bits: number | null;
  /** Quantization blocks (scales), for the packed size. */
  readonly blocks?: number;
  /** Whether each block also stores a zero point (affine). */
  readonly zeroPoints?: boolean;
}

/** Reports progress of a stage: `done` of `total` items. */
export type Progress = (stage: string, done: number, total: number) => void;

/** The zeros (+0 and -0) among the values (what a change counts). */
export function zeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

/**
 * A change from a tensor's values before and after, counted at once so that neither array is
 * kept: a run holds one tensor's values at a time, not the whole model's twice.
 */
export function changeOf(
  c: Omit<TensorChange, "elements" | "zerosBefore" | "zerosAfter"> & {
    /** The values before, or their zeros already counted (when `after` was masked in place). */
    readonly before: Float32Array | number;
    readonly after: Float32Array;
  },
): TensorChange {
  const { before, after, ...rest } = c;
  return {
    ...rest,
    elements: after.length,
    zerosBefore: typeof before === "number" ? before : zeros(before),
    zerosAfter: zeros(after),
  };
}

/** The change of a pruned parameter: its target, module type and values before and after. */
export function prunedChange(
  t: {
    readonly module: string;
    readonly target: string;
    readonly setting: { granularity?: unknown };
  },
  type: string,
  ref: TensorRef,
  before: Float32Array | number,
  after: Float32Array,
): TensorChange {
  return changeOf({
    module: t.module,
    target: t.target,
    type,
    granularity: t.setting.granularity,
    ref,
    before,
    after,
    bits: null,
  });
}

/** The change of a quantized parameter: its values before and fake-quantized after. */
export function quantizedChange(
  p: {
    readonly module: string;
    readonly target: string;
    readonly granularity: unknown;
    readonly bits: number;
    readonly scale: Float32Array;
    readonly quantScheme: string | null;
  },
  type: string,
  ref: TensorRef,
  before: Float32Array | number,
  after: Float32Array,
): TensorChange {
  return {
    ...prunedChange({ ...p, setting: p }, type, ref, before, after),
    bits: p.bits,
    blocks: p.scale.length,
    zeroPoints: p.quantScheme === "affine",
  };
}
