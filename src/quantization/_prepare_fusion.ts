// The fusion step of `quantize()`: validated `fuse_names` groups folded into a fused model view.
import type { ConfigPlan } from "../config/plan.ts";
import type { ExtraRegistry } from "../config/types.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { type FusedModel, fuseModel } from "./fuse_model.ts";
import { checkOnnxFusion, onnxBatchNormEpsilon } from "./fused_onnx.ts";
import { fusionGroups } from "./fusion_groups.ts";
import { QuantizationError } from "./quantization_error.ts";

/** Inputs of the fusion step. */
export interface FusionInputs {
  readonly registry?: ExtraRegistry;
  /** The decoded ONNX model of an ONNX `model` (its BatchNormalization epsilons). */
  readonly onnx?: OnnxModel;
  /** The BatchNorm eps of models without ONNX nodes (default 1e-5). */
  readonly epsilon?: number;
}

/**
 * The fused model of a plan's `fuse_names` groups (validated by `planQuantization` with every
 * issue and its path), or `undefined` when it has none.
 */
export async function prepareFusion(
  model: ModelGraph,
  plan: ConfigPlan,
  inputs: FusionInputs,
): Promise<FusedModel | undefined> {
  if (plan.fuseNames.length === 0) return undefined;
  const fusion = fusionGroups(model, plan);
  let epsilon: (bn: string) => number | undefined = () => inputs.epsilon;
  // Folding uses the stored statistics only; the ONNX model (given, or the one the module view
  // was built from) supplies each BatchNormalization's epsilon and the graph checks.
  const onnx = inputs.onnx ?? (model.source?.format === "onnx" ? model.source.onnx : undefined);
  if (model.format === "onnx" && fusion.some((g) => g.bn !== undefined)) {
    if (onnx === undefined) {
      throw new QuantizationError(
        "fusion",
        `folding a BatchNorm needs the decoded ONNX model (options.onnx, or a model built with onnxModel()) to read each BatchNormalization's epsilon`,
        { path: fusion.find((g) => g.bn !== undefined)!.path },
      );
    }
    epsilon = onnxBatchNormEpsilon(onnx, model);
  }
  const fused = await fuseModel(model, fusion, { epsilon });
  if (onnx !== undefined && model.format === "onnx") checkOnnxFusion(onnx, fused);
  return fused;
}
