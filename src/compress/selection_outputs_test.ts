import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ONNX_SELECTION_OPS,
  onnxSelectionOutputs,
  onnxSelectionSources,
  type SelectionNode,
  selectionOutputs,
  selectionSources,
  TF_SELECTION_OPS,
  tfjsSelectionOutputs,
  tfjsSelectionSources,
} from "./selection_outputs.ts";

const node = (name: string, op: string, ...inputs: string[]): SelectionNode => ({
  name,
  op,
  inputs,
});

test("an output is after a selection op through any chain of nodes, and only through data inputs", () => {
  const nodes = [
    node("x", "Placeholder"),
    node("scores", "Sigmoid", "x"),
    node("boxes", "Conv2D", "x"),
    node("nms", "NonMaxSuppressionV5", "boxes", "scores"),
    node("picked", "GatherV2", "boxes", "nms:0", "axis"),
    node("scaled", "Mul", "picked", "scale"),
    node("out_boxes", "Identity", "scaled"),
    // A control input (`^nms`) carries no data.
    node("out_scores", "Identity", "scores", "^nms"),
    node("count", "Identity", "nms:1"),
  ];
  const found = selectionOutputs(
    nodes,
    ["out_boxes:0", "out_scores:0", "count", "missing"],
    TF_SELECTION_OPS,
  );
  assert.deepEqual(
    Object.fromEntries(found),
    { "out_boxes:0": "NonMaxSuppressionV5", count: "NonMaxSuppressionV5" },
  );
});

test("a loop's back edge (NextIteration into Merge) still finds the selection in the body; the first op found is named", () => {
  const nodes = [
    node("x", "Placeholder"),
    node("enter", "Enter", "x"),
    node("merge", "Merge", "enter", "next"),
    node("switch", "Switch", "merge", "cond"),
    node("body", "TopKV2", "switch:1", "k"),
    node("next", "NextIteration", "body"),
    node("exit", "Exit", "switch"),
    node("out", "ArgMax", "exit", "axis"),
    node("plain", "Relu", "x"),
  ];
  assert.deepEqual(
    Object.fromEntries(selectionOutputs(nodes, ["exit", "out", "plain"], TF_SELECTION_OPS)),
    { exit: "TopKV2", out: "ArgMax" },
  );
});

test("a long chain is walked without recursion", () => {
  const nodes = [node("n0", "Where", "x")];
  for (let i = 1; i < 200_000; i++) nodes.push(node(`n${i}`, "Relu", `n${i - 1}`));
  const found = selectionOutputs(nodes, ["n199999"], TF_SELECTION_OPS);
  assert.equal(found.get("n199999"), "Where");
});

test("ONNX's Where is element-wise, not a selection; its TopK and NonZero are", () => {
  const nodes = [
    node("w", "Where", "c", "a", "b"),
    node("t", "TopK", "a", "k"),
    node("z", "NonZero", "a"),
  ];
  assert.deepEqual(
    Object.fromEntries(selectionOutputs(nodes, ["w", "t", "z"], ONNX_SELECTION_OPS)),
    { t: "TopK", z: "NonZero" },
  );
});

test("tfjs graph models: functions called by while loops and partitioned calls are searched", () => {
  const model = {
    modelTopology: {
      node: [
        { name: "x", op: "Placeholder" },
        {
          name: "loop",
          op: "StatelessWhile",
          input: ["x"],
          attr: { body: { func: { name: "body_1" } }, cond: { func: { name: "cond_1" } } },
        },
        { name: "call", op: "outer_fn", input: ["x"] },
        { name: "Identity", op: "Identity", input: ["loop:1"] },
        { name: "Identity_1", op: "Identity", input: ["call"] },
        { name: "Identity_2", op: "Identity", input: ["x"] },
      ],
      library: {
        function: [
          { signature: { name: "cond_1" }, nodeDef: [{ name: "less", op: "Less" }] },
          {
            signature: { name: "body_1" },
            nodeDef: [{ name: "nms", op: "NonMaxSuppressionV3", input: ["a", "b"] }],
          },
          // A function calling another (recursion is guarded).
          { signature: { name: "outer_fn" }, nodeDef: [{ name: "c", op: "inner_fn" }] },
          {
            signature: { name: "inner_fn" },
            nodeDef: [{ name: "self", op: "outer_fn" }, { name: "k", op: "ArgMin" }],
          },
        ],
      },
    },
  };
  assert.deepEqual(
    Object.fromEntries(
      tfjsSelectionOutputs(model, ["Identity:0", "Identity_1:0", "Identity_2:0"]),
    ),
    { "Identity:0": "NonMaxSuppressionV3", "Identity_1:0": "ArgMin" },
  );
  // A layers model, or anything without a node list, has none.
  assert.equal(tfjsSelectionOutputs({ modelTopology: { config: {} } }, ["a"]).size, 0);
  assert.equal(tfjsSelectionOutputs(null, ["a"]).size, 0);
});

