import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../config/config_error.ts";
import type { ResolvedTarget } from "../config/types.ts";
import type { GraphNode, ModelGraph, TensorRef } from "../model/model_graph.ts";
import { fusionGroups } from "./fusion_groups.ts";

const ref = (shape: number[]): TensorRef => ({
  name: "t",
  dtype: "F32",
  shape,
  fileShape: shape,
  data: () => Promise.resolve(new Float32Array(shape.reduce((a, b) => a * b, 1))),
  bytes: () => Promise.resolve(new Uint8Array(0)),
});
const bnParams = (c: number) => ({
  weight: ref([c]),
  bias: ref([c]),
  running_mean: ref([c]),
  running_var: ref([c]),
});
const node = (module: string, opType: string, inputs: string[], outputs: string[]): GraphNode => ({
  name: module,
  module,
  opType,
  domain: "",
  inputs,
  outputs,
});

/** x → conv → bn → relu → act(ReLU6); x → fc → bn1d; conv output also read by "side". */
function model(sideReader = false): ModelGraph {
  return {
    format: "onnx",
    metadata: {},
    modules: [
      { name: "conv", type: "Conv2d", params: { weight: ref([4, 3, 1, 1]) } },
      { name: "bn", type: "BatchNorm2d", params: bnParams(4) },
      { name: "relu", type: "ReLU", params: {} },
      { name: "act", type: "ReLU6", params: {} },
      { name: "fc", type: "Linear", params: { weight: ref([5, 3]) } },
      { name: "bn1d", type: "BatchNorm1d", params: bnParams(4) },
    ],
    graph: {
      inputs: ["x"],
      outputs: ["a", "n"],
      nodes: [
        node("conv", "Conv", ["x", "w"], ["c"]),
        node("bn", "BatchNormalization", ["c", "g", "b", "m", "v"], ["b_out"]),
        node("relu", "Relu", ["b_out"], ["r"]),
        node("act", "Clip", ["r"], ["a"]),
        node("fc", "Gemm", ["x", "fw"], ["f"]),
        node("bn1d", "BatchNormalization", ["f", "g", "b", "m", "v"], ["n"]),
        ...(sideReader ? [node("side", "Abs", ["c"], ["s"])] : []),
      ],
    },
  };
}

const weight = (module: string): ResolvedTarget => ({
  module,
  moduleType: "",
  target: "weight",
  kind: "parameter",
  setting: {},
  configIndex: 0,
  shape: null,
});
const TARGETS = [weight("conv"), weight("fc"), weight("bn")];

function issues(m: ModelGraph, groups: string[][], targets = TARGETS): string[] {
  try {
    fusionGroups(m, [{}, { fuse_names: groups }], targets);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

test("fusion groups of supported tuples are returned with their config paths", () => {
  const groups = fusionGroups(model(), [{ fuse_names: [["conv", "bn", "relu"]] }], TARGETS);
  assert.deepEqual(groups, [{
    path: "[0].fuse_names[0]",
    modules: ["conv", "bn", "relu"],
    first: "conv",
    bn: "bn",
  }]);
  const bnRelu = fusionGroups(model(), [{ fuse_names: [["bn", "relu"]] }], TARGETS);
  assert.deepEqual(bnRelu, [{ path: "[0].fuse_names[0]", modules: ["bn", "relu"], first: "bn" }]);
});

test("a fusion group of unsupported module types is an error at its config path", () => {
  assert.deepEqual(issues(model(), [["relu", "act"]]), [
    '[1].fuse_names[0]: ["relu","act"]: module types (ReLU, ReLU6) cannot be fused: supported are (Conv, BatchNorm[, ReLU]), (Linear, BatchNorm[, ReLU]), (Conv, ReLU), (Linear, ReLU), (BatchNorm, ReLU)',
  ]);
});

test("a fusion group naming a missing module is an error naming it", () => {
  assert.deepEqual(issues(model(), [["conv", "bn9"]]), [
    '[1].fuse_names[0]: ["conv","bn9"]: "bn9" is not a module of the model',
  ]);
});

test("a fusion group whose first weight is not a quantization target is an error", () => {
  assert.deepEqual(issues(model(), [["conv", "bn"]], [weight("fc")]), [
    '[1].fuse_names[0]: ["conv","bn"]: the weight of "conv" must be a quantization target of the config list to fuse it',
  ]);
});

test("a BatchNorm that does not read the first module's output cannot be fused with it", () => {
  assert.deepEqual(issues(model(), [["fc", "bn"]]), [
    '[1].fuse_names[0]: ["fc","bn"]: "bn" does not take the output of "fc" as its input',
  ]);
});

test("a BatchNorm cannot be folded into a module whose output is also read elsewhere", () => {
  assert.deepEqual(issues(model(true), [["conv", "bn"]]), [
    '[1].fuse_names[0]: ["conv","bn"]: the output of "conv" is also read elsewhere, so "bn" cannot be folded into it',
  ]);
});

test("a BatchNorm with another channel count than the first module's outputs is an error", () => {
  assert.deepEqual(issues(model(), [["fc", "bn1d"]]), [
    '[1].fuse_names[0]: ["fc","bn1d"]: "bn1d" needs a running_mean of 5 channels (the outputs of "fc")',
  ]);
});

test("a module in two fusion groups is an error naming the first group", () => {
  assert.deepEqual(issues(model(), [["conv", "bn"], ["bn", "relu"]]), [
    '[1].fuse_names[1]: ["bn","relu"]: module "bn" is already fused by [1].fuse_names[0]',
  ]);
});

test("every bad fusion group is reported at once", () => {
  assert.equal(issues(model(), [["conv", "x"], ["relu", "act"]]).length, 2);
});
