/**
 * `tfToOnnx`: a sequential TensorFlow.js model of Dense and activation layers as an ONNX model.
 *
 * @module
 */

import { buildOnnx } from "../io/onnx/build_onnx.ts";
import type { NodeSpec, TensorSpec } from "../io/onnx/proto_writer.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { maskedValue, type ParamMasks } from "./_masked_values.ts";
import type { TfLayer, TfModelView } from "./types.ts";

/** Options of `tfToOnnx`. */
export interface TfToOnnxOptions {
  /** The graph input name (default `"input"`). */
  readonly inputName?: string;
  /** The graph output name (default `"output"`). */
  readonly outputName?: string;
  /** Masks to apply to the weights (e.g. `pruner.masks()`); pruned weights are written as 0. */
  readonly masks?: ParamMasks;
}

/** ONNX operators of tfjs activation names (`linear` is no operator). */
const ACTIVATION_OPS: Readonly<Record<string, string | null>> = {
  linear: null,
  relu: "Relu",
  sigmoid: "Sigmoid",
  tanh: "Tanh",
  softmax: "Softmax",
  elu: "Elu",
  softplus: "Softplus",
  softsign: "Softsign",
};

type Emit = (
  op: string,
  path: string,
  attrs?: NodeSpec["attributes"],
  extra?: readonly string[],
) => void;

function activation(layer: TfLayer, name: string | undefined, path: string, emit: Emit): void {
  const key = name ?? "linear";
  const op = ACTIVATION_OPS[key];
  if (op === undefined) {
    throw new RangeError(
      `layer "${layer.name}": activation ${
        JSON.stringify(key)
      } has no ONNX export here; use one of ${Object.keys(ACTIVATION_OPS).join(", ")}`,
    );
  }
  if (op === null) return;
  emit(op, path, op === "Softmax" ? [{ name: "axis", i: -1 }] : undefined);
}

function rankOf(layer: TfLayer): number {
  return (layer.input as unknown as { shape: unknown[] }).shape.length;
}

/**
 * Writes a sequential TensorFlow.js model as an ONNX model (IR 8, opset 13) that computes the
 * same function in inference mode: Dense → `Gemm` (weight `[out, in]` with `transB = 1`, named
 * `<layer>.weight` / `<layer>.bias`, node `/<layer>/Gemm`), ReLU / LeakyReLU / ELU / Softmax and
 * `Activation` layers → `Relu`, `LeakyRelu`, `Elu`, `Softmax` (last axis), `Sigmoid`, `Tanh`,
 * ...; Flatten → `Flatten`; Dropout is left out. Names follow PyTorch's exporter, so
 * `onnxModel()` of the file sees the same modules (`fc1` Linear, `relu1` ReLU) and a config list
 * selects the same targets as on the tfjs model: the parameters of a QAT-trained model
 * (`quantTargetParams`) apply to the file as they are, e.g. with `qdqOnnx`. An activation fused
 * into a Dense layer becomes a node of its own module `<layer>.activation`, so the ONNX module
 * `<layer>`'s `_output_0` is the value before it (in tfjs it is after it): use separate
 * activation layers to quantize such outputs.
 *
 * @param view the model view from `describeTfModel` (a single-input chain of layers)
 * @param options graph input and output names, masks
 * @returns the ONNX file bytes
 * @throws {RangeError} for a layer without an export (its name and class in the message), a
 *   Dense layer on inputs of rank other than 2, or a model that is not a chain of layers
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
 * import { onnxModel } from "../model/onnx_model.ts";
 * import { describeTfModel, tfToOnnx } from "./mod.ts";
 *
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.dense({ units: 3, inputShape: [4], name: "fc1" }),
 *   tfl.layers.reLU({ name: "relu1" }),
 * ] });
 * const onnx = onnxModel(decodeOnnx(tfToOnnx(describeTfModel(model))));
 * assert.deepEqual(onnx.modules.map((m) => [m.name, m.type]), [["fc1", "Linear"], ["relu1", "ReLU"]]);
 * assert.deepEqual(onnx.modules[0].params.weight.shape, [3, 4]);
 * ```
 */
