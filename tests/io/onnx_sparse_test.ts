import { test } from "node:test";
import assert from "node:assert/strict";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { toFileBytes } from "../../src/model/from_float32.ts";
import {
  cat,
  graph,
  int,
  len,
  model,
  node,
  sparseTensor,
  str,
  tensor,
  valueInfo,
} from "./_onnx_builder.ts";
import { loadOrt } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

/** W [2, 3] = [[0, 5, 0], [7, 0, 9]] as a sparse tensor with linear or coordinate indices. */
function sparseW(coordinates: boolean): Uint8Array {
  const values = tensor({ name: "W", dims: [3], raw: new Float32Array([5, 7, 9]) });
  const indices = coordinates
    ? tensor({ dims: [3, 2], dataType: 7, int64Data: [0, 1, 1, 0, 1, 2] })
    : tensor({ dims: [3], dataType: 7, raw: new BigInt64Array([1n, 3n, 5n]) });
  return sparseTensor(values, indices, [2, 3]);
}

/** y = x · W with W a sparse initializer. */
function sparseModel(coordinates: boolean): Uint8Array {
  return model(graph({
    nodes: [node("MatMul", ["x", "W"], ["y"], "/fc/MatMul")],
    sparseInitializers: [sparseW(coordinates)],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 3])],
  }));
}

async function run(bytes: Uint8Array, x: number[]): Promise<number[]> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(x), [1, 2]) });
  return [...out.y.data as Float32Array];
}

const floats = (b: Uint8Array) => [...new Float32Array(b.slice().buffer)];

test("sparse initializers read as dense tensors with linear and coordinate indices", async () => {
  for (const coordinates of [false, true]) {
    const onnx = decodeOnnx(sparseModel(coordinates));
    assert.equal(onnx.graph.sparseInitializers.length, 1);
    const w = onnx.tensors[0];
    assert.equal(w.name, "W");
    assert.deepEqual(w.dims, [2, 3]);
    assert.equal(w.storage.kind, "sparse");
    assert.deepEqual(floats(await readOnnxTensor(onnx, w)), [0, 5, 0, 7, 0, 9]);
    const fc = onnxModel(onnx).modules[0];
    assert.equal(fc.type, "Linear");
    assert.deepEqual(fc.params.weight.shape, [3, 2]);
    assert.deepEqual([...await fc.params.weight.data()], [0, 7, 5, 0, 0, 9]);
  }
});

test("onnxruntime runs sparse initializers with the values read here", SLOW, async () => {
  for (const coordinates of [false, true]) {
    assert.deepEqual(await run(sparseModel(coordinates), [1, 2]), [14, 5, 18]);
  }
});

test("unchanged sparse initializers are written byte for byte", () => {
  for (const coordinates of [false, true]) {
    const bytes = sparseModel(coordinates);
    assert.deepEqual(encodeOnnx(decodeOnnx(bytes), new Map()), bytes);
  }
});

test(
  "a replaced sparse initializer stays sparse, keeps its index layout and runs",
  SLOW,
  async () => {
    for (const coordinates of [false, true]) {
      const onnx = decodeOnnx(sparseModel(coordinates));
      const ref = onnxModel(onnx).modules[0].params.weight;
      const bytes = toFileBytes(ref, new Float32Array([1, 0, 0, 0, -0, 2])); // [out, in]
      const out = encodeOnnx(onnx, new Map([["W", { bytes }]]));
      const back = decodeOnnx(out);
      const w = back.tensors[0];
      assert.equal(w.storage.kind, "sparse");
      if (w.storage.kind !== "sparse") return;
      assert.deepEqual(w.storage.values.dims, [3]); // 1, -0 (its bytes are not all zero) and 2
      assert.deepEqual(w.storage.indices.dims, coordinates ? [3, 2] : [3]);
      assert.deepEqual(floats(await readOnnxTensor(back, w)), [1, 0, -0, 0, 0, 2]);
      assert.deepEqual(await run(out, [1, 2]), [1, 0, 4]);
    }
  },
);

test("a replaced sparse initializer can change dims", SLOW, async () => {
  const onnx = decodeOnnx(sparseModel(false));
  const bytes = new Uint8Array(new Float32Array([0, 0, 3, 0]).buffer);
  const out = encodeOnnx(onnx, new Map([["W", { bytes, dims: [2, 2] }]]));
  const w = decodeOnnx(out).tensors[0];
  assert.deepEqual(w.dims, [2, 2]);
  assert.deepEqual(floats(await readOnnxTensor(decodeOnnx(out), w)), [0, 0, 3, 0]);
});

test("a Constant's sparse_value reads as a dense tensor named after its output", async () => {
  const value = cat([str(1, "sparse_value"), int(20, 11), len(22, sparseW(false))]);
  const bytes = model(graph({
    nodes: [node("Constant", [], ["W"], "c", [value]), node("MatMul", ["x", "W"], ["y"])],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 3])],
  }));
  const onnx = decodeOnnx(bytes);
  assert.equal(onnx.tensors[0].kind, "constant");
  assert.deepEqual(floats(await readOnnxTensor(onnx, onnx.tensors[0])), [0, 5, 0, 7, 0, 9]);
  assert.deepEqual(await run(bytes, [1, 2]), [14, 5, 18]);
});

test("sparse indices outside the dims or of the wrong shape are ModelFormatErrors", async () => {
  const values = tensor({ name: "W", dims: [1], raw: new Float32Array([5]) });
  const at = (indices: Uint8Array) =>
    model(graph({
      nodes: [],
      sparseInitializers: [sparseTensor(values, indices, [2, 3])],
      outputs: [],
    }));
  const far = decodeOnnx(at(tensor({ dims: [1], dataType: 7, int64Data: [6] })));
  await assert.rejects(readOnnxTensor(far, far.tensors[0]), /index 0 is 6, outside \[0, 6\)/);
  const coord = decodeOnnx(at(tensor({ dims: [1, 2], dataType: 7, int64Data: [2, 0] })));
  await assert.rejects(readOnnxTensor(coord, coord.tensors[0]), ModelFormatError);
  assert.throws(
    () => decodeOnnx(at(tensor({ dims: [2], dataType: 7, int64Data: [0, 1] }))),
    /indices must be integers of dims \[1\] or \[1, 2\]/,
  );
  assert.throws(
    () => decodeOnnx(at(tensor({ dims: [1], dataType: 1, floatData: [0] }))),
    ModelFormatError,
  );
});

test("a sparse initializer cannot be moved to an external file", () => {
  const onnx = decodeOnnx(sparseModel(false));
  const bytes = new Uint8Array(24);
  assert.throws(
    () => encodeOnnx(onnx, new Map([["W", { bytes, external: "w.bin" }]])),
    /cannot set "external": it is a sparse tensor/,
  );
});
