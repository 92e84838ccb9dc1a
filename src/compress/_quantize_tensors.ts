// Quantizing a model with the quantization engine's `quantize()`; fake-quantized values feed the
// per-layer report.
import { compressorFor } from "../config/algorithms.ts";
import { getKernels } from "../kernels/default.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { storedFloat32 } from "../model/stored_float32.ts";
import {
  quantize,
  type QuantizeCalibration,
  type QuantizeResult,
} from "../quantization/quantize.ts";
import type { LayerReport } from "../report/types.ts";
import { type Progress, quantizedChange, type TensorChange, zeros } from "./_tensor_change.ts";

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
  // The fake-quantized values are only counted (zeros): they go into one scratch array, reused,
  // so no tensor-sized temporary per parameter waits for the collector; values decoded into
  // the scratch (not read where stored) are fake-quantized in place once their zeros are
  // counted. The kernel alone suffices: `fakeQuantize` only fixes the sign of zeros after it.
  let scratch = new Float32Array(0);
  for (const [i, p] of parameters.entries()) {
    progress("quantize", i, parameters.length);
    const module = modules.get(p.module);
    const ref = module?.params[p.target];
    if (module === undefined || ref === undefined) continue;
    const n = ref.shape.reduce((a, b) => a * b, 1);
    if (scratch.length < n) scratch = new Float32Array(n);
    const stored = await storedFloat32(ref);
    const before = stored ?? await ref.data(scratch.subarray(0, n));
    const zerosBefore = zeros(before);
    const out = stored === undefined ? before : scratch.subarray(0, n);
    changes.push(
      quantizedChange(
        p,
        module.type,
        ref,
        zerosBefore,
        kernels.fakeQuantize(before, ref.shape, p, out),
      ),
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
