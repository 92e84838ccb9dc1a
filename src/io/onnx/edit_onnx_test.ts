import { test } from "node:test";
import assert from "node:assert/strict";
import { ModelFormatError } from "../model_format_error.ts";
import { buildOnnx } from "./build_onnx.ts";
import { decodeOnnx } from "./decode_onnx.ts";
import { editOnnx, type OnnxEdit } from "./edit_onnx.ts";
import { readOnnxValues } from "./read_onnx_values.ts";
import { forEachField } from "./_wire.ts";
import {
  attr,
  cat,
  f32s,
  graph,
  len,
  model,
  node,
  str,
  tensor,
  valueInfo,
} from "../../../tests/io/_onnx_builder.ts";

const raw = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const FLOAT = 1;

/** x[2, 3] → MatMul by w[3, 2] → y, with an unknown field (99) in the graph and one in a node. */
function matmul(): Uint8Array {
  const g = cat([
    len(1, cat([node("MatMul", ["x", "w"], ["y"], "mm"), str(99, "kept")])),
    str(2, "g"),
    len(5, tensor({ name: "w", dims: [3, 2], raw: f32s(6, (i) => i - 2) })),
    len(11, valueInfo("x", [2, 3])),
    len(11, valueInfo("w", [3, 2])),
    len(12, valueInfo("y", [2, 2])),
    str(99, "unknown graph field"),
  ]);
  return model(g, { metadata: { k: "v" } });
}

const X = f32s(6, (i) => (i % 4) - 1.5);

function matmulRef(x: Float32Array, w: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += x[r * 3 + k] * w[k * 2 + c];
      out.push(s);
    }
  }
  return out;
}

async function run(bytes: Uint8Array, outputs: string[]): Promise<Record<string, number[]>> {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ x: new ort.Tensor("float32", X, [2, 3]) }, outputs);
    return Object.fromEntries(outputs.map((o) => [o, [...(out[o].data as Float32Array)]]));
  } finally {
    await session.release();
  }
}

function close(got: number[], want: number[]): void {
  assert.equal(got.length, want.length);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-5, `[${i}] ${g} vs ${want[i]}`));
}

test("editOnnx() with no edits returns the input bytes", () => {
  const bytes = matmul();
  assert.deepEqual(editOnnx(bytes, []).bytes, bytes);
  assert.deepEqual(editOnnx(decodeOnnx(bytes), []).external, []);
});

test("editOnnx() inserts nodes that onnxruntime runs: an Add after the MatMul and a Mul before it", async () => {
  const bytes = matmul();
  const edits: OnnxEdit[] = [
    {
      op: "addInitializer",
      tensor: { name: "b", dataType: FLOAT, dims: [2], raw: raw([10, -10]) },
    },
    {
      op: "addInitializer",
      tensor: { name: "s", dataType: FLOAT, dims: [1], raw: raw([0.5]) },
      atEnd: true,
    },
    {
      op: "insertNodes",
      at: { after: 0 },
      nodes: [{ name: "bias", opType: "Add", inputs: ["h", "b"], outputs: ["y"] }],
    },
    { op: "rewireNode", node: 0, outputs: { 0: "h" } },
    {
      op: "insertNodes",
      at: { before: 0 },
      nodes: [{ name: "scale", opType: "Mul", inputs: ["x", "s"], outputs: ["xs"] }],
    },
    { op: "rewireNode", node: 0, inputs: { 0: "xs" } },
    { op: "addGraphOutput", name: "h", type: { elemType: FLOAT, dims: [2, "n"] } },
  ];
  const { bytes: out } = editOnnx(bytes, edits);
  const m = decodeOnnx(out);
  assert.deepEqual(
    m.graph.nodes.map((n) => `${n.name}:${n.inputs}->${n.outputs}`),
    ["scale:x,s->xs", "mm:xs,w->h", "bias:h,b->y"],
  );
  assert.deepEqual(m.graph.initializers.map((t) => t.name), ["w", "b", "s"]);
  assert.deepEqual(m.graph.outputs, ["y", "h"]);
  assert.deepEqual(m.metadata, { k: "v" });
  // Untouched bytes are copied: the node's and the graph's unknown fields survive.
  const text = new TextDecoder().decode(out);
  assert.ok(text.includes("kept") && text.includes("unknown graph field"));
  const w = f32s(6, (i) => i - 2);
  const h = matmulRef(X.map((v) => v * 0.5), w);
  const got = await run(out, ["y", "h"]);
  close(got.h, h);
  close(got.y, h.map((v, i) => v + (i % 2 === 0 ? 10 : -10)));
});

