// One quantization target during training: its observer state, parameters and fake quantizer.

import * as tf from "@tensorflow/tfjs-core";
import type { ResolvedTarget } from "../config/types.ts";
import { computeQuantParams, type QuantScheme } from "../quantization/compute_quant_params.ts";
import { emaUpdate } from "../quantization/ema_update.ts";
import { quantDtypeRange, type QuantRange } from "../quantization/quant_dtype_range.ts";
import { fakeQuantizeTf } from "./fake_quantize_tf.ts";
import type { TfParam } from "./types.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";

/** How a target is observed: an EMA in training mode (QAT) or the running min/max (PTQ). */
export type ObserverKind = "ema" | "minmax";

export class QuantTarget {
  readonly range: QuantRange;
  readonly scheme: QuantScheme | null;
  /** The tf axes kept by the observer (one range per position along them); [] = per tensor. */
  keep: number[] | undefined;
  trackedMin: Float32Array | undefined;
  trackedMax: Float32Array | undefined;
  scale: Float32Array | undefined;
  zeroPoint: Float32Array | undefined;
  private tensors: [tf.Tensor, tf.Tensor] | undefined;

  constructor(
    readonly resolved: ResolvedTarget,
    readonly param: TfParam | undefined,
    readonly index: number,
    readonly observer: ObserverKind,
  ) {
    const s = resolved.setting as {
      quant_dtype?: string | null;
      quant_scheme?: QuantScheme | null;
    };
    this.range = quantDtypeRange(s.quant_dtype ?? null);
    this.scheme = s.quant_scheme ?? null;
    const g = (resolved.setting as { granularity?: unknown }).granularity ?? null;
    if (param !== undefined) {
      if (g === null) this.keep = [];
      else if (g === "out_channel") this.keep = [...param.dim0Axes];
      else if (g === "in_channel" && param.dim0Axes.length === 1 && param.perm.length > 1) {
        this.keep = [param.perm[1]];
      }
    } else if (g === null) this.keep = [];
    else if (g === "per_channel") this.keep = undefined; // the last (channels) axis, set on use
    if (this.keep === undefined && !(param === undefined && g === "per_channel")) {
      throw new QuantizationError(
        "granularity",
        `${
          JSON.stringify(g)
        } is not supported while training; use the default (per tensor), out_channel, in_channel (parameters) or per_channel (activations)`,
        { module: resolved.module, target: resolved.target, configIndex: resolved.configIndex },
      );
    }
  }

  /** Records the range of `x` (one min/max per kept position). */
  observe(x: tf.Tensor): void {
    const keep = this.keep ?? [x.rank - 1];
    this.keep = keep;
    const axes = [...Array(x.rank).keys()].filter((a) => !keep.includes(a));
    const [mn, mx] = tf.tidy(() => [tf.min(x, axes).dataSync(), tf.max(x, axes).dataSync()]);
    const lo = Float32Array.from(mn);
    const hi = Float32Array.from(mx);
    if (this.observer === "ema") {
      this.trackedMin = emaUpdate(this.trackedMin, lo);
      this.trackedMax = emaUpdate(this.trackedMax, hi);
    } else {
      this.trackedMin = this.trackedMin?.map((v, i) => Math.min(v, lo[i])) ?? lo;
      this.trackedMax = this.trackedMax?.map((v, i) => Math.max(v, hi[i])) ?? hi;
    }
  }

  /** Recomputes scale and zero point from the tracked range (NNI's formulas). */
  update(shapeOf: tf.Tensor): void {
    if (this.trackedMin === undefined || this.trackedMax === undefined) return;
    const { scale, zeroPoint } = computeQuantParams({
      trackedMin: this.trackedMin,
      trackedMax: this.trackedMax,
      qmin: this.range.qmin,
      qmax: this.range.qmax,
      scheme: this.scheme,
    });
    this.scale = scale;
    this.zeroPoint = zeroPoint;
    const keep = this.keep ?? [];
    const shape = shapeOf.shape.map((d, a) => (keep.includes(a) ? d : 1));
    tf.dispose(this.tensors);
    this.tensors = [tf.keep(tf.tensor(scale, shape)), tf.keep(tf.tensor(zeroPoint, shape))];
  }

  /** The fake-quantized `x`, or `x` when no parameters exist yet. */
  apply(x: tf.Tensor): tf.Tensor {
    if (this.tensors === undefined) return x;
    return fakeQuantizeTf(x, this.tensors[0], this.tensors[1], this.range);
  }

  dispose(): void {
    tf.dispose(this.tensors);
    this.tensors = undefined;
  }
}
