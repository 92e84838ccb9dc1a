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
  const memo = new Map<string, string | null>();
  const ownOp = nodeSelection(ops, functions);
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

/**
 * A node's own selection op: its op when that is one, else the first one found in the
 * functions it calls (their bodies, at any depth), else null.
 */
function nodeSelection(
  ops: ReadonlySet<string>,
  functions: ReadonlyMap<string, readonly SelectionNode[]>,
): (n: SelectionNode) => string | null {
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
  const ownOp = (n: SelectionNode): string | null =>
    ops.has(n.op)
      ? n.op
      : [n.op, ...n.calls ?? []].map(functionSelection).find((f) => f !== null) ?? null;
  return ownOp;
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
  const graph = tfjsGraph(modelJson);
  if (graph === undefined) return new Map();
  return selectionOutputs(graph.nodes, outputs, TF_SELECTION_OPS, graph.functions);
}

/** A tfjs graph model's nodes and library functions (nothing for a layers model). */
function tfjsGraph(modelJson: unknown) {
  const topology = (modelJson as { modelTopology?: { node?: unknown; library?: unknown } })
    ?.modelTopology;
  if (!Array.isArray(topology?.node)) return undefined;
  const functions = new Map<string, SelectionNode[]>();
  const library = (topology.library as { function?: unknown } | undefined)?.function;
  if (Array.isArray(library)) {
    for (const f of library as { signature?: { name?: unknown }; nodeDef?: unknown }[]) {
      if (typeof f?.signature?.name === "string") {
        functions.set(f.signature.name, tfjsNodes(f.nodeDef));
      }
    }
  }
  return { nodes: tfjsNodes(topology.node), functions };
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
  const { nodes, functions } = onnxNodes(graph);
  return selectionOutputs(nodes, outputs, ONNX_SELECTION_OPS, functions);
}

/**
 * The tensors an ONNX graph's selections select from (`selectionSources`), by value name.
 *
 * @param graph The decoded graph.
 * @param outputs The output names.
 * @param inputs The graph's input names (what the model is fed; initializers are not inputs).
 * @returns Each value with the selection op that reads it, in node order.
 */
export function onnxSelectionSources(
  graph: OnnxGraphLike,
  outputs: readonly string[],
  inputs: readonly string[],
): Map<string, string> {
  const { nodes, functions } = onnxNodes(graph);
  return selectionSources(nodes, outputs, ONNX_SELECTION_OPS, functions, inputs);
}

/** An ONNX graph's values as selection nodes, with its subgraphs as functions. */
function onnxNodes(graph: OnnxGraphLike) {
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
  return { nodes: nodesOf(graph), functions };
}

/** Comparisons and logic: boolean outputs, a threshold's verdict on their inputs. */
const COMPARISONS: ReadonlySet<string> = new Set([
  "Greater",
  "GreaterEqual",
  "Less",
  "LessEqual",
  "Equal",
  "NotEqual",
  "LogicalAnd",
  "LogicalOr",
  "LogicalNot",
  // ONNX's.
  "GreaterOrEqual",
  "LessOrEqual",
  "And",
  "Or",
  "Xor",
  "Not",
]);

/**
 * Ops whose output passes on the values of some of its data inputs (a view, a cast, a
 * comparison, a loop's plumbing), with the inputs that carry them (`all`: every one). The walk
 * from a selection back to the tensors it selects from goes through them.
 */
const PASS_THROUGH: ReadonlyMap<string, readonly number[] | "all"> = new Map<
  string,
  readonly number[] | "all"
>([
  ...["Reshape", "Squeeze", "ExpandDims", "StridedSlice", "Slice", "Identity", "Transpose"].map(
    (op) => [op, [0]] as const,
  ),
  ...["Cast", "GatherV2", "GatherNd", "Gather", "Enter", "Exit", "Switch", "Unpack"].map(
    (op) => [op, [0]] as const,
  ),
  // ONNX's (and TensorFlow's SplitV).
  ...["Unsqueeze", "Flatten", "GatherND", "GatherElements", "Expand", "SplitV"].map(
    (op) => [op, [0]] as const,
  ),
  // TensorFlow 1's tensor arrays: a scatter's flow carries its value (input 2); a read or a
  // gather is reached through the flow it waits for (input 2).
  ...["TensorArrayScatterV3", "TensorArrayReadV3", "TensorArrayGatherV3"].map(
    (op) => [op, [2]] as const,
  ),
  // TensorFlow's Split takes its axis first, ONNX's its data (the axis and sizes are constants).
  ...["Merge", "IdentityN", "Split"].map((op) => [op, "all"] as const),
  ...[...COMPARISONS].map((op) => [op, "all"] as const),
]);

