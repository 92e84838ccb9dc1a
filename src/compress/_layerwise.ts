// GPTQ and SparseGPT driven by a config list: the plan's weight targets choose the layers and
// their settings, the calibration batches run through onnxruntime layer by layer.
import type { ConfigPlan } from "../config/plan.ts";
import type { LoadedModel } from "./load_model.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";
import type { OrtLike } from "../io/onnx/ort.ts";
import type { CalibrationTensor } from "../quantization/calibrate_onnx.ts";
import { gptqOnnx, gptqParams } from "../quantization/gptq_model.ts";
import { gptq, type GptqResult } from "../quantization/gptq.ts";
import { sparseGpt } from "../pruning/sparse_gpt.ts";
import type { TargetQuantParams } from "../quantization/compute_target_quant_params.ts";
import { toFileBytes } from "../model/from_float32.ts";
import { rewriteSafetensors } from "../quantization/rewrite_safetensors.ts";
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

/**
 * Calibration of a safetensors model (no graph to run): each Linear module's input rows by
 * module name, `[rows, in]` row-major, one `add_batch` per array (`readLayerInputs` reads them
 * from a safetensors file of `<module>.input` tensors).
 */
export type LayerInputs = ReadonlyMap<string, readonly LayerBatch[]>;

/** One batch of a layer's input rows: `data` row-major of shape `dims` (`[rows, in]`). */
export interface LayerBatch {
  /** The rows, row-major. */
  readonly data: Float32Array;
  /** `[rows, in]`. */
  readonly dims: readonly [number, number];
}

async function collect<T>(it: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it as AsyncIterable<T>) out.push(x);
  return out;
}

/**
 * The weight targets of a plan that the layer-by-layer driver can process; the others (weights
 * it cannot see as a 2-D layer or a 2-D convolution) are left as they are, each with a warning.
 */
function weightTargets(plan: ConfigPlan, onnx: OnnxModel, method: string, warnings: string[]) {
  const eligible = new Set(layerwiseModules(onnx));
  const weights = plan.targets.filter((t) => t.kind === "parameter" && t.target === "weight");
  for (const t of weights) {
    if (!eligible.has(t.module)) {
      warnings.push(
        `[${t.configIndex}]: ${method} leaves "${t.module}" as it is: only MatMul and Gemm weights and 2-D convolutions with explicit or no padding are processed layer by layer`,
      );
    }
  }
  return weights.filter((t) => eligible.has(t.module));
}

function modelChecks(
  model: LoadedModel,
  method: string,
  cal: LayerwiseCalibration | LayerInputs | undefined,
): OnnxModel | undefined {
  if (model.format === "safetensors") {
    if (!(cal instanceof Map)) {
      throw new TypeError(
        `${method} on a safetensors model needs each layer's input rows (a safetensors file of <module>.input tensors, docs/quantization.md): ${
          cal === undefined ? "no calibration was given" : "graph input batches were given"
        }`,
      );
    }
    return undefined;
  }
  if (model.format !== "onnx") {
    throw new TypeError(
      `${method} runs ONNX models (it calibrates through onnxruntime) and safetensors models with per-layer inputs: the model is ${model.format}`,
    );
  }
  if (cal === undefined || cal instanceof Map) {
    throw new TypeError(
      `${method} needs calibration batches of the model's inputs: each layer's inputs are what it compensates for`,
    );
  }
  return model.onnx;
}

/**
 * The Linear weights of a safetensors model a plan selects, each with its input rows; others
 * (convolutions, …) are left as they are with a warning.
 */
