// Channel removal on ONNX chains built by hand (conv→conv, conv→BN→relu→conv, linear→linear,
// a scale-and-shift after the activation into padded convs and a ConvTranspose): the shrunk
// model must give the masked model's outputs in onnxruntime-node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedOnnx } from "../../src/pruning/pruned_onnx.ts";
import { removeChannels, type RemoveChannelsOptions } from "../../src/pruning/remove_channels.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt, run } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };
const PAD = [attr("pads", { ints: [1, 1, 1, 1] })];

function w(name: string, dims: number[], f: (i: number) => number): Uint8Array {
  return tensor({ name, dims, raw: f32s(dims.reduce((a, b) => a * b, 1), f) });
}

/** Prunes, writes the masked model and the shrunk one, runs both; returns the shrink report. */
async function compare(
  bytes: Uint8Array,
  configList: unknown[],
  pruner: "l1" | "level",
  input: number[],
  options: RemoveChannelsOptions = {},
) {
  const onnx = decodeOnnx(bytes);
  const result = await prune(onnxModel(onnx), configList, { pruner });
  const masked = await prunedOnnx(onnx, result);
  const shrunk = await removeChannels(onnx, result, options);
  const x = f32s(input.reduce((a, b) => a * b, 1), (i) => Math.sin(i * 0.7) * 2);
  const ort = await loadOrt();
  const a = await run(ort, masked, x, input);
  const b = await run(ort, shrunk.bytes, x, input);
  assert.deepEqual(b.dims, a.dims);
  const scale = Math.max(1, ...[...a.data].map(Math.abs));
  for (let i = 0; i < a.data.length; i++) {
    assert.ok(
      Math.abs(a.data[i] - b.data[i]) <= 1e-5 * scale,
      `${i}: ${a.data[i]} vs ${b.data[i]}`,
    );
  }
  return { shrunk, result, written: decodeOnnx(shrunk.bytes) };
}

test(
  "removeChannels() drops a conv's pruned filters and the next padded conv's inputs, outputs unchanged",
  SLOW,
  async () => {
    const bytes = model(graph({
      nodes: [
        node("Conv", ["x", "c1.weight", "c1.bias"], ["h"], "/c1/Conv", PAD),
        node("Relu", ["h"], ["r"], "/act/Relu"),
        node("Conv", ["r", "c2.weight", "c2.bias"], ["y"], "/c2/Conv", PAD),
      ],
      initializers: [
        w("c1.weight", [4, 2, 3, 3], (i) => Math.cos(i) * (1 + (i % 18) / 9)),
        w("c1.bias", [4], (i) => 0.1 * i + 0.05),
        w("c2.weight", [3, 4, 3, 3], (i) => Math.sin(i * 1.3)),
        w("c2.bias", [3], (i) => i - 1),
      ],
      inputs: [valueInfo("x", [1, 2, 5, 5])],
      outputs: [valueInfo("y", [1, 3, 5, 5])],
    }));
    const { shrunk, written } = await compare(
      bytes,
      [
        { op_names: ["c1"], sparse_ratio: 0.5 },
        { op_names: ["c2"], target_names: ["weight"], sparse_ratio: 0.3 },
      ],
      "l1",
      [1, 2, 5, 5],
    );
    assert.equal(shrunk.producers.length, 1);
    assert.equal(shrunk.producers[0].removed.length, 2);
    const dims = (name: string) => written.tensors.find((t) => t.name === name)!.dims;
    assert.deepEqual(dims("c1.weight"), [2, 2, 3, 3]);
    assert.deepEqual(dims("c1.bias"), [2]);
    assert.deepEqual(dims("c2.weight"), [3, 2, 3, 3]);
  },
);

