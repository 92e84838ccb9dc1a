// Where an activation target lives in an ONNX graph.
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { QuantizationError } from "./quantization_error.ts";
import { describeGraph } from "./_stored_tensor.ts";

/**
 * Why an input/output target of a module computed in an `If`/`Loop`/`Scan` body has no tensor
 * that calibration can observe or a Q/DQ pair can wrap.
 */
export function subgraphActivationReason(onnx: OnnxModel, subgraph: string): string {
  return `the module is computed in ${
    describeGraph(onnx, subgraph)
  }, whose values onnxruntime does not return as model outputs, so its inputs and outputs cannot be calibrated (its weights can be quantized)`;
}

/** The value of an activation target and the main-graph node indices of its module. */
export interface ActivationValue {
  /** The ONNX value name. */
  readonly value: string;
  readonly kind: "input" | "output";
  /** Indices (in main-graph order) of the module's nodes. */
  readonly nodes: readonly number[];
}

/**
 * `_input_<i>` of a module is the i-th non-constant input of its first node; `_output_<i>` is
 * the i-th output of its last node. Throws a `QuantizationError` (code `activation`) naming the
 * target otherwise.
 */
export function activationValue(
  onnx: OnnxModel,
  model: ModelGraph,
  module: string,
  target: string,
  configIndex?: number,
): ActivationValue {
  const at = { module, target, ...(configIndex === undefined ? {} : { configIndex }) };
  const nodes = model.graph?.nodes ?? [];
  if (nodes.length !== onnx.graph.nodes.length) {
    throw new QuantizationError(
      "activation",
      `the module view must list the main graph's ${onnx.graph.nodes.length} nodes: current count is ${nodes.length}`,
      at,
    );
  }
  const inside = model.modules.find((x) => x.name === module)?.subgraph;
  if (inside !== undefined) {
    throw new QuantizationError("activation", subgraphActivationReason(onnx, inside), at);
  }
  const own = nodes.flatMap((n, i) => (n.module === module ? [i] : []));
  const m = /^_(input|output)_([0-9]+)$/.exec(target);
  if (own.length === 0 || m === null) {
    throw new QuantizationError(
      "activation",
      `the target has no tensor in the ONNX graph: activation targets are _input_<index> and _output_<index> of modules computed by graph nodes`,
      at,
    );
  }
  const k = Number(m[2]);
  const constants = new Set([
    ...onnx.graph.initializers.map((t) => t.name),
    ...onnx.graph.nodes.filter((n) => n.opType === "Constant").flatMap((n) => n.outputs),
  ]);
  const value = m[1] === "input"
    ? nodes[own[0]].inputs.filter((x) => x !== "" && !constants.has(x))[k]
    : nodes[own[own.length - 1]].outputs[k];
  if (value === undefined) {
    throw new QuantizationError(
      "activation",
      `the module's ${m[1] === "input" ? "first" : "last"} node has no ${m[1]} ${k}`,
      at,
    );
  }
  return { value, kind: m[1] as "input" | "output", nodes: own };
}
