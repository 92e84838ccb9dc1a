// Channel removal on ONNX chains built by hand (conv→conv, conv→BN→relu→conv, linear→linear):
// the shrunk model must give the masked model's outputs in onnxruntime-node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedOnnx } from "../../src/pruning/pruned_onnx.ts";
import { removeChannels } from "../../src/pruning/remove_channels.ts";
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
) {
  const onnx = decodeOnnx(bytes);
  const result = await prune(onnxModel(onnx), configList, { pruner });
  const masked = await prunedOnnx(onnx, result);
  const shrunk = await removeChannels(onnx, result);
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

test(
  "removeChannels() keeps a channel whose constant a padded conv cannot take into its bias",
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
    const { shrunk } = await compare(
      bytes,
      [
        { op_names: ["c1"], target_names: ["weight"], sparse_ratio: 0.5 },
      ],
      "l1",
      [1, 1, 3, 3],
    );
    assert.deepEqual(shrunk.producers, []);
  },
);

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