test("ONNX graphs: values name the producing node; If/Loop bodies at any depth count", () => {
  const n = (opType: string, inputs: string[], outputs: string[], attributes = [] as never[]) => ({
    opType,
    inputs,
    outputs,
    attributes,
  });
  const inner = { nodes: [n("NonMaxSuppression", ["b", "s"], ["sel"])] };
  const branch = { nodes: [n("Loop", ["m"], ["o"], [{ g: inner }] as never[])] };
  const graph = {
    nodes: [
      n("Conv", ["x", "w"], ["feat", "unused"]),
      n("TopK", ["feat", "k"], ["vals", "idx"]),
      n("Cast", ["idx"], ["idx_f"]),
      n("If", ["cond"], ["dets"], [{ graphs: [branch, { nodes: [] }] }] as never[]),
      n("Where", ["c", "feat", "dets"], ["mixed"]),
      // A branch that reads `idx` of the outer graph by name (no input of the If itself).
      n(
        "If",
        ["cond"],
        ["captured"],
        [{ g: { nodes: [n("Identity", ["idx"], ["copy"])] } }] as never[],
      ),
      n("If", ["cond"], ["plain"], [{ g: { nodes: [n("Relu", ["feat"], ["r"])] } }] as never[]),
    ],
  };
  assert.deepEqual(
    Object.fromEntries(
      onnxSelectionOutputs(graph, ["feat", "vals", "idx_f", "dets", "mixed", "captured", "plain"]),
    ),
    {
      vals: "TopK",
      idx_f: "TopK",
      dets: "NonMaxSuppression",
      mixed: "NonMaxSuppression",
      captured: "TopK",
    },
  );
});

test("the tensors a selection selects from: back through views, casts and comparisons to what computed them", () => {
  const nodes = [
    node("x", "Placeholder"),
    node("feat", "Conv2D", "x", "w"),
    node("w", "Const"),
    node("heat", "Sigmoid", "feat"),
    node("offsets", "BiasAdd", "feat", "b"),
    node("flat", "Reshape", "heat", "shape"),
    node("shape", "Const"),
    node("best", "ArgMax", "flat", "axis"),
    node("axis", "Const"),
    // A grid from the input's shape: the same in any model.
    node("size", "Shape", "x"),
    node("grid", "Range", "zero", "size", "one"),
    node("zero", "Const"),
    node("one", "Const"),
    node("at", "GatherV2", "offsets", "best", "axis"),
    node("where", "Add", "at", "grid"),
    // The scores, through a cast and a comparison, into a Where.
    node("score", "Cast", "heat"),
    node("keep", "GreaterEqual", "score", "threshold"),
    node("threshold", "Const"),
    node("kept", "Where", "keep"),
    node("out", "Identity", "where"),
    node("count", "Size", "kept"),
  ];
  assert.deepEqual(
    [...selectionSources(nodes, ["out:0", "count"], TF_SELECTION_OPS)],
    [["heat", "ArgMax"], ["offsets", "ArgMax"]],
  );
  // TensorFlow's Split takes its axis first: the walk goes on to the value.
  const split = [
    node("x", "Placeholder"),
    node("both", "Sigmoid", "x"),
    node("dim", "Const"),
    node("halves", "Split", "dim", "both"),
    node("top", "TopKV2", "halves:1", "k"),
  ];
  assert.deepEqual([...selectionSources(split, ["top"], TF_SELECTION_OPS)], [["both", "TopKV2"]]);
  // Only what the outputs read: the Where's scores are read by an output alone.
  assert.deepEqual([...selectionSources(nodes, ["count"], TF_SELECTION_OPS)], [["heat", "Where"]]);
  // An output without a selection reads none.
  assert.deepEqual([...selectionSources(nodes, ["offsets"], TF_SELECTION_OPS)], []);
});

test("the tensors a selection in a TensorFlow 1 loop selects from are found outside the loop", () => {
  // faceboxes' shape: the scores are scattered into a tensor array that a while loop reads and
  // filters with a Where per image.
  const nodes = [
    node("x", "Placeholder"),
    node("logits", "Conv2D", "x", "w"),
    node("w", "Const"),
    node("scores", "Softmax", "logits"),
    node("ta", "TensorArrayV3", "n"),
    node("n", "Const"),
    node("scatter", "TensorArrayScatterV3", "ta", "indices", "scores", "ta:1"),
    node("indices", "Const"),
    node("enter_ta", "Enter", "ta"),
    node("enter_flow", "Enter", "scatter"),
    node("i", "Merge", "enter_i", "next_i"),
    node("enter_i", "Enter", "zero"),
    node("zero", "Const"),
    node("cond", "LoopCond", "less"),
    node("less", "Less", "i", "n"),
    node("switch", "Switch", "i", "cond"),
    node("read", "TensorArrayReadV3", "enter_ta", "switch:1", "enter_flow"),
    node("keep", "GreaterEqual", "read", "threshold"),
    node("threshold", "Const"),
    node("where", "Where", "keep"),
    node("next_i", "NextIteration", "where"),
    node("exit", "Exit", "switch"),
    node("out", "Identity", "exit"),
  ];
  assert.deepEqual([...selectionSources(nodes, ["out"], TF_SELECTION_OPS)], [["scores", "Where"]]);
});

