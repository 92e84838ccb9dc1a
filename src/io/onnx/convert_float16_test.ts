import { test } from "node:test";
import assert from "node:assert/strict";
import { buildOnnx } from "./build_onnx.ts";
import { decodeOnnx } from "./decode_onnx.ts";
import { convertFloat16 } from "./convert_float16.ts";
import { graphValueTypes } from "./graph_value_types.ts";
import type { OnnxModel, OnnxNode } from "./onnx_types.ts";
import { readOnnxValues } from "./read_onnx_values.ts";
import { concat, intField, lenField } from "./proto_writer.ts";

const f32 = (name: string, dims: number[], v: number[]) => ({
  name,
  dataType: 1,
  dims,
  raw: new Uint8Array(Float32Array.from(v).buffer),
});
const i64 = (name: string, v: number[]) => ({
  name,
  dataType: 7,
  dims: [v.length],
  raw: new Uint8Array(BigInt64Array.from(v.map(BigInt)).buffer),
});
const io = (name: string, elemType: number, dims: number[]) => ({
  name,
  type: { elemType, dims },
});
const to = (n: OnnxNode) => n.attributes.find((a) => a.name === "to")?.i;
const type = (m: OnnxModel, name: string) => m.tensors.find((t) => t.name === name)?.dataType;

test("a weight read by a blocked and a converted node is float16, cast once for the blocked one", async () => {
  const bytes = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"] },
      { name: "mx", opType: "Max", inputs: ["h", "w"], outputs: ["m"] },
      { name: "mn", opType: "Min", inputs: ["m", "w"], outputs: ["y"] },
    ],
    initializers: [f32("w", [2, 2], [1, -2, 3e-9, 2e5])],
    inputs: [io("x", 1, [2, 2])],
    outputs: [io("y", 1, [2, 2])],
  });
  const r = convertFloat16(decodeOnnx(bytes));
  const m = decodeOnnx(r.bytes);
  assert.equal(type(m, "w"), 10);
  const casts = m.graph.nodes.filter((n) => n.opType === "Cast");
  // x → float16; w → float32 once (both blocked nodes read it); h → float32 once. Max and Min
  // run in float32 one after the other: no Cast between them, and y is written as float32.
  assert.deepEqual(casts.map((c) => `${c.inputs[0]}:${to(c)}`).sort(), [
    "h:1",
    "w:1",
    "x:10",
  ]);
  const mx = m.graph.nodes.find((n) => n.name === "mx")!;
  const mn = m.graph.nodes.find((n) => n.name === "mn")!;
  assert.equal(mn.inputs[0], "m");
  assert.equal(mn.inputs[1], mx.inputs[1]);
  assert.equal(mn.outputs[0], "y");
  // Clamped like the Python converter: 3e-9 → 1e-7, 2e5 → 1e4.
  assert.deepEqual(r.clamped, { small: 1, large: 1 });
  const w = await readOnnxValues(m, m.tensors.find((t) => t.name === "w")!);
  assert.equal(w[3], 10000);
  assert.ok(Math.abs(w[2] - 1.1920928955078125e-7) < 1e-12);
  assert.equal(r.blockedNodes, 2);
});

test("keepIoTypes false makes inputs and outputs float16; value_info follows the values", () => {
  const valueInfo = (name: string, elem: number) =>
    lenField(
      13,
      concat([lenField(1, name), lenField(2, lenField(1, concat([intField(1, elem)])))]),
    );
  const base = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "relu", opType: "Relu", inputs: ["x"], outputs: ["h"] },
      { name: "topk", opType: "TopK", inputs: ["h", "k"], outputs: ["y", "i"] },
    ],
    initializers: [i64("k", [1])],
    inputs: [io("x", 1, [1, 4])],
    outputs: [io("y", 1, [1, 1]), io("i", 7, [1, 1])],
  });
  const withInfo = appendToGraph(base, valueInfo("h", 1));
  const keptBytes = convertFloat16(decodeOnnx(withInfo)).bytes;
  // h is computed by Relu (converted): its value_info says float16 now.
  assert.ok(contains(keptBytes, valueInfo("h", 10)));
  assert.ok(!contains(keptBytes, valueInfo("h", 1)));
  const kept = decodeOnnx(keptBytes);
  assert.deepEqual(graphValueTypes(kept).inputs.map((v) => v.elemType), [1]);
  assert.deepEqual(graphValueTypes(kept).outputs.map((v) => v.elemType), [1, 7]);
  const half = decodeOnnx(convertFloat16(decodeOnnx(withInfo), { keepIoTypes: false }).bytes);
  assert.deepEqual(graphValueTypes(half).inputs.map((v) => v.elemType), [10]);
  assert.deepEqual(graphValueTypes(half).outputs.map((v) => v.elemType), [10, 7]);
  // TopK (blocked) writes y in float32: a Cast to float16 gives the declared output.
  const topk = half.graph.nodes.find((n) => n.opType === "TopK")!;
  assert.equal(topk.outputs[0], "y_fp32");
  const cast = half.graph.nodes.find((n) => n.inputs[0] === "y_fp32")!;
  assert.equal(to(cast), 10);
  assert.equal(cast.outputs[0], "y");
});

