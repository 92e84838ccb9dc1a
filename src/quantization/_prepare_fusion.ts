// The fusion step of `quantize()`: validated `fuse_names` groups folded into a fused model view.
import { resolveTargetSettings } from "../config/resolve_target_settings.ts";
import type { ExtraRegistry, Issue } from "../config/types.ts";
import { collectConfigIssues } from "../config/validate_config_list.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { type FusedModel, fuseModel } from "./fuse_model.ts";
import { checkOnnxFusion, onnxBatchNormEpsilon } from "./fused_onnx.ts";
import { fusionGroups } from "./fusion_groups.ts";
import { moduleInfos } from "../model/module_infos.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Inputs of the fusion step. */
export interface FusionInputs {
  readonly registry?: ExtraRegistry;
  /** The decoded ONNX model of an ONNX `model` (its BatchNormalization epsilons). */
  readonly onnx?: OnnxModel;
  /** The BatchNorm eps of models without ONNX nodes (default 1e-5). */
  readonly epsilon?: number;
}

const typeOf = (model: ModelGraph, name: string) =>
  model.modules.find((m) => m.name === name)?.type ?? "";

/**
 * The fused model of a config list's `fuse_names`, or `undefined` when it has none. The list is
 * validated before any `fuse_names` value is read; an invalid list is left to the resolution,
 * which throws the `ConfigError` with every issue and its path (`[0].fuse_names[0]`).
 */
export async function prepareFusion(
  model: ModelGraph,
  configList: unknown,
  inputs: FusionInputs,
): Promise<FusedModel | undefined> {
  const issues: Issue[] = [];
  const valid = collectConfigIssues(configList, "quantization", issues);
  if (valid === undefined || issues.length > 0) return undefined;
  const groups = valid.configList.flatMap((c) => c.fuse_names ?? []);
  if (groups.length === 0) return undefined;
  // A folded bias exists after fusion even where the module had none: configs may quantize it.
  const bnFirst = new Set(
    groups.filter((g) => /^BatchNorm/.test(typeOf(model, g[1]))).map((g) => g[0]),
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
  const fusion = fusionGroups(model, configList, targets);
  let epsilon: (bn: string) => number | undefined = () => inputs.epsilon;
  if (model.format === "onnx" && fusion.some((g) => g.bn !== undefined)) {
    const onnx = inputs.onnx;
    if (onnx === undefined) {
      throw new QuantizationError(
        "fusion",
        `folding a BatchNorm needs the decoded ONNX model (options.onnx or options.calibration.onnx) to read each BatchNormalization's epsilon`,
        { path: fusion.find((g) => g.bn !== undefined)!.path },
      );
    }
    epsilon = onnxBatchNormEpsilon(onnx, model);
  }
  const fused = await fuseModel(model, fusion, { epsilon });
  if (inputs.onnx !== undefined && model.format === "onnx") checkOnnxFusion(inputs.onnx, fused);
  return fused;
}
