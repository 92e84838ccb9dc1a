// Small ONNX models of the forms exporters ship: Gemm with each transA/transB/alpha/beta/bias
// form, and weights inside If branches and a Loop body (subgraph initializers, Constant nodes
// and outer-scope initializers read from a subgraph).
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import type { GraphSpec, NodeSpec, TensorSpec } from "../../src/io/onnx/proto_writer.ts";

const FLOAT = 1, INT64 = 7, BOOL = 9;

/** Deterministic weights of a smooth, mostly-Gaussian look, scaled by `1 / sqrt(fanIn)`. */
export function weights(count: number, seed: number, fanIn: number): Float32Array {
  const s = 1 / Math.sqrt(fanIn);
  return Float32Array.from({ length: count }, (_, i) => {
    const a = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    const b = Math.sin((i + 1) * 4.1414 + seed * 3.7) * 24634.6345;
    // Sum of two uniforms in [-1, 1): a triangular spread, with a few larger entries.
    const u = (a - Math.floor(a)) * 2 - 1 + (b - Math.floor(b)) * 2 - 1;
    return s * u * (i % 17 === 0 ? 2 : 1);
  });
}

/** A float32 initializer. */
export function f32(name: string, dims: number[], values: Float32Array): TensorSpec {
  return { name, dataType: FLOAT, dims, raw: new Uint8Array(values.slice().buffer) };
}

/** A Gemm form: the attributes and whether C is given. */
export interface GemmForm {
  readonly transA: 0 | 1;
  readonly transB: 0 | 1;
  readonly alpha: number;
  readonly beta: number;
  readonly bias: boolean;
}

/** The name of a Gemm form, e.g. `transA1_transB0_alpha0.5_beta2_bias`. */
export function formName(f: GemmForm): string {
  return `transA${f.transA}_transB${f.transB}_alpha${f.alpha}_beta${f.beta}_${
    f.bias ? "bias" : "nobias"
  }`;
}

/** Rows of the input, input features, output features of the Gemm models. */
export const M = 4, K = 96, N = 64;

/**
 * `y = Relu(Gemm(x, fc1.weight, fc1.bias)) → Gemm(…, fc2.weight, fc2.bias)`, both Gemms of the
 * given form (x is `[M, K]`, or `[K, M]` with transA).
 */
export function gemmModel(f: GemmForm): Uint8Array {
  const attrs = [
    { name: "alpha", f: f.alpha },
    { name: "beta", f: f.beta },
    { name: "transA", i: f.transA },
    { name: "transB", i: f.transB },
  ];
  const wDims = (k: number, n: number) => (f.transB ? [n, k] : [k, n]);
  const initializers = [
    f32("fc1.weight", wDims(K, N), weights(K * N, 1, K)),
    f32("fc2.weight", wDims(N, N), weights(N * N, 2, N)),
    ...(f.bias
      ? [f32("fc1.bias", [N], weights(N, 3, 4)), f32("fc2.bias", [N], weights(N, 4, 4))]
      : []),
  ];
  // With transA the second Gemm reads the first one's output transposed back.
  const nodes: NodeSpec[] = [
    {
      name: "/fc1/Gemm",
      opType: "Gemm",
      inputs: ["x", "fc1.weight", ...(f.bias ? ["fc1.bias"] : [])],
      outputs: ["h"],
      attributes: attrs,
    },
    { name: "/act/Relu", opType: "Relu", inputs: ["h"], outputs: ["r"] },
    ...(f.transA
      ? [{
        name: "/t/Transpose",
        opType: "Transpose",
        inputs: ["r"],
        outputs: ["rt"],
        attributes: [{ name: "perm", ints: [1, 0] }],
      }]
      : []),
    {
      name: "/fc2/Gemm",
      opType: "Gemm",
      inputs: [f.transA ? "rt" : "r", "fc2.weight", ...(f.bias ? ["fc2.bias"] : [])],
      outputs: ["y"],
      attributes: attrs,
    },
  ];
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes,
    initializers,
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: f.transA ? [K, M] : [M, K] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [M, N] } }],
  });
}

/** Every Gemm form the tests cover. */
export const GEMM_FORMS: readonly GemmForm[] = [
  { transA: 0, transB: 0, alpha: 1, beta: 1, bias: true },
  { transA: 0, transB: 1, alpha: 1, beta: 1, bias: true },
  { transA: 1, transB: 0, alpha: 1, beta: 1, bias: true },
  { transA: 1, transB: 1, alpha: 0.5, beta: 2, bias: true },
  { transA: 0, transB: 1, alpha: 1.5, beta: 1, bias: false },
  { transA: 0, transB: 0, alpha: 1, beta: 0.25, bias: true },
];

