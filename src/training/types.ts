/**
 * Types of the TensorFlow.js adapter: a `tf.LayersModel` seen as modules with PyTorch-layout
 * parameters.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, LayerVariable } from "@tensorflow/tfjs-layers";
import type { ModuleInfo } from "../config/types.ts";

/** A layer of a `LayersModel`. */
export type TfLayer = LayersModel["layers"][number];

/** A parameter of a layer, with its mapping between tf and PyTorch layouts. */
export interface TfParam {
  /** The module (layer) name. */
  readonly module: string;
  /** The PyTorch parameter name (`weight`, `bias`, `running_mean`, ...). */
  readonly name: string;
  /** The tf weight name inside the layer (`kernel`, `gamma`, ...). */
  readonly tfName: string;
  /** The layer's variable. */
  readonly variable: LayerVariable;
  /** The tf shape. */
  readonly tfShape: readonly number[];
  /** The PyTorch shape. */
  readonly shape: readonly number[];
  /** tf axis of each PyTorch dim (`[1, 0]` for a Dense kernel); identity when layouts agree. */
  readonly perm: readonly number[];
  /** The tf axes that hold PyTorch dim 0 (two for a depthwise kernel). */
  readonly dim0Axes: readonly number[];
  /** Values in tf layout → values in PyTorch layout. */
  toTorch(data: Float32Array): Float32Array;
  /** Values in PyTorch layout → values in tf layout. */
  fromTorch(data: Float32Array): Float32Array;
}

/** A `LayersModel` seen as modules. */
export interface TfModelView {
  /** The model. */
  readonly model: LayersModel;
  /** The modules in layer order (input layers left out), with PyTorch types and shapes. */
  readonly modules: readonly ModuleInfo[];
  /** The layers by module name. */
  readonly layers: ReadonlyMap<string, TfLayer>;
  /** Every mapped parameter, in layer order. */
  readonly params: readonly TfParam[];
  /** The raw (unhooked) value of a parameter's variable. */
  value(p: TfParam): tf.Variable;
}
