// A small transformer encoder built with buildOnnx (opset 17): token embedding (Gather) plus a
// position table, LayerNormalization, two-head self-attention (Q/K/V MatMuls, Reshape/Transpose
// to heads, scaled QK^T, an additive mask from the int64 attention_mask through Cast, Softmax),
// an output projection Gemm, a residual, a second LayerNorm, a feed-forward MatMul → Erf-GELU →
// MatMul, and a logits MatMul. Also an `If` model whose branches hold MatMuls, a TopK (blocked in
// float16) and an outer-scope weight, for float16 conversion of bodies.
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { values } from "./_models.ts";

export const VOCAB = 50;
export const SEQ = 8;
export const HIDDEN = 64;
export const HEADS = 2;
export const FFN = 128;
export const CLASSES = 48;

const raw = (v: Float32Array | BigInt64Array) => new Uint8Array(v.buffer.slice(0));
const f32 = (name: string, dims: number[], v: Float32Array) => ({
  name,
  dataType: 1,
  dims,
  raw: raw(v),
});
const i64 = (name: string, v: number[]) => ({
  name,
  dataType: 7,
  dims: [v.length],
  raw: raw(BigInt64Array.from(v.map(BigInt))),
});
const scalar = (name: string, v: number) => ({ ...f32(name, [], Float32Array.of(v)) });

