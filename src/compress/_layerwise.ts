// GPTQ and SparseGPT driven by a config list: the plan's weight targets choose the layers and
// their settings, the calibration batches run through onnxruntime layer by layer.
import type { ConfigPlan } from "../config/plan.ts";
import type { LoadedModel } from "./load_model.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";
import type { OrtLike } from "../io/onnx/ort.ts";
import type { CalibrationTensor } from "../quantization/calibrate_onnx.ts";
import { gptqOnnx } from "../quantization/gptq_model.ts";
import type { WeightGrid } from "../quantization/weight_only_onnx.ts";
import { layerwiseModules } from "../quantization/layerwise_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { sparseGptOnnx } from "../pruning/sparse_gpt_model.ts";
import { QuantizationError } from "../quantization/quantization_error.ts";
import { PruningError } from "../pruning/pruning_error.ts";

/** Calibration for the layer-by-layer methods. */
export interface LayerwiseCalibration {
  readonly batches:
    | Iterable<Record<string, CalibrationTensor>>
    | AsyncIterable<Record<string, CalibrationTensor>>;
  readonly ort: OrtLike;
}

async function collect<T>(it: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it as AsyncIterable<T>) out.push(x);
  return out;
}

/**
 * The weight targets of a plan that the layer-by-layer driver can process; the others (depthwise
 * or grouped convolutions, weights it cannot see as a 2-D layer) are left as they are, each with
 * a warning.
 */
function weightTargets(plan: ConfigPlan, onnx: OnnxModel, method: string, warnings: string[]) {
  const eligible = new Set(layerwiseModules(onnx));
  const weights = plan.targets.filter((t) => t.kind === "parameter" && t.target === "weight");
  for (const t of weights) {
    if (!eligible.has(t.module)) {
      warnings.push(
        `[${t.configIndex}]: ${method} leaves "${t.module}" as it is: only MatMul and Gemm weights and 2-D convolutions of group 1 are processed layer by layer`,
      );
    }
  }
  return weights.filter((t) => eligible.has(t.module));
}

function modelChecks(model: LoadedModel, method: string, cal: LayerwiseCalibration | undefined) {
  if (model.format !== "onnx") {
    throw new TypeError(
      `${method} runs ONNX models (it calibrates through onnxruntime): the model is ${model.format}`,
    );
  }
  if (cal === undefined) {
    throw new TypeError(
      `${method} needs calibration batches: each layer's inputs are what it compensates for`,
    );
  }
  return model.onnx;
}

/** The bits and symmetry a `quant_dtype`/`quant_scheme` pair stands for. */
function bitsOf(dtype: unknown, scheme: unknown, at: { module: string; configIndex: number }) {
  const m = /^u?int([1-8])$/.exec(String(dtype ?? "int8"));
  if (m === null) {
    throw new QuantizationError(
      "quant_dtype",
      `GPTQ quantizes to integers of 1 to 8 bits: current value is ${JSON.stringify(dtype)}`,
      { module: at.module, target: "weight", configIndex: at.configIndex, key: "quant_dtype" },
    );
  }
  return { bits: Number(m[1]), sym: scheme !== "affine" };
}

/** The group size a granularity stands for: per output channel (-1) or `[1, G]` blocks. */
function groupOf(g: unknown, at: { module: string; configIndex: number }): number {
  if (
    g === null || g === undefined || g === "default" || g === "per_channel" || g === "out_channel"
  ) {
    return -1;
  }
  if (Array.isArray(g) && g.length === 2 && g[0] === 1 && Number.isInteger(g[1]) && g[1] > 0) {
    return g[1];
  }
  throw new QuantizationError(
    "granularity",
    `GPTQ takes per_channel (one range per output channel) or [1, G] (groups of G along the input): current value is ${
      JSON.stringify(g)
    }`,
    { module: at.module, target: "weight", configIndex: at.configIndex, key: "granularity" },
  );
}

