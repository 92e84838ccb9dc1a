/**
 * `calibrateOnnx`: tracked ranges of activation targets, observed by running the model in
 * onnxruntime over calibration batches.
 *
 * @module
 */

import { getKernels } from "../kernels/default.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import type { QuantizationSetting, ResolvedTarget } from "../config/types.ts";
import { targetKey } from "./compute_target_quant_params.ts";
import { granularityKernel } from "./granularity_kernel.ts";
import type { QuantizeOptions } from "./quantize_tensor.ts";
import { mergeTrackedRange, type TrackedRange, trackedRange } from "./tracked_range.ts";
import { activationValue } from "./_activation_value.ts";
import { patchOnnx } from "./_patch_onnx.ts";

/** A float32 input or output tensor. */
export interface CalibrationTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** The part of the onnxruntime API (`onnxruntime-node` or `onnxruntime-web`) that is used. */
export interface OrtLike {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  readonly Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => unknown;
}

/** An onnxruntime inference session. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  run(
    feeds: Record<string, unknown>,
  ): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release?(): Promise<void>;
}

/** Options of `calibrateOnnx`. */
export interface CalibrateOnnxOptions extends QuantizeOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /** Session options passed to `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
}

/**
 * Runs the model on every batch with the tensors of the configured activation targets
 * (`_input_<i>`, `_output_<i>`) exposed as extra outputs, and keeps, per target, the per-block
 * minimum and maximum over all batches — NNI's PTQ observer. Memory holds one batch's outputs at
 * a time, whatever the number of batches. Parameter targets are ignored (see
 * `trackParameterRanges`).
 *
 * @param onnx The decoded model.
 * @param model Its module view (`onnxModel(onnx)`).
 * @param targets Resolved quantization targets.
 * @param batches Feeds by graph input name (an iterable or async iterable).
 * @param options The onnxruntime module, session options and kernels.
 * @returns Tracked ranges by `"<module>.<target>"`, ready for `quantizeWeights(…, { ranges })`.
 * @throws {RangeError} When a target has no tensor in the graph, a batch does not name the
 * model's inputs or onnxruntime rejects it (the message names the batch), or no batch was given.
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
  const acts = targets.filter((t) => t.kind !== "parameter").map((t) => ({
    target: t,
    value: activationValue(onnx, model, t.module, t.target, t.configIndex).value,
  }));
  const visible = new Set([...onnx.graph.outputs, ...onnx.graph.inputs]);
  const extra = [...new Set(acts.map((a) => a.value))].filter((v) => !visible.has(v));
  const bytes = patchOnnx(onnx, {
    dropNodeOutputs: new Set(),
    dropInitializers: new Set(),
    initializers: [],
    nodesFirst: [],
    nodesReplacing: new Map(),
    extraOutputs: extra,
    opsets: [],
  });
  const { ort } = options;
  const session = await ort.InferenceSession.create(
    bytes,
    options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1 },
  );
  const ranges = new Map<string, TrackedRange>();
  let index = 0;
  try {
    for await (const batch of batches) {
      const names = Object.keys(batch).sort();
      const want = [...session.inputNames].sort();
      if (names.join("\u0000") !== want.join("\u0000")) {
        throw new RangeError(
          `calibration batch ${index} must feed the model inputs ${
            JSON.stringify(want)
          }: current value is ${JSON.stringify(names)}`,
        );
      }
      const feeds: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(batch)) {
        feeds[name] = new ort.Tensor("float32", t.data, t.dims);
      }
      let out: Record<string, { data: unknown; dims: readonly number[] }>;
      try {
        out = await session.run(feeds);
      } catch (e) {
        const shapes = Object.entries(batch).map(([n, t]) => `${n} ${JSON.stringify(t.dims)}`);
        throw new RangeError(
          `calibration batch ${index} (${shapes.join(", ")}) does not fit the model: ${
            (e as Error).message
          }`,
        );
      }
      for (const { target: t, value } of acts) {
        const result = out[value] ?? (batch[value] === undefined ? undefined : {
          data: batch[value].data,
          dims: batch[value].dims,
        });
        if (result === undefined || !(result.data instanceof Float32Array)) {
          throw new RangeError(
            `target "${t.target}" of module "${t.module}" (config [${t.configIndex}]): tensor "${value}" was not produced as float32`,
          );
        }
        const dims = [...result.dims];
        let kernel: number[];
        try {
          kernel = granularityKernel((t.setting as QuantizationSetting).granularity, t.kind, dims);
        } catch (e) {
          throw new RangeError(
            `target "${t.target}" of module "${t.module}" (config [${t.configIndex}]): ${
              (e as Error).message
            }`,
          );
        }
        const key = targetKey(t.module, t.target);
        ranges.set(
          key,
          mergeTrackedRange(ranges.get(key), trackedRange(result.data, dims, kernel, { kernels })),
        );
      }
      index++;
    }
  } finally {
    await session.release?.();
  }
  if (index === 0) throw new RangeError("calibration needs at least one batch");
  return ranges;
}
