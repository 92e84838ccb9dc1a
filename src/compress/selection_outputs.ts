// Which outputs of a graph hold selected elements: an output that a NonMaxSuppression, TopK,
// Where or ArgMax node feeds (directly or through any later node) holds the boxes, scores or
// indices that op picked by rank or threshold. A change of the values before it far below any
// accuracy loss (float16 storage, say) can pick other elements or put them in another order, so
// element-wise measures of such an output (cosine, differences) say little about the model:
// on random inputs the detections of a detector with its NMS in the graph are at cosine 0.7-0.9
// after float16 storage alone. The comparisons flag these outputs (`afterSelection`).

/** One node: its name, op and data inputs (`name`, `name:1`; control inputs `^name`). */
export interface SelectionNode {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
  /** Functions the node calls (while-loop bodies, branches, partitioned calls). */
  readonly calls?: readonly string[];
}

/**
 * TensorFlow's selection ops (tfjs graph models). `Where` with one input lists the positions of
 * its true elements (the element-wise choice is `Select`/`SelectV2`).
 */
export const TF_SELECTION_OPS: ReadonlySet<string> = new Set([
  "NonMaxSuppressionV2",
  "NonMaxSuppressionV3",
  "NonMaxSuppressionV4",
  "NonMaxSuppressionV5",
  "CombinedNonMaxSuppression",
  "TopKV2",
  "Where",
  "ArgMax",
  "ArgMin",
  "Unique",
]);

/** ONNX's selection ops (its `Where` is element-wise, not one of them). */
export const ONNX_SELECTION_OPS: ReadonlySet<string> = new Set([
  "NonMaxSuppression",
  "TopK",
  "ArgMax",
  "ArgMin",
  "NonZero",
  "Unique",
]);

/**
 * For each output name, the first selection op (by op type) found among the nodes it depends
 * on, or nothing when none is.
 *
 * @param nodes The graph's nodes.
 * @param outputs The output names (a `:k` suffix is ignored).
 * @param ops The selection op types (`TF_SELECTION_OPS`, `ONNX_SELECTION_OPS`).
 * @param functions The nodes of each called function by name (tfjs graph models' library).
 * @returns The selection op of each output that depends on one.
 *
 * @example
 * ```ts
 * import { selectionOutputs, TF_SELECTION_OPS } from "./selection_outputs.ts";
 * const found = selectionOutputs([
 *   { name: "scores", op: "Sigmoid", inputs: ["x"] },
 *   { name: "nms", op: "NonMaxSuppressionV5", inputs: ["boxes", "scores"] },
 *   { name: "picked", op: "GatherV2", inputs: ["boxes", "nms", "axis"] },
 * ], ["scores", "picked:0"], TF_SELECTION_OPS);
 * if (found.get("picked:0") !== "NonMaxSuppressionV5" || found.has("scores")) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export function selectionOutputs(
  nodes: readonly SelectionNode[],
  outputs: readonly string[],
  ops: ReadonlySet<string>,
  functions: ReadonlyMap<string, readonly SelectionNode[]> = new Map(),
): Map<string, string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const inFunction = new Map<string, string | null>();
  const functionSelection = (name: string): string | null => {
    if (inFunction.has(name)) return inFunction.get(name)!;
    inFunction.set(name, null); // recursion guard
    let found: string | null = null;
    for (const n of functions.get(name) ?? []) {
      found = ownOp(n);
      if (found !== null) break;
    }
    inFunction.set(name, found);
    return found;
  };
  const memo = new Map<string, string | null>();
  const ownOp = (n: SelectionNode): string | null =>
    ops.has(n.op)
      ? n.op
      : [n.op, ...n.calls ?? []].map(functionSelection).find((f) => f !== null) ?? null;
  const dataInputs = (n: SelectionNode | undefined) =>
    (n?.inputs ?? []).filter((i) => !i.startsWith("^")).map(baseName);
  const selectionOf = (start: string): string | null => {
    // Post-order walk over data inputs (iterative: graphs have thousands of nodes in a chain).
    // A loop's back edge (TensorFlow 1's NextIteration into Merge) reaches a node still being
    // walked and counts as nothing; the loop body is still reached through it.
    const walking = new Set<string>();
    const stack: [string, boolean][] = [[start, false]];
    while (stack.length > 0) {
      const [name, inputsDone] = stack.pop()!;
      if (inputsDone) {
        const n = byName.get(name);
        memo.set(
          name,
          n === undefined
            ? null
            : ownOp(n) ?? dataInputs(n).map((i) => memo.get(i) ?? null).find((f) => f !== null) ??
              null,
        );
        continue;
      }
      if (memo.has(name) || walking.has(name)) continue;
      walking.add(name);
      stack.push([name, true]);
      for (const i of dataInputs(byName.get(name))) {
        if (!memo.has(i) && !walking.has(i)) stack.push([i, false]);
      }
    }
    return memo.get(start) ?? null;
  };
  const result = new Map<string, string>();
  for (const o of outputs) {
    const op = selectionOf(baseName(o));
    if (op !== null) result.set(o, op);
  }
  return result;
}

/** A tensor name without its `:k` output index. */
function baseName(name: string): string {
  const colon = name.lastIndexOf(":");
  return colon > 0 && /^\d+$/.test(name.slice(colon + 1)) ? name.slice(0, colon) : name;
}