/** Ops whose output is the shape of their input, not its values. */
const SHAPE_OPS = new Set(["Shape", "ShapeN", "Size", "Rank"]);

/** Ops whose output holds no values of the model's to compare. */
const NO_VALUES = new Set([
  "Const",
  "Constant",
  "ConstantOfShape",
  "Placeholder",
  "PlaceholderWithDefault",
  "Shape",
  "ShapeN",
  "Size",
  "Rank",
  "NoOp",
  "LoopCond",
  "NextIteration",
  "TensorArrayV3",
  "TensorArraySizeV3",
]);

/**
 * The tensors the selections of a graph select from: for outputs that depend on a selection op
 * (`selectionOutputs`), the tensors computed before any selection that the selections and the
 * nodes after them read, each followed back through views, casts, comparisons, masks and loop
 * plumbing (`Reshape`, `StridedSlice`, `Cast`, `GreaterEqual`, `Enter`, tensor arrays, ...) to
 * the node that computed it (through a product with a comparison's result or a `Select`, to the
 * values it keeps, not the mask). These are a detector's or a pose model's raw predictions
 * (scores, box offsets, heatmaps): element-wise comparable where the picks are not. Constants,
 * inputs, shapes, what no input reaches (grids, anchors) and the nodes inside a TensorFlow 1
 * loop (which cannot be fetched) are left out; which of the rest hold floats is known only when
 * the graph runs.
 *
 * @param nodes The graph's nodes.
 * @param outputs The output names (a `:k` suffix is ignored).
 * @param ops The selection op types (`TF_SELECTION_OPS`, `ONNX_SELECTION_OPS`).
 * @param functions The nodes of each called function by name.
 * @param inputs The graph's inputs where they are no nodes (ONNX's; TensorFlow's are
 * `Placeholder` nodes).
 * @returns Each tensor (`node` or `node:k`, as the graph names it) with the first selection op
 * (by op type) that reads it through the nodes after it, in the graph's node order.
 *
 * @example
 * ```ts
 * import { selectionSources, TF_SELECTION_OPS } from "./selection_outputs.ts";
 * const sources = selectionSources([
 *   { name: "x", op: "Placeholder", inputs: [] },
 *   { name: "heat", op: "Sigmoid", inputs: ["x"] },
 *   { name: "flat", op: "Reshape", inputs: ["heat", "shape"] },
 *   { name: "best", op: "ArgMax", inputs: ["flat", "axis"] },
 * ], ["best"], TF_SELECTION_OPS);
 * if (sources.get("heat") !== "ArgMax" || sources.size !== 1) throw new Error("unexpected");
 * ```
 */
