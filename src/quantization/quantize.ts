/**
 * `quantize`: NNI's PTQ quantization of a model, from a config list (and calibration batches for
 * activation targets) to parameters, a report and quantized model files.
 *
 * @module
 */

import { dropTargets, isConfigPlan } from "../config/plan.ts";
import type { ExtraRegistry, ResolvedTarget, Warning } from "../config/types.ts";
import { encodeOnnx } from "../io/onnx/encode_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { SafetensorsFile } from "../io/safetensors/read_safetensors.ts";
import { getKernels } from "../kernels/default.ts";
import type { Kernels } from "../kernels/types.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import type { ModelGraph, SavedModel } from "../model/model_graph.ts";
import { tfjsSaved } from "../io/tfjs/write_tfjs.ts";
import { quantizedTfjs } from "./quantized_tfjs.ts";
import { calibrateOnnx, type CalibrationTensor, type OrtLike } from "./calibrate_onnx.ts";
import type { ObserverName } from "./observer_range.ts";
import type { TargetQuantParams } from "./compute_target_quant_params.ts";
import { fakeQuantizedTensors } from "./fake_quantized_tensors.ts";
import { qdqOnnx } from "./qdq_onnx.ts";
import { quantizedSafetensors } from "./quantized_safetensors.ts";
import { quantizeWeights, type QuantizeWeightsOptions } from "./quantize_weights.ts";
import { rewriteSafetensors } from "./rewrite_safetensors.ts";
import { planQuantization } from "./plan_quantization.ts";
import { paramRef } from "./_param_ref.ts";
import type { FusedModel } from "./fuse_model.ts";
import { fusedOnnx } from "./fused_onnx.ts";
import { fusedMetadata, fusedSafetensors } from "./fused_safetensors.ts";
import { prepareFusion } from "./_prepare_fusion.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Calibration of input/output targets by running the model in onnxruntime. */
export interface QuantizeCalibration {
  /** The decoded ONNX model `model` was built from. */
  readonly onnx: OnnxModel;
  /** Feeds by graph input name. */
  readonly batches:
    | Iterable<Record<string, CalibrationTensor>>
    | AsyncIterable<Record<string, CalibrationTensor>>;
  /** `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /** Stateful models: output name to input name, fed back after each batch (`calibrateOnnx`). */
  readonly state?: Readonly<Record<string, string>>;
}

/** Options of `quantize`. */
export interface QuantizeModelOptions {
  /** Extra default targets by module class (like NNI's `ModuleSetting.register`). */
  readonly registry?: ExtraRegistry;
  /** Calibration data; required when the config list has `_input_`/`_output_` targets. */
  readonly calibration?: QuantizeCalibration;
  /**
   * How calibration observes activation ranges: `"minmax"` (default; NNI's PTQ, bit for bit),
   * `"percentile"`, `"mse"` or `"entropy"` (see `calibrateOnnx`). Parameters always use their
   * own minimum and maximum, like NNI.
   */
  readonly observer?: ObserverName;
  /** The percentile of the `"percentile"` observer, in (0, 100] (default 99.99). */
  readonly percentile?: number;
  /** Histogram bins per block of the histogram observers (default 2048). */
  readonly bins?: number;
  /**
   * The decoded ONNX model `model` was built from. `fuse_names` groups with a BatchNorm read each
   * BatchNormalization's `epsilon` from it; `calibration.onnx` serves too.
   */
  readonly onnx?: OnnxModel;
  /** The BatchNorm `eps` used when folding a safetensors model (default 1e-5, PyTorch's). */
  readonly batchNormEpsilon?: number;
  /** The kernels to use (default `getKernels()`). */
  readonly kernels?: Kernels;
  /** Tracks a parameter's range elsewhere (worker threads): `QuantizeWeightsOptions.rangeOf`. */
  readonly rangeOf?: QuantizeWeightsOptions["rangeOf"];
}

/** One fused `fuse_names` group in the report. */
export interface FusedGroupReport {
  /** Its config path, `[i].fuse_names[g]`. */
  readonly path: string;
  /** The module names. */
  readonly modules: readonly string[];
  /** `true` when a BatchNorm was folded into the first module's weight and bias. */
  readonly folded: boolean;
}

