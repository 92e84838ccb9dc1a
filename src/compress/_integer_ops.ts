// Storages "dynamic" (DynamicQuantizeLinear + MatMulInteger/ConvInteger, dynamicOnnx) and "bnb4"
// (MatMulBnb4, bnb4Onnx): the config list chooses the modules and the keys that drive each.
import { type ConfigPlan, isConfigPlan } from "../config/plan.ts";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { QuantizationSetting } from "../config/types.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { graphPaths } from "../io/onnx/edit_onnx.ts";
import type { ModelGraph, Module } from "../model/model_graph.ts";
import { dynamicOnnx, type DynamicWeightType } from "../quantization/dynamic_onnx.ts";
import { bnb4Onnx, type Bnb4Type } from "../quantization/bnb4_onnx.ts";
import {
  QuantizationError,
  type QuantizationErrorCode,
  type QuantizationErrorContext,
} from "../quantization/quantization_error.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";

/** The block size of `storage: "bnb4"` when none is given (bitsandbytes' `Linear4bit`'s). */
export const BNB4_BLOCK_SIZE = 64;

/**
 * Operators for which transformers.js stores 8-bit weights as uint8 (`QUINT8_OPS` of its
 * quantize script): onnxruntime-web has no int8 `ConvInteger` kernel, and onnxruntime-genai's
 * attention operators run faster with uint8.
 */
export const UINT8_WEIGHT_OPS: readonly string[] = [
  "Conv",
  "GroupQueryAttention",
  "MultiHeadAttention",
];

/** Whether any graph of the model has a node of one of `UINT8_WEIGHT_OPS`. */
export function needsUint8Weights(onnx: OnnxModel): boolean {
  for (const g of graphPaths(onnx).values()) {
    if (g.nodes.some((n) => UINT8_WEIGHT_OPS.includes(n.opType))) return true;
  }
  return false;
}

function refuse(
  storage: string,
  code: QuantizationErrorCode,
  at: QuantizationErrorContext,
  rule: string,
  value: unknown,
): never {
  throw new QuantizationError(
    code,
    `${storage} storage: ${rule}: current value is ${JSON.stringify(value)}`,
    at,
  );
}

function targetsOf(
  model: ModelGraph,
  configList: unknown,
): Pick<ConfigPlan, "targets" | "warnings"> {
  return isConfigPlan(configList)
    ? configList
    : resolveTargetSettings(moduleInfos(model), configList, "quantization", {
      algorithm: "PtqQuantizer",
    });
}

type Target = ConfigPlan["targets"][number];

/**
 * Sorts the targets: MatMul (and Conv, for dynamic) weights are kept; Gemm weights are left in
 * float with a warning, as onnxruntime's tools do; anything else is refused.
 */
function layerTargets(
  storage: string,
  targets: readonly Target[],
  modules: ReadonlyMap<string, Module>,
  conv: boolean,
  warnings: string[],
): { target: Target; module: Module }[] {
  const out: { target: Target; module: Module }[] = [];
  for (const t of targets) {
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    const m = modules.get(t.module);
    const layer = m !== undefined && (
      (m.type === "Linear" && (m.opType === "MatMul" || m.opType === "Gemm")) ||
      (conv && m.opType === "Conv" && /^Conv[123]d$/.test(m.type))
    );
    if (t.target !== "weight" || !layer) {
      refuse(
        storage,
        "storage",
        at,
        `only weights of MatMul${
          conv ? ", Gemm and Conv" : " and Gemm"
        } modules can be stored so (activations are ${
          conv ? "quantized at run time" : "not quantized"
        }; select "target_names": ["weight"])`,
        t.target !== "weight" ? t.target : m?.opType ?? m?.type,
      );
    }
    if (m.opType === "Gemm") {
      warnings.push(
        `${t.module}: Gemm stays float in ${storage} storage (onnxruntime's quantizer replaces MatMul${
          conv ? " and Conv" : ""
        } only)`,
      );
      continue;
    }
    out.push({ target: t, module: m });
  }
  return out;
}

