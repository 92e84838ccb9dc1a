// Small models for the input-spec tests, written with the project's ONNX builder.
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";

const f32 = (a: Float32Array) => new Uint8Array(a.buffer);

/**
 * A stateful voice-activity-like model: `x [batch, 576]` float, `state [2, batch, 128]` float,
 * `sr` an int64 scalar; outputs `y [batch, 1]` and `stateN [2, batch, 128]`.
 *
 *   stateN = tanh(state + x · W)            (W [576, 128], broadcast over the 2 layers)
 *   y      = sigmoid(mean_0(stateN) · W2 · sr / 16000)
 *
 * The sample rate scales the logit, so a wrong `sr` changes `y`.
 */
export function statefulModel(): Uint8Array {
  const W = new Float32Array(576 * 128).map((_, i) => Math.sin(i * 0.37) * 0.06);
  const W2 = new Float32Array(128).map((_, i) => Math.cos(i * 0.21) * 0.4);
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      { name: "proj", opType: "MatMul", inputs: ["x", "W"], outputs: ["xp"] },
      { name: "add", opType: "Add", inputs: ["state", "xp"], outputs: ["pre"] },
      { name: "tanh", opType: "Tanh", inputs: ["pre"], outputs: ["stateN"] },
      {
        name: "mean",
        opType: "ReduceMean",
        inputs: ["stateN"],
        outputs: ["pooled"],
        attributes: [{ name: "axes", ints: [0] }, { name: "keepdims", i: 0 }],
      },
      { name: "head", opType: "MatMul", inputs: ["pooled", "W2"], outputs: ["logit"] },
      {
        name: "cast",
        opType: "Cast",
        inputs: ["sr"],
        outputs: ["srf"],
        attributes: [{ name: "to", i: 1 }],
      },
      { name: "div", opType: "Div", inputs: ["srf", "k"], outputs: ["ratio"] },
      { name: "mul", opType: "Mul", inputs: ["logit", "ratio"], outputs: ["z"] },
      { name: "sig", opType: "Sigmoid", inputs: ["z"], outputs: ["y"] },
    ],
    initializers: [
      { name: "W", dataType: 1, dims: [576, 128], raw: f32(W) },
      { name: "W2", dataType: 1, dims: [128, 1], raw: f32(W2) },
      { name: "k", dataType: 1, dims: [], raw: f32(Float32Array.of(16000)) },
    ],
    inputs: [
      { name: "x", type: { elemType: 1, dims: ["batch", 576] } },
      { name: "state", type: { elemType: 1, dims: [2, "batch", 128] } },
      { name: "sr", type: { elemType: 7, dims: [] } },
    ],
    outputs: [
      { name: "y", type: { elemType: 1, dims: ["batch", 1] } },
      { name: "stateN", type: { elemType: 1, dims: [2, "batch", 128] } },
    ],
  });
}

/**
 * A segmentation-shaped model: `x [1, 3, H, W]` → 1x1 Conv with 4 classes → `logits [1, 4, H, W]`.
 */
export function segmentationModel(): Uint8Array {
  const w = new Float32Array(4 * 3).map((_, i) => Math.sin(i * 1.7 + 0.3));
  const b = Float32Array.of(0.05, -0.02, 0.01, 0);
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [{ name: "conv", opType: "Conv", inputs: ["x", "w", "b"], outputs: ["logits"] }],
    initializers: [
      { name: "w", dataType: 1, dims: [4, 3, 1, 1], raw: f32(w) },
      { name: "b", dataType: 1, dims: [4], raw: f32(b) },
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [1, 3, "h", "w"] } }],
    outputs: [{ name: "logits", type: { elemType: 1, dims: [1, 4, "h", "w"] } }],
  });
}

/**
 * One input of each ONNX type onnxruntime feeds from JavaScript (float16, int64, int32, uint8,
 * bool, float32), each `[n, 4]`, cast to float32 and summed, then a Linear `[4, 4]`: `y [n, 4]`.
 */
export function typedInputsModel(): Uint8Array {
  const types = { h: 10, i64: 7, i32: 6, u8: 2, b: 9, f: 1 } as const;
  const names = Object.keys(types);
  const w = new Float32Array(16).map((_, i) => Math.sin(i + 0.5));
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      ...names.map((n) => ({
        name: `cast_${n}`,
        opType: "Cast",
        inputs: [n],
        outputs: [`${n}_f`],
        attributes: [{ name: "to", i: 1 }],
      })),
      { name: "sum", opType: "Sum", inputs: names.map((n) => `${n}_f`), outputs: ["s"] },
      { name: "fc", opType: "MatMul", inputs: ["s", "w"], outputs: ["y"] },
    ],
    initializers: [{ name: "w", dataType: 1, dims: [4, 4], raw: f32(w) }],
    inputs: names.map((n) => ({
      name: n,
      type: { elemType: types[n as keyof typeof types], dims: ["n", 4] },
    })),
    outputs: [{ name: "y", type: { elemType: 1, dims: ["n", 4] } }],
  });
}