export function selectionSources(
  nodes: readonly SelectionNode[],
  outputs: readonly string[],
  ops: ReadonlySet<string>,
  functions: ReadonlyMap<string, readonly SelectionNode[]> = new Map(),
  inputs: readonly string[] = [],
): Map<string, string> {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const dataInputs = (n: SelectionNode) => n.inputs.filter((i) => !i.startsWith("^"));
  const ownOp = nodeSelection(ops, functions);
  const selecting = new Map<string, string>(); // node -> its own selection op
  for (const n of nodes) {
    const op = ownOp(n);
    if (op !== null) selecting.set(n.name, op);
  }
  // The nodes after a selection (forward over data edges), with the first selection met.
  const readers = new Map<string, string[]>();
  for (const n of nodes) {
    for (const i of dataInputs(n)) {
      const from = baseName(i);
      const list = readers.get(from);
      if (list === undefined) readers.set(from, [n.name]);
      else list.push(n.name);
    }
  }
  const after = new Map<string, string>();
  const queue: string[] = [];
  for (const n of nodes) {
    const op = selecting.get(n.name);
    if (op !== undefined) {
      after.set(n.name, op);
      queue.push(n.name);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const op = after.get(queue[q])!;
    for (const r of readers.get(queue[q]) ?? []) {
      if (!after.has(r)) {
        after.set(r, op);
        queue.push(r);
      }
    }
  }
  // Only what the outputs depend on: the nodes they read, backwards.
  const needed = new Set<string>();
  const stack = outputs.map(baseName);
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    const n = byName.get(name);
    if (n !== undefined) { for (const i of dataInputs(n)) stack.push(baseName(i)); }
  }
  // TensorFlow 1 loop frames: what an Enter reaches before an Exit runs inside the loop.
  const inFrame = new Set<string>();
  const frame = nodes.filter((n) => n.op === "Enter").map((n) => n.name);
  while (frame.length > 0) {
    const name = frame.pop()!;
    if (inFrame.has(name)) continue;
    inFrame.add(name);
    if (byName.get(name)?.op === "Exit") continue;
    for (const r of readers.get(name) ?? []) frame.push(r);
  }
  // What the inputs' values reach (not through their shapes): a tensor of constants alone (a
  // grid, anchors, a grid sized by the input's shape) is the same in any model.
  const fromInput = new Set<string>();
  const reach = nodes.filter((n) => n.op === "Placeholder" || n.op === "PlaceholderWithDefault")
    .map((n) => n.name).concat(inputs.flatMap((i) => readers.get(i) ?? []));
  while (reach.length > 0) {
    const name = reach.pop()!;
    if (fromInput.has(name)) continue;
    fromInput.add(name);
    if (SHAPE_OPS.has(byName.get(name)?.op ?? "")) continue;
    for (const r of readers.get(name) ?? []) reach.push(r);
  }
  const found = new Map<string, string>();
  const visited = new Set<string>();
  // A product with a mask (a comparison, cast or not: movenet's peaks, `heat * (heat ==
  // maxpool(heat))`) or an element-wise choice picks values by threshold as a selection does:
  // the walk goes on through the values, not the mask.
  const isMask = (tensor: string) => {
    let n = byName.get(baseName(tensor));
    while (n?.op === "Cast" || n?.op === "Identity") n = byName.get(baseName(dataInputs(n)[0]));
    return n !== undefined && COMPARISONS.has(n.op);
  };
  const maskedValues = (n: SelectionNode): readonly number[] | undefined => {
    // TensorFlow's Select, SelectV2; ONNX's Where (TensorFlow's is a selection, so never here).
    if (n.op === "Select" || n.op === "SelectV2" || n.op === "Where") return [1, 2];
    if (n.op !== "Mul") return undefined;
    const inputs = dataInputs(n);
    if (!inputs.some(isMask)) return undefined;
    return inputs.flatMap((i, k) => isMask(i) ? [] : [k]);
  };
  // Back from what the nodes after a selection read (iterative: chains can be long).
  const back: [string, string][] = [];
  for (const n of nodes) {
    if (!after.has(n.name) || !needed.has(n.name)) continue;
    for (const i of dataInputs(n).reverse()) back.push([i, after.get(n.name)!]);
    while (back.length > 0) {
      const [tensor, op] = back.pop()!;
      const name = baseName(tensor);
      const from = byName.get(name);
      if (from === undefined || after.has(name) || visited.has(tensor)) continue;
      visited.add(tensor);
      const through = PASS_THROUGH.get(from.op) ?? maskedValues(from);
      if (through !== undefined) {
        const inputs = dataInputs(from);
        for (let k = inputs.length - 1; k >= 0; k--) {
          if (through === "all" || through.includes(k)) back.push([inputs[k], op]);
        }
      } else if (!NO_VALUES.has(from.op) && !inFrame.has(name) && fromInput.has(name)) {
        found.set(tensor, op);
      }
    }
  }
  const order = new Map(nodes.map((n, k) => [n.name, k]));
  return new Map(
    [...found].sort((x, y) => order.get(baseName(x[0]))! - order.get(baseName(y[0]))!),
  );
}

/** The tensors a tfjs graph model's selections select from (`selectionSources`). */
export function tfjsSelectionSources(
  modelJson: unknown,
  outputs: readonly string[],
): Map<string, string> {
  const graph = tfjsGraph(modelJson);
  if (graph === undefined) return new Map();
  return selectionSources(graph.nodes, outputs, TF_SELECTION_OPS, graph.functions);
}