/** Options of `dynamicTensors` (see `CompressOptions.dynamic`). */
export interface DynamicStorageOptions {
  /** uint8 weights when the model has a Conv (or onnxruntime-genai attention) node. */
  readonly uint8WhenConv?: boolean;
  /** 7-bit MatMul weights. */
  readonly reduceRange?: boolean;
}

/**
 * Quantizes the configured MatMul and Conv weights dynamically (`dynamicOnnx`): `quant_dtype`
 * `int8` (default, symmetric) or `uint8` (affine), `quant_scheme` to override the symmetry,
 * `granularity` per tensor (`default`) or `per_channel` (Conv: symmetric codes, a scale per
 * channel); every target takes one dtype, scheme and granularity. `uint8WhenConv` turns int8 into uint8 when the model has a Conv.
 *
 * @throws {QuantizationError} Naming the target and its sub-config when the storage cannot hold
 * it: code `storage`, `quant_dtype`, `quant_scheme` or `granularity`.
 */
export async function dynamicTensors(
  onnx: OnnxModel,
  model: ModelGraph,
  configList: unknown,
  options: DynamicStorageOptions,
  progress: Progress,
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  const { targets, warnings: planWarnings } = targetsOf(model, configList);
  const warnings = planWarnings.map((w) => `${w.path}: ${w.message}`);
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const layers = layerTargets("dynamic", targets, modules, true, warnings);
  let kind: { dtype: DynamicWeightType; symmetric: boolean } | undefined;
  let perMatMul: boolean | undefined; // the granularity, one for all
  for (const { target: t } of layers) {
    const s = t.setting as QuantizationSetting;
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    const dtype = s.quant_dtype ?? "int8";
    if (dtype !== "int8" && dtype !== "uint8") {
      refuse("dynamic", "quant_dtype", at, '"quant_dtype" must be int8 or uint8', dtype);
    }
    const scheme = s.quant_scheme ?? (dtype === "int8" ? "symmetric" : "affine");
    if (scheme !== "symmetric" && scheme !== "affine") {
      refuse("dynamic", "quant_scheme", at, '"quant_scheme" must be symmetric or affine', scheme);
    }
    const g = s.granularity ?? "default";
    const perChannel = g === "per_channel" || g === "out_channel";
    if (!perChannel && g !== "default") {
      refuse(
        "dynamic",
        "granularity",
        at,
        '"granularity" must be "default" (per tensor) or "per_channel"',
        g,
      );
    }
    const next = { dtype: dtype as DynamicWeightType, symmetric: scheme === "symmetric" };
    const mixed = (kind !== undefined &&
      (kind.dtype !== next.dtype || kind.symmetric !== next.symmetric)) ||
      (perMatMul !== undefined && perMatMul !== perChannel);
    if (mixed) {
      refuse(
        "dynamic",
        "quant_dtype",
        at,
        "every target needs the same quant_dtype, quant_scheme and granularity",
        { quant_dtype: dtype, quant_scheme: scheme, granularity: g },
      );
    }
    kind = next;
    perMatMul = perChannel;
  }
  if (kind === undefined) {
    throw new QuantizationError(
      "storage",
      "dynamic storage needs at least one MatMul or Conv weight: the config list selects none",
    );
  }
  let { dtype, symmetric } = kind;
  if (options.uint8WhenConv === true && dtype === "int8" && needsUint8Weights(onnx)) {
    // transformers.js's rule: onnxruntime-web has no int8 ConvInteger.
    dtype = "uint8";
    symmetric = false;
    warnings.push(
      `weights are stored as uint8: the model has a ${
        UINT8_WEIGHT_OPS.join(", ")
      } node, and onnxruntime-web has no int8 ConvInteger`,
    );
  }
  progress("quantize", 0, layers.length);
  const { bytes, layers: done } = await dynamicOnnx(onnx, model, {
    weightType: dtype,
    symmetric,
    perChannel: perMatMul === true,
    reduceRange: options.reduceRange === true,
    modules: layers.map((l) => l.target.module),
  });
  const changes: TensorChange[] = [];
  for (const layer of done) {
    const m = modules.get(layer.module)!;
    const ref = m.params.weight;
    changes.push(changeOf({
      module: layer.module,
      target: "weight",
      type: m.type,
      granularity: layer.scale.length > 1 ? "per_channel" : "default",
      ref,
      before: await ref.data(),
      after: layer.dequantized,
      bits: 8,
      blocks: layer.scale.length,
      zeroPoints: true,
    }));
  }
  progress("quantize", layers.length, layers.length);
  return { bytes, changes, warnings };
}

