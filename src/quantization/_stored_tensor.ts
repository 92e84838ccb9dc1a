// Where a tensor is stored in an ONNX model: the graph (main graph or an If/Loop/Scan subgraph)
// and whether it is an initializer or the value of a Constant node.
import type { OnnxModel, OnnxNode } from "../io/onnx/onnx_types.ts";
import { graphPaths } from "../io/onnx/edit_onnx.ts";
import { QuantizationError, type QuantizationErrorContext } from "./quantization_error.ts";

/** A stored tensor's place, as `editOnnx` edits address it. */
export interface StoredTensor {
  /** The field path of the graph that holds it (`"graph"` or a subgraph's). */
  readonly graph: string;
  /** The index of its `Constant` node in that graph; absent for an initializer. */
  readonly constantNode?: number;
}

/** Readable name of a graph path: `main graph` or `subgraph then_branch of If node "if_0"`. */
export function describeGraph(onnx: OnnxModel, path: string): string {
  if (path === "graph") return "the main graph";
  const parts: string[] = [];
  const re = /\.node\[(\d+)\]\.attribute\[(\d+)\]\.(g|graphs\[\d+\])/g;
  let g = onnx.graph;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) {
    const node: OnnxNode = g.nodes[Number(m[1])];
    const a = node.attributes[Number(m[2])];
    parts.push(`${a.name} of ${node.opType} node ${JSON.stringify(node.name || node.outputs[0])}`);
    g = m[3] === "g" ? a.g! : a.graphs![Number(/\d+/.exec(m[3])![0])];
  }
  return `the ${parts.reverse().join(" in the ")}`;
}

/**
 * The places of the stored tensors (dense initializers and `Constant` values) by name, in every
 * graph; a name defined in two graphs (sibling branches may each define it) has two places.
 */
export function storedTensors(onnx: OnnxModel): Map<string, StoredTensor[]> {
  const out = new Map<string, StoredTensor[]>();
  const push = (name: string, s: StoredTensor) => out.set(name, [...(out.get(name) ?? []), s]);
  for (const [path, g] of graphPaths(onnx)) {
    for (const t of g.initializers) push(t.name, { graph: path });
    g.nodes.forEach((n, i) => {
      if (n.opType === "Constant" && (n.domain === "" || n.domain === "ai.onnx")) {
        for (const o of n.outputs) push(o, { graph: path, constantNode: i });
      }
    });
  }
  return out;
}

/**
 * The one place of a tensor that a storage rewrites, or a `QuantizationError` (code `storage`)
 * naming it when it is not stored as a dense tensor, or when two graphs define the name.
 */
export function storedTensor(
  stored: ReadonlyMap<string, readonly StoredTensor[]>,
  onnx: OnnxModel,
  name: string,
  storage: string,
  at: QuantizationErrorContext,
): StoredTensor {
  const places = stored.get(name) ?? [];
  if (places.length === 0) {
    throw new QuantizationError(
      "storage",
      `${storage} rewrites initializers and Constant values: tensor "${name}" is not stored as one`,
      at,
    );
  }
  if (places.length > 1) {
    throw new QuantizationError(
      "storage",
      `${storage} needs tensor names that are unique across subgraphs: "${name}" is defined in ${
        places.map((p) => describeGraph(onnx, p.graph)).join(" and ")
      }`,
      at,
    );
  }
  return places[0];
}

/** Every node of a model with the field path of its graph and its index there, graph by graph. */
export function nodesWithGraph(
  onnx: OnnxModel,
): { readonly node: OnnxNode; readonly graph: string; readonly index: number }[] {
  const out: { node: OnnxNode; graph: string; index: number }[] = [];
  for (const [path, g] of graphPaths(onnx)) {
    g.nodes.forEach((node, index) => out.push({ node, graph: path, index }));
  }
  return out;
}
