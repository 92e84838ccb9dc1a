// Storage "float16" (TensorFlow.js only): the configured weights stored as float16, as the tfjs
// converter's --quantize_float16 stores them.
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { encodeTfjs, type TfjsReplacement, tfjsSaved } from "../io/tfjs/write_tfjs.ts";
import { getKernels } from "../kernels/default.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { toTfjsLayout } from "../model/tfjs_model.ts";
import { changeOf, type Progress, type TensorChange } from "./_tensor_change.ts";

/**
 * Stores every parameter target of the config list as float16 (round to nearest even), the
 * way tfjs's converter does; weights already stored at 16 bits or less, and non-float weights,
 * are left as they are. The config list only selects: its quant_dtype, scheme and granularity
 * do not apply, and a warning says so.
 */
export async function halfTensors(
  tfjs: TfjsModel,
  model: ModelGraph,
  configList: unknown,
  progress: Progress,
  shardBytes?: number,
): Promise<{
  bytes: Uint8Array;
  files: ReadonlyMap<string, Uint8Array>;
  changes: TensorChange[];
  warnings: string[];
}> {
  const { targets, warnings } = resolveTargetSettings(
    moduleInfos(model),
    configList,
    "quantization",
    { algorithm: "PtqQuantizer" },
  );
  const kernels = getKernels();
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const specs = new Map(tfjs.weights.map((w) => [w.spec.name, w.spec]));
  const replacements = new Map<string, TfjsReplacement>();
  const changes: TensorChange[] = [];
  const params = targets.filter((t) => t.kind === "parameter");
  for (const [i, t] of params.entries()) {
    progress("quantize", i, params.length);
    const module = modules.get(t.module);
    const ref = module?.params[t.target];
    const spec = ref === undefined ? undefined : specs.get(ref.name);
    if (ref === undefined || spec?.dtype !== "float32" || spec.quantization !== undefined) continue;
    if (replacements.has(ref.name)) continue;
    const before = await ref.data();
    const after = kernels.f16ToF32(kernels.f32ToF16(before));
    replacements.set(ref.name, { values: toTfjsLayout(ref, after), storage: "float16" });
    changes.push(changeOf({
      module: t.module,
      target: t.target,
      type: module!.type,
      granularity: null,
      ref,
      before,
      after,
      bits: 16,
      blocks: 0,
    }));
  }
  progress("quantize", params.length, params.length);
  const saved = tfjsSaved(encodeTfjs(tfjs, replacements, { shardBytes, kernels }));
  return {
    bytes: saved,
    files: saved.files,
    changes,
    warnings: [
      ...warnings.map((w) => `${w.path}: ${w.message}`),
      "storage float16 stores the selected weights as float16 (as tfjs's --quantize_float16); " +
      "the config list's quant_dtype, quant_scheme and granularity do not apply",
    ],
  };
}
