import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { bytesSource } from "../../src/io/random_access.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { toFileBytes } from "../../src/model/from_float32.ts";
import type { ModelGraph } from "../../src/model/model_graph.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "./_onnx_builder.ts";
import { loadOrt, run } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

/** x[2,4] → MatMul+Add (fc1) → Relu → Gemm transB=1 (fc2) → Gemm transB=0, Constant weight (fc3). */
function mlp(): Uint8Array {
  return model(
    graph({
      nodes: [
        node("Constant", [], ["fc3.weight"], "", [
          attr("value", {
            t: tensor({ dims: [3, 2], floatData: [...f32s(6, (i) => i / 7 - 0.3)] }),
          }),
        ]),
        node("MatMul", ["x", "onnx::MatMul_7"], ["h"], "/fc1/MatMul"),
        node("Add", ["h", "fc1.bias"], ["h2"], "/fc1/Add"),
        node("Relu", ["h2"], ["h3"], "/act/Relu"),
        node("Gemm", ["h3", "fc2.weight", "fc2.bias"], ["y"], "/fc2/Gemm", [
          attr("transB", { i: 1 }),
        ]),
        node("Gemm", ["y", "fc3.weight"], ["z"], "", []),
      ],
      initializers: [
        tensor({ name: "onnx::MatMul_7", dims: [4, 5], raw: f32s(20, (i) => Math.sin(i)) }),
        tensor({ name: "fc1.bias", dims: [5], raw: f32s(5, (i) => i / 10) }),
        tensor({ name: "fc2.weight", dims: [3, 5], raw: f32s(15, (i) => Math.cos(i)) }),
        tensor({ name: "fc2.bias", dims: [3], raw: f32s(3, (i) => -i / 5) }),
      ],
      inputs: [valueInfo("x", [2, 4])],
      outputs: [valueInfo("z", [2, 2])],
    }),
    { metadata: { author: "test" } },
  );
}

const X = f32s(8, (i) => (i - 3) / 4);

/** The MLP computed from the module view (PyTorch layouts: weights [out, in]). */
async function forward(m: ModelGraph, x: Float32Array): Promise<Float32Array> {
  let h = x;
  let width = 4;
  for (const name of ["fc1", "act", "fc2", "fc3"]) {
    const mod = m.modules.find((x) => x.name === name)!;
    if (mod.type === "ReLU") {
      h = h.map((v) => Math.max(0, v));
      continue;
    }
    const w = await mod.params.weight.data();
    const b = mod.params.bias ? await mod.params.bias.data() : undefined;
    const [out] = mod.params.weight.shape;
    const next = new Float32Array(2 * out);
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < out; o++) {
        let s = b ? b[o] : 0;
        for (let i = 0; i < width; i++) s += h[r * width + i] * w[o * width + i];
        next[r * out + o] = s;
      }
    }
    h = next;
    width = out;
  }
  return h;
}