/** One quantized target in the report. */
export interface QuantizedTargetReport {
  /** The module name. */
  readonly module: string;
  /** The target name. */
  readonly target: string;
  /** Parameter, input or output. */
  readonly kind: "parameter" | "input" | "output";
  /** The configured `quant_dtype`. */
  readonly quantDtype: string;
  /** The configured `quant_scheme` (`null`: symmetric). */
  readonly quantScheme: string | null;
  /** The configured `granularity`. */
  readonly granularity: unknown;
  /** Number of scales (blocks). */
  readonly blocks: number;
  /** Elements (parameters only; 0 for activations). */
  readonly elements: number;
}

/** What `quantize` did. */
export interface QuantizationReport {
  /** Every quantized target. */
  readonly targets: readonly QuantizedTargetReport[];
  /** Bytes of the quantized parameters as stored before. */
  readonly parameterBytesBefore: number;
  /** Their bytes at the quantized bit widths plus a float32 scale and a zero point per block. */
  readonly parameterBytesAfter: number;
  /** Config warnings, one line each (`path: message`). */
  readonly warnings: readonly string[];
  /** The fused `fuse_names` groups (BatchNorms folded with their stored running statistics). */
  readonly fused: readonly FusedGroupReport[];
  /** Stored tensors of folded BatchNorms, dropped from every output file. */
  readonly droppedTensors: readonly string[];
}

/** How `save` stores quantized parameters. */
export type QuantizedStorage = "float" | "qdq" | "int";

/** The result of `quantize`. */
export interface QuantizeResult {
  /**
   * The model that was quantized: the input, unchanged, or with `fuse_names` its fused view
   * (`fuseModel`: folded weights and biases, folded BatchNorms as `Identity` modules).
   */
  readonly model: ModelGraph;
  /** The resolved targets of the config list. */
  readonly targets: readonly ResolvedTarget[];
  /** Scales, zero points and tracked ranges of every target. */
  readonly params: readonly TargetQuantParams[];
  /** What was done. */
  readonly report: QuantizationReport;
  /**
   * The quantized model file, written into the file the model was built from (`model.source`):
   * `float` — the source file with fake-quantized weights in their stored dtype (ONNX or
   * safetensors); `qdq` — an ONNX model with integer weights, `DequantizeLinear` and, for
   * calibrated activations, Q/DQ pairs (`qdqOnnx`); `int` — a safetensors file with integer
   * codes, scales and zero points (`quantizedSafetensors`). A TensorFlow.js model is written
   * as `model.json` and shards (`quantizedTfjs`): `int` stores each weight in the smallest tfjs
   * storage that holds its quantized values exactly (`uint8`/`uint16` codes per tensor),
   * `float` keeps each weight's stored type; the bytes are `model.json`'s, `files` holds every
   * file and `warnings` names the weights written fake-quantized.
   *
   * @param storage `float` (default), `qdq` (ONNX only) or `int`.
   * @returns The file bytes.
   */
  save(storage?: QuantizedStorage): Promise<SavedModel & { readonly warnings?: readonly string[] }>;
}

const isOnnx = (s: OnnxModel | SafetensorsFile): s is OnnxModel => "graph" in s;

