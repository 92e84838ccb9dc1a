// Storage "nbits": the configured MatMul and Gemm weights as MatMulNBits blocks along K
// (weightOnlyOnnx), in the main graph or in If/Loop/Scan bodies.
import { isConfigPlan } from "../config/plan.ts";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { QuantizationSetting } from "../config/types.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import { getKernels } from "../kernels/default.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { weightOnlyOnnx } from "../quantization/weight_only_onnx.ts";
import {
  QuantizationError,
  type QuantizationErrorCode,
  type QuantizationErrorContext,
} from "../quantization/quantization_error.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";

/** The block size along K of `storage: "nbits"` when none is given. */
export const NBITS_BLOCK_SIZE = 32;

const DTYPES: Record<string, { bits: 4 | 8; scheme: "symmetric" | "affine" }> = {
  int4: { bits: 4, scheme: "symmetric" },
  int8: { bits: 8, scheme: "symmetric" },
  uint4: { bits: 4, scheme: "affine" },
  uint8: { bits: 8, scheme: "affine" },
};

/** A target that MatMulNBits cannot store: the rule and the current value. */
function refuse(
  code: QuantizationErrorCode,
  at: QuantizationErrorContext,
  rule: string,
  value: unknown,
): never {
  throw new QuantizationError(
    code,
    `MatMulNBits storage: ${rule}: current value is ${JSON.stringify(value)}`,
    at,
  );
}

/**
 * Quantizes the configured weights of MatMul and Gemm `Linear` modules (every `transA`/`transB`/
 * `alpha`/`beta` form, in any graph) with `weightOnlyOnnx`: the config
 * list chooses the modules, `quant_dtype` (`int4`/`int8` symmetric, `uint4`/`uint8` affine) and
 * requires `granularity: "per_channel"` (one range per output channel), which `blockSize`
 * refines into blocks along K; a last partial block is padded with zeros.
 *
 * @throws {QuantizationError} Naming the target and its sub-config when MatMulNBits cannot store
 * it: code `storage` (not a MatMul or Gemm `Linear` weight, or no weight selected), `quant_dtype`,
 * `quant_scheme` or `granularity`.
 */
export async function weightOnlyTensors(
  onnx: OnnxModel,
  model: ModelGraph,
  configList: unknown,
  blockSize: number,
  progress: Progress,
  options: { readonly grid?: "nni" | "onnxruntime"; readonly accuracyLevel?: number } = {},
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  const { targets, warnings } = isConfigPlan(configList)
    ? configList
    : resolveTargetSettings(moduleInfos(model), configList, "quantization", {
      algorithm: "PtqQuantizer",
    });
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  let kind: { bits: 4 | 8; scheme: "symmetric" | "affine" } | undefined;
  for (const t of targets) {
    const s = t.setting as QuantizationSetting;
    const at = { module: t.module, target: t.target, configIndex: t.configIndex };
    const m = modules.get(t.module);
    if (
      t.target !== "weight" || m?.type !== "Linear" ||
      (m.opType !== "MatMul" && m.opType !== "Gemm")
    ) {
      refuse(
        "storage",
        at,
        "only weights of MatMul and Gemm Linear modules can be stored so",
        t.target !== "weight" ? t.target : m?.opType ?? m?.type,
      );
    }
    const dtype = s.quant_dtype ?? "int8";
    const d = Object.hasOwn(DTYPES, dtype) ? DTYPES[dtype] : undefined;
    if (d === undefined) {
      refuse("quant_dtype", at, '"quant_dtype" must be int4, int8, uint4 or uint8', dtype);
    }
    const scheme = s.quant_scheme ?? "symmetric";
    if (scheme !== d.scheme) {
      refuse("quant_scheme", at, `${dtype} goes with "quant_scheme" ${d.scheme}`, scheme);
    }
    // The config layer's canonical form of "per_channel" on a weight is "out_channel".
    if (s.granularity !== "per_channel" && s.granularity !== "out_channel") {
      refuse(
        "granularity",
        at,
        '"granularity" must be "per_channel" (blocks along K come from the block size)',
        s.granularity ?? "default",
      );
    }
    if (kind !== undefined && (kind.bits !== d.bits || kind.scheme !== d.scheme)) {
      refuse("quant_dtype", at, "every target needs the same quant_dtype", dtype);
    }
    kind = d;
  }
  if (kind === undefined) {
    throw new QuantizationError(
      "storage",
      "MatMulNBits storage needs at least one MatMul or Gemm weight: the config list selects none",
    );
  }
  progress("quantize", 0, targets.length);
  const { bytes, layers } = await weightOnlyOnnx(onnx, model, {
    bits: kind.bits,
    scheme: kind.scheme,
    blockSize,
    modules: targets.map((t) => t.module),
    kernels: getKernels(),
    ...(options.grid === undefined ? {} : { grid: options.grid }),
    ...(options.accuracyLevel === undefined ? {} : { accuracyLevel: options.accuracyLevel }),
  });
  const changes: TensorChange[] = [];
  for (const layer of layers) {
    const ref = modules.get(layer.module)!.params.weight;
    changes.push(changeOf({
      module: layer.module,
      target: "weight",
      type: "Linear",
      granularity: `[1, ${layer.blockSize}] along K`,
      ref,
      before: await ref.data(),
      after: layer.dequantized,
      bits: layer.bits,
      blocks: layer.scale.length,
      zeroPoints: kind.scheme === "affine",
    }));
  }
  progress("quantize", targets.length, targets.length);
  return { bytes, changes, warnings: warnings.map((w) => `${w.path}: ${w.message}`) };
}
