/**
 * `createQuantizer`: NNI's QAT (and PTQ) quantizer as a training part for TensorFlow.js models.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, ResolvedTarget } from "../config/types.ts";
import { type ObserverKind, QuantTarget } from "./_quant_target.ts";
import { predict } from "./train_step.ts";
import type { ForwardContext, TrainingPart } from "./training_part.ts";
import type { TfModelView, TfParam } from "./types.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";

/** Options of `createQuantizer`. */
export interface QuantizerOptions {
  /** `qat` (default): EMA observers in training steps; `ptq`: min/max observed by `calibrate`. */
  readonly mode?: "qat" | "ptq";
  /**
   * QAT: optimizer steps before fake quantization starts (default: the legacy config's
   * `quant_start_step`, else 0). Observers run from step 0.
   */
  readonly quantStartStep?: number;
  /** Extra default-target registries (like NNI's `ModuleSetting.register`). */
  readonly registry?: ExtraRegistry;
}

/** Calibration values of one target, like NNI's `get_calibration_config()`. */
export interface CalibrationEntry {
  /** Scales, one per channel (PyTorch order) or one. */
  readonly scale: Float32Array;
  /** Zero points, same length. */
  readonly zero_point: Float32Array;
  /** Tracked minimum per channel. */
  readonly tracked_min: Float32Array;
  /** Tracked maximum per channel. */
  readonly tracked_max: Float32Array;
  /** The dtype (`int8` when unset). */
  readonly quant_dtype: string;
  /** The scheme as configured (`null` = symmetric). */
  readonly quant_scheme: string | null;
  /** The bit width. */
  readonly quant_bits: number;
}

/** A quantizer plugged into training (see `TrainingPart`). */
export interface Quantizer extends TrainingPart {
  /** The configured targets. */
  readonly targets: readonly ResolvedTarget[];
  /** Optimizer steps done. */
  readonly step: number;
  /** The step at which fake quantization starts (QAT). */
  readonly quantStartStep: number;
  /** PTQ: observes every batch in inference mode (with `parts` before this one), then quantizes. */
  calibrate(batches: Iterable<tf.Tensor>, parts?: readonly TrainingPart[]): void;
  /** The scales, zero points and tracked ranges by module, then target. */
  calibrationConfig(): Record<string, Record<string, CalibrationEntry>>;
  /** Releases the tensors held by the quantizer. */
  dispose(): void;
}

const IO = /^_(input|output)_(\d+)$/;

/**
 * Quantizes a TensorFlow.js model while it trains, like NNI's `QATQuantizer`: in every training
 * forward pass each configured target (parameters, `_input_<n>`, `_output_<n>`) is observed with
 * a float32 EMA of its min/max (`ema * 0.99 + 0.01 * current`, the first observation sets it;
 * inference passes are not observed); from `quantStartStep` optimizer steps on, scale and zero
 * point are recomputed after each observation and the target is fake-quantized with a
 * straight-through gradient (`fakeQuantizeTf`). With `mode: "ptq"`, `calibrate()` observes
 * global min/max over the calibration batches and then quantizes (NNI's `PtqQuantizer`).
 *
 * @param view the model view from `describeTfModel`
 * @param configList a quantization config list (legacy lists convert; `quant_start_step` moves
 *   into the options)
 * @param options mode, `quantStartStep`, extra registries
 * @returns the quantizer, a training part for `trainStep` / `predict`
 * @throws {ConfigError} for an invalid config list
 * @throws {QuantizationError} code `granularity` for a granularity not supported in training
 * (blocks), `activation` for a named I/O target
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { createQuantizer, describeTfModel, predict } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: "fc" })] });
 * const view = describeTfModel(model);
 * const q = createQuantizer(view, [{ op_names: ["fc"], target_names: ["weight"], quant_dtype: "int4" }], { mode: "ptq" });
 * q.calibrate([tf.ones([1, 3])]);
 * const { scale } = q.calibrationConfig().fc.weight;
 * const w = view.value(view.params[0]).dataSync();
 * assert.equal(scale[0], Math.fround(Math.max(...w.map(Math.abs)) / 7));
 * assert.deepEqual((predict(view, tf.ones([1, 3]), [q]) as tf.Tensor).shape, [1, 2]);
 * ```
 */