/**
 * Quantizes a model with an NNI v3 quantization config list like NNI's `PtqQuantizer`:
 * resolves the config (legacy lists too), tracks parameter ranges from the weights and, with
 * `options.calibration`, activation ranges by running the model in onnxruntime, and computes
 * NNI's scales and zero points bit for bit. The model is not changed; `save()` writes files.
 *
 * `fuse_names` groups are fused first (`fusionGroups`, `fuseModel`): a BatchNorm after a Conv or
 * Linear is folded into its weight and bias with the BatchNorm's stored running statistics, and
 * the folded weight is what gets quantized. Outputs then have no BatchNorm for those groups
 * (ONNX: the node is removed, the Conv/Gemm writes its output; safetensors: its tensors are
 * dropped and `"nncompress.fused"` lists them in `__metadata__`). NNI folds with statistics its
 * train-mode calibration forwards have updated; see docs/quantization.md.
 *
 * @param model The model (`onnxModel()` or `safetensorsModel()`).
 * @param configList An NNI quantization config list, or its plan from `planQuantization` (the
 * list resolved once; the application layer resolves it for its report and hands it on).
 * @param options Registry, calibration (with its observer) and kernels.
 * @returns Targets, parameters, a report and `save()`.
 * @throws {ConfigError} When the config list is invalid for the model, or a `fuse_names` group
 * cannot be fused (at `[i].fuse_names[g]`, naming the modules).
 * @throws {QuantizationError} Naming the target and its sub-config: code `uncalibrated` when an
 * activation target has no calibration, `calibration` when a calibration batch does not fit the
 * model, `granularity` when a granularity does not fit a tensor, `non_finite` when a weight or
 * activation holds NaN or infinite values, `fusion` when BatchNorm folding of an ONNX model has
 * neither `options.onnx` nor `options.calibration`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readSafetensors } from "../io/safetensors/read_safetensors.ts";
 * import { writeSafetensors } from "../io/safetensors/write_safetensors.ts";
 * import { safetensorsModel } from "../model/safetensors_model.ts";
 * import { quantize } from "./quantize.ts";
 *
 * const file = readSafetensors(writeSafetensors([
 *   { name: "fc.weight", dtype: "F32", shape: [2, 2], data: Float32Array.of(1, -2, 0.3, 4) },
 * ]));
 * const result = await quantize(safetensorsModel(file), [
 *   { op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int4" },
 * ]);
 * assert.equal(result.report.parameterBytesAfter, 2 + 4 + 1);
 * const saved = readSafetensors(await result.save());
 * // -2 / f32(4 / 7) is just below -3.5 in float32, so it rounds to -3.
 * const s = Math.fround(4 / 7);
 * const values = new Float32Array(saved.tensors[0].data.slice().buffer);
 * assert.deepEqual([...values], [2, -3, 1, 7].map((q) => Math.fround(q * s)));
 * ```
 */