/** Function names in a tfjs node's attributes (`{func: {name}}`, lists of them). */
function calledFunctions(attr: unknown, out: string[] = []): string[] {
  if (attr === null || typeof attr !== "object") return out;
  const func = (attr as { func?: { name?: unknown } }).func;
  if (func !== undefined && typeof func?.name === "string") out.push(func.name);
  for (const v of Object.values(attr as Record<string, unknown>)) calledFunctions(v, out);
  return out;
}

type JsonNode = { name?: unknown; op?: unknown; input?: unknown; attr?: unknown };

function tfjsNodes(list: unknown): SelectionNode[] {
  if (!Array.isArray(list)) return [];
  return (list as JsonNode[]).filter((n) => typeof n?.name === "string" && typeof n.op === "string")
    .map((n) => ({
      name: n.name as string,
      op: n.op as string,
      inputs: Array.isArray(n.input)
        ? n.input.filter((i): i is string => typeof i === "string")
        : [],
      calls: calledFunctions(n.attr),
    }));
}

/**
 * The selection op of each output of a tfjs graph model (`model.json` parsed), by output name
 * as given; a layers model has none.
 */
export function tfjsSelectionOutputs(
  modelJson: unknown,
  outputs: readonly string[],
): Map<string, string> {
  const topology = (modelJson as { modelTopology?: { node?: unknown; library?: unknown } })
    ?.modelTopology;
  if (!Array.isArray(topology?.node)) return new Map();
  const functions = new Map<string, SelectionNode[]>();
  const library = (topology.library as { function?: unknown } | undefined)?.function;
  if (Array.isArray(library)) {
    for (const f of library as { signature?: { name?: unknown }; nodeDef?: unknown }[]) {
      if (typeof f?.signature?.name === "string") {
        functions.set(f.signature.name, tfjsNodes(f.nodeDef));
      }
    }
  }
  return selectionOutputs(tfjsNodes(topology.node), outputs, TF_SELECTION_OPS, functions);
}

/** The parts of a decoded ONNX graph the walk reads. */
interface OnnxGraphLike {
  readonly nodes: readonly {
    readonly opType: string;
    readonly inputs: readonly string[];
    readonly outputs: readonly string[];
    readonly attributes: readonly {
      readonly g?: OnnxGraphLike;
      readonly graphs?: readonly OnnxGraphLike[];
    }[];
  }[];
}

/**
 * The selection op of each output of an ONNX graph (decoded), by output name; an `If`/`Loop`/
 * `Scan` whose body holds one (at any depth) counts as that op.
 */
export function onnxSelectionOutputs(
  graph: OnnxGraphLike,
  outputs: readonly string[],
): Map<string, string> {
  const functions = new Map<string, SelectionNode[]>();
  const nodesOf = (g: OnnxGraphLike): SelectionNode[] =>
    g.nodes.flatMap((n) => {
      const calls: string[] = [];
      // A body reads values of the scopes around it by name: those count as the node's inputs
      // (names made inside the body match no outer node and are passed by).
      const captured: string[] = [];
      for (const a of n.attributes) {
        for (const sub of [...a.g === undefined ? [] : [a.g], ...a.graphs ?? []]) {
          const name = `\0subgraph ${functions.size}`;
          functions.set(name, []); // reserves the name before the body's own subgraphs
          const body = nodesOf(sub);
          functions.set(name, body);
          calls.push(name);
          for (const b of body) captured.push(...b.inputs);
        }
      }
      const inputs = captured.length === 0 ? n.inputs : [...n.inputs, ...new Set(captured)];
      // Values are named, not nodes: one entry per output value.
      return n.outputs.map((o) => ({ name: o, op: n.opType, inputs, calls }));
    });
  return selectionOutputs(nodesOf(graph), outputs, ONNX_SELECTION_OPS, functions);
}
