// The oracle's speedup cases (s003-s005) as ONNX graphs built from the cases' weights: prune()
// reproduces NNI's masks, removeChannels() shrinks the modules to NNI's speedup shapes where
// NNI removes channels, and — unlike NNI (DESIGN.md B15) — keeps the masked model's outputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedOnnx } from "../../src/pruning/pruned_onnx.ts";
import { removeChannels } from "../../src/pruning/remove_channels.ts";
import { attr, f32s, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt, run } from "../io/_ocr.ts";
import { bitsB64, type Json, loadExpected, loadWeights, prunerOf } from "./_oracle.ts";

const SLOW = { timeout: 120_000 };

/** Initializers for state_dict keys of a weights file (PyTorch layout = ONNX's for Conv/Gemm). */
function inits(file: string, shapes: Record<string, number[]>): Uint8Array[] {
  const weights = loadWeights(file);
  return Object.entries(shapes)
    .filter(([k]) => !k.endsWith("num_batches_tracked"))
    .map(([k, dims]) => tensor({ name: k, dims, raw: weights.get(k)! }));
}

const conv = (m: string, x: string, y: string) =>
  node("Conv", [x, `${m}.weight`, `${m}.bias`], [y], `/${m}/Conv`);
const bn = (m: string, x: string, y: string) =>
  node(
    "BatchNormalization",
    [
      x,
      `${m}.weight`,
      `${m}.bias`,
      `${m}.running_mean`,
      `${m}.running_var`,
    ],
    [y],
    `/${m}/BatchNormalization`,
  );
const gemm = (m: string, x: string, y: string) =>
  node("Gemm", [x, `${m}.weight`, `${m}.bias`], [y], `/${m}/Gemm`, [attr("transB", { i: 1 })]);
const relu = (x: string, y: string) => node("Relu", [x], [y], `/${y}/Relu`);

/** The oracle's models as ONNX graphs (forward as in the oracle's README). */
function build(id: string): { bytes: Uint8Array; input: number[] } {
  const exp = loadExpected(id);
  const file = exp.weights.file.replace(/^.*expected\//, "");
  const nodes = {
    cnn: [
      conv("conv1", "x", "a"),
      relu("a", "b"),
      conv("conv2", "b", "c"),
      relu("c", "d"),
      node("MaxPool", ["d"], ["e"], "/pool/MaxPool", [
        attr("kernel_shape", { ints: [2, 2] }),
        attr("strides", { ints: [2, 2] }),
      ]),
      node("Flatten", ["e"], ["f"], "/flatten/Flatten"),
      gemm("fc1", "f", "g"),
      relu("g", "h"),
      node("Dropout", ["h"], ["i"], "/dropout2/Dropout"),
      gemm("fc2", "i", "y"),
    ],
    mlp: [
      gemm("fc1", "x", "a"),
      relu("a", "b"),
      gemm("fc2", "b", "c"),
      relu("c", "d"),
      gemm("fc3", "d", "y"),
    ],
    bn: [
      conv("conv1", "x", "a"),
      bn("bn1", "a", "b"),
      relu("b", "c"),
      conv("conv2", "c", "d"),
      bn("bn2", "d", "e"),
      relu("e", "f"),
      node("GlobalAveragePool", ["f"], ["g"], "/pool/GlobalAveragePool"),
      node("Flatten", ["g"], ["h"], "/flatten/Flatten"),
      gemm("fc", "h", "y"),
    ],
  }[exp.case.model as string]!;
  const input = {
    cnn: [2, 1, 28, 28],
    mlp: [2, 16],
    bn: [2, 3, 10, 10],
  }[exp.case.model as string]!;
  const bytes = model(graph({
    nodes,
    initializers: inits(file, exp.weights.tensors),
    inputs: [valueInfo("x", input)],
    outputs: [valueInfo("y", [2, 10])],
  }));
  return { bytes, input };
}

async function speedup(id: string) {
  const exp = loadExpected(id);
  const { bytes, input } = build(id);
  const onnx = decodeOnnx(bytes);
  const result = await prune(onnxModel(onnx), exp.case.config_list, {
    pruner: prunerOf(exp.case.algorithm),
  });
  for (const [module, ts] of Object.entries(exp.result.masks as Json)) {
    for (const [target, e] of Object.entries(ts as Json)) {
      assert.equal(bitsB64(expandMask(result.masks[module][target])), (e as Json).bits_b64);
    }
  }
  const shrunk = await removeChannels(onnx, result);
  const written = decodeOnnx(shrunk.bytes);
  const x = f32s(input.reduce((a, b) => a * b, 1), (i) => Math.sin(i * 0.37) * 1.5);
  const ort = await loadOrt();
  const masked = await run(ort, await prunedOnnx(onnx, result), x, input);
  const out = await run(ort, shrunk.bytes, x, input);
  const diff = Math.max(...masked.data.map((v, i) => Math.abs(v - out.data[i])));
  const modules = exp.result.speedup.modules;
  const nniShapes = new Map<string, number[]>();
  for (const [name, , , params] of typeof modules === "string" ? JSON.parse(modules) : modules) {
    for (const [p, shape] of Object.entries(params as Record<string, number[]>)) {
      nniShapes.set(`${name}.${p}`, shape);
    }
  }
  const ours = new Map(written.tensors.map((t) => [t.name, [...t.dims]]));
  return { diff, nniShapes, ours, nniDiff: exp.result.speedup.max_abs_diff as number };
}

test(
  "oracle s003 (speedup): conv1 32→16 and fc1 128→64 shrink conv2 and fc2 to NNI's shapes, outputs kept",
  SLOW,
  async () => {
    const r = await speedup("s003_speedup_cnn_seed_doc");
    for (const [k, shape] of r.nniShapes) assert.deepEqual(r.ours.get(k), shape, k);
    assert.deepEqual([r.ours.get("conv2.weight"), r.ours.get("fc2.weight")], [[64, 16, 3, 3], [
      10,
      64,
    ]]);
    assert.ok(r.diff < 1e-5, `max abs diff ${r.diff}`);
  },
);

test(
  "oracle s004 (speedup, deviation B15): fine-grained masks remove no channel and stay applied",
  SLOW,
  async () => {
    const r = await speedup("s004_speedup_mlp_level");
    for (const [k, shape] of r.nniShapes) assert.deepEqual(r.ours.get(k), shape, k);
    assert.ok(r.diff < 1e-5, `max abs diff ${r.diff}`);
    assert.ok(r.nniDiff > 0.5); // NNI's speedup model is the dense original
  },
);

test(
  "oracle s005 (speedup, deviation B15): conv→BN chains shrink to NNI's shapes and keep the BN shifts",
  SLOW,
  async () => {
    const r = await speedup("s005_speedup_bn");
    for (const [k, shape] of r.nniShapes) assert.deepEqual(r.ours.get(k), shape, k);
    assert.deepEqual([r.ours.get("conv1.weight"), r.ours.get("bn2.running_var")], [[12, 3, 3, 3], [
      24,
    ]]);
    assert.ok(r.diff < 1e-5, `max abs diff ${r.diff}`);
    assert.ok(r.nniDiff > 0.1); // NNI drops the shifts of the removed channels
  },
);
