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
import type { Kernels, QuantParams } from "../kernels/types.ts";
import type { TensorRef } from "../model/model_graph.ts";
import { toFloat32 } from "../model/to_float32.ts";
import { DTYPE_BYTES } from "../tensor/dtype.ts";
import { type Progress, quantizedChange, type TensorChange } from "./_tensor_change.ts";

/** Elements per piece when a parameter's zeros are counted piecewise. */
const PIECE = 1 << 20;

/**
 * Zeros of a parameter before and after fake quantization, counted over pieces of about a
 * million elements (whole rows of dim 0, aligned to the block kernel) when the stored layout is
 * PyTorch's: a run then holds a few MiB of temporaries per tensor instead of two float32 copies
 * of it, which the collector of V8 took long to reclaim (a float16 CNN of 82 MiB peaked at
 * 6x its size). `undefined` when the tensor is not laid out that way (transposed MatMul weights).
 */
async function zerosByPiece(
  ref: TensorRef,
  p: QuantParams,
  kernels: Kernels,
): Promise<{ elements: number; before: number; after: number } | undefined> {
  const shape = ref.shape;
  if (ref.transpose !== undefined || shape.length === 0 || !(ref.dtype in DTYPE_BYTES)) {
    return undefined;
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  const rows = shape[0];
  const rowElements = rows === 0 ? 0 : elements / rows;
  const k0 = p.kernel[0];
  // Blocks per row of the block grid (dims after the first).
  let gridRest = 1;
  for (let d = 1; d < shape.length; d++) {
    if (p.kernel[d] !== -1) gridRest *= shape[d] / p.kernel[d];
  }
  const align = k0 === -1 ? 1 : k0;
  const piece = Math.max(align, Math.floor(PIECE / Math.max(rowElements, 1) / align) * align);
  const bytes = await ref.bytes();
  const size = DTYPE_BYTES[ref.dtype as keyof typeof DTYPE_BYTES];
  if (bytes.length !== elements * size) return undefined;
  let before = 0;
  let after = 0;
  for (let r0 = 0; r0 < rows; r0 += piece) {
    const r1 = Math.min(rows, r0 + piece);
    const values = toFloat32(
      bytes.subarray(r0 * rowElements * size, r1 * rowElements * size),
      ref.dtype,
      kernels,
    );
    const params: QuantParams = k0 === -1 ? p : {
      kernel: p.kernel,
      scale: p.scale.subarray((r0 / k0) * gridRest, (r1 / k0) * gridRest),
      zeroPoint: p.zeroPoint.subarray((r0 / k0) * gridRest, (r1 / k0) * gridRest),
      qmin: p.qmin,
      qmax: p.qmax,
    };
    const out = fakeQuantize(values, [r1 - r0, ...shape.slice(1)], params, { kernels });
    for (let i = 0; i < values.length; i++) {
      if (values[i] === 0) before++;
      if (out[i] === 0) after++;
    }
  }
  return { elements, before, after };
}

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
    const zeros = await zerosByPiece(ref, p, kernels);
    if (zeros !== undefined) {
      changes.push({
        module: p.module,
        target: p.target,
        type: module.type,
        granularity: p.granularity,
        ref,
        elements: zeros.elements,
        zerosBefore: zeros.before,
        zerosAfter: zeros.after,
        bits: p.bits,
        blocks: p.scale.length,
        zeroPoints: p.quantScheme === "affine",
      });
      continue;
    }
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
