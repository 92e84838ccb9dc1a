/**
 * `calibrateOnnx`: tracked ranges of activation targets, observed by running the model in
 * onnxruntime over calibration batches.
 *
 * @module
 */

import { fromOrtTensor, type InputTensor, type OrtLike, toOrtTensor } from "../io/onnx/ort.ts";
import { getKernels } from "../kernels/default.ts";
import { editOnnx } from "../io/onnx/edit_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { QuantizationSetting, ResolvedTarget } from "../config/types.ts";
import { targetKey } from "./compute_target_quant_params.ts";
import { granularityKernel } from "./granularity_kernel.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { mergeTrackedRange, type TrackedRange, trackedRange } from "./tracked_range.ts";
import { checkObserver, type ObserverName, observerRange } from "./observer_range.ts";
import { observeHistogram, type StreamingHistogram } from "./streaming_histogram.ts";
import { quantDtypeRange } from "./quant_dtype_range.ts";
import type { QuantScheme } from "./compute_quant_params.ts";
import { activationValue } from "./_activation_value.ts";
import { exposeValues } from "./_expose_values.ts";
import { describeGraph } from "./_stored_tensor.ts";
import { checkBatch } from "./_check_batch.ts";
import { QuantizationError } from "./quantization_error.ts";
import { locateError } from "./_locate_error.ts";
import { ortFloat32 } from "../io/onnx/ort_float32.ts";

const show = (v: unknown) => JSON.stringify(v);

/**
 * An input of a calibration batch, of any element type the model takes (`InputTensor`: float32,
 * float16 as `Uint16Array` bits with `type: "float16"`, int64 as `BigInt64Array`, bool, …),
 * scalars (`dims: []`) included.
 */
export type CalibrationTensor = InputTensor;

export type { OrtLike, OrtSession } from "../io/onnx/ort.ts";

/** Options of `calibrateOnnx`. */
export interface CalibrateOnnxOptions extends QuantizeOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /** Session options passed to `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
  /**
   * How activation ranges are observed: `"minmax"` (default; NNI's PTQ, bit for bit),
   * `"percentile"`, `"mse"` or `"entropy"` (clipping ranges from streaming histograms, see
   * `observerRange`).
   */
  readonly observer?: ObserverName;
  /** The percentile of the `"percentile"` observer, in (0, 100] (default 99.99). */
  readonly percentile?: number;
  /** Histogram bins per block of the histogram observers (default 2048, a multiple of 4). */
  readonly bins?: number;
  /**
   * Called for an input/output target of a module inside an `If`/`Loop`/`Scan` body that
   * calibration cannot observe (no batch took its branch, or its body's operator cannot return
   * it), with the reason; the target then has no range. Without it, such a target is an error
   * (code `calibration`).
   */
  readonly onUnobserved?: (target: ResolvedTarget, reason: string) => void;
  /**
   * Called after each batch with its index and the bytes of observer state held (per-block
   * minima and maxima, and the histograms): a size that depends on the targets, not on the
   * number of batches.
   */
  readonly onBatch?: (progress: { readonly batch: number; readonly stateBytes: number }) => void;
  /**
   * Stateful models run step by step: output name to input name (`{ stateN: "state" }`). Each
   * batch after the first gets, as that input, the output of the run before (replacing any value
   * the batch holds), so the batches are consecutive steps; the first batch gives the initial
   * state. All batches must then have the same batch size.
   */
  readonly state?: Readonly<Record<string, string>>;
}

/**
 * Runs the model on every batch with the tensors of the configured activation targets
 * (`_input_<i>`, `_output_<i>`) exposed as extra outputs, and keeps, per target, the per-block
 * minimum and maximum over all batches — NNI's PTQ observer — or, with `options.observer`, the
 * clipping range of a percentile, MSE or entropy observer computed from per-block streaming
 * histograms (`observeHistogram`). Targets of modules inside `If`/`Loop`/`Scan` bodies are
 * brought out as extra body and node outputs up to the main graph (`Loop`/`Scan` iterations
 * count as more batch rows; a batch that does not take an `If` branch observes nothing there);
 * see `options.onUnobserved` for those no batch reaches. Memory holds one batch's outputs at a time plus a state whose
 * size depends on the targets only, whatever the number of batches. Parameter targets are
 * ignored (see `trackParameterRanges`).
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param targets Resolved quantization targets.
 * @param batches Feeds by graph input name (an iterable or async iterable).
 * @param options The onnxruntime module, session options and kernels.
 * @returns Tracked ranges by `"<module>.<target>"`, ready for `quantizeWeights(…, { ranges })`.
 * @throws {QuantizationError} Code `activation` when a target has no tensor in the graph;
 * `calibration` when a target was not computed by a run (naming the module, the target and the
 * config index), a batch does not fit the model's inputs (names, element types, dims; naming the
 * batch, the input, the expected and the current value), a state pair names no output or input or onnxruntime rejects it, or no batch
 * was given; `non_finite` when a histogram observer sees NaN or infinity; `granularity` when a
 * granularity does not fit an activation; `argument` for a bad observer or percentile.
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const ranges = await calibrateOnnx(onnx, model, targets, [{ x: { data, dims: [8, 3, 48, 320] } }], { ort });
 * ```
 */
