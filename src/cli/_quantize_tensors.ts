// Quantizing a model with the quantization engine's `quantize()`; fake-quantized values feed the
// per-layer report.
import { getKernels } from "../kernels/default.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { fakeQuantize } from "../quantization/fake_quantize.ts";
import { quantize, type QuantizeResult } from "../quantization/quantize.ts";
import type { Progress, TensorChange } from "./_tensor_change.ts";

/** The quantizers `compressModel` runs. */
export const QUANTIZERS: readonly string[] = ["PtqQuantizer"];

/** Quantizes the configured parameters; returns the changes, the engine's result and warnings. */
export async function quantizeTensors(
  model: ModelGraph,
  configList: unknown,
  algorithm: string,
  progress: Progress,
): Promise<{ changes: TensorChange[]; result: QuantizeResult; warnings: string[] }> {
  if (!QUANTIZERS.includes(algorithm)) {
    throw new TypeError(
      `"algorithm" must be one of ${QUANTIZERS.join(", ")} for quantization: current value is ${
        JSON.stringify(algorithm)
      }`,
    );
  }
  const kernels = getKernels();
  progress("ranges", 0, 1);
  const result = await quantize(model, configList, { kernels });
  const modules = new Map(model.modules.map((m) => [m.name, m]));
  const changes: TensorChange[] = [];
  const parameters = result.params.filter((p) => p.kind === "parameter");
  for (const [i, p] of parameters.entries()) {
    progress("quantize", i, parameters.length);
    const module = modules.get(p.module);
    const ref = module?.params[p.target];
    if (module === undefined || ref === undefined) continue;
    const before = await ref.data();
    changes.push({
      module: p.module,
      target: p.target,
      type: module.type,
      granularity: p.granularity,
      ref,
      before,
      after: fakeQuantize(before, ref.shape, p, { kernels }),
      bits: p.bits,
      blocks: p.scale.length,
      zeroPoints: p.quantScheme === "affine",
    });
  }
  progress("quantize", parameters.length, parameters.length);
  return { changes, result, warnings: [...result.report.warnings] };
}
