// A small ONNX model whose outputs come after a TopK, for the comparisons' tests (onnxruntime
// in Node and onnxruntime-web in the browser).
import { buildOnnx } from "../src/io/onnx/build_onnx.ts";

/**
 * x [rows, w's rows] · w [in, classes] = `scores`; TopK (`k`, along the classes) gives `top`
 * and `index`. The outputs are `scores` (when `withScores`), `top` and `index`.
 */
export function topKOnnx(
  w: Float32Array,
  dims: { readonly rows: number | string; readonly in: number; readonly classes: number },
  k: number,
  withScores: boolean,
): Uint8Array {
  const { rows, classes } = dims;
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      { name: "fc", opType: "MatMul", inputs: ["x", "w"], outputs: ["scores"] },
      {
        name: "topk",
        opType: "TopK",
        inputs: ["scores", "k"],
        outputs: ["top", "index"],
        attributes: [{ name: "axis", i: 1 }],
      },
    ],
    initializers: [
      { name: "w", dataType: 1, dims: [dims.in, classes], raw: new Uint8Array(w.buffer) },
      {
        name: "k",
        dataType: 7,
        dims: [1],
        raw: new Uint8Array(BigInt64Array.of(BigInt(k)).buffer),
      },
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [rows, dims.in] } }],
    outputs: [
      ...withScores ? [{ name: "scores", type: { elemType: 1, dims: [rows, classes] } }] : [],
      { name: "top", type: { elemType: 1, dims: [rows, k] } },
      { name: "index", type: { elemType: 7, dims: [rows, k] } },
    ],
  });
}