export function tfToOnnx(view: TfModelView, options: TfToOnnxOptions = {}): Uint8Array {
  const model = view.model;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new RangeError(
      `tfToOnnx() exports models with one input and one output: the model has ${model.inputs.length} and ${model.outputs.length}`,
    );
  }
  const inputName = options.inputName ?? "input";
  const outputName = options.outputName ?? "output";
  const nodes: NodeSpec[] = [];
  const initializers: TensorSpec[] = [];
  let current = inputName;
  let previous: TfLayer | undefined;
  const emit: Emit = (op, path, attributes, extra = []) => {
    const out = `${path}/${op}_output_0`;
    nodes.push({
      name: `${path}/${op}`,
      opType: op,
      inputs: [current, ...extra],
      outputs: [out],
      ...(attributes ? { attributes } : {}),
    });
    current = out;
  };
  const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  for (const layer of layers) {
    const cls = layer.getClassName();
    if (previous !== undefined && layer.input !== previous.output) {
      throw new RangeError(
        `layer "${layer.name}" does not take the output of "${previous.name}": tfToOnnx() exports chains of layers`,
      );
    }
    previous = layer;
    const path = `/${layer.name.split(".").join("/")}`;
    const config = layer.getConfig();
    if (cls === "Dense") {
      if (rankOf(layer) !== 2) {
        throw new RangeError(
          `layer "${layer.name}" (Dense) has inputs of rank ${
            rankOf(layer)
          }: tfToOnnx() exports Dense layers on rank-2 inputs (Gemm)`,
        );
      }
      const extra: string[] = [];
      for (const p of view.params.filter((q) => q.module === layer.name)) {
        const name = `${layer.name}.${p.name}`;
        const data = maskedValue(view, p, options.masks);
        const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        initializers.push({ name, dataType: ONNX_DATA_TYPE.FLOAT, dims: p.shape, raw });
        extra[p.name === "weight" ? 0 : 1] = name;
      }
      emit("Gemm", path, [{ name: "transB", i: 1 }], extra);
      activation(layer, config.activation as string | undefined, `${path}/activation`, emit);
    } else if (cls === "ReLU") {
      if ((config.maxValue ?? null) !== null) {
        throw new RangeError(`layer "${layer.name}" (ReLU with maxValue): no ONNX export here`);
      }
      emit("Relu", path);
    } else if (cls === "LeakyReLU") {
      emit("LeakyRelu", path, [{ name: "alpha", f: config.alpha as number }]);
    } else if (cls === "ELU") {
      emit("Elu", path, [{ name: "alpha", f: config.alpha as number }]);
    } else if (cls === "Softmax") {
      const rank = rankOf(layer);
      const axes = [config.axis as number | number[]].flat().map((a) => (a < 0 ? a + rank : a));
      if (axes.length !== 1 || axes[0] !== rank - 1) {
        throw new RangeError(
          `layer "${layer.name}" (Softmax) normalizes axis ${
            JSON.stringify(config.axis)
          } of rank-${rank} inputs: tfToOnnx() exports a softmax over the last axis`,
        );
      }
      emit("Softmax", path, [{ name: "axis", i: -1 }]);
    } else if (cls === "Activation") {
      activation(layer, config.activation as string, path, emit);
    } else if (cls === "Flatten") {
      emit("Flatten", path, [{ name: "axis", i: 1 }]);
    } else if (cls !== "Dropout") {
      throw new RangeError(
        `layer "${layer.name}" (${cls}) has no ONNX export here: tfToOnnx() exports Dense, ReLU, LeakyReLU, ELU, Softmax, Activation, Flatten and Dropout layers`,
      );
    }
  }
  if (nodes.length === 0) {
    nodes.push({ name: "/Identity", opType: "Identity", inputs: [current], outputs: [outputName] });
  } else {
    const last = nodes[nodes.length - 1];
    nodes[nodes.length - 1] = { ...last, outputs: [outputName] };
  }
  const dims = (shape: readonly (number | null)[]) =>
    shape.map((d, i) => (d === null ? (i === 0 ? "batch" : `d${i}`) : d));
  const type = (shape: readonly (number | null)[]) => ({
    elemType: ONNX_DATA_TYPE.FLOAT,
    dims: dims(shape),
  });
  return buildOnnx({
    graphName: model.name,
    producer: "nncompress",
    opsets: [{ domain: "", version: 13 }],
    nodes,
    initializers,
    inputs: [{ name: inputName, type: type(model.inputs[0].shape) }],
    outputs: [{ name: outputName, type: type(model.outputs[0].shape) }],
  });
}