/**
 * An `If` on the input `cond`: the then branch runs `/then/fc` (a Gemm with transB whose weight
 * and bias are branch initializers) and `/then/proj` (a MatMul whose weight is a Constant node in
 * the branch); the else branch runs `/else/fc` (a MatMul by the main-graph initializer
 * `else.fc.weight`, read from the outer scope) and `/else/proj` (a Gemm with alpha 0.5 whose
 * weight is an outer-scope initializer too). Input x `[M, K]`, output y `[M, N]`; the condition
 * is the bool input `cond`, or with `floatCond` `s > 0` for a float input s `[1]` (so that
 * calibration, which feeds float inputs, can take either branch).
 */
export function ifModel(floatCond = false): Uint8Array {
  const out = [{ name: "y_then", type: { elemType: FLOAT, dims: [M, N] } }];
  const thenBranch: GraphSpec = {
    name: "then_branch",
    nodes: [
      {
        name: "/then/proj/Constant",
        opType: "Constant",
        inputs: [],
        outputs: ["then.proj.weight"],
        attributes: [{ name: "value", t: f32("", [N, N], weights(N * N, 12, N)) }],
      },
      {
        name: "/then/fc/Gemm",
        opType: "Gemm",
        inputs: ["x", "then.fc.weight", "then.fc.bias"],
        outputs: ["t1"],
        attributes: [{ name: "transB", i: 1 }],
      },
      { name: "/then/act/Relu", opType: "Relu", inputs: ["t1"], outputs: ["t2"] },
      {
        name: "/then/proj/MatMul",
        opType: "MatMul",
        inputs: ["t2", "then.proj.weight"],
        outputs: ["y_then"],
      },
    ],
    initializers: [
      f32("then.fc.weight", [N, K], weights(N * K, 10, K)),
      f32("then.fc.bias", [N], weights(N, 11, 4)),
    ],
    inputs: [],
    outputs: out,
  };
  const elseBranch: GraphSpec = {
    name: "else_branch",
    nodes: [
      {
        name: "/else/fc/MatMul",
        opType: "MatMul",
        inputs: ["x", "else.fc.weight"],
        outputs: ["e1"],
      },
      { name: "/else/act/Tanh", opType: "Tanh", inputs: ["e1"], outputs: ["e2"] },
      {
        name: "/else/proj/Gemm",
        opType: "Gemm",
        inputs: ["e2", "else.proj.weight", "else.proj.bias"],
        outputs: ["y_else"],
        attributes: [{ name: "alpha", f: 0.5 }],
      },
    ],
    inputs: [],
    outputs: [{ name: "y_else", type: { elemType: FLOAT, dims: [M, N] } }],
  };
  const condition: NodeSpec[] = floatCond
    ? [{ name: "/cond/Greater", opType: "Greater", inputs: ["s", "zero"], outputs: ["cond"] }]
    : [];
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [...condition, {
      name: "If_0",
      opType: "If",
      inputs: ["cond"],
      outputs: ["y"],
      attributes: [{ name: "then_branch", g: thenBranch }, { name: "else_branch", g: elseBranch }],
    }],
    initializers: [
      f32("else.fc.weight", [K, N], weights(K * N, 20, K)),
      f32("else.proj.weight", [N, N], weights(N * N, 21, N)),
      f32("else.proj.bias", [N], weights(N, 22, 4)),
      ...(floatCond ? [f32("zero", [], Float32Array.of(0))] : []),
    ],
    inputs: [
      floatCond
        ? { name: "s", type: { elemType: FLOAT, dims: [1] } }
        : { name: "cond", type: { elemType: BOOL, dims: [] } },
      { name: "x", type: { elemType: FLOAT, dims: [M, K] } },
    ],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [M, N] } }],
  });
}

/** Iterations of the `Loop` model. */
export const STEPS = 3;

/**
 * A `Loop` run `STEPS` times over a state h `[M, N]`: `h = Tanh(Gemm(h, body.fc.weight,
 * body.fc.bias) + MatMul(x, loop.in.weight))`, where `body.fc.weight` (transB) and its bias are
 * body initializers and `loop.in.weight` is a main-graph initializer read from the body; a
 * main-graph `/head/MatMul` by `head.weight` follows. Inputs x `[M, K]` and h0 `[M, N]` (float
 * only, so the CLI can calibrate it).
 */
