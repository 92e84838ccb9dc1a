/**
 * `wandaInputNorms`: the L2 norm of each input feature of a model's Linear and Conv modules
 * over calibration data, measured by running the model in onnxruntime.
 *
 * @module
 */

import { ortFloat32 } from "../io/onnx/ort_float32.ts";
import { type InputTensor, type OrtLike, toOrtTensor } from "../io/onnx/ort.ts";
import { editOnnx } from "../io/onnx/edit_onnx.ts";
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { onnxModel } from "../model/onnx_model.ts";

/** A tensor fed to the model, of any element type (see `InputTensor`). */
export type CalibrationInput = InputTensor;

/** Options of `wandaInputNorms`. */
export interface WandaInputNormsOptions {
  /** The onnxruntime module: `await import("onnxruntime-node")` or `onnxruntime-web`. */
  readonly ort: OrtLike;
  /** The module view of the model (default `onnxModel(onnx)`). */
  readonly model?: ModelGraph;
  /** The modules to measure (default: every Linear and Conv module of the main graph). */
  readonly modules?: readonly string[];
  /** Session options for `InferenceSession.create` (default: one thread). */
  readonly sessionOptions?: Record<string, unknown>;
}

const FEATURE_OPS = new Set(["Conv", "MatMul", "Gemm"]);

/**
 * Runs the model on every calibration batch with the input activation of each measured module
 * exposed as an extra output, and accumulates, per input feature, the sum of squares over every
 * batch, sample and position (float64); returns the square roots — Wanda's `‖x_c‖₂`. Features
 * are dim 1 of a Conv input (`[N, C, …]`) and the last dim of a MatMul/Gemm input (`[…, in]`).
 * Memory holds one batch's activations at a time.
 *
 * @param onnx the decoded model
 * @param batches feeds by graph input name (an iterable or async iterable)
 * @param options the onnxruntime module, the module view, the modules and session options
 * @returns the norms by module name, ready for `prune(…, { pruner: "wanda", inputNorms })`
 * @throws {RangeError} when a module is unknown, not a main-graph Conv/MatMul/Gemm, or no batch
 *   was given
 *
 * @example
 * ```ts ignore
 * const ort = await import("onnxruntime-node");
 * const inputNorms = await wandaInputNorms(onnx, [{ x: { data, dims: [8, 3, 48, 320] } }], { ort });
 * const result = await prune(onnxModel(onnx), configList, { pruner: "wanda", inputNorms });
 * ```
 */
export async function wandaInputNorms(
  onnx: OnnxModel,
  batches:
    | Iterable<Record<string, CalibrationInput>>
    | AsyncIterable<Record<string, CalibrationInput>>,
  options: WandaInputNormsOptions,
): Promise<Record<string, Float32Array>> {
  const model = options.model ?? onnxModel(onnx);
  const nodes = model.graph?.nodes ?? [];
  const names = options.modules ??
    model.modules.filter((m) => FEATURE_OPS.has(m.opType ?? "") && m.params.weight).map((m) =>
      m.name
    ).filter((name) => nodes.some((n) => n.module === name));
  const measured = names.map((name) => {
    const node = nodes.find((n) => n.module === name);
    if (node === undefined || !FEATURE_OPS.has(node.opType)) {
      throw new RangeError(
        `"modules" must name Conv, MatMul or Gemm modules of the main graph: ${
          JSON.stringify(name)
        } is not one`,
      );
    }
    return { name, value: node.inputs[0], lastDim: node.opType !== "Conv" };
  });
  const visible = new Set(onnx.graph.outputs);
  const extraOutputs = [...new Set(measured.map((m) => m.value))].filter((v) => !visible.has(v));
  const { bytes } = editOnnx(
    onnx,
    extraOutputs.map((name) => ({ op: "addGraphOutput", name })),
  );
  const { ort } = options;
  const session = await ort.InferenceSession.create(
    bytes,
    options.sessionOptions ?? { intraOpNumThreads: 1, interOpNumThreads: 1 },
  );
  const sums = new Map<string, Float64Array>();
  let count = 0;
  try {
    for await (const batch of batches) {
      const feeds: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(batch)) {
        feeds[name] = toOrtTensor(ort, t);
      }
      const out = await session.run(feeds);
      for (const m of measured) {
        const t = m.value in out ? out[m.value] : undefined;
        const src = t ?? (batch[m.value] as CalibrationInput | undefined);
        if (src === undefined) throw new RangeError(`activation ${m.value} was not produced`);
        // float16 activations come back as Float16Array or as bits in a Uint16Array.
        const data = ortFloat32(src) ?? Float32Array.from(src.data as ArrayLike<number>, Number);
        const dims = src.dims;
        const channels = m.lastDim ? dims[dims.length - 1] : dims[1];
        const inner = m.lastDim ? 1 : dims.slice(2).reduce((a, b) => a * b, 1);
        let acc = sums.get(m.name);
        if (acc === undefined) sums.set(m.name, acc = new Float64Array(channels));
        for (let i = 0; i < data.length; i++) {
          acc[Math.floor(i / inner) % channels] += data[i] * data[i];
        }
      }
      count++;
    }
  } finally {
    await session.release?.();
  }
  if (count === 0) throw new RangeError(`"batches" must hold at least one batch: none was given`);
  const norms: Record<string, Float32Array> = {};
  for (const [name, acc] of sums) norms[name] = Float32Array.from(acc, Math.sqrt);
  return norms;
}