/** The report's change of each processed layer's weight; `extra` adds the method's fields. */
async function layerChanges<R extends { readonly weight: Float32Array }>(
  model: LoadedModel,
  layers: readonly { readonly module: string; readonly result: R }[],
  extra: (layer: { readonly result: R }) =>
    & Pick<TensorChange, "granularity" | "bits">
    & Partial<Pick<TensorChange, "blocks" | "zeroPoints">>,
): Promise<TensorChange[]> {
  const modules = new Map(model.graph.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  for (const layer of layers) {
    const module = modules.get(layer.module)!;
    const ref = module.params.weight;
    changes.push(changeOf({
      module: layer.module,
      target: "weight",
      type: module.type,
      ref,
      before: await ref.data(),
      after: layer.result.weight,
      ...extra(layer),
    }));
  }
  return changes;
}

/** GPTQ over the configured weights; the result is the model with weights on the grid. */
export async function gptqTensors(
  model: LoadedModel,
  plan: ConfigPlan,
  cal: LayerwiseCalibration | undefined,
  progress: Progress,
): Promise<{
  bytes: Uint8Array;
  changes: TensorChange[];
  warnings: string[];
  /** Each layer's grid, for integer storage (absent when a layer's groups are not blocks). */
  grids?: Map<string, WeightGrid>;
  bits?: number;
}> {
  const onnx = modelChecks(model, "GPTQ", cal);
  const warnings: string[] = [];
  const targets = weightTargets(plan, onnx, "GPTQ", warnings);
  if (targets.length === 0) return { bytes: model.bytes, changes: [], warnings };
  const first = targets[0];
  const key = (t: typeof first) => {
    const s = t.setting as Record<string, unknown>;
    return JSON.stringify([s.quant_dtype, s.quant_scheme, s.granularity]);
  };
  const other = targets.find((t) => key(t) !== key(first));
  if (other !== undefined) {
    throw new QuantizationError(
      "storage",
      `GPTQ quantizes every selected weight alike: "${other.module}" has another quant_dtype, quant_scheme or granularity than "${first.module}": current values are ${
        key(other)
      } and ${key(first)}`,
      { module: other.module, target: "weight", configIndex: other.configIndex },
    );
  }
  const s = first.setting as Record<string, unknown>;
  const at = { module: first.module, configIndex: first.configIndex };
  const { bits, sym } = bitsOf(s.quant_dtype, s.quant_scheme, at);
  const groupSize = groupOf(s.granularity, at);
  const batches = await collect(cal!.batches);
  const run = await gptqOnnx(onnx, batches, {
    ort: cal!.ort,
    bits,
    sym,
    groupSize,
    modules: targets.map((t) => t.module),
    onLayer: (_m, i, n) => progress("gptq", i, n),
  });
  const changes = await layerChanges(model, run.layers, (layer) => ({
    granularity: s.granularity ?? null,
    bits,
    blocks: layer.result.scale.length,
    zeroPoints: !sym,
  }));
  progress("gptq", run.layers.length, run.layers.length);
  const grids = new Map<string, WeightGrid>();
  for (const l of run.layers) {
    if (l.params === undefined) return { bytes: run.encode(), changes, warnings, bits };
    grids.set(l.module, {
      scale: l.params.scale,
      zeroPoint: l.params.zeroPoint,
      qmin: l.params.qmin,
      qmax: l.params.qmax,
      groupSize,
    });
  }
  return { bytes: run.encode(), changes, warnings, grids, bits };
}

/** SparseGPT over the configured weights, at their `sparse_ratio` or an N:M pattern. */
export async function sparseGptTensors(
  model: LoadedModel,
  plan: ConfigPlan,
  cal: LayerwiseCalibration | undefined,
  pattern: { n: number; m: number } | undefined,
  progress: Progress,
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  const onnx = modelChecks(model, "SparseGPT", cal);
  const warnings: string[] = [];
  const targets = weightTargets(plan, onnx, "SparseGPT", warnings);
  if (targets.length === 0) return { bytes: model.bytes, changes: [], warnings };
  const ratio = (t: typeof targets[number]) =>
    (t.setting as { sparse_ratio?: number | null }).sparse_ratio;
  const first = targets[0];
  const other = targets.find((t) => ratio(t) !== ratio(first));
  if (pattern === undefined && other !== undefined) {
    throw new PruningError(
      "ratio",
      `SparseGPT prunes every selected weight at one sparse_ratio: "${other.module}" has ${
        ratio(other)
      } and "${first.module}" ${ratio(first)}`,
      { module: other.module, target: "weight", configIndex: other.configIndex },
    );
  }
  const sparsity = ratio(first);
  if (pattern === undefined && (typeof sparsity !== "number" || !(sparsity >= 0 && sparsity < 1))) {
    throw new PruningError(
      "ratio",
      `SparseGPT needs a sparse_ratio in [0, 1): current value is ${JSON.stringify(sparsity)}`,
      {
        module: first.module,
        target: "weight",
        configIndex: first.configIndex,
      },
    );
  }
  const batches = await collect(cal!.batches);
  const run = await sparseGptOnnx(onnx, batches, {
    ort: cal!.ort,
    ...(pattern === undefined
      ? { sparsity: sparsity as number }
      : { prunen: pattern.n, prunem: pattern.m }),
    modules: targets.map((t) => t.module),
    onLayer: (_m, i, n) => progress("sparsegpt", i, n),
  });
  const changes = await layerChanges(model, run.layers, () => ({
    granularity: pattern === undefined ? null : `${pattern.n}:${pattern.m}`,
    bits: null,
  }));
  progress("sparsegpt", run.layers.length, run.layers.length);
  return { bytes: run.encode(), changes, warnings };
}