/** The encoder: inputs `input_ids`, `attention_mask` (int64 `[1, SEQ]`), output `logits`. */
export function smallTransformer(): Uint8Array {
  const head = HIDDEN / HEADS;
  const w = (name: string, dims: number[], seed: number, scale: number) =>
    f32(name, dims, values(dims.reduce((a, b) => a * b, 1), seed, scale));
  const n = (
    name: string,
    opType: string,
    inputs: string[],
    outputs: string[],
    attributes: { name: string; i?: number; f?: number; ints?: number[] }[] = [],
  ) => ({ name, opType, inputs, outputs, attributes: attributes as never });
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      n("embed", "Gather", ["embed.weight", "input_ids"], ["tok"]),
      n("pos_add", "Add", ["tok", "pos.weight"], ["h0"]),
      n("ln0", "LayerNormalization", ["h0", "ln0.weight", "ln0.bias"], ["x"], [{
        name: "axis",
        i: -1,
      }]),
      n("q", "MatMul", ["x", "attn.q.weight"], ["q"]),
      n("k", "MatMul", ["x", "attn.k.weight"], ["k"]),
      n("v", "MatMul", ["x", "attn.v.weight"], ["v"]),
      n("q_r", "Reshape", ["q", "heads_shape"], ["q4"]),
      n("k_r", "Reshape", ["k", "heads_shape"], ["k4"]),
      n("v_r", "Reshape", ["v", "heads_shape"], ["v4"]),
      n("q_t", "Transpose", ["q4"], ["qh"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
      n("k_t", "Transpose", ["k4"], ["kh"], [{ name: "perm", ints: [0, 2, 3, 1] }]),
      n("v_t", "Transpose", ["v4"], ["vh"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
      n("qk", "MatMul", ["qh", "kh"], ["scores0"]),
      n("scale", "Mul", ["scores0", "inv_sqrt_d"], ["scores1"]),
      // mask: (1 - float(mask)) * -1e9, broadcast over heads and queries
      n("mask_cast", "Cast", ["attention_mask"], ["mask_f"], [{ name: "to", i: 1 }]),
      n("mask_inv", "Sub", ["one", "mask_f"], ["mask_inv"]),
      n("mask_big", "Mul", ["mask_inv", "neg_big"], ["mask_add"]),
      n("mask_u", "Unsqueeze", ["mask_add", "unsq_axes"], ["mask4"]),
      n("masked", "Add", ["scores1", "mask4"], ["scores"]),
      n("softmax", "Softmax", ["scores"], ["probs"], [{ name: "axis", i: -1 }]),
      n("pv", "MatMul", ["probs", "vh"], ["ctx4"]),
      n("ctx_t", "Transpose", ["ctx4"], ["ctx_t"], [{ name: "perm", ints: [0, 2, 1, 3] }]),
      n("ctx_r", "Reshape", ["ctx_t", "flat_shape"], ["ctx2"]),
      n("o", "Gemm", ["ctx2", "attn.o.weight", "attn.o.bias"], ["o2"], [{ name: "transB", i: 1 }]),
      n("o_r", "Reshape", ["o2", "hidden_shape"], ["o"]),
      n("res1", "Add", ["x", "o"], ["r1"]),
      n("ln1", "LayerNormalization", ["r1", "ln1.weight", "ln1.bias"], ["y1"], [{
        name: "axis",
        i: -1,
      }]),
      n("ff1", "MatMul", ["y1", "ffn.up.weight"], ["u"]),
      // GELU = 0.5 * u * (1 + erf(u / sqrt 2))
      n("gelu_div", "Div", ["u", "sqrt2"], ["u_s"]),
      n("gelu_erf", "Erf", ["u_s"], ["u_e"]),
      n("gelu_add", "Add", ["u_e", "one"], ["u_a"]),
      n("gelu_mul", "Mul", ["u", "u_a"], ["u_m"]),
      n("gelu_half", "Mul", ["u_m", "half"], ["g"]),
      n("ff2", "MatMul", ["g", "ffn.down.weight"], ["d"]),
      n("res2", "Add", ["y1", "d"], ["r2"]),
      n("head", "MatMul", ["r2", "lm_head.weight"], ["logits"]),
    ],
    initializers: [
      w("embed.weight", [VOCAB, HIDDEN], 1, 1),
      w("pos.weight", [SEQ, HIDDEN], 2, 0.2),
      f32("ln0.weight", [HIDDEN], Float32Array.from({ length: HIDDEN }, (_, i) => 1 + i / 200)),
      w("ln0.bias", [HIDDEN], 3, 0.05),
      w("attn.q.weight", [HIDDEN, HIDDEN], 4, 0.25),
      w("attn.k.weight", [HIDDEN, HIDDEN], 5, 0.25),
      w("attn.v.weight", [HIDDEN, HIDDEN], 6, 0.25),
      w("attn.o.weight", [HIDDEN, HIDDEN], 7, 0.2),
      w("attn.o.bias", [HIDDEN], 8, 0.05),
      f32("ln1.weight", [HIDDEN], Float32Array.from({ length: HIDDEN }, (_, i) => 1 - i / 300)),
      w("ln1.bias", [HIDDEN], 9, 0.05),
      w("ffn.up.weight", [HIDDEN, FFN], 10, 0.2),
      w("ffn.down.weight", [FFN, HIDDEN], 11, 0.15),
      w("lm_head.weight", [HIDDEN, CLASSES], 12, 0.3),
      i64("heads_shape", [1, SEQ, HEADS, head]),
      i64("flat_shape", [SEQ, HIDDEN]),
      i64("hidden_shape", [1, SEQ, HIDDEN]),
      i64("unsq_axes", [1, 2]),
      scalar("inv_sqrt_d", 1 / Math.sqrt(head)),
      scalar("one", 1),
      // Larger than float16 holds: the converter clamps it to -1e4 (its max_finite_val).
      scalar("neg_big", -1e9),
      scalar("sqrt2", Math.SQRT2),
      scalar("half", 0.5),
    ],
    inputs: [
      { name: "input_ids", type: { elemType: 7, dims: [1, SEQ] } },
      { name: "attention_mask", type: { elemType: 7, dims: [1, SEQ] } },
    ],
    outputs: [{ name: "logits", type: { elemType: 1, dims: [1, SEQ, CLASSES] } }],
  });
}

/** Token ids and a mask with the last two positions padded. */
export function transformerInputs(): { ids: BigInt64Array; mask: BigInt64Array } {
  return {
    ids: BigInt64Array.from({ length: SEQ }, (_, i) => BigInt((i * 7 + 3) % VOCAB)),
    mask: BigInt64Array.from({ length: SEQ }, (_, i) => (i < SEQ - 2 ? 1n : 0n)),
  };
}

/**
 * `x [4, 32]` float32 and `flag` bool: `If(flag)` — then: `x · then.weight` (a branch
 * initializer) and `TopK` of it (k = 4, blocked in float16); else: `x · shared.weight` (a
 * main-graph weight read from the outer scope) and `TopK`. Outputs `y [4, 4]` and `idx [4, 4]`.
 */
export function ifModel(): Uint8Array {
  const branch = (name: string, weight: string, init: boolean) => ({
    name,
    nodes: [
      { name: `${name}_mm`, opType: "MatMul", inputs: ["x", weight], outputs: [`${name}_h`] },
      {
        name: `${name}_relu`,
        opType: "Relu",
        inputs: [`${name}_h`],
        outputs: [`${name}_r`],
      },
      {
        name: `${name}_topk`,
        opType: "TopK",
        inputs: [`${name}_r`, "k"],
        outputs: [`${name}_y`, `${name}_i`],
      },
    ],
    initializers: init ? [f32(weight, [32, 16], values(32 * 16, 21, 0.3))] : [],
    inputs: [],
    outputs: [
      { name: `${name}_y`, type: { elemType: 1, dims: [4, 4] } },
      { name: `${name}_i`, type: { elemType: 7, dims: [4, 4] } },
    ],
  });
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "if",
      opType: "If",
      inputs: ["flag"],
      outputs: ["y", "idx"],
      attributes: [
        { name: "then_branch", g: branch("then", "then.weight", true) },
        { name: "else_branch", g: branch("else", "shared.weight", false) },
      ],
    }],
    initializers: [f32("shared.weight", [32, 16], values(32 * 16, 22, 0.3)), i64("k", [4])],
    inputs: [
      { name: "x", type: { elemType: 1, dims: [4, 32] } },
      { name: "flag", type: { elemType: 9, dims: [] } },
    ],
    outputs: [
      { name: "y", type: { elemType: 1, dims: [4, 4] } },
      { name: "idx", type: { elemType: 7, dims: [4, 4] } },
    ],
  });
}

