import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import {
  attr,
  cat,
  f32s,
  graph,
  int,
  len,
  model,
  node,
  str,
  tensor,
  valueInfo,
} from "./_onnx_builder.ts";

function fails(bytes: Uint8Array, field: RegExp, pattern: RegExp, offset?: number): void {
  assert.throws(() => decodeOnnx(bytes, { file: "bad.onnx" }), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, String(e));
    assert.equal(e.file, "bad.onnx");
    assert.match(e.field, field);
    assert.match(e.message, pattern);
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  });
}

const small = () =>
  model(graph({
    nodes: [node("Relu", ["x"], ["y"], "r")],
    initializers: [tensor({ name: "w", dims: [2], raw: f32s(2, (i) => i) })],
    outputs: [valueInfo("y", [2])],
  }));

test("decodeOnnx() rejects a truncated file with the field path and byte offset", () => {
  const bytes = small();
  fails(bytes.subarray(0, bytes.length - 3), /^model$|^graph/, /past the end/);
  fails(new Uint8Array([0x08]), /model/, /varint runs past the end/, 1);
});

test("decodeOnnx() rejects a length that runs past the end of its message", () => {
  // graph (field 7) claims 100 bytes but has 2.
  fails(
    new Uint8Array([0x08, 0x08, 0x3a, 100, 0x0a, 0x00]),
    /^model$/,
    /past the end of its message/,
    2,
  );
});

test("decodeOnnx() rejects wrong wire types for known fields", () => {
  // producer_name (2) as a varint; graph (7) as a varint.
  fails(new Uint8Array([0x08, 0x08, 0x10, 0x01]), /producer_name/, /wire type 0, expected 2/, 2);
  fails(cat([int(1, 8), int(7, 1)]), /^graph$/, /wire type 0, expected 2/);
});

test("decodeOnnx() rejects groups, field number 0 and over-long varints", () => {
  fails(new Uint8Array([0x0b, 0x0c]), /model/, /unsupported wire type 3/, 0);
  fails(new Uint8Array([0x00, 0x01]), /model/, /invalid field number 0/, 0);
  fails(new Uint8Array([0x08, ...new Array(11).fill(0xff)]), /model/, /longer than 10 bytes/, 1);
});

test("decodeOnnx() rejects a file with no graph or no ir_version", () => {
  fails(new Uint8Array([0x08, 0x08]), /model.graph/, /no graph/);
  fails(len(7, graph({ nodes: [], outputs: [] })), /ir_version/, /no ir_version/);
});

test("decodeOnnx() rejects raw_data whose length does not match the dims, naming the tensor", () => {
  const bad = model(
    graph({
      nodes: [],
      initializers: [tensor({
        name: "w",
        dims: [3],
        raw: f32s(2, () => 1),
      })],
      outputs: [],
    }),
  );
  fails(bad, /^w$/, /raw_data has 8 bytes but F32 \[3\] needs 12/);
});

test("decodeOnnx() rejects dims whose product overflows and negative dims without allocating", () => {
  const huge = model(
    graph({
      nodes: [],
      initializers: [tensor({ name: "w", dims: [2 ** 40, 2 ** 40], floatData: [1] })],
      outputs: [],
    }),
  );
  fails(huge, /^w$/, /safe-integer product/);
  const neg = model(
    graph({
      nodes: [],
      initializers: [tensor({ name: "n", dims: [-1], floatData: [1] })],
      outputs: [],
    }),
  );
  fails(neg, /^n$/, /non-negative/);
  const few = model(
    graph({
      nodes: [],
      initializers: [tensor({ name: "f", dims: [1_000_000_000], floatData: [1] })],
      outputs: [],
    }),
  );
  fails(few, /^f$/, /holds at most 4 values/);
});

test("decodeOnnx() rejects a string that is not UTF-8", () => {
  const bad = model(graph({ nodes: [cat([len(1, [0xff, 0xfe]), str(4, "Relu")])], outputs: [] }));
  fails(bad, /graph.node\[0\].input/, /not UTF-8/);
});

test("decodeOnnx() rejects subgraphs nested too deep", () => {
  let g = graph({ nodes: [], outputs: [] });
  for (let i = 0; i < 70; i++) {
    g = graph({ nodes: [node("If", ["c"], ["y"], "", [attr("then_branch", { g })])], outputs: [] });
  }
  fails(model(g), /graph/, /nested more than 64 deep/);
});

test("readOnnxTensor() rejects typed data with fewer values than the dims", async () => {
  const onnx = decodeOnnx(
    model(
      graph({
        nodes: [],
        initializers: [tensor({ name: "w", dims: [3], floatData: [1, 2] })],
        outputs: [],
      }),
    ),
  );
  await assert.rejects(readOnnxTensor(onnx, onnx.tensors[0]), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.equal(e.field, "w");
    assert.match(e.message, /holds 2 values but dims \[3\] need 3/);
    return true;
  });
});