test(
  "removeChannels() carries a BatchNorm's shift of removed channels into an unpadded conv's bias",
  SLOW,
  async () => {
    const bytes = model(graph({
      nodes: [
        node("Conv", ["x", "c1.weight"], ["h"], "/c1/Conv", PAD),
        node(
          "BatchNormalization",
          ["h", "bn.weight", "bn.bias", "bn.mean", "bn.var"],
          ["b"],
          "/bn/BatchNormalization",
        ),
        node("Relu", ["b"], ["r"], "/act/Relu"),
        node("Conv", ["r", "c2.weight", "c2.bias"], ["y"], "/c2/Conv"),
      ],
      initializers: [
        w("c1.weight", [4, 2, 3, 3], (i) => Math.cos(i) * (1 + Math.floor(i / 18))),
        w("bn.weight", [4], (i) => 1 + i / 4),
        w("bn.bias", [4], (i) => [0.7, 0.5, -0.2, 0.3][i]),
        w("bn.mean", [4], (i) => 0.1 * i - 0.1),
        w("bn.var", [4], (i) => 0.5 + i),
        w("c2.weight", [3, 4, 1, 1], (i) => Math.sin(i + 1)),
        w("c2.bias", [3], (i) => i / 3),
      ],
      inputs: [valueInfo("x", [2, 2, 4, 4])],
      outputs: [valueInfo("y", [2, 3, 4, 4])],
    }));
    const { shrunk, written } = await compare(
      bytes,
      [
        { op_names: ["c1"], sparse_ratio: 0.5 },
      ],
      "l1",
      [2, 2, 4, 4],
    );
    assert.deepEqual(shrunk.producers.map((c) => [c.producer, c.consumers, c.removed]), [["c1", [
      "c2",
    ], [
      0,
      1,
    ]]]);
    const dims = (name: string) => written.tensors.find((t) => t.name === name)!.dims;
    assert.deepEqual([dims("c1.weight"), dims("bn.var"), dims("c2.weight")], [[2, 2, 3, 3], [2], [
      3,
      2,
      1,
      1,
    ]]);
  },
);

for (const mode of ["term", "onesChannel"] as const) {
  test(
    `removeChannels() takes a constant channel into a padded conv as a ${mode} (zero padding at the borders)`,
    SLOW,
    async () => {
      const bytes = model(graph({
        nodes: [
          node("Conv", ["x", "c1.weight", "c1.bias"], ["h"], "/c1/Conv"),
          node("Conv", ["h", "c2.weight", "c2.bias"], ["y"], "/c2/Conv", PAD),
        ],
        initializers: [
          w("c1.weight", [2, 1, 1, 1], (i) => i + 1),
          w("c1.bias", [2], () => 0.5),
          w("c2.weight", [1, 2, 3, 3], (i) => i / 10),
          w("c2.bias", [1], () => 0),
        ],
        inputs: [valueInfo("x", [1, 1, 3, 3])],
        outputs: [valueInfo("y", [1, 1, 3, 3])],
      }));
      const { shrunk, written } = await compare(
        bytes,
        [
          { op_names: ["c1"], target_names: ["weight"], sparse_ratio: 0.5 },
        ],
        "l1",
        [1, 1, 3, 3],
        { constantInputs: mode },
      );
      // c1's first filter is pruned: its channel holds the bias 0.5, which c2 sees inside the
      // image only; without the extra term the border outputs would differ by up to 0.5 · Σ w
      assert.deepEqual(shrunk.producers.map((p) => [p.producer, p.removed]), [["c1", [0]]]);
      const dims = (name: string) => written.tensors.find((t) => t.name === name)!.dims;
      const ops = written.graph.nodes.map((n) => n.opType);
      if (mode === "term") {
        assert.deepEqual(dims("c2.weight"), [1, 1, 3, 3]);
        assert.deepEqual(dims("y.border.weight"), [1, 1, 3, 3]);
        assert.equal(ops.filter((o) => o === "Conv").length, 3);
        assert.ok(ops.includes("ConstantOfShape") && ops.includes("Add"));
      } else {
        assert.deepEqual(dims("c2.weight"), [1, 2, 3, 3]);
        assert.equal(ops.filter((o) => o === "Conv").length, 2);
        assert.ok(ops.includes("ConstantOfShape") && ops.includes("Concat"));
      }
    },
  );
}

