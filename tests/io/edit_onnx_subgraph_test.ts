// editOnnx() on If branches: initializers and nodes edited inside subgraphs,
// together with tensor replacements in the same subgraph, checked by decoding and onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { editOnnx, graphPaths } from "../../src/io/onnx/edit_onnx.ts";
import type { GraphSpec } from "../../src/io/onnx/proto_writer.ts";

const FLOAT = 1, BOOL = 9;
const raw = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

/** y = If(cond, then: x * a + b (branch initializers), else: x * c (outer-scope initializer)). */
function ifModel(): Uint8Array {
  const y = (name: string) => [{ name, type: { elemType: FLOAT, dims: [2] } }];
  const thenBranch: GraphSpec = {
    name: "then",
    nodes: [
      { name: "mul", opType: "Mul", inputs: ["x", "a"], outputs: ["t"] },
      { name: "add", opType: "Add", inputs: ["t", "b"], outputs: ["yt"] },
    ],
    initializers: [
      { name: "a", dataType: FLOAT, dims: [2], raw: raw([2, 3]) },
      { name: "b", dataType: FLOAT, dims: [2], raw: raw([1, 1]) },
    ],
    inputs: [],
    outputs: y("yt"),
  };
  const elseBranch: GraphSpec = {
    name: "else",
    nodes: [{ name: "mul", opType: "Mul", inputs: ["x", "c"], outputs: ["ye"] }],
    inputs: [],
    outputs: y("ye"),
  };
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "if",
      opType: "If",
      inputs: ["cond"],
      outputs: ["y"],
      attributes: [{ name: "then_branch", g: thenBranch }, { name: "else_branch", g: elseBranch }],
    }],
    initializers: [{ name: "c", dataType: FLOAT, dims: [2], raw: raw([-1, 5]) }],
    inputs: [
      { name: "cond", type: { elemType: BOOL, dims: [] } },
      { name: "x", type: { elemType: FLOAT, dims: [2] } },
    ],
    outputs: y("y"),
  });
}

async function run(bytes: Uint8Array, cond: boolean): Promise<number[]> {
  const ort = await import("onnxruntime-node");
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await s.run({
      cond: new ort.Tensor("bool", [cond], []),
      x: new ort.Tensor("float32", Float32Array.of(10, 20), [2]),
    });
    return [...(out.y.data as Float32Array)];
  } finally {
    await s.release();
  }
}

test("graphPaths lists the main graph and each branch by the path its nodes start with", () => {
  const model = decodeOnnx(ifModel());
  const paths = graphPaths(model);
  assert.deepEqual([...paths.keys()], [
    "graph",
    "graph.node[0].attribute[0].g",
    "graph.node[0].attribute[1].g",
  ]);
  for (const [path, g] of paths) {
    for (const n of g.nodes) assert.ok(n.path.startsWith(`${path}.node[`), n.path);
  }
});

test("editOnnx() edits initializers and nodes inside If branches, with replacements beside them", async () => {
  const bytes = ifModel();
  assert.deepEqual(await run(bytes, true), [21, 61]);
  assert.deepEqual(await run(bytes, false), [-10, 100]);
  const then = "graph.node[0].attribute[0].g";
  const other = "graph.node[0].attribute[1].g";
  const { bytes: out } = editOnnx(bytes, [
    // then: a is replaced by a2 computed by a node at the branch start; b gets new values.
    { op: "removeInitializer", name: "a", graph: then },
    {
      op: "addInitializer",
      graph: then,
      tensor: { name: "a_half", dataType: FLOAT, dims: [2], raw: raw([2, 1]) },
    },
    {
      op: "insertNodes",
      graph: then,
      at: "start",
      nodes: [{ name: "twice", opType: "Add", inputs: ["a_half", "a_half"], outputs: ["a"] }],
    },
    { op: "replaceTensor", name: "b", bytes: raw([100, 200]) },
    // else: x * c becomes (x * c) - c through an inserted node and a rewired output.
    { op: "rewireNode", graph: other, node: 0, outputs: { 0: "prod" } },
    {
      op: "insertNodes",
      graph: other,
      at: { after: 0 },
      nodes: [{ name: "sub", opType: "Sub", inputs: ["prod", "c"], outputs: ["ye"] }],
    },
  ]);
  const model = decodeOnnx(out);
  const [t, e] = model.graph.nodes[0].attributes.map((a) => a.g!);
  assert.deepEqual(t.nodes.map((n) => n.name), ["twice", "mul", "add"]);
  assert.deepEqual(t.initializers.map((x) => x.name), ["b", "a_half"]);
  assert.deepEqual(e.nodes.map((n) => `${n.opType}(${n.inputs})->${n.outputs}`), [
    "Mul(x,c)->prod",
    "Sub(prod,c)->ye",
  ]);
  assert.deepEqual(await run(out, true), [4 * 10 + 100, 2 * 20 + 200]);
  assert.deepEqual(await run(out, false), [-10 + 1, 100 - 5]);
});

test("editOnnx() names the graph path in errors about subgraph edits", () => {
  const bytes = ifModel();
  assert.throws(
    () => editOnnx(bytes, [{ op: "removeNode", node: 0, graph: "graph.node[0].attribute[2].g" }]),
    /edit \[0\] \(removeNode\): "graph" must be the path of a graph of the model .*: current value is "graph.node\[0\].attribute\[2\].g"/,
  );
  assert.throws(
    () => editOnnx(bytes, [{ op: "removeNode", node: 1, graph: "graph.node[0].attribute[1].g" }]),
    /"node" must be a subgraph graph.node\[0\].attribute\[1\].g node index in \[0, 1\): current value is 1/,
  );
  assert.throws(
    () =>
      editOnnx(bytes, [{
        op: "removeInitializer",
        name: "c",
        graph: "graph.node[0].attribute[0].g",
      }]),
    /"name" must be a subgraph graph.node\[0\].attribute\[0\].g initializer: "c" is not one/,
  );
  assert.throws(
    () =>
      editOnnx(bytes, [
        { op: "replaceTensor", name: "a", bytes: raw([0, 0]) },
        { op: "removeNode", node: 0 },
      ]),
    /tensor "a" is replaced, but edit \[1\] \(removeNode\) drops the node that holds it/,
  );
});

test("editOnnx() rewireNode sets attributes by name, replacing or appending them", async () => {
  const ort = await import("onnxruntime-node");
  const leaky = (attributes: { name: string; f: number }[]) =>
    buildOnnx({
      opsets: [{ domain: "", version: 13 }],
      nodes: [{ name: "lr", opType: "LeakyRelu", inputs: ["x"], outputs: ["y"], attributes }],
      inputs: [{ name: "x", type: { elemType: FLOAT, dims: [2] } }],
      outputs: [{ name: "y", type: { elemType: FLOAT, dims: [2] } }],
    });
  for (const original of [leaky([{ name: "alpha", f: 0.1 }]), leaky([])]) {
    const { bytes } = editOnnx(original, [
      { op: "rewireNode", node: 0, attributes: [{ name: "alpha", f: 0.5 }] },
    ]);
    const node = decodeOnnx(bytes).graph.nodes[0];
    assert.deepEqual(node.attributes.map((a) => [a.name, a.f]), [["alpha", 0.5]]);
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const out = await s.run({ x: new ort.Tensor("float32", Float32Array.of(-2, 3), [2]) });
    assert.deepEqual([...(out.y.data as Float32Array)], [-1, 3]);
    await s.release();
  }
});
