// The TensorFlow.js adapter: module types, PyTorch layouts, and the same selection and masks as
// NNI computed on the PyTorch network with the same weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveTargetSettings } from "../../src/config/mod.ts";
import { computeMetric } from "../../src/pruning/compute_metric.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { generateMasks } from "../../src/pruning/generate_masks.ts";
import type { PruningTarget } from "../../src/pruning/types.ts";
import {
  describeTfModel,
  predict,
  readParams,
  type TfModelView,
  writeParam,
} from "../../src/training/mod.ts";
import { bitsB64, loadExpected, prunerOf } from "../pruning/_oracle.ts";
import { randomArray, tf, tfl } from "./_tf.ts";
import { bnNet, mlpNet } from "./_oracle_nets.ts";

/** Masks computed on the tf model's parameters, compared with NNI's. */
function assertMasksLikeNni(view: TfModelView, id: string): void {
  const expected = loadExpected(id);
  const targets = resolveTargetSettings(view.modules, expected.case.config_list, "pruning", {
    algorithm: expected.case.algorithm,
  }).targets as PruningTarget[];
  const params = readParams(view);
  const metrics: Record<string, Record<string, Float32Array>> = {};
  for (const t of targets) {
    if (t.setting.sparse_ratio != null) {
      const pruner = prunerOf(expected.case.algorithm);
      (metrics[t.module] ??= {})[t.target] =
        computeMetric(params[t.module][t.target], t, { pruner }).values;
    }
  }
  const { masks } = generateMasks(metrics, targets);
  const want = expected.result.masks;
  assert.deepEqual(Object.keys(masks).sort(), Object.keys(want).sort());
  for (const [module, byTarget] of Object.entries(masks)) {
    for (const [target, mask] of Object.entries(byTarget)) {
      assert.equal(bitsB64(expandMask(mask)), want[module][target].bits_b64, `${module}.${target}`);
    }
  }
}

test("describeTfModel() names modules after layers with PyTorch types and shapes", () => {
  const view = bnNet();
  assert.deepEqual(view.modules.map((m) => [m.name, m.type]), [
    ["conv1", "Conv2d"],
    ["bn1", "BatchNorm2d"],
    ["relu1", "ReLU"],
    ["conv2", "Conv2d"],
    ["bn2", "BatchNorm2d"],
    ["relu2", "ReLU"],
    ["pool", "AdaptiveAvgPool2d"],
    ["fc", "Linear"],
  ]);
  assert.deepEqual(view.modules[0].params, { weight: [16, 3, 3, 3], bias: [16] });
  assert.deepEqual(view.modules[1].params, {
    weight: [16],
    bias: [16],
    running_mean: [16],
    running_var: [16],
  });
  assert.deepEqual(view.modules[7].params, { weight: [10, 32], bias: [10] });
});

test("the tf network with the oracle's weights computes the PyTorch network's output", () => {
  // fc(x) = W x + b on the PyTorch layout: check one Dense output against plain math.
  const view = mlpNet();
  const w = readParams(view).fc1;
  const x = randomArray(16, 5);
  const y = (tfl.sequential({ layers: [view.model.layers[0]] }).predict(
    tf.tensor2d(x, [1, 16]),
  ) as tf.Tensor)
    .dataSync();
  for (const o of [0, 7, 31]) {
    let want = w.bias[o];
    for (let i = 0; i < 16; i++) want += w.weight[o * 16 + i] * x[i];
    assert.ok(Math.abs(y[o] - want) < 1e-5, `output ${o}`);
  }
});