test("Constant value_float, ConstantOfShape without value and a Cast to float become float16", () => {
  const bytes = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      {
        name: "c",
        opType: "Constant",
        inputs: [],
        outputs: ["c"],
        attributes: [{ name: "value_float", f: 0.5 } as never],
      },
      { name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"] },
      { name: "zeros", opType: "ConstantOfShape", inputs: ["s"], outputs: ["z"] },
      {
        name: "ids",
        opType: "Cast",
        inputs: ["n"],
        outputs: ["nf"],
        attributes: [{ name: "to", i: 1 }],
      },
      { name: "a", opType: "Add", inputs: ["x", "z"], outputs: ["a"] },
      { name: "b", opType: "Mul", inputs: ["a", "c"], outputs: ["b"] },
      { name: "y", opType: "Add", inputs: ["b", "nf"], outputs: ["y"] },
    ],
    inputs: [io("x", 1, [2]), io("n", 7, [2])],
    outputs: [io("y", 1, [2])],
  });
  const m = decodeOnnx(convertFloat16(decodeOnnx(bytes)).bytes);
  const byName = (name: string) => m.graph.nodes.find((n) => n.name === name)!;
  assert.equal(byName("c").attributes[0].name, "value");
  assert.equal(byName("c").attributes[0].t?.dataType, 10);
  assert.equal(byName("zeros").attributes.find((a) => a.name === "value")?.t?.dataType, 10);
  // The int64 → float Cast is read only in float16: it casts to float16 itself.
  assert.equal(to(byName("ids")), 10);
  assert.equal(m.graph.nodes.filter((n) => n.opType === "Cast").length, 3); // x in, ids, y out
});

test("sparse initializers stay as they are and get a Cast for float16 readers", () => {
  // A graph with a sparse_initializer: values [2] float32 at indices [0, 3] of a [2, 2] tensor.
  const values = concat([
    intField(1, 2),
    intField(2, 1),
    lenField(8, "w"),
    lenField(9, new Uint8Array(Float32Array.of(1, 2).buffer)),
  ]);
  const indices = concat([
    intField(1, 2),
    intField(2, 7),
    lenField(9, new Uint8Array(BigInt64Array.of(0n, 3n).buffer)),
  ]);
  const sparse = lenField(
    15,
    concat([lenField(1, values), lenField(2, indices), intField(3, 2), intField(3, 2)]),
  );
  const bytes = appendToGraph(
    buildOnnx({
      opsets: [{ domain: "", version: 13 }],
      nodes: [{ name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["y"] }],
      inputs: [io("x", 1, [2, 2])],
      outputs: [io("y", 1, [2, 2])],
    }),
    sparse,
  );
  const m = decodeOnnx(convertFloat16(decodeOnnx(bytes)).bytes);
  const mm = m.graph.nodes.find((n) => n.opType === "MatMul")!;
  assert.equal(mm.inputs[1], "w_fp16");
  assert.equal(m.graph.sparseInitializers[0].dataType, 1);
});

test("a model with float16 values is refused unless forced; bad clamping is refused", () => {
  const bytes = buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "c",
      opType: "Cast",
      inputs: ["x"],
      outputs: ["y"],
      attributes: [{ name: "to", i: 10 }],
    }],
    inputs: [io("x", 1, [2])],
    outputs: [io("y", 10, [2])],
  });
  assert.throws(() => convertFloat16(decodeOnnx(bytes)), /already holds float16 values/);
  assert.doesNotThrow(() => convertFloat16(decodeOnnx(bytes), { force: true }));
  assert.throws(
    () => convertFloat16(decodeOnnx(bytes), { force: true, minPositive: 1, maxFinite: 0.5 }),
    /0 <= minPositive < maxFinite/,
  );
});

/** The model with `field` (an encoded graph field) appended to its graph message. */
function appendToGraph(model: Uint8Array, field: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos < model.length) {
    const start = pos;
    let tag = 0, shift = 0, b: number;
    do (b = model[pos++], tag += (b & 0x7f) * 2 ** shift, shift += 7); while (b & 0x80);
    const wire = tag & 7;
    if (wire !== 2) {
      if (wire === 0) { while (model[pos++] & 0x80); }
      else pos += wire === 1 ? 8 : 4;
      parts.push(model.subarray(start, pos));
      continue;
    }
    let len = 0;
    shift = 0;
    do (b = model[pos++], len += (b & 0x7f) * 2 ** shift, shift += 7); while (b & 0x80);
    const body = model.subarray(pos, pos + len);
    pos += len;
    parts.push(tag >>> 3 === 7 ? lenField(7, concat([body, field])) : model.subarray(start, pos));
  }
  return concat(parts);
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