/**
 * `x [2, 16]` float32: a `Loop` of 3 iterations carrying `h` (from `x`): `h = Max(Relu(h · w),
 * floor)` with `w` a body initializer and `floor` a main-graph constant read from the outer
 * scope (`Max` stays float32 in float16 conversion), plus a scan output of every `h`. Outputs
 * `y [2, 16]` (the last `h`) and `all [3, 2, 16]`.
 */
export function loopModel(): Uint8Array {
  const body = {
    name: "body",
    nodes: [
      { name: "id_cond", opType: "Identity", inputs: ["cond_in"], outputs: ["cond_out"] },
      { name: "mm", opType: "MatMul", inputs: ["h", "body.w"], outputs: ["hm"] },
      { name: "relu", opType: "Relu", inputs: ["hm"], outputs: ["hr"] },
      { name: "max", opType: "Max", inputs: ["hr", "floor"], outputs: ["h_out"] },
      { name: "scan", opType: "Identity", inputs: ["h_out"], outputs: ["h_scan"] },
    ],
    initializers: [f32("body.w", [16, 16], values(256, 31, 0.4))],
    inputs: [
      { name: "iter", type: { elemType: 7, dims: [] } },
      { name: "cond_in", type: { elemType: 9, dims: [] } },
      { name: "h", type: { elemType: 1, dims: [2, 16] } },
    ],
    outputs: [
      { name: "cond_out", type: { elemType: 9, dims: [] } },
      { name: "h_out", type: { elemType: 1, dims: [2, 16] } },
      { name: "h_scan", type: { elemType: 1, dims: [2, 16] } },
    ],
  };
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "loop",
      opType: "Loop",
      inputs: ["trips", "", "x"],
      outputs: ["y", "all"],
      attributes: [{ name: "body", g: body }],
    }],
    initializers: [
      { name: "trips", dataType: 7, dims: [], raw: raw(BigInt64Array.of(3n)) },
      scalar("floor", 0.05),
    ],
    inputs: [{ name: "x", type: { elemType: 1, dims: [2, 16] } }],
    outputs: [
      { name: "y", type: { elemType: 1, dims: [2, 16] } },
      { name: "all", type: { elemType: 1, dims: [3, 2, 16] } },
    ],
  });
}