export async function quantize(
  input: ModelGraph,
  configList: unknown,
  options: QuantizeModelOptions = {},
): Promise<QuantizeResult> {
  const kernels = options.kernels ?? getKernels();
  const registry = options.registry === undefined ? {} : { registry: options.registry };
  // The list is resolved once, on the module view after fusion; every stage takes this plan.
  let plan = isConfigPlan(configList) ? configList : planQuantization(input, configList, registry);
  if (plan.mode !== "quantization") {
    throw new TypeError(`quantize() needs a quantization plan: this one is for ${plan.mode}`);
  }
  let ranges;
  const cal = options.calibration;
  const fused = await prepareFusion(input, plan, {
    ...registry,
    ...(options.onnx ?? cal?.onnx ? { onnx: options.onnx ?? cal?.onnx } : {}),
    ...(options.batchNormEpsilon === undefined ? {} : { epsilon: options.batchNormEpsilon }),
  });
  const model = fused?.model ?? input;
  const fuseSource = fusedSource(fused);
  if (cal !== undefined) {
    const targets = plan.targets;
    if (targets.some((t) => t.kind !== "parameter")) {
      // A target inside an If/Loop/Scan body that no batch reaches stays float, with a warning.
      const drops: { target: ResolvedTarget; warning: Warning }[] = [];
      ranges = await calibrateOnnx(fuseSource(cal.onnx) as OnnxModel, model, targets, cal.batches, {
        ort: cal.ort,
        kernels,
        ...(cal.state === undefined ? {} : { state: cal.state }),
        ...(options.observer === undefined ? {} : { observer: options.observer }),
        ...(options.percentile === undefined ? {} : { percentile: options.percentile }),
        ...(options.bins === undefined ? {} : { bins: options.bins }),
        onUnobserved: (t, reason) =>
          drops.push({
            target: t,
            warning: {
              code: "skipped_module",
              path: `[${t.configIndex}]`,
              message: `module "${t.module}" target "${t.target}" stays float: ${reason}`,
            },
          }),
      });
      if (drops.length > 0) plan = dropTargets(plan, drops);
    }
  }
  const { params, targets, warnings } = await quantizeWeights(model, plan, {
    ...registry,
    kernels,
    ...(ranges === undefined ? {} : { ranges }),
    ...(options.rangeOf === undefined ? {} : { rangeOf: options.rangeOf }),
  });
  let before = 0;
  let after = 0;
  const rows = params.map((p) => {
    let elements = 0;
    if (p.kind === "parameter") {
      const ref = paramRef(model, p.module, p.target);
      elements = ref.shape.reduce((a, b) => a * b, 1);
      before += elements * DTYPE_BYTES[ref.dtype];
      after += Math.ceil((elements * p.bits) / 8) + p.scale.length * (4 + Math.ceil(p.bits / 8));
    }
    return {
      module: p.module,
      target: p.target,
      kind: p.kind,
      quantDtype: p.quantDtype,
      quantScheme: p.quantScheme,
      granularity: p.granularity,
      blocks: p.scale.length,
      elements,
    };
  });
  const report: QuantizationReport = {
    targets: rows,
    parameterBytesBefore: before,
    parameterBytesAfter: after,
    warnings: warnings.map((w) => `${w.path}: ${w.message}`),
    fused: (fused?.groups ?? []).map((g) => ({
      path: g.path,
      modules: g.modules,
      folded: g.bn !== undefined,
    })),
    droppedTensors: fused?.droppedTensors ?? [],
  };
  return {
    model,
    targets,
    params,
    report,
    async save(storage = "float") {
      if (input.source?.format === "tfjs") {
        if (storage === "qdq" || fused !== undefined) {
          throw new QuantizationError(
            "storage",
            storage === "qdq"
              ? `storage "qdq" needs an ONNX source: the model is TensorFlow.js`
              : "fuse_names needs an ONNX or safetensors source: the model is TensorFlow.js",
          );
        }
        const out = await quantizedTfjs(input.source.tfjs, model, params, { kernels, storage });
        return Object.assign(tfjsSaved(out), { warnings: out.warnings });
      }
      if (storage === "int") {
        const metadata = fused === undefined ? {} : fusedMetadata(fused);
        return await quantizedSafetensors(model, params, { kernels, metadata });
      }
      const source = fuseSource(sourceFile(input));
      if (storage === "qdq") {
        if (!isOnnx(source)) {
          throw new QuantizationError(
            "storage",
            `storage "qdq" needs an ONNX source: the model is safetensors`,
          );
        }
        return await qdqOnnx(source, model, params, { kernels });
      }
      const tensors = await fakeQuantizedTensors(model, params, { kernels });
      return isOnnx(source)
        ? encodeOnnx(source, new Map([...tensors].map(([k, bytes]) => [k, { bytes }])))
        : rewriteSafetensors(source, tensors);
    },
  };
}

/** The decoded file a model view was built from, as the writers take it. */
function sourceFile(model: ModelGraph): OnnxModel | SafetensorsFile {
  const source = model.source;
  if (source === undefined) {
    throw new TypeError(
      "the model has no source file to write into: build it with onnxModel() or safetensorsModel()",
    );
  }
  if (source.format === "onnx") return source.onnx;
  if (source.format === "tfjs") {
    throw new QuantizationError(
      "storage",
      "a TensorFlow.js model is written as model.json and shards: save() does so",
    );
  }
  if (!("tensors" in source.file)) {
    throw new TypeError(
      "a lazily opened safetensors file is written by streaming: read it whole with readSafetensors() to save a quantized copy",
    );
  }
  return source.file;
}

/** The source file of the fused model: rewritten once per source object. */
function fusedSource(
  fused: FusedModel | undefined,
): (source: OnnxModel | SafetensorsFile) => OnnxModel | SafetensorsFile {
  const done = new WeakMap<object, OnnxModel | SafetensorsFile>();
  return (source) => {
    if (fused === undefined) return source;
    let out = done.get(source);
    if (out === undefined) {
      out = isOnnx(source) ? fusedOnnx(source, fused) : fusedSafetensors(source, fused);
      done.set(source, out);
    }
    return out;
  };
}