function safetensorsLayers(
  model: LoadedModel,
  plan: ConfigPlan,
  inputs: LayerInputs,
  method: string,
  warnings: string[],
) {
  const modules = new Map(model.graph.modules.map((m) => [m.name, m]));
  for (const name of inputs.keys()) {
    if (!modules.has(name)) {
      throw new TypeError(
        `${method}: the calibration's tensor "${name}.input" names no module of the model (modules are named like "${
          model.graph.modules[0]?.name ?? ""
        }")`,
      );
    }
  }
  const out: {
    target: ConfigPlan["targets"][number];
    shape: [number, number];
    rows: readonly Float32Array[];
  }[] = [];
  for (const t of plan.targets) {
    if (t.kind !== "parameter" || t.target !== "weight") continue;
    const ref = modules.get(t.module)?.params.weight;
    if (ref === undefined || ref.shape.length !== 2) {
      warnings.push(
        `[${t.configIndex}]: ${method} leaves "${t.module}" as it is: on safetensors models only 2-D (Linear) weights are processed layer by layer`,
      );
      continue;
    }
    const [o, k] = ref.shape;
    const rows = inputs.get(t.module);
    if (rows === undefined || rows.length === 0) {
      throw new TypeError(
        `${method}: the calibration has no input rows for module "${t.module}" (config ${t.configIndex}): expected a tensor "${t.module}.input" of shape [rows, ${k}]`,
      );
    }
    for (const [i, r] of rows.entries()) {
      if (r.dims[1] !== k || r.dims[0] < 1 || r.data.length !== r.dims[0] * r.dims[1]) {
        throw new TypeError(
          `${method}: the input rows of module "${t.module}" (batch ${i}) must be [rows, ${k}] (its weight is [${o}, ${k}]): current shape is ${
            JSON.stringify(r.dims)
          } with ${r.data.length} values`,
        );
      }
    }
    out.push({ target: t, shape: [o, k], rows: rows.map((r) => r.data) });
  }
  return out;
}

/** The safetensors file with each layer's weight replaced by its new values. */
async function rewrittenSafetensors(
  model: LoadedModel,
  layers: readonly { module: string; weight: Float32Array }[],
): Promise<Uint8Array> {
  if (model.format !== "safetensors") throw new TypeError("not a safetensors model");
  const modules = new Map(model.graph.modules.map((m) => [m.name, m]));
  const replaced = new Map<string, Uint8Array>();
  for (const l of layers) {
    const ref = modules.get(l.module)!.params.weight;
    replaced.set(ref.name, toFileBytes(ref, l.weight));
  }
  return await Promise.resolve(rewriteSafetensors(model.safetensors, replaced));
}

/**
 * A layer's GPTQ grid in its module's layout: a 2-D weight as it is; a convolution's
 * `[out, in, kh, kw]` per output channel (its im2col rows are whole filters). `undefined` with
 * the reason when the grid is not blocks of the module's weight.
 */