export function loopModel(): Uint8Array {
  const body: GraphSpec = {
    name: "loop_body",
    nodes: [
      {
        name: "/body/fc/Gemm",
        opType: "Gemm",
        inputs: ["h_in", "body.fc.weight", "body.fc.bias"],
        outputs: ["b1"],
        attributes: [{ name: "transB", i: 1 }],
      },
      {
        name: "/body/in/MatMul",
        opType: "MatMul",
        inputs: ["x", "loop.in.weight"],
        outputs: ["b2"],
      },
      { name: "/body/Add", opType: "Add", inputs: ["b1", "b2"], outputs: ["b3"] },
      { name: "/body/act/Tanh", opType: "Tanh", inputs: ["b3"], outputs: ["h_out"] },
      {
        name: "/body/cond/Identity",
        opType: "Identity",
        inputs: ["cond_in"],
        outputs: ["cond_out"],
      },
    ],
    initializers: [
      f32("body.fc.weight", [N, N], weights(N * N, 30, N)),
      f32("body.fc.bias", [N], weights(N, 31, 4)),
    ],
    inputs: [
      { name: "iter", type: { elemType: INT64, dims: [] } },
      { name: "cond_in", type: { elemType: BOOL, dims: [] } },
      { name: "h_in", type: { elemType: FLOAT, dims: [M, N] } },
    ],
    outputs: [
      { name: "cond_out", type: { elemType: BOOL, dims: [] } },
      { name: "h_out", type: { elemType: FLOAT, dims: [M, N] } },
    ],
  };
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [
      {
        name: "Loop_0",
        opType: "Loop",
        inputs: ["steps", "", "h0"],
        outputs: ["h_final"],
        attributes: [{ name: "body", g: body }],
      },
      {
        name: "/head/MatMul",
        opType: "MatMul",
        inputs: ["h_final", "head.weight"],
        outputs: ["y"],
      },
    ],
    initializers: [
      f32("loop.in.weight", [K, N], weights(K * N, 32, K)),
      f32("head.weight", [N, N], weights(N * N, 33, N)),
      {
        name: "steps",
        dataType: INT64,
        dims: [],
        raw: new Uint8Array(BigInt64Array.of(BigInt(STEPS)).buffer),
      },
    ],
    inputs: [
      { name: "x", type: { elemType: FLOAT, dims: [M, K] } },
      { name: "h0", type: { elemType: FLOAT, dims: [M, N] } },
    ],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [M, N] } }],
  });
}

/** Time steps of the `Scan` model. */
export const T = 5;

/**
 * A `Scan` over xs `[T, 1, K]` with a state h `[1, N]`: `h = Tanh(MatMul(x_t, scan.in.weight) +
 * Gemm(h, scan.rec.weight, transB))`, where `scan.in.weight` is a body initializer and
 * `scan.rec.weight` a main-graph initializer read from the body; outputs the final state and
 * every step's state `[T, 1, N]`. With `outputAxes` the Scan sets `scan_output_axes` `[0]`
 * (the default, spelled out).
 */
export function scanModel(outputAxes = false): Uint8Array {
  const body: GraphSpec = {
    name: "scan_body",
    nodes: [
      {
        name: "/scan/in/MatMul",
        opType: "MatMul",
        inputs: ["x_t", "scan.in.weight"],
        outputs: ["s1"],
      },
      {
        name: "/scan/rec/Gemm",
        opType: "Gemm",
        inputs: ["h_in", "scan.rec.weight"],
        outputs: ["s2"],
        attributes: [{ name: "transB", i: 1 }],
      },
      { name: "/scan/Add", opType: "Add", inputs: ["s1", "s2"], outputs: ["s3"] },
      { name: "/scan/act/Tanh", opType: "Tanh", inputs: ["s3"], outputs: ["h_out"] },
      { name: "/scan/Identity", opType: "Identity", inputs: ["h_out"], outputs: ["y_t"] },
    ],
    initializers: [f32("scan.in.weight", [K, N], weights(K * N, 40, K))],
    inputs: [
      { name: "h_in", type: { elemType: FLOAT, dims: [1, N] } },
      { name: "x_t", type: { elemType: FLOAT, dims: [1, K] } },
    ],
    outputs: [
      { name: "h_out", type: { elemType: FLOAT, dims: [1, N] } },
      { name: "y_t", type: { elemType: FLOAT, dims: [1, N] } },
    ],
  };
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "Scan_0",
      opType: "Scan",
      inputs: ["h0", "xs"],
      outputs: ["h_final", "ys"],
      attributes: [
        { name: "body", g: body },
        { name: "num_scan_inputs", i: 1 },
        ...(outputAxes ? [{ name: "scan_output_axes", ints: [0] }] : []),
      ],
    }],
    initializers: [f32("scan.rec.weight", [N, N], weights(N * N, 41, N))],
    inputs: [
      { name: "h0", type: { elemType: FLOAT, dims: [1, N] } },
      { name: "xs", type: { elemType: FLOAT, dims: [T, 1, K] } },
    ],
    outputs: [
      { name: "h_final", type: { elemType: FLOAT, dims: [1, N] } },
      { name: "ys", type: { elemType: FLOAT, dims: [T, 1, N] } },
    ],
  });
}

