// Storage "float16" on ONNX models: the model's float32 computation converted to float16
// (convertFloat16), the nodes of modules the config list does not select left in float32.
import { isConfigPlan } from "../config/plan.ts";
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import { convertFloat16, type ConvertFloat16Options } from "../io/onnx/convert_float16.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { getKernels } from "../kernels/default.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";

/**
 * The modules a config list selects (those with at least one target), or every module when the
 * list is `undefined`.
 */
export function selectedModules(
  model: ModelGraph,
  configList: unknown,
): { modules: Set<string>; warnings: string[] } {
  if (configList === undefined) {
    return { modules: new Set(model.modules.map((m) => m.name)), warnings: [] };
  }
  const { targets, warnings } = isConfigPlan(configList)
    ? configList
    : resolveTargetSettings(moduleInfos(model), configList, "quantization", {
      algorithm: "PtqQuantizer",
    });
  return {
    modules: new Set(targets.map((t) => t.module)),
    warnings: warnings.map((w) => `${w.path}: ${w.message}`),
  };
}

/** Float32 values as the converter stores them: clamped, then rounded to float16 and back. */
function halfValues(values: Float32Array, minPositive: number, maxFinite: number): Float32Array {
  const clamped = Float32Array.from(values);
  for (let i = 0; i < clamped.length; i++) {
    const v = clamped[i];
    const m = v < 0 ? -v : v;
    if (m > 0 && m < minPositive) clamped[i] = v < 0 ? -minPositive : minPositive;
    else if (m > maxFinite && m !== Infinity) clamped[i] = v < 0 ? -maxFinite : maxFinite;
  }
  const kernels = getKernels();
  return kernels.f16ToF32(kernels.f32ToF16(clamped));
}

/**
 * Converts an ONNX model to float16 (`convertFloat16`). With a config list, the nodes of modules
 * it does not select stay in float32 (like the converter's `node_block_list`); nodes that belong
 * to no module (activations, reshapes, …) are converted. Every float32 parameter of a converted
 * module is reported as a 16-bit change.
 */
export async function halfOnnx(
  onnx: OnnxModel,
  model: ModelGraph,
  configList: unknown,
  progress: Progress,
  options: ConvertFloat16Options = {},
): Promise<{ bytes: Uint8Array; changes: TensorChange[]; warnings: string[] }> {
  progress("convert", 0, 1);
  const { modules, warnings } = selectedModules(model, configList);
  const narrowed = modules.size < model.modules.length;
  const given = options.blockNode;
  const result = convertFloat16(onnx, {
    ...options,
    blockNode: (node, at) => {
      if (given?.(node, at) === true) return true;
      if (!narrowed) return false;
      const view = at.graph === "graph" ? model.graph?.nodes : model.graph?.subgraphs?.[at.graph];
      const m = view?.[at.index]?.module;
      return m !== undefined && !modules.has(m);
    },
  });
  const kept = new Set(result.keptTensors);
  const changes: TensorChange[] = [];
  const minPositive = options.minPositive ?? 1e-7;
  const maxFinite = options.maxFinite ?? 1e4;
  for (const m of model.modules) {
    if (!modules.has(m.name) || m.quantized !== undefined) continue;
    for (const [target, ref] of Object.entries(m.params)) {
      if (ref.dtype !== "F32" || kept.has(ref.name)) continue;
      const before = await ref.data();
      changes.push(changeOf({
        module: m.name,
        target,
        type: m.type,
        granularity: null,
        ref,
        before,
        after: halfValues(before, minPositive, maxFinite),
        bits: 16,
        blocks: 0,
      }));
    }
  }
  progress("convert", 1, 1);
  const notes = [...warnings];
  if (configList !== undefined) {
    notes.push(
      "storage float16 converts the selected modules (and the nodes of no module) to float16; " +
        "the config list's quant_dtype, quant_scheme and granularity do not apply",
    );
  }
  if (result.clamped.small + result.clamped.large > 0) {
    notes.push(
      `float16 conversion clamped ${result.clamped.small} non-zero values to ±${minPositive} and ${result.clamped.large} to ±${maxFinite} (the converter's min_positive_val and max_finite_val)`,
    );
  }
  return { bytes: result.bytes, changes, warnings: notes };
}
