/**
 * `describeTfModel`: a TensorFlow.js `LayersModel` seen as modules, like an ONNX export of the
 * same network.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, LayerVariable } from "@tensorflow/tfjs-layers";
import type { ModuleInfo } from "../config/types.ts";
import { invertPermutation, permute } from "../model/permute.ts";
import { CELL_LAYER, stackedCellIndex } from "../model/tfjs_cells.ts";
import { ACTIVATIONS, LAYERS, type ParamMap, PLAIN_LAYERS } from "./_layer_map.ts";
import type { TfLayer, TfModelView, TfParam } from "./types.ts";

function inputRank(layer: TfLayer): number {
  try {
    const shape = layer.inputSpec?.[0]?.ndim ?? (layer.input as { shape: unknown[] }).shape.length;
    return shape;
  } catch {
    return 2;
  }
}

function moduleType(layer: TfLayer, cls: string): string {
  const mapped = LAYERS[cls];
  if (mapped !== undefined) {
    return typeof mapped.type === "string" ? mapped.type : mapped.type(inputRank(layer));
  }
  if (cls === "Activation") {
    const name = (layer.getConfig().activation as string | undefined) ?? "linear";
    return ACTIVATIONS[name] ?? "Activation";
  }
  return PLAIN_LAYERS[cls] ?? cls;
}

/** The layer class of each cell of a generic `RNN` layer (`GRUCell` -> `GRU`), in order. */
function rnnCells(layer: TfLayer): string[] | undefined {
  const cell = (layer as unknown as { cell?: TfLayer & { cells?: TfLayer[] } }).cell;
  if (cell === undefined) return undefined;
  const cells = Array.isArray(cell.cells) ? cell.cells : [cell];
  return cells.map((c) => {
    const cls = c.getClassName();
    return Object.hasOwn(CELL_LAYER, cls) ? CELL_LAYER[cls] : cls;
  });
}

function makeParam(module: string, tfName: string, v: LayerVariable, map: ParamMap): TfParam {
  const tfShape = [...v.shape] as number[];
  const perm = map.perm ?? tfShape.map((_, i) => i);
  const permuted = perm.map((a) => tfShape[a]);
  const shape = map.merge === "depthwise"
    ? [permuted[0] * permuted[1], 1, ...permuted.slice(2)]
    : permuted;
  const inverse = invertPermutation(perm);
  const same = perm.every((a, i) => a === i);
  return {
    module,
    name: map.name,
    tfName,
    variable: v,
    tfShape,
    shape,
    perm,
    dim0Axes: map.merge === "depthwise" ? [perm[0], perm[1]] : [perm[0]],
    toTorch: (data) => (same ? Float32Array.from(data) : permute(data, tfShape, perm)),
    fromTorch: (data) => (same ? Float32Array.from(data) : permute(data, permuted, inverse)),
  };
}

/**
 * Describes a `LayersModel` as modules named after its layers, with PyTorch module types and
 * parameters in PyTorch layout, so a config list selects the same modules and targets as on an
 * ONNX export of the same network: Dense → Linear (kernel `[in, out]` ↔ weight `[out, in]`),
 * Conv1D/2D/3D → Conv1d/2d/3d (`[kh, kw, in, out]` ↔ `[out, in, kh, kw]`), Conv2DTranspose →
 * ConvTranspose2d, DepthwiseConv2D → Conv2d with groups (`[kh, kw, in, m]` ↔ `[in*m, 1, kh, kw]`),
 * BatchNormalization → BatchNorm1d/2d/3d (gamma, beta, moving mean and variance → weight, bias,
 * running_mean, running_var), LayerNormalization → LayerNorm, Embedding → Embedding, PReLU,
 * LSTM/GRU/SimpleRNN → LSTM/GRU/RNN (kernel and recurrent kernel ↔ `weight_ih` and `weight_hh`,
 * transposed; Keras's gate order), a TimeDistributed layer as the layer it wraps, a Bidirectional
 * layer as a module without parameters (its input and output) and one module per direction
 * (`bi.forward_lstm`, `bi.backward_lstm`), and
 * activation layers (ReLU, Activation("relu") → ReLU, Softmax, ...). Other layers keep their class
 * name as type; input layers are left out. `opType` holds the tf class name, so `op_types:
 * ["Dense"]` selects too. Layers of a nested model are submodules named `outer.inner`. An
 * activation fused into a layer (`dense({ activation: "relu" })`) is
 * part of that layer: its output is the activated value.
 *
 * @param model the model (built, e.g. with an `inputShape`)
 * @returns the modules, the layers by name and the mapped parameters
 * @throws {TypeError} when the model is not a built `LayersModel`
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { describeTfModel } from "./describe_tf_model.ts";
 *
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.dense({ units: 3, inputShape: [4], name: "fc1" }),
 *   tfl.layers.reLU({ name: "relu1" }),
 * ] });
 * const { modules } = describeTfModel(model);
 * assert.deepEqual(modules.map((m) => [m.name, m.type]), [["fc1", "Linear"], ["relu1", "ReLU"]]);
 * assert.deepEqual(modules[0].params, { weight: [3, 4], bias: [3] });
 * ```
 */