function close(a: Float32Array, b: Float32Array): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${i}: ${a[i]} vs ${b[i]}`);
  }
}

test(
  "onnxModel() maps MatMul+Add and both Gemm layouts to Linear modules in [out, in] layout",
  SLOW,
  () => {
    const m = onnxModel(decodeOnnx(mlp()));
    const view = m.modules.map((
      x,
    ) => [x.name, x.type, x.opType, Object.keys(x.params).join(","), x.params.weight?.transpose]);
    assert.deepEqual(view, [
      ["fc1", "Linear", "MatMul", "weight,bias", [1, 0]],
      ["act", "ReLU", "Relu", "", undefined],
      ["fc2", "Linear", "Gemm", "weight,bias", undefined],
      ["fc3", "Linear", "Gemm", "weight", [1, 0]],
    ]);
    assert.deepEqual(m.modules[0].params.weight.shape, [5, 4]);
    assert.deepEqual(m.modules[3].params.weight.shape, [2, 3]);
    assert.deepEqual(m.metadata, { author: "test" });
    assert.deepEqual(m.graph!.nodes.map((n) => n.module ?? null), [
      null,
      "fc1",
      "fc1",
      "act",
      "fc2",
      "fc3",
    ]);
    assert.deepEqual(m.graph!.inputs, ["x"]);
    assert.deepEqual(m.graph!.outputs, ["z"]);
  },
);

test(
  "the module view computes what onnxruntime computes, before and after replacing weights",
  SLOW,
  async () => {
    const ort = await loadOrt();
    const bytes = mlp();
    const onnx = decodeOnnx(bytes);
    const m = onnxModel(onnx);
    close((await run(ort, bytes, X, [2, 4])).data, await forward(m, X));
    const replacements = new Map<string, OnnxReplacement>();
    for (const mod of m.modules) {
      for (const ref of Object.values(mod.params)) {
        const values = (await ref.data()).map((v, i) => v * 1.5 - i / 100);
        replacements.set(ref.name, { bytes: toFileBytes(ref, values) });
      }
    }
    const changed = encodeOnnx(onnx, replacements);
    const m2 = onnxModel(decodeOnnx(changed));
    const expected = await forward(m2, X);
    close((await run(ort, changed, X, [2, 4])).data, expected);
    assert.notDeepEqual(expected, await forward(m, X));
    assert.deepEqual(m2.modules.map((x) => x.name), m.modules.map((x) => x.name));
  },
);

test(
  "encodeOnnx() keeps every byte outside a replaced tensor and can change its dims",
  SLOW,
  async () => {
    const bytes = mlp();
    const onnx = decodeOnnx(bytes);
    assert.deepEqual(encodeOnnx(onnx, new Map()), bytes);
    const bias = onnx.tensors.find((t) => t.name === "fc2.bias")!;
    const out = encodeOnnx(onnx, new Map([["fc2.bias", { bytes: new Uint8Array(8), dims: [2] }]]));
    const graphTag = bias.ancestors[1].tagStart;
    assert.deepEqual(out.subarray(0, graphTag), bytes.subarray(0, graphTag));
    const again = decodeOnnx(out);
    const t = again.tensors.find((x) => x.name === "fc2.bias")!;
    assert.deepEqual(t.dims, [2]);
    assert.deepEqual(await readOnnxTensor(again, t), new Uint8Array(8));
    assert.equal(again.graph.nodes.length, 6);
    assert.deepEqual(out.subarray(out.length - 40), bytes.subarray(bytes.length - 40));
    assert.throws(
      () => encodeOnnx(onnx, new Map([["nope", { bytes: new Uint8Array(0) }]])),
      RangeError,
    );
    assert.throws(
      () => encodeOnnx(onnx, new Map([["fc2.bias", { bytes: new Uint8Array(4) }]])),
      RangeError,
    );
  },
);

/** If(cond) with a Constant in each branch and an initializer in the then-branch. */
function ifModel(): Uint8Array {
  const branch = (name: string, value: number, init: boolean) =>
    graph({
      name,
      nodes: [
        node("Constant", [], [`${name}.c`], "", [
          attr("value", { t: tensor({ dims: [2], raw: f32s(2, () => value) }) }),
        ]),
        ...(init
          ? [
            node("Add", ["x", `${name}.w`], [`${name}.t`]),
            node("Add", [`${name}.t`, `${name}.c`], [`${name}.out`]),
          ]
          : [node("Add", ["x", `${name}.c`], [`${name}.out`])]),
      ],
      initializers: init
        ? [tensor({ name: `${name}.w`, dims: [2], raw: f32s(2, (i) => 10 + i) })]
        : [],
      outputs: [valueInfo(`${name}.out`, [2])],
    });
  return model(graph({
    nodes: [
      node("If", ["cond"], ["y"], "if", [
        attr("then_branch", { g: branch("then", 1, true) }),
        attr("else_branch", { g: branch("else", 2, false) }),
      ]),
    ],
    inputs: [valueInfo("cond", [], 9), valueInfo("x", [2])],
    outputs: [valueInfo("y", [2])],
  }));
}

test(
  "decodeOnnx() finds tensors inside If subgraphs and encodeOnnx() replaces them",
  SLOW,
  async () => {
    const ort = await loadOrt();
    const onnx = decodeOnnx(ifModel());
    assert.deepEqual(onnx.tensors.map((t) => [t.name, t.kind]), [
      ["then.c", "constant"],
      ["then.w", "initializer"],
      ["else.c", "constant"],
    ]);
    const out = encodeOnnx(
      onnx,
      new Map([["then.w", { bytes: new Uint8Array(f32s(2, () => 100).buffer) }], ["else.c", {
        bytes: new Uint8Array(f32s(2, () => -1).buffer),
      }]]),
    );
    const session = await ort.InferenceSession.create(out);
    const x = new ort.Tensor("float32", new Float32Array([1, 2]), [2]);
    const yes = await session.run({ cond: new ort.Tensor("bool", [true], []), x });
    const no = await session.run({ cond: new ort.Tensor("bool", [false], []), x });
    assert.deepEqual([...yes.y.data], [102, 103]);
    assert.deepEqual([...no.y.data], [0, 1]);
  },
);

test(
  "onnxModel() maps Conv1d, BatchNorm1d, Gather and LayerNormalization with typed data",
  SLOW,
  async () => {
    const bytes = model(graph({
      nodes: [
        node("Gather", ["emb.weight", "ids"], ["e"], "/emb/Gather"),
        node("LayerNormalization", ["e", "ln.weight", "ln.bias"], ["l"], "/ln/LayerNormalization", [
          attr("axis", { i: -1 }),
        ]),
        node("Conv", ["l", "conv.weight"], ["c"], ""),
        node(
          "BatchNormalization",
          ["c", "bn.w_0", "bn.b_0", "bn.w_1", "bn.w_2"],
          ["b"],
          "p2o.BatchNormalization.0",
        ),
      ],
      initializers: [
        tensor({ name: "emb.weight", dims: [10, 4], raw: f32s(40, (i) => i) }),
        tensor({
          name: "ln.weight",
          dims: [4],
          int32Data: [0x3c00, 0x4000, 0xbc00, 0],
          dataType: 10,
        }),
        tensor({ name: "ln.bias", dims: [4], dataType: 11, raw: new Float64Array([1, 2, 3, 4]) }),
        tensor({
          name: "conv.weight",
          dims: [2, 3, 2],
          floatData: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        }),
        ...["bn.w_0", "bn.b_0", "bn.w_1", "bn.w_2"].map((name) =>
          tensor({ name, dims: [2], raw: f32s(2, () => 1) })
        ),
        tensor({ name: "neg", dims: [2], dataType: 6, int32Data: [-5, 7] }),
        tensor({ name: "big", dims: [1], dataType: 7, int64Data: [-(2 ** 40)] }),
      ],
      inputs: [valueInfo("ids", [3], 7)],
      outputs: [valueInfo("b", [3, 2, 3])],
    }));
    const onnx = decodeOnnx(bytes);
    const m = onnxModel(onnx);
    assert.deepEqual(m.modules.map((x) => [x.name, x.type]), [
      ["emb", "Embedding"],
      ["ln", "LayerNorm"],
      ["conv", "Conv1d"],
      ["bn", "BatchNorm1d"],
    ]);
    assert.deepEqual([...await m.modules[1].params.weight.data()], [1, 2, -1, 0]);
    assert.deepEqual([...await m.modules[1].params.bias.data()], [1, 2, 3, 4]);
    assert.deepEqual([...await m.modules[2].params.weight.data()], [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
    ]);
    const neg = onnx.tensors.find((t) => t.name === "neg")!;
    assert.deepEqual([...new Int32Array((await readOnnxTensor(onnx, neg)).slice().buffer)], [
      -5,
      7,
    ]);
    const big = onnx.tensors.find((t) => t.name === "big")!;
    assert.deepEqual([...new BigInt64Array((await readOnnxTensor(onnx, big)).slice().buffer)], [
      -(2n ** 40n),
    ]);
    assert.deepEqual(onnxModel(onnx, { types: { "conv": "MyConv" } }).modules[2].type, "MyConv");
  },
);

test("readOnnxTensor() reads external data through the opener it is given", SLOW, async () => {
  const data = new Uint8Array(64);
  new Float32Array(data.buffer, 16, 6).set([1, 2, 3, 4, 5, 6]);
  const bytes = model(graph({
    nodes: [node("MatMul", ["x", "w"], ["y"], "/proj/MatMul")],
    initializers: [
      tensor({
        name: "w",
        dims: [2, 3],
        external: { location: "w.bin", offset: "16", length: "24" },
      }),
    ],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 3])],
  }));
  const onnx = decodeOnnx(bytes);
  const opened: string[] = [];
  const m = onnxModel(onnx, { external: (loc) => (opened.push(loc), bytesSource(data)) });
  assert.deepEqual([...await m.modules[0].params.weight.data()], [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(opened, ["w.bin"]);
  await assert.rejects(readOnnxTensor(onnx, onnx.tensors[0]), TypeError);
  await assert.rejects(
    readOnnxTensor(onnx, onnx.tensors[0], { external: () => bytesSource(data.subarray(0, 30)) }),
    /external range/,
  );
  assert.throws(
    () => encodeOnnx(onnx, new Map([["w", { bytes: new Uint8Array(24) }]])),
    RangeError,
  );
});
