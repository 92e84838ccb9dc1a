// Bringing values computed inside If/Loop/Scan bodies out to main-graph outputs, so that
// onnxruntime returns them: each enclosing body gets an extra output and its node an extra
// output, level by level up to the main graph.
import { graphPaths, type OnnxEdit } from "../io/onnx/edit_onnx.ts";
import type { OnnxGraph, OnnxModel } from "../io/onnx/onnx_types.ts";
import { ONNX_DATA_TYPE } from "../tensor/onnx_data_type.ts";
import { describeGraph } from "./_stored_tensor.ts";

/** Where a value can be read after the edits, or why it cannot. */
export type Exposed =
  | {
    /** The main-graph value carrying it (the value itself when it is a main-graph value). */
    readonly output: string;
    /**
     * Leading dims that `Loop`/`Scan` bodies stacked over their iterations (0 in the main graph
     * and in `If` branches); merge them with the next dim to get the value's own dims.
     */
    readonly stacked: number;
  }
  | { readonly reason: string };

/** Whether a graph defines a value itself (a node output or a graph input). */
function defines(g: OnnxGraph, name: string): boolean {
  return g.inputs.includes(name) || g.nodes.some((n) => n.outputs.includes(name));
}

/**
 * The edits that bring each value out of the subgraph that computes it: per level, an `Identity`
 * at the end of the body feeds a new body output, and the body's node (`If`, `Loop`, `Scan`) gets
 * a new output. An `If`'s other branch outputs an empty float tensor, so a run that takes it
 * gives an empty value. `Loop` and `Scan` stack the value over iterations (scan outputs, along
 * axis 0 and forward, also where a `Scan` lists `scan_output_axes`/`scan_output_directions`).
 * Any other op with a subgraph is not handled: its values get a reason instead.
 *
 * @param onnx The decoded model.
 * @param values The values with the field path of the graph whose nodes read or write them.
 * @returns The edits, and per input index where the value is then read.
 */
export function exposeValues(
  onnx: OnnxModel,
  values: readonly { readonly value: string; readonly graph: string }[],
): { edits: OnnxEdit[]; exposed: Exposed[] } {
  const graphs = graphPaths(onnx);
  const edits: OnnxEdit[] = [];
  const appended = new Map<string, number>(); // node path -> outputs appended so far
  const done = new Map<string, Exposed>();
  let serial = 0;
  const atEnd = (g: OnnxGraph) =>
    g.nodes.length === 0 ? "start" as const : { after: g.nodes.length - 1 };
  const exposed = values.map(({ value, graph }) => {
    const key = `${graph}\u0000${value}`;
    const known = done.get(key);
    if (known !== undefined) return known;
    const reason = unexposable(onnx, graphs, value, graph);
    if (reason !== undefined) {
      done.set(key, { reason });
      return { reason };
    }
    let name = value;
    let path = graph;
    let stacked = 0;
    const base = `${value}_observed_${serial++}`;
    let level = 0;
    while (path !== "graph") {
      const g = graphs.get(path)!;
      const m = /^(.*)\.node\[(\d+)\]\.attribute\[(\d+)\]\.(?:g|graphs\[\d+\])$/.exec(path)!;
      const parentPath = m[1];
      const parent = graphs.get(parentPath)!;
      const nodeIndex = Number(m[2]);
      const node = parent.nodes[nodeIndex];
      if (!defines(g, name)) {
        // An outer-scope value read by the body: it is visible one level up as it is.
        path = parentPath;
        continue;
      }
      const op = node.opType;
      const inner = `${base}_${level}_inner`;
      const outer = `${base}_${level}`;
      level++;
      const identity = { name: inner, opType: "Identity", inputs: [name], outputs: [inner] };
      edits.push({ op: "insertNodes", at: atEnd(g), nodes: [identity], graph: path });
      edits.push({ op: "addGraphOutput", name: inner, graph: path });
      if (op === "If") {
        // The other branch gives an empty tensor in the same position.
        node.attributes.forEach((a, j) => {
          const other = `${parentPath}.node[${nodeIndex}].attribute[${j}].g`;
          if (a.g === undefined || other === path) return;
          const empty = `${base}_${level - 1}_untaken`;
          edits.push({
            op: "insertNodes",
            at: atEnd(a.g),
            graph: other,
            nodes: [{
              name: empty,
              opType: "Constant",
              inputs: [],
              outputs: [empty],
              attributes: [{
                name: "value",
                t: {
                  name: empty,
                  dataType: ONNX_DATA_TYPE.FLOAT,
                  dims: [0],
                  raw: new Uint8Array(),
                },
              }],
            }],
          });
          edits.push({ op: "addGraphOutput", name: empty, graph: other });
        });
      } else stacked++;
      const nodePath = `${parentPath}.node[${nodeIndex}]`;
      const k = appended.get(nodePath) ?? 0;
      appended.set(nodePath, k + 1);
      // A Scan that lists an axis and a direction per scan output gets 0 (stacked along axis 0,
      // forward) for each new one.
      const lists = op === "Scan"
        ? node.attributes.filter((a) =>
          a.name === "scan_output_axes" || a.name === "scan_output_directions"
        ).map((a) => ({ name: a.name, ints: [...(a.ints ?? []), ...new Array(k + 1).fill(0)] }))
        : [];
      edits.push({
        op: "rewireNode",
        node: nodeIndex,
        outputs: { [node.outputs.length + k]: outer },
        ...(lists.length === 0 ? {} : { attributes: lists }),
        ...(parentPath === "graph" ? {} : { graph: parentPath }),
      });
      name = outer;
      path = parentPath;
    }
    const result = { output: name, stacked };
    done.set(key, result);
    return result;
  });
  return { edits, exposed };
}

/**
 * Why a value cannot be brought out, checked before any edit: a body of an operator other than
 * `If`/`Loop`/`Scan`, or an `If` branch inside a `Loop`/`Scan` body (iterations that take
 * different branches would give scan outputs of different shapes, which onnxruntime rejects).
 */
function unexposable(
  onnx: OnnxModel,
  graphs: Map<string, OnnxGraph>,
  value: string,
  graph: string,
): string | undefined {
  let name: string | undefined = value;
  let branch: string | undefined;
  for (let path = graph; path !== "graph";) {
    const m = /^(.*)\.node\[(\d+)\]\.attribute\[(\d+)\]\.(?:g|graphs\[\d+\])$/.exec(path)!;
    const node = graphs.get(m[1])!.nodes[Number(m[2])];
    // Below the first level that defines the value, nothing is edited.
    if (name !== undefined && !defines(graphs.get(path)!, name)) {
      path = m[1];
      continue;
    }
    name = undefined;
    const where = describeGraph(onnx, path);
    const standard = node.domain === "" || node.domain === "ai.onnx";
    if (!standard || !["If", "Loop", "Scan"].includes(node.opType)) {
      return `it is computed in ${where}, an operator whose outputs cannot be extended`;
    }
    if (node.opType === "If") branch ??= where;
    else if (branch !== undefined) {
      return `it is computed in ${branch}, and a ${node.opType} body stacks values over iterations, which may take different branches`;
    }
    path = m[1];
  }
  return undefined;
}