for (const mode of ["auto", "term", "onesChannel"] as const) {
  test(
    `removeChannels() removes channels scaled and shifted after the activation into padded, strided convs and a ConvTranspose (${mode})`,
    SLOW,
    async () => {
      // c1 3x3 → HardSwish → ·s + b (the learnable scale-and-shift) → c2 3x3 stride 2 → Relu →
      // ·s2 + b2 → t ConvTranspose 2x2 stride 2 → c3 3x3 dilation 2: every removed channel
      // carries a non-zero constant into a position-dependent consumer
      const S2 = [attr("pads", { ints: [1, 1, 1, 1] }), attr("strides", { ints: [2, 2] })];
      const D2 = [attr("pads", { ints: [2, 2, 2, 2] }), attr("dilations", { ints: [2, 2] })];
      const T2 = [attr("strides", { ints: [2, 2] }), attr("kernel_shape", { ints: [2, 2] })];
      const bytes = model(graph({
        nodes: [
          node("Conv", ["x", "c1.weight", "c1.bias"], ["h1"], "/c1/Conv", PAD),
          node("HardSwish", ["h1"], ["a1"], "/act1/HardSwish"),
          node("Mul", ["a1", "s1"], ["m1"], "/lab1/Mul"),
          node("Add", ["m1", "b1"], ["z1"], "/lab1/Add"),
          node("Conv", ["z1", "c2.weight", "c2.bias"], ["h2"], "/c2/Conv", S2),
          node("Relu", ["h2"], ["a2"], "/act2/Relu"),
          node("Mul", ["a2", "s2"], ["m2"], "/lab2/Mul"),
          node("Add", ["m2", "b2"], ["z2"], "/lab2/Add"),
          node("ConvTranspose", ["z2", "t.weight", "t.bias"], ["h3"], "/t/ConvTranspose", T2),
          node("Conv", ["h3", "c3.weight"], ["y"], "/c3/Conv", D2),
        ],
        initializers: [
          w("c1.weight", [8, 3, 3, 3], (i) => Math.cos(i * 0.9) * (1 + Math.floor(i / 27) / 4)),
          w("c1.bias", [8], (i) => 0.3 * i - 0.4),
          w("s1", [1], () => 0.8),
          w("b1", [1], () => 0.3),
          w("c2.weight", [8, 8, 3, 3], (i) => Math.sin(i * 1.7) * (1 + Math.floor(i / 72) / 3)),
          w("c2.bias", [8], (i) => 0.2 * i - 0.5),
          w("s2", [1, 8, 1, 1], (i) => 0.5 + i / 8),
          w("b2", [1, 8, 1, 1], (i) => 0.25 - i / 16),
          w("t.weight", [8, 4, 2, 2], (i) => Math.cos(i * 0.37)),
          w("t.bias", [4], (i) => i / 5),
          w("c3.weight", [2, 4, 3, 3], (i) => Math.sin(i * 0.61)),
        ],
        inputs: [valueInfo("x", [2, 3, 7, 9])],
        outputs: [valueInfo("y", [2, 2, 8, 10])],
      }));
      const { shrunk, written } = await compare(
        bytes,
        [
          { op_names: ["c1", "c2"], target_names: ["weight"], sparse_ratio: 0.5 },
        ],
        "l1",
        [2, 3, 7, 9],
        { constantInputs: mode },
      );
      const removed = Object.fromEntries(shrunk.producers.map((p) => [p.producer, p.removed]));
      assert.equal(removed.c1?.length, 4);
      assert.equal(removed.c2?.length, 4);
      const dims = (name: string) => written.tensors.find((t) => t.name === name)!.dims;
      const ops = written.graph.nodes.map((n) => n.opType);
      const termC2 = mode !== "onesChannel";
      const termT = mode === "term";
      assert.deepEqual(dims("c2.weight"), [4, termC2 ? 4 : 5, 3, 3]);
      assert.equal(dims("t.weight")[0], termT ? 4 : 5);
      assert.equal(ops.filter((o) => o === "Conv").length, 3 + (termC2 ? 1 : 0));
      assert.equal(ops.filter((o) => o === "ConvTranspose").length, 1 + (termT ? 1 : 0));
    },
  );
}

test(
  "removeChannels() shrinks linear→relu→linear and folds unpruned biases of removed rows",
  SLOW,
  async () => {
    const bytes = model(graph({
      nodes: [
        node("MatMul", ["x", "fc1.weight"], ["h"], "/fc1/MatMul"),
        node("Add", ["h", "fc1.bias"], ["h2"], "/fc1/Add"),
        node("Relu", ["h2"], ["r"], "/act/Relu"),
        node("MatMul", ["r", "fc2.weight"], ["g"], "/fc2/MatMul"),
        node("Add", ["g", "fc2.bias"], ["y"], "/fc2/Add"),
      ],
      initializers: [
        w("fc1.weight", [4, 6], (i) => Math.sin(i * 2.1) * (1 + (i % 6))),
        w("fc1.bias", [6], (i) => 0.2 * i - 0.3),
        w("fc2.weight", [6, 3], (i) => Math.cos(i)),
        w("fc2.bias", [3], (i) => i),
      ],
      inputs: [valueInfo("x", [2, 4])],
      outputs: [valueInfo("y", [2, 3])],
    }));
    const { shrunk, written } = await compare(
      bytes,
      [
        { op_names: ["fc1"], target_names: ["weight"], sparse_ratio: 0.5 },
        { op_names: ["fc2"], target_names: ["weight"], sparse_ratio: 0.25 },
      ],
      "l1",
      [2, 4],
    );
    assert.equal(shrunk.producers[0].removed.length, 3);
    const dims = (name: string) => written.tensors.find((t) => t.name === name)!.dims;
    assert.deepEqual([dims("fc1.weight"), dims("fc1.bias"), dims("fc2.weight")], [[4, 3], [3], [
      3,
      3,
    ]]);
  },
);
