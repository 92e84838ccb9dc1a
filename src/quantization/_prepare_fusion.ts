// The fusion step of `quantize()`: validated `fuse_names` groups folded into a fused model view.
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry } from "../config/types.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { type FusedModel, fuseModel } from "./fuse_model.ts";
import { checkOnnxFusion, onnxBatchNormEpsilon } from "./fused_onnx.ts";
import { fusionGroups } from "./fusion_groups.ts";
import { moduleInfos } from "../model/module_infos.ts";

/** Inputs of the fusion step. */
export interface FusionInputs {
  readonly registry?: ExtraRegistry;
  /** The decoded ONNX model of an ONNX `model` (its BatchNormalization epsilons). */
  readonly onnx?: OnnxModel;
  /** The BatchNorm eps of models without ONNX nodes (default 1e-5). */
  readonly epsilon?: number;
}

const typeOf = (model: ModelGraph, name: unknown) =>
  model.modules.find((m) => m.name === name)?.type ?? "";

function hasFuseNames(configList: unknown): boolean {
  return Array.isArray(configList) && configList.some((c) => {
    const g = (c as { fuse_names?: unknown } | null)?.fuse_names;
    return Array.isArray(g) && g.length > 0;
  });
}

/** The fused model of a config list's `fuse_names`, or `undefined` when it has none. */
export async function prepareFusion(
  model: ModelGraph,
  configList: unknown,
  inputs: FusionInputs,
): Promise<FusedModel | undefined> {
  if (!hasFuseNames(configList)) return undefined;
  // A folded bias exists after fusion even where the module had none: configs may quantize it.
  const bnFirst = new Set(
    (configList as { fuse_names?: string[][] }[]).flatMap((c) =>
      (c?.fuse_names ?? []).filter((g) => /^BatchNorm/.test(typeOf(model, g[1]))).map((g) => g[0])
    ),
  );
  const infos = moduleInfos(model).map((m) => {
    const w = m.params?.weight;
    return bnFirst.has(m.name) && w && !m.params?.bias
      ? { ...m, params: { ...m.params, bias: [w[0]] } }
      : m;
  });
  const { targets } = resolveTargetSettings(infos, configList, "quantization", {
    algorithm: "PtqQuantizer",
    ...(inputs.registry === undefined ? {} : { registry: inputs.registry }),
  });
  const groups = fusionGroups(model, configList, targets);
  let epsilon: (bn: string) => number | undefined = () => inputs.epsilon;
  if (model.format === "onnx" && groups.some((g) => g.bn !== undefined)) {
    const onnx = inputs.onnx;
    if (onnx === undefined) {
      throw new RangeError(
        `fuse_names with a BatchNorm needs the decoded ONNX model (options.onnx or options.calibration.onnx) to read each BatchNormalization's epsilon`,
      );
    }
    epsilon = onnxBatchNormEpsilon(onnx, model);
  }
  const fused = await fuseModel(model, groups, { epsilon });
  if (inputs.onnx !== undefined && model.format === "onnx") checkOnnxFusion(inputs.onnx, fused);
  return fused;
}