/**
 * Quantizes the configured MatMul weights as MatMulBnb4 (`bnb4Onnx`): `quant_dtype` `int4`,
 * `uint4` or unset (4-bit codes of the NF4/FP4 table), `granularity` `default`, `per_channel`
 * or `[1, B]` (blocks of B; else `blockSize`, default 64).
 *
 * @throws {QuantizationError} Naming the target and its sub-config when MatMulBnb4 cannot store
 * it: code `storage`, `quant_dtype`, `quant_scheme` or `granularity`.
 */
export async function bnb4Tensors(
  onnx: OnnxModel,
  model: ModelGraph,
  configList: unknown,
  options: { readonly quantType?: Bnb4Type; readonly blockSize?: number },
  progress: Progress,
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  const { targets, warnings: planWarnings } = targetsOf(model, configList);
  const warnings = planWarnings.map((w) => `${w.path}: ${w.message}`);
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const layers = layerTargets("bnb4", targets, modules, false, warnings);
  let blockSize = options.blockSize;
  for (const { target: t } of layers) {
    const s = t.setting as QuantizationSetting;
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    const dtype = s.quant_dtype ?? "int4";
    if (dtype !== "int4" && dtype !== "uint4") {
      refuse(
        "bnb4",
        "quant_dtype",
        at,
        `"quant_dtype" must be int4 or uint4 (4-bit codes of the ${
          (options.quantType ?? "nf4").toUpperCase()
        } table)`,
        dtype,
      );
    }
    if (s.quant_scheme === "affine") {
      refuse("bnb4", "quant_scheme", at, "NF4 and FP4 blocks scale by their absmax", "affine");
    }
    const g = s.granularity ?? "default";
    const block = Array.isArray(g) && g.length === 2 && g[0] === 1 && typeof g[1] === "number"
      ? g[1]
      : undefined;
    if (block === undefined && g !== "default" && g !== "per_channel" && g !== "out_channel") {
      refuse(
        "bnb4",
        "granularity",
        at,
        '"granularity" must be "default", "per_channel" or [1, <block>] (blocks along K)',
        g,
      );
    }
    if (block !== undefined) {
      if (blockSize !== undefined && blockSize !== block) {
        refuse("bnb4", "granularity", at, `the block size is ${blockSize}`, g);
      }
      blockSize = block;
    }
  }
  if (layers.length === 0) {
    throw new QuantizationError(
      "storage",
      "bnb4 storage needs at least one MatMul weight: the config list selects none",
    );
  }
  progress("quantize", 0, layers.length);
  const run = await bnb4Onnx(onnx, model, {
    quantType: options.quantType ?? "nf4",
    blockSize: blockSize ?? BNB4_BLOCK_SIZE,
    modules: layers.map((l) => l.target.module),
  });
  for (const t of run.kept) {
    warnings.push(
      `tensor "${t}" is also read by nodes other than the replaced MatMuls: its float copy stays beside the MatMulBnb4 codes`,
    );
  }
  const changes: TensorChange[] = [];
  for (const layer of run.layers) {
    const m = modules.get(layer.module)!;
    const ref = m.params.weight;
    changes.push(changeOf({
      module: layer.module,
      target: "weight",
      type: m.type,
      granularity: `${layer.quantType} blocks of ${layer.blockSize}`,
      ref,
      before: await ref.data(),
      after: layer.dequantized,
      bits: 4,
      blocks: layer.absmax.length,
      zeroPoints: false,
    }));
  }
  progress("quantize", layers.length, layers.length);
  return { bytes: run.bytes, changes, warnings };
}
