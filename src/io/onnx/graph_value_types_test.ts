import { test } from "node:test";
import assert from "node:assert/strict";
import { buildOnnx } from "./build_onnx.ts";
import { decodeOnnx } from "./decode_onnx.ts";
import { graphValueTypes } from "./graph_value_types.ts";

test("graphValueTypes() leaves out initializers listed as inputs and reads unnamed dims as null", () => {
  const onnx = decodeOnnx(buildOnnx({
    irVersion: 3,
    opsets: [{ domain: "", version: 9 }],
    nodes: [{ name: "add", opType: "Add", inputs: ["x", "b"], outputs: ["y"] }],
    initializers: [{ name: "b", dataType: 1, dims: [3], raw: new Uint8Array(12) }],
    inputs: [
      { name: "x", type: { elemType: 1, dims: ["", 3] } },
      { name: "b", type: { elemType: 1, dims: [3] } },
      { name: "s", type: { elemType: 8, dims: [1] } },
    ],
    outputs: [{ name: "y", type: { elemType: 1, dims: ["", 3] } }],
  }));
  const { inputs, outputs } = graphValueTypes(onnx);
  assert.deepEqual(inputs.map((i) => i.name), ["x", "s"]);
  assert.deepEqual(inputs[0].dims, [null, 3]);
  assert.equal(inputs[1].type, undefined, "strings are not fed from JavaScript");
  assert.deepEqual(outputs, [{ name: "y", elemType: 1, type: "float32", dims: [null, 3] }]);
});