test("Conv2D, DepthwiseConv2D, Embedding, LayerNormalization and activations map like an ONNX export", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: 50, outputDim: 12, inputLength: 6, name: "emb" }),
      tfl.layers.layerNormalization({ name: "ln" }),
      tfl.layers.reshape({ targetShape: [6, 12, 1], name: "to_image" }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: "dw" }),
      tfl.layers.activation({ activation: "relu6", name: "act" }),
      tfl.layers.flatten({ name: "flat" }),
    ],
  });
  const view = describeTfModel(model);
  assert.deepEqual(view.modules.map((m) => [m.name, m.type, m.params]), [
    ["emb", "Embedding", { weight: [50, 12] }],
    ["ln", "LayerNorm", { weight: [12], bias: [12] }],
    ["to_image", "Reshape", {}],
    ["dw", "Conv2d", { weight: [2, 1, 3, 3], bias: [2] }],
    ["act", "ReLU6", {}],
    ["flat", "Flatten", {}],
  ]);
  const dw = view.params.find((p) => p.module === "dw" && p.name === "weight")!;
  const raw = randomArray(18, 3);
  writeParam(view, dw, raw);
  assert.deepEqual([...readParams(view).dw.weight], [...raw]);
  // tf [kh, kw, in, mult] holds torch [in*mult, 1, kh, kw] at [kh][kw][0][m] = torch[m][0][kh][kw]
  const tfValues = view.value(dw).dataSync();
  assert.equal(tfValues[(1 * 3 + 2) * 2 + 1], raw[1 * 9 + 1 * 3 + 2]);
});

test("Conv2D kernels [kh, kw, in, out] read as [out, in, kh, kw] and write back", () => {
  const view = bnNet();
  const conv = view.params[0];
  const torch = readParams(view).conv1.weight;
  const tfValues = view.value(conv).dataSync();
  // torch[o=5][i=2][kh=1][kw=0] = tf[1][0][2][5]
  assert.equal(torch[((5 * 3 + 2) * 3 + 1) * 3 + 0], tfValues[((1 * 3 + 0) * 3 + 2) * 16 + 5]);
  writeParam(view, conv, torch);
  assert.deepEqual([...view.value(conv).dataSync()], [...tfValues]);
});

test("op_types matches the tf class name as well as the PyTorch type", () => {
  const view = mlpNet();
  const byTf = resolveTargetSettings(
    view.modules,
    [{ op_types: ["Dense"], sparse_ratio: 0.5 }],
    "pruning",
  );
  const byTorch = resolveTargetSettings(
    view.modules,
    [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
    "pruning",
  );
  assert.deepEqual(
    byTf.targets.map((t) => `${t.module}.${t.target}`),
    byTorch.targets.map((t) => `${t.module}.${t.target}`),
  );
});

test("on the oracle's mlp, L1 out_channel masks equal NNI's (p001)", () => {
  assertMasksLikeNni(mlpNet(), "p001_l1_mlp_basic");
});

test("on the oracle's mlp, L1 in_channel masks equal NNI's (p030)", () => {
  assertMasksLikeNni(mlpNet(), "p030_l1_in_channel");
});

test("on the oracle's bn network, conv masks and BatchNorm aligned masks equal NNI's (p087)", () => {
  assertMasksLikeNni(bnNet(), "p087_bn_align_to_conv");
});

test("layers of a nested model are submodules named outer.inner, and hooks reach them", () => {
  const block = tfl.sequential({
    name: "block",
    layers: [tfl.layers.dense({ units: 4, inputShape: [3], name: "fc" })],
  });
  const input = tfl.input({ shape: [3] });
  const out = tfl.layers.dense({ units: 2, name: "head" }).apply(
    block.apply(input),
  ) as tfl.SymbolicTensor;
  const view = describeTfModel(tfl.model({ inputs: input, outputs: out }));
  assert.deepEqual(view.modules.map((m) => [m.name, m.type]), [["block.fc", "Linear"], [
    "head",
    "Linear",
  ]]);
  const seen: string[] = [];
  const spy = {
    name: "spy",
    output: (module: string, _i: number, v: tf.Tensor) => (seen.push(module), v),
  };
  tf.dispose(predict(view, tf.ones([1, 3]), [spy]));
  assert.deepEqual(seen, ["block.fc", "head"]);
});

test("runWithHooks() leaves the model as it was, also when the forward pass throws", () => {
  const view = mlpNet();
  const boom = {
    name: "boom",
    param: () => {
      throw new Error("boom");
    },
  };
  assert.throws(() => predict(view, tf.ones([1, 16]), [boom]), /boom/);
  assert.ok(!Object.hasOwn(view.params[0].variable, "read"));
  assert.ok(!Object.hasOwn(view.layers.get("fc1")!, "call"));
  assert.deepEqual((predict(view, tf.ones([1, 16])) as tf.Tensor).shape, [1, 10]);
});