export async function calibrateOnnx(
  onnx: OnnxModel,
  model: ModelGraph,
  targets: readonly ResolvedTarget[],
  batches:
    | Iterable<Record<string, CalibrationTensor>>
    | AsyncIterable<Record<string, CalibrationTensor>>,
  options: CalibrateOnnxOptions,
): Promise<Map<string, TrackedRange>> {
  const kernels = options.kernels ?? getKernels();
  const located = targets.filter((t) => t.kind !== "parameter").map((t) => ({
    target: t,
    ...activationValue(onnx, model, t.module, t.target, t.configIndex),
  }));
  // Values inside If/Loop/Scan bodies are brought out as extra outputs, level by level.
  const inside = located.filter((a) => a.graph !== "graph");
  const exposure = exposeValues(onnx, inside);
  const unobserved = (t: ResolvedTarget, reason: string) => {
    if (options.onUnobserved !== undefined) options.onUnobserved(t, reason);
    else {
      const at = { module: t.module, target: t.target, configIndex: t.configIndex };
      throw new QuantizationError("calibration", `the target cannot be calibrated: ${reason}`, at);
    }
  };
  const acts: { target: ResolvedTarget; value: string; stacked: number; inside: boolean }[] = [];
  for (const a of located) {
    const k = inside.indexOf(a);
    const e = k < 0 ? { output: a.value, stacked: 0 } : exposure.exposed[k];
    if ("reason" in e) unobserved(a.target, e.reason);
    else acts.push({ target: a.target, value: e.output, stacked: e.stacked, inside: k >= 0 });
  }
  const visible = new Set([...onnx.graph.outputs, ...onnx.graph.inputs]);
  const extra = [...new Set(acts.map((a) => a.value))].filter((v) => !visible.has(v));
  const { bytes } = editOnnx(onnx, [
    ...exposure.edits,
    ...extra.map((name) => ({ op: "addGraphOutput" as const, name })),
  ]);
  const { ort } = options;
  let session: Awaited<ReturnType<OrtLike["InferenceSession"]["create"]>>;
  try {
    session = await ort.InferenceSession.create(
      bytes,
      options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1 },
    );
  } catch (e) {
    // onnxruntime's CPU provider has no bfloat16 kernels for most operators (MatMul, Gemm, Add).
    const bf16 = onnx.tensors.some((t) => t.dtype === "BF16");
    throw new QuantizationError(
      "calibration",
      `onnxruntime cannot load the model to calibrate it: ${(e as Error).message}${
        bf16
          ? " (the model stores bfloat16 tensors, which onnxruntime's CPU operators mostly do not run: calibrate a float32 or float16 copy and apply the ranges)"
          : ""
      }`,
    );
  }
  const observer = checkObserver(options.observer ?? "minmax");
  const p = options.percentile;
  if (p !== undefined && !(typeof p === "number" && p > 0 && p <= 100)) {
    throw new QuantizationError(
      "argument",
      `"percentile" must be within (0, 100]: current value is ${p}`,
    );
  }
  const minmax = new Map<string, TrackedRange>();
  const observed = new Set<string>();
  const histograms = new Map<string, StreamingHistogram>();
  const state = Object.entries(options.state ?? {});
  let carried: Record<string, CalibrationTensor> = {};
  let index = 0;
  try {
    for (const [o, i] of state) {
      if (!session.outputNames.includes(o) || !session.inputNames.includes(i)) {
        throw new QuantizationError(
          "calibration",
          `state pair "${o}" -> "${i}" must name an output and an input of the model: ` +
            `the outputs are ${show(session.outputNames)}, the inputs ${show(session.inputNames)}`,
        );
      }
    }
    for await (const given of batches) {
      const batch = { ...given, ...carried };
      checkBatch(batch, index, session);
      const feeds: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(batch)) feeds[name] = toOrtTensor(ort, t);
      let out: Record<string, { data: unknown; dims: readonly number[] }>;
      try {
        out = await session.run(feeds);
      } catch (e) {
        const shapes = Object.entries(batch).map(([n, t]) => `${n} ${JSON.stringify(t.dims)}`);
        throw new QuantizationError(
          "calibration",
          `calibration batch ${index} (${shapes.join(", ")}) does not fit the model: ${
            (e as Error).message
          }`,
        );
      }
      carried = {};
      for (const [o, i] of state) {
        const t = fromOrtTensor(out[o] as { data: unknown; dims: readonly number[] });
        if (t === undefined) {
          throw new QuantizationError(
            "calibration",
            `state output "${o}" of calibration batch ${index} is not a numeric tensor`,
          );
        }
        carried[i] = t;
      }
      for (const { target: t, value, stacked, inside } of acts) {
        const at = { module: t.module, target: t.target, configIndex: t.configIndex };
        const result = out[value] ?? batch[value];
        // A value inside an If branch that this batch did not take comes out empty.
        if (inside && result !== undefined && (result.data as { length: number }).length === 0) {
          continue;
        }
        if (result === undefined) {
          throw new QuantizationError(
            "calibration",
            `the target was never reached in calibration batch ${index}: onnxruntime did not compute its tensor "${value}"`,
            at,
          );
        }
        const data = ortFloat32(result);
        if (data === undefined) {
          throw new QuantizationError(
            "calibration",
            `tensor "${value}" must be float32 or float16 to calibrate: current type is ${
              (result as { type?: string }).type ?? result.data?.constructor?.name
            }`,
            at,
          );
        }
        // Loop/Scan iterations stack along leading dims: they count as more batch rows.
        const dims = [...result.dims];
        if (stacked > 0) {
          dims.splice(
            0,
            stacked + 1,
            dims.slice(0, stacked + 1).reduce((a, b) => a * b, 1),
          );
        }
        const key = targetKey(t.module, t.target);
        observed.add(key);
        try {
          const kernel = granularityKernel(
            (t.setting as QuantizationSetting).granularity,
            t.kind,
            dims,
          );
          if (observer === "minmax") {
            const r = trackedRange(data, dims, kernel, { kernels });
            minmax.set(key, mergeTrackedRange(minmax.get(key), r));
          } else {
            const h = observeHistogram(histograms.get(key), data, dims, kernel, {
              kernels,
              ...(options.bins === undefined ? {} : { bins: options.bins }),
            });
            histograms.set(key, h);
          }
        } catch (e) {
          throw locateError(e, at, "shape");
        }
      }
      if (options.onBatch !== undefined) {
        let stateBytes = 0;
        for (const r of minmax.values()) stateBytes += r.min.byteLength + r.max.byteLength;
        for (const h of histograms.values()) {
          stateBytes += h.min.byteLength + h.max.byteLength + h.range.byteLength +
            h.counts.byteLength + h.zeros.byteLength;
        }
        options.onBatch({ batch: index, stateBytes });
      }
      index++;
    }
  } finally {
    await session.release?.();
  }
  if (index === 0) {
    throw new QuantizationError("calibration", "calibration needs at least one batch");
  }
  for (const a of acts) {
    if (a.inside && !observed.has(targetKey(a.target.module, a.target.target))) {
      const graph = model.modules.find((m) => m.name === a.target.module)?.subgraph ?? "graph";
      unobserved(
        a.target,
        `no calibration batch computed it: ${
          describeGraph(onnx, graph)
        } never ran or its branch was not taken`,
      );
    }
  }
  if (observer === "minmax") return minmax;
  const ranges = new Map<string, TrackedRange>();
  for (const { target: t } of acts) {
    const key = targetKey(t.module, t.target);
    const h = histograms.get(key);
    if (h === undefined || ranges.has(key)) continue;
    const setting = t.setting as QuantizationSetting;
    const { qmin, qmax } = quantDtypeRange(setting.quant_dtype);
    const scheme = (setting.quant_scheme ?? null) as QuantScheme | null;
    ranges.set(
      key,
      observerRange(h, observer, { qmin, qmax, scheme }, {
        ...(options.percentile === undefined ? {} : { percentile: options.percentile }),
      }),
    );
  }
  return ranges;
}