export function describeTfModel(model: LayersModel): TfModelView {
  if (model === null || typeof model !== "object" || !Array.isArray(model.layers)) {
    throw new TypeError(`"model" must be a tf.LayersModel: current value is ${typeof model}`);
  }
  const modules: ModuleInfo[] = [];
  const params: TfParam[] = [];
  const layers = new Map<string, TfLayer>();
  const variables = new Map<TfParam, tf.Variable>();
  const visit = (list: readonly TfLayer[], prefix: string) => {
    for (const layer of list) {
      const cls = layer.getClassName();
      if (cls === "InputLayer") continue;
      const name = prefix + layer.name;
      const inner = (layer as unknown as { layers?: TfLayer[] }).layers;
      if (Array.isArray(inner)) {
        // a nested model: its layers are submodules, named with dots like PyTorch's
        visit(inner, `${name}.`);
        continue;
      }
      const wrapper = layer as unknown as {
        layer?: TfLayer;
        forwardLayer?: TfLayer;
        backwardLayer?: TfLayer;
      };
      layers.set(name, layer);
      if (cls === "Bidirectional" && wrapper.forwardLayer && wrapper.backwardLayer) {
        // One module per direction, named as its weights are (`bi/forward_lstm/kernel`).
        // The wrapper stays a module of its own (no parameters) for targets on its input and
        // output.
        modules.push({ name, type: cls, params: {}, opType: cls });
        for (const sub of [wrapper.forwardLayer, wrapper.backwardLayer]) {
          add(sub, `${name}.${sub.name}`, sub.getClassName());
          layers.set(`${name}.${sub.name}`, sub);
        }
        continue;
      }
      const cells = cls === "RNN" ? rnnCells(layer) : undefined;
      if (cells !== undefined) {
        // A generic RNN is its cell's layer class (a GRUCell's weights are a GRU's); each cell
        // of a stack is a module, named as its weights are (`stack/RNNCell_1/kernel`).
        if (cells.length === 1) {
          add(layer, name, cells[0]);
          continue;
        }
        modules.push({ name, type: cls, params: {}, opType: cls });
        const bySub = new Map<string, LayerVariable[]>();
        for (const v of layer.weights) {
          const segments = v.originalName.split("/");
          const sub = segments.length > 2 ? segments[segments.length - 2] : "";
          let list = bySub.get(sub);
          if (list === undefined) bySub.set(sub, list = []);
          list.push(v);
        }
        for (const [sub, weights] of bySub) {
          const cell = cells[stackedCellIndex(sub)] ?? cls;
          add(layer, sub === "" ? name : `${name}.${sub}`, cell, layer, weights);
        }
        continue;
      }
      // A TimeDistributed layer's weights are its layer's (a Dense is a Linear).
      const held = cls === "TimeDistributed" ? wrapper.layer : undefined;
      add(layer, name, held?.getClassName() ?? cls, held);
    }
  };
  const add = (
    layer: TfLayer,
    name: string,
    cls: string,
    typed: TfLayer = layer,
    weights: readonly LayerVariable[] = layer.weights,
  ) => {
    const mapped = LAYERS[cls]?.params ?? {};
    const shapes: Record<string, number[]> = {};
    for (const v of weights) {
      const tfName = v.originalName.slice(v.originalName.lastIndexOf("/") + 1);
      const p = makeParam(name, tfName, v, mapped[tfName] ?? { name: tfName });
      shapes[p.name] = [...p.shape];
      params.push(p);
      variables.set(p, v.read() as tf.Variable);
    }
    modules.push({ name, type: moduleType(typed, cls), params: shapes, opType: cls });
  };
  visit(model.layers, "");
  return { model, modules, layers, params, value: (p) => variables.get(p)! };
}
