// Where an activation target lives in an ONNX graph (the main graph or an If/Loop/Scan body).
import type { OnnxModel } from "../io/onnx/onnx_types.ts";
import type { ModelGraph } from "../model/model_graph.ts";
import { QuantizationError } from "./quantization_error.ts";
import { graphPaths } from "../io/onnx/edit_onnx.ts";

/** The value of an activation target, its graph and the node indices of its module there. */
export interface ActivationValue {
  /** The ONNX value name. */
  readonly value: string;
  readonly kind: "input" | "output";
  /** The field path of the graph of the module's nodes (`"graph"` for the main graph). */
  readonly graph: string;
  /** Indices (in that graph's node order) of the module's nodes. */
  readonly nodes: readonly number[];
}

/**
 * `_input_<i>` of a module is the i-th non-constant input of its first node; `_output_<i>` is
 * the i-th output of its last node, in the main graph or in the subgraph that computes the
 * module. Throws a `QuantizationError` (code `activation`) naming the target otherwise.
 */
export function activationValue(
  onnx: OnnxModel,
  model: ModelGraph,
  module: string,
  target: string,
  configIndex?: number,
): ActivationValue {
  const at = { module, target, ...(configIndex === undefined ? {} : { configIndex }) };
  const graph = model.modules.find((x) => x.name === module)?.subgraph ?? "graph";
  const decoded = graphPaths(onnx).get(graph);
  const nodes = graph === "graph"
    ? model.graph?.nodes ?? []
    : model.graph?.subgraphs?.[graph] ?? [];
  if (decoded === undefined || nodes.length !== decoded.nodes.length) {
    throw new QuantizationError(
      "activation",
      `the module view must list the ${
        graph === "graph" ? "main graph's" : `subgraph ${graph}'s`
      } ${decoded?.nodes.length ?? 0} nodes: current count is ${nodes.length}`,
      at,
    );
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
  // Stored tensors of any graph are constants (a body reads outer-scope initializers too).
  const constants = new Set(onnx.tensors.map((t) => t.name));
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
  return { value, kind: m[1] as "input" | "output", graph, nodes: own };
}
