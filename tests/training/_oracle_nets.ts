// The oracle's `bn` and `mlp` networks built with TensorFlow.js layers (channels last), loaded
// with the oracle's PyTorch weights through the adapter.
import { describeTfModel, type TfModelView, writeParam } from "../../src/training/mod.ts";
import { loadWeights } from "../pruning/_oracle.ts";
import { tfl } from "./_tf.ts";

/**
 * The oracle's `bn` network. `momentum` is the BatchNormalization layers' moving-average
 * momentum (tfjs's default when omitted; NNI's PyTorch momentum 0.1 is tfjs's 0.9).
 */
export function bnNet(momentum?: number): TfModelView {
  const bn = (name: string) =>
    tfl.layers.batchNormalization({
      name,
      epsilon: 1e-5,
      ...(momentum === undefined ? {} : { momentum }),
    });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, inputShape: [10, 10, 3], name: "conv1" }),
      bn("bn1"),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.conv2d({ filters: 32, kernelSize: 3, name: "conv2" }),
      bn("bn2"),
      tfl.layers.reLU({ name: "relu2" }),
      tfl.layers.globalAveragePooling2d({ name: "pool" }),
      tfl.layers.dense({ units: 10, name: "fc" }),
    ],
  });
  return withWeights(describeTfModel(model), "weights/bn_s0.safetensors");
}

/** The oracle's `mlp` network. */
export function mlpNet(): TfModelView {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 32, inputShape: [16], name: "fc1" }),
      tfl.layers.reLU({ name: "relu1" }),
      tfl.layers.dense({ units: 24, name: "fc2" }),
      tfl.layers.reLU({ name: "relu2" }),
      tfl.layers.dense({ units: 10, name: "fc3" }),
    ],
  });
  return withWeights(describeTfModel(model), "weights/mlp_s0.safetensors");
}

function withWeights(view: TfModelView, file: string): TfModelView {
  const weights = loadWeights(file);
  for (const p of view.params) writeParam(view, p, weights.get(`${p.module}.${p.name}`)!);
  return view;
}