/**
 * An `If` on the bool input `cond` whose branches both read one main-graph weight: the then
 * branch by `/then/fc/Gemm` (transB), the else branch by `/else/fc/Gemm` (transB, alpha 2).
 * Input x `[M, K]`, output y `[M, N]`.
 */
export function sharedWeightIfModel(): Uint8Array {
  const branch = (name: string, alpha: number): GraphSpec => ({
    name: `${name}_branch`,
    nodes: [{
      name: `/${name}/fc/Gemm`,
      opType: "Gemm",
      inputs: ["x", "shared.weight"],
      outputs: [`y_${name}`],
      attributes: [{ name: "transB", i: 1 }, { name: "alpha", f: alpha }],
    }],
    inputs: [],
    outputs: [{ name: `y_${name}`, type: { elemType: FLOAT, dims: [M, N] } }],
  });
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "If_0",
      opType: "If",
      inputs: ["cond"],
      outputs: ["y"],
      attributes: [
        { name: "then_branch", g: branch("then", 1) },
        { name: "else_branch", g: branch("else", 2) },
      ],
    }],
    initializers: [f32("shared.weight", [N, K], weights(N * K, 90, K))],
    inputs: [
      { name: "cond", type: { elemType: BOOL, dims: [] } },
      { name: "x", type: { elemType: FLOAT, dims: [M, K] } },
    ],
    outputs: [{ name: "y", type: { elemType: FLOAT, dims: [M, N] } }],
  });
}

/**
 * A `Loop` (`STEPS` iterations, state h `[M, N]`) whose body holds an `If` on the body's
 * condition input: the then branch runs `/loop/if/fc/Gemm` (transB, weight and bias initializers
 * of the branch) and Tanh, the else branch passes h through. Input h0 `[M, N]`.
 */
export function loopIfModel(): Uint8Array {
  const out = (name: string) => [{ name, type: { elemType: FLOAT, dims: [M, N] } }];
  const thenBranch: GraphSpec = {
    name: "then_branch",
    nodes: [
      {
        name: "/loop/if/fc/Gemm",
        opType: "Gemm",
        inputs: ["h_in", "inner.fc.weight", "inner.fc.bias"],
        outputs: ["g1"],
        attributes: [{ name: "transB", i: 1 }],
      },
      { name: "/loop/if/act/Tanh", opType: "Tanh", inputs: ["g1"], outputs: ["h_then"] },
    ],
    initializers: [
      f32("inner.fc.weight", [N, N], weights(N * N, 91, N)),
      f32("inner.fc.bias", [N], weights(N, 92, 4)),
    ],
    inputs: [],
    outputs: out("h_then"),
  };
  const elseBranch: GraphSpec = {
    name: "else_branch",
    nodes: [{ name: "/loop/if/pass", opType: "Identity", inputs: ["h_in"], outputs: ["h_else"] }],
    inputs: [],
    outputs: out("h_else"),
  };
  const body: GraphSpec = {
    name: "loop_body",
    nodes: [
      {
        name: "If_inner",
        opType: "If",
        inputs: ["cond_in"],
        outputs: ["h_out"],
        attributes: [{ name: "then_branch", g: thenBranch }, {
          name: "else_branch",
          g: elseBranch,
        }],
      },
      { name: "/loop/cond", opType: "Identity", inputs: ["cond_in"], outputs: ["cond_out"] },
    ],
    inputs: [
      { name: "iter", type: { elemType: INT64, dims: [] } },
      { name: "cond_in", type: { elemType: BOOL, dims: [] } },
      { name: "h_in", type: { elemType: FLOAT, dims: [M, N] } },
    ],
    outputs: [{ name: "cond_out", type: { elemType: BOOL, dims: [] } }, ...out("h_out")],
  };
  return buildOnnx({
    opsets: [{ domain: "", version: 13 }],
    nodes: [{
      name: "Loop_0",
      opType: "Loop",
      inputs: ["steps", "go", "h0"],
      outputs: ["y"],
      attributes: [{ name: "body", g: body }],
    }],
    initializers: [
      {
        name: "steps",
        dataType: INT64,
        dims: [],
        raw: new Uint8Array(BigInt64Array.of(BigInt(STEPS)).buffer),
      },
      { name: "go", dataType: BOOL, dims: [], raw: Uint8Array.of(1) },
    ],
    inputs: [{ name: "h0", type: { elemType: FLOAT, dims: [M, N] } }],
    outputs: out("y"),
  });
}