export function createQuantizer(
  view: TfModelView,
  configList: unknown,
  options: QuantizerOptions = {},
): Quantizer {
  const mode = options.mode ?? "qat";
  const resolved = resolveTargetSettings(view.modules, configList, "quantization", {
    algorithm: mode === "qat" ? "QATQuantizer" : "PtqQuantizer",
    registry: options.registry,
  });
  const start = Math.max(0, options.quantStartStep ?? resolved.options.quantStartStep ?? 0);
  const observer: ObserverKind = mode === "qat" ? "ema" : "minmax";
  const byParam = new Map<TfParam, QuantTarget>();
  const byIo = new Map<string, QuantTarget>();
  const all: QuantTarget[] = [];
  for (const t of resolved.targets) {
    if (t.kind === "parameter") {
      const p = view.params.find((q) => q.module === t.module && q.name === t.target);
      if (p === undefined) continue;
      const qt = new QuantTarget(t, p, 0, observer);
      byParam.set(p, qt);
      all.push(qt);
      continue;
    }
    const m = IO.exec(t.target);
    if (m === null) {
      throw new QuantizationError(
        "activation",
        `layer ${JSON.stringify(t.module)} (${
          view.layers.get(t.module)?.getClassName()
        }) takes and returns tensors by position — TensorFlow.js layers have no named inputs or outputs; use _${t.kind}_<index>`,
        { module: t.module, target: t.target, configIndex: t.configIndex },
      );
    }
    if (!view.layers.has(t.module)) {
      throw new QuantizationError(
        "activation",
        `module ${
          JSON.stringify(t.module)
        } has no layer of its own (a cell of a recurrent layer): its inputs and outputs are the layer's; name the layer that runs it`,
        { module: t.module, target: t.target, configIndex: t.configIndex },
      );
    }
    const qt = new QuantTarget(t, undefined, Number(m[2]), observer);
    byIo.set(`${m[1]}:${t.module}:${m[2]}`, qt);
    all.push(qt);
  }
  let step = 0;
  let calibrating = false;
  let ptqReady = false;
  const active = () => (mode === "qat" ? step >= start : ptqReady);

  const handle = (qt: QuantTarget | undefined, x: tf.Tensor, ctx: ForwardContext) => {
    if (qt === undefined) return x;
    if (mode === "qat" ? ctx.training : calibrating) {
      qt.observe(x);
      if (mode === "qat" && active()) qt.update(x);
    }
    return active() ? qt.apply(x) : x;
  };

  const quantizer: Quantizer = {
    name: mode === "qat" ? "QATQuantizer" : "PtqQuantizer",
    targets: resolved.targets,
    get step() {
      return step;
    },
    quantStartStep: start,
    param: (p, value, ctx) => handle(byParam.get(p), value, ctx),
    input: (module, i, value, ctx) => handle(byIo.get(`input:${module}:${i}`), value, ctx),
    output: (module, i, value, ctx) => handle(byIo.get(`output:${module}:${i}`), value, ctx),
    afterStep() {
      step++;
    },
    calibrate(batches, parts = []) {
      calibrating = true;
      const shapes = new Map<QuantTarget, tf.Tensor>();
      try {
        for (const x of batches) {
          const out = predict(view, x, [...parts, quantizer]);
          (Array.isArray(out) ? out : [out]).forEach((t) => t.dispose());
        }
      } finally {
        calibrating = false;
      }
      for (const [p, qt] of byParam) shapes.set(qt, view.value(p));
      for (const qt of all) {
        const like = shapes.get(qt);
        if (qt.trackedMin !== undefined) qt.update(like ?? shapeLike(qt));
      }
      ptqReady = true;
    },
    calibrationConfig() {
      const out: Record<string, Record<string, CalibrationEntry>> = {};
      for (const qt of all) {
        if (qt.scale === undefined) continue;
        (out[qt.resolved.module] ??= {})[qt.resolved.target] = {
          scale: qt.scale,
          zero_point: qt.zeroPoint!,
          tracked_min: qt.trackedMin!,
          tracked_max: qt.trackedMax!,
          quant_dtype: qt.range.dtype,
          quant_scheme: qt.scheme,
          quant_bits: qt.range.bits,
        };
      }
      return out;
    },
    dispose() {
      for (const qt of all) qt.dispose();
    },
  };
  return quantizer;
}

/** A stand-in tensor shape for an activation target: only the kept (last) axis matters. */
function shapeLike(qt: QuantTarget): tf.Tensor {
  const n = qt.trackedMin!.length;
  return { shape: qt.keep && qt.keep.length > 0 ? padTo(qt.keep, n) : [] } as unknown as tf.Tensor;
}

function padTo(keep: number[], n: number): number[] {
  const rank = keep.reduce((m, a) => Math.max(m, a), -1) + 1;
  return Array.from({ length: rank }, (_, a) => (keep.includes(a) ? n : 1));
}
