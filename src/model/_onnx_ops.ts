/** How ONNX operators map to PyTorch module types and parameters. */

import type { OnnxAttribute, OnnxNode } from "../io/onnx/onnx_types.ts";

/** Module types of parameter-free activation operators. */
export const ACTIVATIONS: Readonly<Record<string, string>> = {
  Relu: "ReLU",
  LeakyRelu: "LeakyReLU",
  PRelu: "PReLU",
  Sigmoid: "Sigmoid",
  HardSigmoid: "Hardsigmoid",
  HardSwish: "Hardswish",
  Tanh: "Tanh",
  Softmax: "Softmax",
  LogSoftmax: "LogSoftmax",
  Gelu: "GELU",
  Elu: "ELU",
  Selu: "SELU",
  Celu: "CELU",
  Softplus: "Softplus",
  Softsign: "Softsign",
  Mish: "Mish",
  Clip: "Hardtanh",
  Dropout: "Dropout",
};

/** Which node inputs are which parameters, per weighted operator. */
export const PARAM_INPUTS: Readonly<Record<string, readonly (readonly [number, string])[]>> = {
  Conv: [[1, "weight"], [2, "bias"]],
  ConvTranspose: [[1, "weight"], [2, "bias"]],
  Gemm: [[1, "weight"], [2, "bias"]],
  MatMul: [[1, "weight"]],
  Gather: [[0, "weight"]],
  BatchNormalization: [[1, "weight"], [2, "bias"], [3, "running_mean"], [4, "running_var"]],
  LayerNormalization: [[1, "weight"], [2, "bias"]],
  InstanceNormalization: [[1, "weight"], [2, "bias"]],
  GroupNormalization: [[1, "weight"], [2, "bias"]],
  PRelu: [[1, "weight"]],
};

/** The attribute of a node by name. */
export function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}

/**
 * The module type of a weighted node, given its weight's rank, or `undefined` when the node is
 * not a module (a MatMul or Gather without a constant 2-D weight).
 */
export function weightedType(
  node: OnnxNode,
  weightRank: number,
  bnRank: number,
): string | undefined {
  switch (node.opType) {
    case "Conv":
      return weightRank >= 3 && weightRank <= 5 ? `Conv${weightRank - 2}d` : undefined;
    case "ConvTranspose":
      return weightRank >= 3 && weightRank <= 5 ? `ConvTranspose${weightRank - 2}d` : undefined;
    case "Gemm":
    case "MatMul":
      return weightRank === 2 ? "Linear" : undefined;
    case "Gather":
      return weightRank === 2 && (attr(node, "axis")?.i ?? 0) === 0 ? "Embedding" : undefined;
    case "BatchNormalization":
      return `BatchNorm${bnRank}d`;
    case "LayerNormalization":
      return "LayerNorm";
    case "InstanceNormalization":
      return `InstanceNorm${bnRank}d`;
    case "GroupNormalization":
      return "GroupNorm";
    case "PRelu":
      return "PReLU";
  }
  return undefined;
}

/** The file-to-PyTorch permutation of a node's weight, if the layouts differ. */
export function weightTranspose(node: OnnxNode): number[] | undefined {
  if (node.opType === "MatMul") return [1, 0];
  if (node.opType === "Gemm" && (attr(node, "transB")?.i ?? 0) === 0) return [1, 0];
  return undefined;
}