test("editOnnx() replaces a tensor, removes an initializer with its graph input, and adds an opset once", async () => {
  const bytes = matmul();
  const w2 = [1, 0, 0, 1, 1, 1];
  const { bytes: out } = editOnnx(bytes, [
    { op: "replaceTensor", name: "w", bytes: raw(w2) },
    { op: "addOpset", domain: "com.microsoft", version: 1 },
    { op: "addOpset", domain: "com.microsoft", version: 1 },
    { op: "addOpset", domain: "", version: 99 },
  ]);
  const m = decodeOnnx(out);
  assert.deepEqual(m.opsets, [{ domain: "", version: 17 }, {
    domain: "com.microsoft",
    version: 1,
  }]);
  close([...await readOnnxValues(m, m.tensors[0])], w2);
  close((await run(out, ["y"])).y, matmulRef(X, w2));

  const removed = decodeOnnx(
    editOnnx(bytes, [
      { op: "removeInitializer", name: "w" },
      { op: "addInitializer", tensor: { name: "w", dataType: FLOAT, dims: [3, 2], raw: raw(w2) } },
    ]).bytes,
  );
  assert.deepEqual(removed.graph.inputs, ["x"]);
  assert.deepEqual(removed.graph.initializers.map((t) => t.name), ["w"]);
});

test("editOnnx() places new initializers after the initializers and inputs, or at the end", () => {
  const fieldNumbers = (bytes: Uint8Array) => {
    const ctx = { bytes, file: "" };
    const out: number[] = [];
    forEachField(ctx, 0, bytes.length, "model", (g) => {
      if (g.number === 7) {
        forEachField(ctx, g.start, g.end, "graph", (f) => void out.push(f.number));
      }
    });
    return out;
  };
  const bytes = model(graph({
    nodes: [node("Relu", ["x"], ["y"])],
    initializers: [tensor({ name: "a", dims: [1], raw: f32s(1, () => 1) })],
    inputs: [valueInfo("x", [1])],
    outputs: [valueInfo("y", [1])],
  }));
  const t = { name: "t", dataType: FLOAT, dims: [1], raw: raw([1]) };
  assert.deepEqual(fieldNumbers(bytes), [1, 2, 5, 11, 12]);
  const plain = editOnnx(bytes, [{ op: "addInitializer", tensor: t }]).bytes;
  assert.deepEqual(fieldNumbers(plain), [1, 2, 5, 11, 5, 12]);
  const atEnd = editOnnx(bytes, [{ op: "addInitializer", tensor: t, atEnd: true }]).bytes;
  assert.deepEqual(fieldNumbers(atEnd), [1, 2, 5, 11, 12, 5]);
});

test("editOnnx() removes and replaces nodes, appends inputs and sets value infos", () => {
  const bytes = model(graph({
    nodes: [
      node("Constant", [], ["c"], "const", [
        attr("value", { t: tensor({ dims: [1], raw: f32s(1, () => 2) }) }),
      ]),
      node("Add", ["x", "c"], ["y"], "add"),
      node("Relu", ["y"], ["z"], "relu"),
    ],
    inputs: [valueInfo("x", [1])],
    outputs: [valueInfo("z", [1])],
  }));
  const { bytes: out } = editOnnx(bytes, [
    { op: "removeNode", node: 0 },
    {
      op: "replaceNode",
      node: 2,
      with: { name: "sig", opType: "Sigmoid", inputs: ["y"], outputs: ["z"] },
    },
    { op: "rewireNode", node: 1, inputs: { 1: "k", 2: "extra" } },
    {
      op: "insertNodes",
      at: "start",
      nodes: [{
        name: "k",
        opType: "Constant",
        inputs: [],
        outputs: ["k"],
        attributes: [{
          name: "value",
          t: { name: "k", dataType: FLOAT, dims: [1], raw: raw([3]) },
        }],
      }],
    },
    { op: "setValueInfo", name: "y", type: { elemType: FLOAT, dims: [1] } },
  ]);
  const m = decodeOnnx(out);
  assert.deepEqual(m.graph.nodes.map((n) => `${n.name}:${n.inputs}`), [
    "k:",
    "add:x,k,extra",
    "sig:y",
  ]);
  assert.deepEqual(m.tensors.map((t) => t.name), ["k"]);
  // value_info entries of the main graph: [name, elem_type].
  const infos = (bytes: Uint8Array) => {
    const ctx = { bytes, file: "" };
    const out: [string, number][] = [];
    const inner = (f: { start: number; end: number }, n: number) => {
      let found: { start: number; end: number; value: number } | undefined;
      forEachField(ctx, f.start, f.end, "", (h) => void (h.number === n && (found = h)));
      return found!;
    };
    forEachField(ctx, 0, bytes.length, "model", (g) => {
      if (g.number !== 7) return;
      forEachField(ctx, g.start, g.end, "graph", (f) => {
        if (f.number !== 13) return;
        const name = inner(f, 1);
        const elem = inner(inner(inner(f, 2), 1), 1).value;
        out.push([new TextDecoder().decode(bytes.subarray(name.start, name.end)), elem]);
      });
    });
    return out;
  };
  assert.deepEqual(infos(out), [["y", FLOAT]]);
  const again = editOnnx(out, [
    { op: "setValueInfo", name: "y", type: { elemType: 10, dims: [1] } },
    { op: "setValueInfo", name: "z", type: { elemType: FLOAT, dims: [1] } },
  ]);
  assert.deepEqual(infos(again.bytes), [["y", 10], ["z", FLOAT]]);
});