test("a long chain of views is walked back without recursion", () => {
  const nodes = [node("x", "Placeholder"), node("v0", "Relu", "x")];
  for (let i = 1; i < 200_000; i++) nodes.push(node(`v${i}`, "Identity", `v${i - 1}`));
  nodes.push(node("top", "TopKV2", "v199999", "k"));
  assert.deepEqual([...selectionSources(nodes, ["top"], TF_SELECTION_OPS)], [["v0", "TopKV2"]]);
});

test("tfjsSelectionSources reads a graph model's model.json; a layers model has none", () => {
  const json = {
    format: "graph-model",
    modelTopology: {
      node: [
        { name: "x", op: "Placeholder" },
        { name: "s", op: "Sigmoid", input: ["x"] },
        { name: "top", op: "TopKV2", input: ["s", "k"] },
        { name: "k", op: "Const" },
      ],
    },
  };
  assert.deepEqual([...tfjsSelectionSources(json, ["top:1"])], [["s", "TopKV2"]]);
  assert.deepEqual([...tfjsSelectionSources({ modelTopology: { config: {} } }, ["y"])], []);
});

test("through a product with a mask (movenet's peaks) or a Select the walk goes on to the values kept", () => {
  const nodes = [
    node("x", "Placeholder"),
    node("heat", "Sigmoid", "x"),
    node("pooled", "MaxPool", "heat"),
    node("gap", "Abs", "heat", "pooled"),
    node("peak", "Less", "gap", "eps"),
    node("eps", "Const"),
    node("peakf", "Cast", "peak"),
    node("peaks", "Mul", "heat", "peakf"),
    node("top", "TopKV2", "peaks", "k"),
    node("scale", "Exp", "x"),
    node("fallback", "Neg", "x"),
    node("chosen", "SelectV2", "peak", "scale", "fallback"),
    node("best", "ArgMax", "chosen", "axis"),
    // A product of two values is computed, not masked.
    node("both", "Mul", "heat", "scale"),
    node("first", "ArgMax", "both", "axis"),
  ];
  assert.deepEqual([...selectionSources(nodes, ["top"], TF_SELECTION_OPS)], [["heat", "TopKV2"]]);
  assert.deepEqual(
    [...selectionSources(nodes, ["best"], TF_SELECTION_OPS)],
    [["scale", "ArgMax"], ["fallback", "ArgMax"]],
  );
  assert.deepEqual([...selectionSources(nodes, ["first"], TF_SELECTION_OPS)], [["both", "ArgMax"]]);
});

test("ONNX: the values an NMS selects from, back through ONNX's views to what computed them", () => {
  const n = (opType: string, inputs: string[], outputs: string[]) => ({
    opType,
    inputs,
    outputs,
    attributes: [],
  });
  const graph = {
    nodes: [
      n("Conv", ["x", "w"], ["feat"]),
      n("Reshape", ["feat", "shape"], ["boxes"]),
      n("Conv", ["x", "v"], ["logits"]),
      n("Sigmoid", ["logits"], ["probs"]),
      n("Transpose", ["probs"], ["scores"]),
      n("Constant", [], ["max_out"]),
      n("NonMaxSuppression", ["boxes", "scores", "max_out", "", "threshold"], ["selected"]),
      n("Gather", ["selected", "two"], ["which"]),
      n("Squeeze", ["boxes"], ["flat"]),
      n("Gather", ["flat", "which"], ["kept"]),
      // ONNX's Where chooses element-wise: its values, not its condition.
      n("Greater", ["kept", "zero"], ["positive"]),
      n("Neg", ["kept"], ["negated"]),
      n("Where", ["positive", "kept", "negated"], ["out"]),
    ],
  };
  assert.deepEqual([...onnxSelectionSources(graph, ["out", "selected"], ["x"])], [
    ["feat", "NonMaxSuppression"],
    ["probs", "NonMaxSuppression"],
  ]);
  // Without the graph's inputs nothing reaches them: none.
  assert.deepEqual([...onnxSelectionSources(graph, ["out"], [])], []);
});
