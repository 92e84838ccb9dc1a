// Quantizing a model with the quantization engine's `quantize()`; fake-quantized values feed the
// per-layer report.
import { compressorFor } from "../config/algorithms.ts";
import { getKernels } from "../kernels/default.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { fakeQuantize } from "../quantization/fake_quantize.ts";
import {
  quantize,
  type QuantizeCalibration,
  type QuantizeResult,
} from "../quantization/quantize.ts";
import type { LayerReport } from "../report/types.ts";
import { type Progress, quantizedChange, type TensorChange } from "./_tensor_change.ts";

/**
 * Quantizes the configured parameters (and, with calibration, inputs and outputs); returns the
 * parameter changes, report lines of the activation targets, the engine's result and warnings.
 */
export async function quantizeTensors(
  model: ModelGraph,
  configList: unknown,
  algorithm: string,
  progress: Progress,
  calibration?: QuantizeCalibration,
): Promise<{
  changes: TensorChange[];
  activations: LayerReport[];
  result: QuantizeResult;
  warnings: string[];
}> {
  compressorFor("quantization", algorithm);
  const kernels = getKernels();
  progress("ranges", 0, 1);
  const result = await quantize(model, configList, {
    kernels,
    ...(calibration === undefined ? {} : { calibration }),
  });
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  const parameters = result.params.filter((p) => p.kind === "parameter");
  for (const [i, p] of parameters.entries()) {
    progress("quantize", i, parameters.length);
    const module = modules.get(p.module);
    const ref = module?.params[p.target];
    if (module === undefined || ref === undefined) continue;
    const before = await ref.data();
    changes.push(
      quantizedChange(p, module.type, ref, before, fakeQuantize(before, ref.shape, p, { kernels })),
    );
  }
  progress("quantize", parameters.length, parameters.length);
  const activations = result.params.filter((p) => p.kind !== "parameter").map((p) => ({
    module: p.module,
    target: p.target,
    type: modules.get(p.module)?.type ?? "",
    shape: [...p.shape],
    elements: 0,
    sparsityBefore: 0,
    sparsity: 0,
    bits: p.bits,
    dtype: "F32",
    granularity: p.granularity === null || typeof p.granularity === "string"
      ? p.granularity
      : JSON.stringify(p.granularity),
  }));
  return { changes, activations, result, warnings: [...result.report.warnings] };
}
