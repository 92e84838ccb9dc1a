// Small ONNX models of the kinds people ship, built with the project's ONNX builder: a Conv with
// a BatchNormalization after it, an LSTM, a GRU, and an MLP whose weights live in an external
// data file. Values are deterministic (a sine sequence), so every run compares the same models.
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnxWithExternal } from "../../src/io/onnx/encode_onnx.ts";

/** `n` deterministic values in about [-scale, scale]. */
export function values(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from(
    { length: n },
    (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * scale * (0.5 + ((i * 7) % 11) / 20),
  );
}

const raw = (v: Float32Array) => new Uint8Array(v.buffer.slice(0));
const f32 = (name: string, dims: number[], v: Float32Array) => ({
  name,
  dataType: 1,
  dims,
  raw: raw(v),
});
const OPSET = [{ domain: "", version: 17 }];

/**
 * x [1, 3, 8, 8] → Conv (8 filters 3×3, pads 1, bias) → BatchNormalization (epsilon 1e-3,
 * statistics unlike identity) → Relu → Conv (4 filters 1×1, no bias) → y [1, 4, 8, 8].
 */
export function convBatchNorm(): Uint8Array {
  const c = 8;
  return buildOnnx({
    opsets: OPSET,
    nodes: [
      {
        name: "/conv/Conv",
        opType: "Conv",
        inputs: ["x", "conv.weight", "conv.bias"],
        outputs: ["c"],
        attributes: [{ name: "pads", ints: [1, 1, 1, 1] }, { name: "kernel_shape", ints: [3, 3] }],
      },
      {
        name: "/bn/BatchNormalization",
        opType: "BatchNormalization",
        inputs: ["c", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
        outputs: ["b"],
        attributes: [{ name: "epsilon", f: 1e-3 }],
      },
      { name: "/relu/Relu", opType: "Relu", inputs: ["b"], outputs: ["r"] },
      {
        name: "/head/Conv",
        opType: "Conv",
        inputs: ["r", "head.weight"],
        outputs: ["y"],
        attributes: [{ name: "kernel_shape", ints: [1, 1] }],
      },
    ],
    initializers: [
      f32("conv.weight", [c, 3, 3, 3], values(c * 27, 1, 0.5)),
      f32("conv.bias", [c], values(c, 2, 0.2)),
      f32("bn.weight", [c], values(c, 3, 0.3).map((v) => 1 + v)),
      f32("bn.bias", [c], values(c, 4, 0.5)),
      f32("bn.running_mean", [c], values(c, 5, 0.4)),
      f32("bn.running_var", [c], values(c, 6, 0.5).map((v) => 0.6 + Math.abs(v))),
      f32("head.weight", [4, c, 1, 1], values(4 * c, 7, 0.5)),
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [1, 3, 8, 8] } }],
    outputs: [{ name: "y", type: { elemType: 1, dims: [1, 4, 8, 8] } }],
  });
}

/**
 * A recurrent layer as the ONNX operator stores it: x [seq 6, batch 2, 12] → LSTM or GRU
 * (hidden 16, one direction; `W` [1, gates·16, 12], `R` [1, gates·16, 16], `B` [1, 2·gates·16])
 * → Y [6, 1, 2, 16] → MatMul with head [16, 5] → y [6, 1, 2, 5].
 */
export function recurrent(op: "LSTM" | "GRU"): Uint8Array {
  const gates = op === "LSTM" ? 4 : 3;
  const h = 16;
  const input = 12;
  return buildOnnx({
    opsets: OPSET,
    nodes: [
      {
        name: `/rnn/${op}`,
        opType: op,
        inputs: ["x", "W", "R", "B"],
        outputs: ["h"],
        attributes: [
          { name: "hidden_size", i: h },
          ...(op === "GRU" ? [{ name: "linear_before_reset", i: 1 }] : []),
        ],
      },
      { name: "/head/MatMul", opType: "MatMul", inputs: ["h", "head.weight"], outputs: ["y"] },
    ],
    initializers: [
      f32("W", [1, gates * h, input], values(gates * h * input, 11, 0.4)),
      f32("R", [1, gates * h, h], values(gates * h * h, 12, 0.3)),
      f32("B", [1, 2 * gates * h], values(2 * gates * h, 13, 0.2)),
      f32("head.weight", [h, 5], values(h * 5, 14, 0.5)),
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [6, 2, input] } }],
    outputs: [{ name: "y", type: { elemType: 1, dims: [6, 1, 2, 5] } }],
  });
}

/** x [2, 32] → MatMul fc1 [32, 64] + b1 → Relu → MatMul fc2 [64, 10] + b2 → y [2, 10] (default-domain opset `opset`). */
export function mlp(opset = 17): Uint8Array {
  return buildOnnx({
    opsets: [{ domain: "", version: opset }],
    nodes: [
      { name: "/fc1/MatMul", opType: "MatMul", inputs: ["x", "fc1.weight"], outputs: ["a"] },
      { name: "/fc1/Add", opType: "Add", inputs: ["a", "fc1.bias"], outputs: ["b"] },
      { name: "/relu/Relu", opType: "Relu", inputs: ["b"], outputs: ["r"] },
      { name: "/fc2/MatMul", opType: "MatMul", inputs: ["r", "fc2.weight"], outputs: ["c"] },
      { name: "/fc2/Add", opType: "Add", inputs: ["c", "fc2.bias"], outputs: ["y"] },
    ],
    initializers: [
      f32("fc1.weight", [32, 64], values(32 * 64, 21, 0.3)),
      f32("fc1.bias", [64], values(64, 22, 0.1)),
      f32("fc2.weight", [64, 10], values(64 * 10, 23, 0.3)),
      f32("fc2.bias", [10], values(10, 24, 0.1)),
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [2, 32] } }],
    outputs: [{ name: "y", type: { elemType: 1, dims: [2, 10] } }],
  });
}

/**
 * `mlp()` with both weights moved into the data file `location` (the biases stay inline), as
 * `onnx.save_model(..., save_as_external_data=True)` writes it: `{ model, data }`.
 */
export function externalMlp(location = "weights.bin"): { model: Uint8Array; data: Uint8Array } {
  const inline = decodeOnnx(mlp());
  const moved = new Map(
    ["fc1.weight", "fc2.weight"].map((name) => {
      const t = inline.tensors.find((t) => t.name === name)!;
      if (t.storage.kind !== "raw") throw new Error("unreachable");
      return [name, {
        bytes: inline.bytes.slice(t.storage.start, t.storage.end),
        external: location,
      }];
    }),
  );
  const { bytes, external } = encodeOnnxWithExternal(inline, moved);
  const size = Math.max(...external.map((p) => p.offset + p.bytes.length));
  const data = new Uint8Array(size);
  for (const p of external) data.set(p.bytes, p.offset);
  return { model: bytes, data };
}