function moduleParams(
  p: TargetQuantParams,
  refShape: readonly number[],
  configIndex: number,
): TargetQuantParams | string {
  if (refShape.length === 2) return { ...p, configIndex };
  if (p.kernel[1] === -1) {
    const rest = refShape.slice(1);
    return {
      ...p,
      configIndex,
      shape: [...refShape],
      kernel: [1, ...rest.map(() => -1)],
      gridShape: [refShape[0], ...rest.map(() => 1)],
    };
  }
  return `GPTQ's groups of ${
    p.kernel[1]
  } along the im2col row (in·kh·kw) of convolution "${p.module}" are not blocks of its ${refShape.length}-D weight`;
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

/** What `gptqTensors` returns. */
export interface GptqTensors {
  /** The model with the weights on GPTQ's grid, in their float type (the float storage). */
  bytes: Uint8Array;
  changes: TensorChange[];
  warnings: string[];
  /** Each layer's grid, for MatMulNBits (absent when a layer's groups are not blocks). */
  grids?: Map<string, WeightGrid>;
  /** Each layer's grid in its module's layout, for QDQ and integer safetensors. */
  params?: TargetQuantParams[];
  /** Why `params` is absent. */
  paramsReason?: string;
  /**
   * Act-order groups (without static groups), when every layer's groups divide its inputs: the
   * grid per layer (`[out, in / G]`, group `g` in column `g`) and each input's group, for
   * compressed-tensors' `weight_g_idx`.
   */
  indexed?: { params: TargetQuantParams[]; groupIndex: Map<string, Int32Array> };
  /** Per layer, the GPTQ result (its `groupIndex` is MatMulNBits' `g_idx` under act-order). */
  results?: Map<string, GptqResult>;
  bits?: number;
  /** The group size GPTQ ran with (-1: per row). */
  groupSize?: number;
}

/** GPTQ over the configured weights; the result is the model with weights on the grid. */
export async function gptqTensors(
  model: LoadedModel,
  plan: ConfigPlan,
  cal: LayerwiseCalibration | LayerInputs | undefined,
  progress: Progress,
  extra: { readonly actOrder?: boolean; readonly staticGroups?: boolean } = {},
): Promise<GptqTensors> {
  const onnx = modelChecks(model, "GPTQ", cal);
  const warnings: string[] = [];
  const targets = onnx === undefined
    ? safetensorsLayers(model, plan, cal as LayerInputs, "GPTQ", warnings).map((l) => l.target)
    : weightTargets(plan, onnx, "GPTQ", warnings);
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
  const solver = {
    bits,
    sym,
    groupSize,
    ...(extra.actOrder === undefined ? {} : { actOrder: extra.actOrder }),
    ...(extra.staticGroups === undefined ? {} : { staticGroups: extra.staticGroups }),
  };
  let bytes: Uint8Array;
  let layers: readonly {
    module: string;
    result: GptqResult;
    params?: TargetQuantParams;
  }[];
  if (onnx === undefined) {
    // Safetensors: each layer on its own given inputs (no graph to propagate through).
    const given = safetensorsLayers(model, plan, cal as LayerInputs, "GPTQ", []);
    const done = [];
    for (const [i, l] of given.entries()) {
      progress("gptq", i, given.length);
      const result = gptq(await paramData(model, l.target.module), l.shape, l.rows, solver);
      done.push({
        module: l.target.module,
        result,
        params: gptqParams(l.target.module, l.shape, result, solver),
      });
    }
    layers = done;
    bytes = await rewrittenSafetensors(
      model,
      done.map((l) => ({ module: l.module, weight: l.result.weight })),
    );
  } else {
    const batches = await collect((cal as LayerwiseCalibration).batches);
    const run = await gptqOnnx(onnx, batches, {
      ort: (cal as LayerwiseCalibration).ort,
      ...solver,
      modules: targets.map((t) => t.module),
      onLayer: (_m, i, n) => progress("gptq", i, n),
    });
    layers = run.layers;
    bytes = run.encode();
  }
  const changes = await layerChanges(model, layers, (layer) => ({
    granularity: s.granularity ?? null,
    bits,
    blocks: layer.result.scale.length,
    zeroPoints: !sym,
  }));
  progress("gptq", layers.length, layers.length);
  const configIndex = new Map(targets.map((t) => [t.module, t.configIndex]));
  const refs = new Map(model.graph.modules.map((m) => [m.name, m.params.weight]));
  const params: TargetQuantParams[] = [];
  let paramsReason: string | undefined;
  for (const l of layers) {
    if (l.params === undefined) {
      paramsReason =
        `GPTQ's groups under act-order (without static groups) follow the activation order, not consecutive inputs: "${l.module}" has no block grid`;
      break;
    }
    const p = moduleParams(l.params, refs.get(l.module)!.shape, configIndex.get(l.module)!);
    if (typeof p === "string") {
      paramsReason = p;
      break;
    }
    params.push(p);
  }
  let indexed: GptqTensors["indexed"];
  if (paramsReason !== undefined && extra.actOrder && !extra.staticGroups && groupSize !== -1) {
    indexed = { params: [], groupIndex: new Map() };
    for (const l of layers) {
      const inp = l.result.groupIndex.length;
      const shape = [l.result.codes.length / inp, inp];
      // the grid by group number: gptqParams' layout of consecutive groups, column g = group g
      const p = gptqParams(l.module, shape, l.result, { ...solver, actOrder: false });
      const m = p && moduleParams(p, refs.get(l.module)!.shape, configIndex.get(l.module)!);
      if (m === undefined || typeof m === "string") {
        indexed = undefined;
        break;
      }
      indexed.params.push(m);
      indexed.groupIndex.set(l.module, l.result.groupIndex);
    }
  }
  const grids = new Map<string, WeightGrid>();
  for (const l of layers) {
    if (l.params === undefined) break;
    grids.set(l.module, {
      scale: l.params.scale,
      zeroPoint: l.params.zeroPoint,
      qmin: l.params.qmin,
      qmax: l.params.qmax,
      groupSize,
    });
  }
  return {
    bytes,
    changes,
    warnings,
    ...(grids.size === layers.length ? { grids } : {}),
    ...(paramsReason === undefined ? { params } : { paramsReason }),
    ...(indexed === undefined ? {} : { indexed }),
    results: new Map(layers.map((l) => [l.module, l.result])),
    bits,
    groupSize,
  };
}

/** A module weight's values in PyTorch layout. */
async function paramData(model: LoadedModel, module: string): Promise<Float32Array> {
  return await model.graph.modules.find((m) => m.name === module)!.params.weight.data();
}

/** SparseGPT over the configured weights, at their `sparse_ratio` or an N:M pattern. */
export async function sparseGptTensors(
  model: LoadedModel,
  plan: ConfigPlan,
  cal: LayerwiseCalibration | LayerInputs | undefined,
  pattern: { n: number; m: number } | undefined,
  progress: Progress,
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  const onnx = modelChecks(model, "SparseGPT", cal);
  const warnings: string[] = [];
  const given = onnx === undefined
    ? safetensorsLayers(model, plan, cal as LayerInputs, "SparseGPT", warnings)
    : undefined;
  let targets = given?.map((l) => l.target) ?? weightTargets(plan, onnx!, "SparseGPT", warnings);
  if (given === undefined && pattern !== undefined) {
    // N:M runs along each row of inputs (a Conv's im2col row per group: (in/g) · kh · kw); a row
    // that is not whole groups of M (a depthwise 3x3's 9 taps) would lose its partial last group
    // entirely, so such layers are left as they are.
    const refs = new Map(model.graph.modules.map((m) => [m.name, m.params.weight]));
    targets = targets.filter((t) => {
      const cols = refs.get(t.module)!.shape.slice(1).reduce((a, b) => a * b, 1);
      if (cols % pattern.m === 0) return true;
      warnings.push(
        `[${t.configIndex}]: SparseGPT leaves "${t.module}" as it is: its rows of ${cols} inputs (per group) are not whole groups of ${pattern.m} for the pattern ${pattern.n}:${pattern.m}`,
      );
      return false;
    });
  }
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
  const solver = pattern === undefined
    ? { sparsity: sparsity as number }
    : { prunen: pattern.n, prunem: pattern.m };
  let bytes: Uint8Array;
  let layers: readonly { module: string; result: { weight: Float32Array } }[];
  if (given !== undefined) {
    // Safetensors: each layer on its own given inputs (no graph to propagate through).
    const done = [];
    for (const [i, l] of given.entries()) {
      progress("sparsegpt", i, given.length);
      const w = await paramData(model, l.target.module);
      done.push({ module: l.target.module, result: sparseGpt(w, l.shape, l.rows, solver) });
    }
    layers = done;
    bytes = await rewrittenSafetensors(
      model,
      done.map((l) => ({ module: l.module, weight: l.result.weight })),
    );
  } else {
    const run = await sparseGptOnnx(onnx!, await collect((cal as LayerwiseCalibration).batches), {
      ort: (cal as LayerwiseCalibration).ort,
      ...solver,
      modules: targets.map((t) => t.module),
      onLayer: (_m, i, n) => progress("sparsegpt", i, n),
    });
    layers = run.layers;
    bytes = run.encode();
  }
  const changes = await layerChanges(model, layers, () => ({
    granularity: pattern === undefined ? null : `${pattern.n}:${pattern.m}`,
    bits: null,
  }));
  progress("sparsegpt", layers.length, layers.length);
  return { bytes, changes, warnings };
}
