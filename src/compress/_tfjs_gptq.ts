/**
 * GPTQ rounding of a tfjs graph model's uint8 kernels on calibration inputs run by tfjs.
 *
 * @module
 */

import type { TfjsModel } from "../io/tfjs/tfjs_types.ts";
import { tfjsBiasSites } from "../quantization/bias_correct_tfjs.ts";
import {
  gptqTfjsKernel,
  type TfjsConvGeometry,
  tfjsConvGeometry,
  type TfjsDepthwise,
  type TfjsGrid,
  TfjsLayerHessian,
} from "../quantization/gptq_tfjs.ts";
import { tfjsWeightValues } from "../io/tfjs/read_tfjs.ts";
import { tfjsLayerHessians, type TfjsRuntime } from "./compare_tfjs.ts";
import type { TfjsInputSet } from "./tfjs_inputs.ts";

/**
 * The most inputs per output (`kh·kw·in` of a convolution, `in` of a MatMul) a kernel may have
 * for GPTQ rounding: its second moments take `8·D²` bytes (32 MiB at 2048), their accumulation
 * `D²/2` multiply-adds per input patch, and their inverse `D³` (a kernel of 2048 inputs and 256
 * outputs took 24 s here with other work running, one of 1024 inputs 2 s; the tfjs models of
 * `@vladmandic/human` have at most 1280).
 */
export const GPTQ_MAX_INPUTS = 2048;

/** A 1 x 1 convolution's geometry: a SeparableConv2D's pointwise kernel on the depthwise output. */
const POINTWISE: TfjsConvGeometry = { strides: [1, 1], dilations: [1, 1], padding: "VALID" };

/**
 * The kernels of `targets` that are a convolution's, a depthwise convolution's or a MatMul's
 * (`tfjsBiasSites`), rounded onto their grids by GPTQ against their inputs on `inputs`, every
 * layer's inputs taken from the unquantized model in one run per input set.
 *
 * Taking each layer's inputs from the model with the layers before it rounded, and aiming at
 * the unquantized outputs (least squares of `w·x_float` by `t·x_rounded`, then GPTQ of `t`),
 * was measured on handlandmark-lite and not kept (docs/model-files.md, "GPTQ rounding"): it
 * overfits the calibration inputs unless dampened far more than GPTQ, and then does no better
 * than one pass with equalization and bias correction (0.9604-0.9657 against 0.9707 on photos).
 *
 * @param runtime tfjs-core (backend set) and `loadGraphModel`.
 * @param model The decoded model (unquantized).
 * @param files Its files as tfjs loads them.
 * @param targets The uint8 targets: grid and original values (tfjs layout), by weight name
 * (`tfjsUint8Grids`).
 * @param inputs Calibration input sets.
 * @param maxInputs The most inputs per output of a kernel rounded (default `GPTQ_MAX_INPUTS`).
 * @returns The rounded values, tfjs layout, by weight name, and the kernels left to nearest
 * rounding because each of their outputs reads more than `maxInputs` inputs.
 */
export async function gptqTfjsRounding(
  runtime: TfjsRuntime,
  model: TfjsModel,
  files: ReadonlyMap<string, Uint8Array>,
  targets: ReadonlyMap<string, { grid: TfjsGrid; values: Float32Array }>,
  inputs: readonly TfjsInputSet[],
  maxInputs = GPTQ_MAX_INPUTS,
): Promise<{ rounded: Map<string, Float32Array>; tooWide: string[] }> {
  const shapes = new Map(model.weights.map((w) => [w.spec.name, w.spec.shape]));
  const tooWide: string[] = [];
  const hessians = tfjsBiasSites(model).flatMap((s) => {
    if (!targets.has(s.kernel)) return [];
    // A SeparableConv2D's pointwise kernel: a 1 x 1 convolution of the depthwise output, which
    // tfjs computes from the layer's input with the float depthwise kernel.
    let through: TfjsDepthwise | undefined;
    if (s.through !== undefined) {
      const dw = model.weights.find((w) => w.spec.name === s.through);
      const g = tfjsConvGeometry(model, { node: `${s.node}/depthwise`, kind: "depthwise" });
      if (dw === undefined || g === undefined) return [];
      through = {
        kernel: Float32Array.from(tfjsWeightValues(dw)),
        shape: dw.spec.shape,
        geometry: g,
      };
    }
    const geometry = through !== undefined ? POINTWISE : tfjsConvGeometry(model, s);
    if (s.kind !== "matmul" && geometry === undefined) return [];
    const shape = shapes.get(s.kernel)!;
    const inputsPerOutput = s.kind === "matmul"
      ? shape[s.transposeB ? 1 : 0]
      : s.kind === "depthwise"
      ? shape[0] * shape[1]
      : shape.slice(0, -1).reduce((a, b) => a * b, 1); // [kh, kw, in, out] or Conv1D [k, in, out]
    if (inputsPerOutput > maxInputs) {
      tooWide.push(s.kernel);
      return [];
    }
    return [new TfjsLayerHessian(s, shape, geometry, through)];
  });
  const rounded = new Map<string, Float32Array>();
  if (hessians.length === 0) return { rounded, tooWide };
  await tfjsLayerHessians(runtime, files, inputs, hessians);
  for (const h of hessians) {
    const t = targets.get(h.site.kernel)!;
    rounded.set(h.site.kernel, gptqTfjsKernel(h, t.values, t.grid));
  }
  return { rounded, tooWide };
}
