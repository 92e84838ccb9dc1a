// Models for the dynamic and bnb4 storages: a transformer block made of MatMuls (attention and
// feed-forward), and a tied-embedding model whose table is read by a Gather and by a MatMul in
// each branch of an If (a merged decoder's layout).
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import type { GraphSpec, NodeSpec } from "../../src/io/onnx/proto_writer.ts";
import { f32, weights } from "./_gemm_subgraph_models.ts";

const FLOAT = 1, INT64 = 7, BOOL = 9;

/** Batch, tokens, model width and feed-forward width of `transformerBlock`. */
export const B = 2, T = 8, D = 256, FF = 608;

/** The MatMul weights of `transformerBlock`, `[K, N]` as stored. */
export const BLOCK_WEIGHTS: readonly { name: string; k: number; n: number }[] = [
  { name: "attn.q.weight", k: D, n: D },
  { name: "attn.k.weight", k: D, n: D },
  { name: "attn.v.weight", k: D, n: D },
  { name: "attn.out.weight", k: D, n: D },
  { name: "ffn.up.weight", k: D, n: FF },
  { name: "ffn.down.weight", k: FF, n: D },
];

/**
 * One pre-norm-free transformer block on x `[B, T, D]`: single-head attention
 * (`softmax(q kᵀ / √D) v`, then an output projection with bias and the residual), then a
 * feed-forward network (up projection with bias, `x · sigmoid(1.702 x)` as GELU, down
 * projection with bias, residual). Six MatMul weights, 2.4 MB as float32, so the weights
 * dominate the file as in real models; K of the down projection (608) is not a multiple of 64,
 * so bnb4 blocks cross its rows.
 */
export function transformerBlock(): Uint8Array {
  const mm = (name: string, a: string, b: string, out: string): NodeSpec => ({
    name,
    opType: "MatMul",
    inputs: [a, b],
    outputs: [out],
  });
  const op = (name: string, opType: string, inputs: string[], out: string, attributes = []) => ({
    name,
    opType,
    inputs,
    outputs: [out],
    attributes,
  });
  const nodes: NodeSpec[] = [
    mm("/attn/q/MatMul", "x", "attn.q.weight", "q"),
    mm("/attn/k/MatMul", "x", "attn.k.weight", "k"),
    mm("/attn/v/MatMul", "x", "attn.v.weight", "v"),
    {
      name: "/attn/kT",
      opType: "Transpose",
      inputs: ["k"],
      outputs: ["kT"],
      attributes: [{ name: "perm", ints: [0, 2, 1] }],
    },
    mm("/attn/scores", "q", "kT", "scores"),
    op("/attn/scale", "Mul", ["scores", "attn.scale"], "scaled"),
    {
      name: "/attn/softmax",
      opType: "Softmax",
      inputs: ["scaled"],
      outputs: ["probs"],
      attributes: [{ name: "axis", i: -1 }],
    },
    mm("/attn/mix", "probs", "v", "mixed"),
    mm("/attn/out/MatMul", "mixed", "attn.out.weight", "proj"),
    op("/attn/out/Add", "Add", ["proj", "attn.out.bias"], "proj_b"),
    op("/attn/residual", "Add", ["x", "proj_b"], "h"),
    mm("/ffn/up/MatMul", "h", "ffn.up.weight", "up"),
    op("/ffn/up/Add", "Add", ["up", "ffn.up.bias"], "up_b"),
    op("/ffn/gelu/scale", "Mul", ["up_b", "gelu.k"], "up_k"),
    op("/ffn/gelu/sigmoid", "Sigmoid", ["up_k"], "gate"),
    op("/ffn/gelu/mul", "Mul", ["up_b", "gate"], "act"),
    mm("/ffn/down/MatMul", "act", "ffn.down.weight", "down"),
    op("/ffn/down/Add", "Add", ["down", "ffn.down.bias"], "down_b"),
    op("/ffn/residual", "Add", ["h", "down_b"], "y"),
  ];
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes,
    initializers: [
      ...BLOCK_WEIGHTS.map((w, i) => f32(w.name, [w.k, w.n], weights(w.k * w.n, 200 + i, w.k))),
      f32("attn.out.bias", [D], weights(D, 210, 16)),
      f32("ffn.up.bias", [FF], weights(FF, 211, 16)),
      f32("ffn.down.bias", [D], weights(D, 212, 16)),
      f32("attn.scale", [], Float32Array.of(1 / Math.sqrt(D))),
      f32("gelu.k", [], Float32Array.of(1.702)),
    ],
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [B, T, D] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [B, T, D] } }],
  });
}

/** Vocabulary (= width) of `tiedIfModel`, and its tokens. */
export const V = 256, L = 6;

/**
 * Tied embeddings in a merged decoder's layout: `tok.weight` `[V, V]` is read by the main
 * graph's `Gather` (embedding of the int64 `ids` `[L]`) and by a MatMul in each branch of an `If`
 * on `use_cache` (the then branch adds a Relu after it), as the outer-scope initializer.
 * Output logits `[L, V]`.
 */
export function tiedIfModel(): Uint8Array {
  const branch = (name: string, relu: boolean): GraphSpec => ({
    name: `${name}_branch`,
    nodes: [
      {
        name: `/${name}/lm_head/MatMul`,
        opType: "MatMul",
        inputs: ["h", "tok.weight"],
        outputs: [relu ? `z_${name}` : `y_${name}`],
      },
      ...(relu
        ? [{ name: `/${name}/relu`, opType: "Relu", inputs: [`z_${name}`], outputs: [`y_${name}`] }]
        : []),
    ],
    inputs: [],
    outputs: [{ name: `y_${name}`, type: { elemType: FLOAT, dims: [L, V] } }],
  });
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      { name: "/embed/Gather", opType: "Gather", inputs: ["tok.weight", "ids"], outputs: ["h"] },
      {
        name: "If_0",
        opType: "If",
        inputs: ["use_cache"],
        outputs: ["logits"],
        attributes: [
          { name: "then_branch", g: branch("then", true) },
          { name: "else_branch", g: branch("else", false) },
        ],
      },
    ],
    initializers: [f32("tok.weight", [V, V], weights(V * V, 300, V / 16))],
    inputs: [
      { name: "ids", type: { elemType: INT64, dims: [L] } },
      { name: "use_cache", type: { elemType: BOOL, dims: [] } },
    ],
    outputs: [{ name: "logits", type: { elemType: FLOAT, dims: [L, V] } }],
  });
}