test("editOnnx() replaces a tensor inside a subgraph while it edits the main graph", async () => {
  const branch = graph({
    name: "then",
    nodes: [
      node("Constant", [], ["t"], "", [attr("value", {
        t: tensor({
          dims: [1],
          raw: f32s(1, () => 5),
        }),
      })]),
    ],
    outputs: [valueInfo("t", [1])],
  });
  const bytes = model(graph({
    nodes: [
      node("If", ["cond"], ["o"], "if", [
        attr("then_branch", { g: branch }),
        attr("else_branch", { g: branch }),
      ]),
    ],
    inputs: [valueInfo("cond", [], 9)],
    outputs: [valueInfo("o", [1])],
  }));
  const { bytes: out } = editOnnx(bytes, [
    { op: "replaceTensor", name: "t", bytes: raw([7]) },
    { op: "rewireNode", node: 0, outputs: { 0: "o2" } },
    { op: "addGraphOutput", name: "o2" },
  ]);
  const m = decodeOnnx(out);
  assert.deepEqual(m.graph.nodes[0].outputs, ["o2"]);
  assert.deepEqual([...await readOnnxValues(m, m.tensors[0])], [7]);
  assert.deepEqual([...await readOnnxValues(m, m.tensors[1])], [5]);
});

test("editOnnx() returns external-data patches for replaced external tensors", () => {
  const bytes = model(graph({
    nodes: [node("Relu", ["w"], ["y"])],
    initializers: [
      tensor({ name: "w", dims: [2], external: { location: "w.bin", offset: "0", length: "8" } }),
    ],
    outputs: [valueInfo("y", [2])],
  }));
  const { bytes: out, external } = editOnnx(bytes, [
    { op: "replaceTensor", name: "w", bytes: raw([1, 2]) },
    { op: "addGraphOutput", name: "w" },
  ]);
  assert.deepEqual(external.map((p) => [p.name, p.location, p.offset]), [["w", "w.bin", 0]]);
  assert.deepEqual(decodeOnnx(out).graph.outputs, ["y", "w"]);
});

test("editOnnx() rejects edits that do not fit the model, naming the edit and the value", () => {
  const bytes = matmul();
  const bad: [OnnxEdit[], RegExp][] = [
    [
      [{ op: "removeNode", node: 3 }],
      /edit \[0\] \(removeNode\): "node" must be a main-graph node index in \[0, 1\): current value is 3/,
    ],
    [
      [{ op: "removeInitializer", name: "nope" }],
      /"name" must be a main-graph initializer: "nope" is not one/,
    ],
    [
      [{ op: "addInitializer", tensor: { name: "w", dataType: 1, dims: [], raw: raw([1]) } }],
      /already has an initializer "w"/,
    ],
    [
      [{ op: "removeNode", node: 0 }, { op: "rewireNode", node: 0, inputs: { 0: "a" } }],
      /edit \[1\] \(rewireNode\): node 0 \("mm"\) is already removed/,
    ],
    [
      [{ op: "rewireNode", node: 0, inputs: { 3: "a" } }],
      /node 0 has 2 inputs, so "inputs" can append at 2: current value is 3/,
    ],
    [[{ op: "addGraphOutput", name: "y" }], /"y" is already a graph output/],
    [
      [{ op: "replaceTensor", name: "w", bytes: raw([1]) }],
      /must have 24 bytes: current value is 4/,
    ],
    [[{ op: "nope" } as unknown as OnnxEdit], /"op" must name an edit: current value is "nope"/],
  ];
  for (const [edits, message] of bad) assert.throws(() => editOnnx(bytes, edits), message);
});

test("editOnnx() reports malformed protobuf as a ModelFormatError with the file and offset", () => {
  const bytes = matmul().slice(0, 40);
  assert.throws(
    () => editOnnx(bytes, [{ op: "addOpset", domain: "x", version: 1 }], { file: "m.onnx" }),
    (e: unknown) => e instanceof ModelFormatError && /m\.onnx/.test(e.message) && e.offset >= 0,
  );
});

test("buildOnnx() writes a model that editOnnx() edits and onnxruntime runs", async () => {
  const bytes = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{ name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
    initializers: [{ name: "w", dataType: FLOAT, dims: [3, 2], raw: raw([1, 2, 3, 4, 5, 6]) }],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: ["n", 3] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: ["n", 2] } }],
  });
  const { bytes: out } = editOnnx(bytes, [
    {
      op: "insertNodes",
      at: { after: 0 },
      nodes: [{ name: "r", opType: "Relu", inputs: ["y0"], outputs: ["y"] }],
    },
    { op: "rewireNode", node: 0, outputs: { 0: "y0" } },
  ]);
  close((await run(out, ["y"])).y, matmulRef(X, [1, 2, 3, 4, 5, 6]).map((v) => Math.max(v, 0)));
});
