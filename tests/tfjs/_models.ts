// TensorFlow.js models for tests, built here: a layers model saved by tfjs-layers' own
// `model.save`, and graph models in the format tfjs-converter writes (fused ops included), each
// as `model.json` plus shards, optionally stored in one of tfjs's weight quantizations.
import { readTfjs } from "../../src/io/tfjs/read_tfjs.ts";
import {
  encodeTfjs,
  type TfjsReplacement,
  type TfjsStorage,
} from "../../src/io/tfjs/write_tfjs.ts";
import { tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { randomArray, tf, tfl } from "../training/_tf.ts";
import type { TfjsInputSet } from "../../src/compress/tfjs_inputs.ts";
import type { TfjsRuntime } from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";

export { tf, tfl };

/** A model's files: `model.json` first, then the shards. */
export type Files = Map<string, Uint8Array>;

/** Deterministic values in [lo, hi) (a 32-bit LCG). */
export function values(n: number, seed: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s / 2 ** 32) * (hi - lo);
  }
  return out;
}

function shardsOf(data: Uint8Array, shardBytes: number): [string, Uint8Array][] {
  const n = Math.max(1, Math.ceil(data.length / shardBytes));
  return Array.from({ length: n }, (_, i) => [
    `group1-shard${i + 1}of${n}.bin`,
    data.slice(i * shardBytes, (i + 1) * shardBytes),
  ]);
}

/** The bytes of typed arrays one after the other, as a weights manifest lays them out. */
function packed(arrays: readonly ArrayBufferView[]): Uint8Array {
  const data = new Uint8Array(arrays.reduce((n, a) => n + a.byteLength, 0));
  let at = 0;
  for (const a of arrays) {
    data.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return data;
}

function files(
  json: Record<string, unknown>,
  specs: unknown[],
  data: Uint8Array,
  shardBytes: number,
): Files {
  const shards = shardsOf(data, shardBytes);
  const model = { ...json, weightsManifest: [{ paths: shards.map(([p]) => p), weights: specs }] };
  return new Map([["model.json", new TextEncoder().encode(JSON.stringify(model))], ...shards]);
}

/**
 * A small CNN (Conv2D, DepthwiseConv2D with multiplier 2, BatchNormalization, SeparableConv2D,
 * Dense) with deterministic weights, saved by `model.save` into memory and cut into shards.
 */
export async function layersModelFiles(shardBytes = 2048, width = 1): Promise<Files> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({
    inputShape: [8, 8, 3],
    filters: 8 * width,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    name: "conv1",
  }));
  model.add(tfl.layers.depthwiseConv2d({
    kernelSize: 3,
    depthMultiplier: 2,
    padding: "same",
    activation: "relu",
    name: "dw",
  }));
  model.add(tfl.layers.batchNormalization({ name: "bn" }));
  model.add(
    tfl.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: "same", name: "sep" }),
  );
  model.add(tfl.layers.flatten({ name: "flat" }));
  model.add(tfl.layers.dense({ units: 16, activation: "relu", name: "fc1" }));
  model.add(tfl.layers.dense({ units: 4, name: "fc2" }));
  const names = model.weights.map((w) => w.originalName);
  model.setWeights(
    model.getWeights().map((w, i) => {
      let v = randomArray(w.size, 17 + i);
      if (names[i].includes("moving_variance")) v = v.map((x) => Math.abs(x) + 0.5);
      else v = v.map((x) => x * 0.5);
      return tf.tensor(v, w.shape);
    }),
  );
  return await savedFiles(model, shardBytes);
}

/**
 * A small CNN whose 2-D convolutions hold their channels first (`dataFormat: "channelsFirst"`,
 * inputs `[n, 3, 8, 8]`): Conv2D with a relu, DepthwiseConv2D (multiplier 2), SeparableConv2D
 * with a relu and no bias, then Flatten and Dense; deterministic weights, saved into memory.
 * With `conv1d`, a sequence model instead: inputs `[n, 4, 10]` (channels first), a Conv1D in
 * channels first with a relu, Flatten and Dense.
 */
export async function channelsFirstModelFiles(shardBytes = 2048, conv1d = false): Promise<Files> {
  if (conv1d) return await channelsFirstConv1d(shardBytes);
  const model = tfl.sequential();
  const common = { dataFormat: "channelsFirst" as const, kernelSize: 3, padding: "same" as const };
  model.add(tfl.layers.conv2d({
    ...common,
    inputShape: [3, 8, 8],
    filters: 6,
    activation: "relu",
    name: "c1",
  }));
  model.add(tfl.layers.depthwiseConv2d({ ...common, depthMultiplier: 2, name: "d1" }));
  // (tfjs-layers 4.22 adds a channels-first SeparableConv2D's bias along the wrong axis: none.)
  model.add(tfl.layers.separableConv2d({
    ...common,
    filters: 5,
    activation: "relu",
    useBias: false,
    name: "s1",
  }));
  return await savedFiles(withHead(model, 41), shardBytes);
}

/** The model with Flatten and Dense(3) added and deterministic weights (seed `seed`). */
function withHead(model: ReturnType<typeof tfl.sequential>, seed: number) {
  model.add(tfl.layers.flatten({ name: "flat" }));
  model.add(tfl.layers.dense({ units: 3, name: "fc" }));
  model.setWeights(
    model.getWeights().map((w, i) =>
      tf.tensor(randomArray(w.size, seed + i).map((x) => x * 0.5), w.shape)
    ),
  );
  return model;
}

async function channelsFirstConv1d(shardBytes: number): Promise<Files> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv1d({
    inputShape: [4, 10],
    dataFormat: "channelsFirst",
    filters: 6,
    kernelSize: 3,
    activation: "relu",
    name: "k1",
  }));
  const f = await savedFiles(withHead(model, 61), shardBytes);
  // tfjs-layers 4.22 leaves a Conv1D's data format out of its config (Keras writes it): put
  // it back, as a converted Keras model has it.
  const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
  const layers = json.modelTopology.config.layers as { config: Record<string, unknown> }[];
  layers.find((l) => l.config.name === "k1")!.config.data_format = "channels_first";
  return new Map([...f, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
}

/** A layers model saved by tfjs-layers' `model.save` into memory, cut into shards; disposed. */
export async function savedFiles(
  model: ReturnType<typeof tfl.model>,
  shardBytes = 2048,
): Promise<Files> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((a) => {
    saved = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  model.dispose();
  return files(
    {
      format: "layers-model",
      generatedBy: "TensorFlow.js tfjs-layers v4.22.0",
      convertedBy: null,
      modelTopology: saved!.modelTopology,
    },
    saved!.weightSpecs!,
    new Uint8Array(saved!.weightData as ArrayBuffer),
    shardBytes,
  );
}

/**
 * A small sequence model of recurrent layers and wrappers: `Bidirectional(LSTM)`,
 * `TimeDistributed(Dense)`, `GRU`, an `RNN` of stacked `LSTMCell` and `SimpleRNNCell`, `SimpleRNN`
 * and a `Dense` head, on `[10, 8]` inputs;
 * deterministic weights, saved by `model.save` into memory and cut into shards.
 */
export async function recurrentModelFiles(shardBytes = 4096): Promise<Files> {
  const model = tfl.sequential();
  // An orthogonal recurrent initializer fails in this tfjs build; the weights are set below.
  const recurrentInitializer = "glorotUniform";
  model.add(tfl.layers.bidirectional({
    layer: tfl.layers.lstm({
      units: 16,
      returnSequences: true,
      recurrentInitializer,
      name: "lstm",
    }) as never,
    inputShape: [10, 8],
    name: "bi",
  }));
  model.add(tfl.layers.timeDistributed({
    layer: tfl.layers.dense({ units: 12, activation: "relu" }),
    name: "td",
  }));
  model.add(
    tfl.layers.gru({ units: 10, returnSequences: true, recurrentInitializer, name: "gru" }),
  );
  // A generic RNN over a stack of cells (each cell a module, named as its weights).
  model.add(tfl.layers.rnn({
    cell: [
      tfl.layers.lstmCell({ units: 6, recurrentInitializer }),
      tfl.layers.simpleRNNCell({ units: 5, recurrentInitializer }),
    ],
    returnSequences: true,
    name: "stack",
  }));
  model.add(tfl.layers.simpleRNN({ units: 8, recurrentInitializer, name: "srnn" }));
  model.add(tfl.layers.dense({ units: 3, activation: "softmax", name: "out" }));
  model.setWeights(
    model.getWeights().map((w, i) =>
      tf.tensor(randomArray(w.size, 7 + i).map((x) => x * 0.4), w.shape)
    ),
  );
  return await savedFiles(model, shardBytes);
}

/**
 * A small Functional CNN (`tfl.model`) with the shapes channel scales must rewire: a conv layer
 * applied twice (two inbound nodes), a residual `Add`, a depthwise conv without a bias, a
 * SeparableConv2D with a sigmoid, a conv without a bias that is a model output, a Dense head;
 * deterministic weights, saved by `model.save` into memory and cut into shards.
 */
export async function functionalModelFiles(shardBytes = 2048): Promise<Files> {
  type Sym = ReturnType<typeof tfl.input>;
  const input = tfl.input({ shape: [6, 6, 3], name: "image" });
  const stem = tfl.layers.conv2d({
    filters: 4,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    name: "stem",
  }).apply(input) as Sym;
  const shared = tfl.layers.conv2d({
    filters: 4,
    kernelSize: 1,
    activation: "elu",
    name: "shared",
  });
  const twice = shared.apply(shared.apply(stem)) as Sym;
  const sum = tfl.layers.add({ name: "sum" }).apply([stem, twice]) as Sym;
  const dw = tfl.layers.depthwiseConv2d({
    kernelSize: 3,
    depthMultiplier: 2,
    padding: "same",
    useBias: false,
    name: "dw",
  }).apply(sum) as Sym;
  const sep = tfl.layers.separableConv2d({
    filters: 5,
    kernelSize: 3,
    padding: "same",
    activation: "sigmoid",
    name: "sep",
  }).apply(dw) as Sym;
  const head = tfl.layers.conv2d({
    filters: 2,
    kernelSize: 1,
    useBias: false,
    activation: "tanh",
    name: "head",
  }).apply(sep) as Sym;
  const pooled = tfl.layers.globalAveragePooling2d({ name: "pool" }).apply(sep) as Sym;
  const fc = tfl.layers.dense({ units: 3, name: "fc" }).apply(pooled) as Sym;
  const model = tfl.model({ inputs: input, outputs: [head, fc], name: "functional" });
  model.setWeights(
    model.getWeights().map((w, i) =>
      tf.tensor(randomArray(w.size, 71 + i).map((x) => x * 0.5), w.shape)
    ),
  );
  return await savedFiles(model, shardBytes);
}

/**
 * A model of nested models, as Teachable Machine writes them: a `Sequential` of a feature
 * `Sequential` (Conv2D, pooling) and a head `Sequential` (Dense relu, Dense softmax).
 */
export async function nestedModelFiles(shardBytes = 2048): Promise<Files> {
  const features = tfl.sequential({ name: "features" });
  features.add(tfl.layers.conv2d({
    inputShape: [6, 6, 3],
    filters: 4,
    kernelSize: 3,
    activation: "relu",
    name: "c1",
  }));
  features.add(tfl.layers.globalAveragePooling2d({ name: "gap" }));
  const head = tfl.sequential({ name: "head" });
  head.add(tfl.layers.dense({ inputShape: [4], units: 5, activation: "relu", name: "d1" }));
  head.add(tfl.layers.dense({ units: 2, activation: "softmax", name: "d2" }));
  const model = tfl.sequential({ name: "outer" });
  model.add(features);
  model.add(head);
  model.setWeights(
    model.getWeights().map((w, i) => tf.tensor(randomArray(w.size, 91 + i), w.shape)),
  );
  return await savedFiles(model, shardBytes);
}

const b64 = (s: string) => btoa(s);
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const shapeAttr = (dims: number[]) => ({ shape: { dim: dims.map((d) => ({ size: String(d) })) } });
const dtypeAttr = (t: string) => ({ type: t });

function constNode(name: string, dtype: string, dims: number[]) {
  return {
    name,
    op: "Const",
    attr: {
      value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } },
      dtype: dtypeAttr(dtype),
    },
  };
}

function fusedConv(op: string, name: string, inputs: string[], ops: string[]) {
  return {
    name,
    op,
    input: inputs,
    device: "/device:CPU:0",
    attr: {
      T: dtypeAttr("DT_FLOAT"),
      num_args: { i: String(inputs.length - 2) },
      fused_ops: { list: { s: ops.map(b64) } },
      strides: ints([1, 1, 1, 1]),
      padding: { s: b64("SAME") },
      data_format: { s: b64("NHWC") },
      dilations: ints([1, 1, 1, 1]),
      epsilon: { f: 0 },
      explicit_paddings: { list: {} },
      use_cudnn_on_gpu: { b: true },
      leakyrelu_alpha: { f: 0.2 },
    },
  };
}

/**
 * A graph model in tfjs-converter's format: `_FusedConv2D` (BiasAdd + Relu), a
 * `FusedDepthwiseConv2dNative` (multiplier 2, BiasAdd + Relu6), an unfused Conv2D + BiasAdd,
 * Reshape by an int32 shape constant, `_FusedMatMul` (BiasAdd + Relu), a MatMul with
 * `transpose_b`, and an unused bool constant.
 */
export function graphModelFiles(shardBytes = 2048): Files {
  const weights: {
    name: string;
    shape: number[];
    dtype: string;
    values: Float32Array | Int32Array | Uint8Array;
  }[] = [];
  let seed = 101;
  const w = (name: string, shape: number[], scale = 0.4) => {
    const n = shape.reduce((a, b) => a * b, 1);
    weights.push({
      name,
      shape,
      dtype: "float32",
      values: randomArray(n, seed++).map((v) => v * scale),
    });
    return name;
  };
  const nodes: unknown[] = [
    {
      name: "x",
      op: "Placeholder",
      attr: { dtype: dtypeAttr("DT_FLOAT"), shape: shapeAttr([-1, 6, 6, 3]) },
    },
  ];
  const c = (name: string, shape: number[], dtype = "DT_FLOAT") =>
    nodes.push(constNode(name, dtype, shape));
  c(w("model/conv1/Conv2D/ReadVariableOp", [3, 3, 3, 4]), [3, 3, 3, 4]);
  c(w("model/conv1/BiasAdd/ReadVariableOp", [4]), [4]);
  nodes.push(
    fusedConv("_FusedConv2D", "model/conv1/Relu", [
      "x",
      "model/conv1/Conv2D/ReadVariableOp",
      "model/conv1/BiasAdd/ReadVariableOp",
    ], ["BiasAdd", "Relu"]),
  );
  c(w("model/dw/depthwise/ReadVariableOp", [3, 3, 4, 2]), [3, 3, 4, 2]);
  c(w("model/dw/BiasAdd/ReadVariableOp", [8]), [8]);
  nodes.push(
    fusedConv("FusedDepthwiseConv2dNative", "model/dw/Relu6", [
      "model/conv1/Relu",
      "model/dw/depthwise/ReadVariableOp",
      "model/dw/BiasAdd/ReadVariableOp",
    ], ["BiasAdd", "Relu6"]),
  );
  c(w("model/conv2/Conv2D/ReadVariableOp", [1, 1, 8, 5]), [1, 1, 8, 5]);
  nodes.push({
    name: "model/conv2/Conv2D",
    op: "Conv2D",
    input: ["model/dw/Relu6", "model/conv2/Conv2D/ReadVariableOp"],
    attr: {
      T: dtypeAttr("DT_FLOAT"),
      strides: ints([1, 2, 2, 1]),
      padding: { s: b64("VALID") },
      data_format: { s: b64("NHWC") },
      dilations: ints([1, 1, 1, 1]),
    },
  });
  c(w("model/conv2/BiasAdd/ReadVariableOp", [5]), [5]);
  nodes.push({
    name: "model/conv2/BiasAdd",
    op: "BiasAdd",
    input: ["model/conv2/Conv2D", "model/conv2/BiasAdd/ReadVariableOp"],
    attr: { T: dtypeAttr("DT_FLOAT"), data_format: { s: b64("NHWC") } },
  });
  weights.push({
    name: "model/flatten/Const",
    shape: [2],
    dtype: "int32",
    values: Int32Array.of(-1, 45),
  });
  c("model/flatten/Const", [2], "DT_INT32");
  nodes.push({
    name: "model/flatten/Reshape",
    op: "Reshape",
    input: ["model/conv2/BiasAdd", "model/flatten/Const"],
    attr: { T: dtypeAttr("DT_FLOAT"), Tshape: dtypeAttr("DT_INT32") },
  });
  c(w("model/fc1/MatMul/ReadVariableOp", [45, 12], 0.3), [45, 12]);
  c(w("model/fc1/BiasAdd/ReadVariableOp", [12]), [12]);
  nodes.push({
    name: "model/fc1/Relu",
    op: "_FusedMatMul",
    input: [
      "model/flatten/Reshape",
      "model/fc1/MatMul/ReadVariableOp",
      "model/fc1/BiasAdd/ReadVariableOp",
    ],
    attr: {
      T: dtypeAttr("DT_FLOAT"),
      transpose_a: { b: false },
      transpose_b: { b: false },
      num_args: { i: "1" },
      fused_ops: { list: { s: [b64("BiasAdd"), b64("Relu")] } },
      epsilon: { f: 0 },
      leakyrelu_alpha: { f: 0.2 },
    },
  });
  c(w("model/fc2/MatMul/ReadVariableOp", [3, 12], 0.5), [3, 12]);
  nodes.push({
    name: "model/fc2/MatMul",
    op: "MatMul",
    input: ["model/fc1/Relu", "model/fc2/MatMul/ReadVariableOp"],
    attr: { T: dtypeAttr("DT_FLOAT"), transpose_a: { b: false }, transpose_b: { b: true } },
  });
  weights.push({
    name: "model/unused_flag",
    shape: [3],
    dtype: "bool",
    values: Uint8Array.of(1, 0, 1),
  });
  c("model/unused_flag", [3], "DT_BOOL");
  nodes.push({
    name: "Identity",
    op: "Identity",
    input: ["model/fc2/MatMul"],
    attr: { T: dtypeAttr("DT_FLOAT") },
  });
  const data = packed(weights.map((x) => x.values));
  return files(
    {
      format: "graph-model",
      generatedBy: "2.15.0",
      convertedBy: "TensorFlow.js Converter v4.22.0",
      signature: {
        inputs: {
          x: {
            name: "x:0",
            dtype: "DT_FLOAT",
            tensorShape: { dim: [{ size: "-1" }, { size: "6" }, { size: "6" }, { size: "3" }] },
          },
        },
        outputs: {
          out: {
            name: "Identity:0",
            dtype: "DT_FLOAT",
            tensorShape: { dim: [{ size: "-1" }, { size: "3" }] },
          },
        },
      },
      modelTopology: { node: nodes, library: {}, versions: { producer: 1482 } },
    },
    weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
    data,
    shardBytes,
  );
}

/**
 * A graph model of dense layers written as `Einsum`s, as jax2tf converts Flax `Dense` layers:
 * `abcg,gf->abcf` (kernel `[in, out]`, then a 1-D bias by `AddV2` and Tanh), `fg,abcg->abcf`
 * (the kernel first, `[out, in]`), and an `Einsum` of two activations (no weight).
 */
export function einsumModelFiles(): Files {
  const weights: { name: string; shape: number[]; values: Float32Array }[] = [];
  const nodes: unknown[] = [{
    name: "x",
    op: "Placeholder",
    attr: { dtype: dtypeAttr("DT_FLOAT"), shape: shapeAttr([-1, 4, 4, 6]) },
  }];
  const w = (name: string, shape: number[], seed: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    weights.push({ name, shape, values: randomArray(n, seed).map((v) => v * 0.5) });
    nodes.push(constNode(name, "DT_FLOAT", shape));
    return name;
  };
  const einsum = (name: string, equation: string, inputs: string[]) =>
    nodes.push({
      name,
      op: "Einsum",
      input: inputs,
      attr: { T: dtypeAttr("DT_FLOAT"), N: { i: "2" }, equation: { s: b64(equation) } },
    });
  einsum("model/in_proj/einsum/Einsum", "abcg,gf->abcf", [
    "x",
    w("jax2tf_arg_0/ReadVariableOp", [6, 5], 201),
  ]);
  nodes.push({
    name: "model/in_proj/AddV2",
    op: "AddV2",
    input: ["model/in_proj/einsum/Einsum", w("jax2tf_arg_1/ReadVariableOp", [5], 202)],
    attr: { T: dtypeAttr("DT_FLOAT") },
  });
  nodes.push({
    name: "model/in_proj/Tanh",
    op: "Tanh",
    input: ["model/in_proj/AddV2"],
    attr: { T: dtypeAttr("DT_FLOAT") },
  });
  einsum("model/out_proj/einsum/Einsum", "fg,abcg->abcf", [
    w("jax2tf_arg_2/ReadVariableOp", [3, 5], 203),
    "model/in_proj/Tanh",
  ]);
  einsum("model/gate/Einsum", "abcf,abcf->abc", [
    "model/out_proj/einsum/Einsum",
    "model/out_proj/einsum/Einsum",
  ]);
  nodes.push({
    name: "Identity",
    op: "Identity",
    input: ["model/out_proj/einsum/Einsum"],
    attr: { T: dtypeAttr("DT_FLOAT") },
  });
  nodes.push({
    name: "Identity_1",
    op: "Identity",
    input: ["model/gate/Einsum"],
    attr: { T: dtypeAttr("DT_FLOAT") },
  });
  const data = packed(weights.map((x) => x.values));
  return files(
    {
      format: "graph-model",
      generatedBy: "2.12.0",
      convertedBy: "TensorFlow.js Converter v4.5.0",
      modelTopology: { node: nodes, library: {}, versions: { producer: 1395 } },
    },
    weights.map(({ name, shape }) => ({ name, shape, dtype: "float32" })),
    data,
    1 << 20,
  );
}

/** x [n, 8] and x · dense/kernel [8, 6] (`dense/MatMul`): the scores of the selection models. */
function denseScoreNodes() {
  return [
    {
      name: "x",
      op: "Placeholder",
      attr: { dtype: dtypeAttr("DT_FLOAT"), shape: shapeAttr([-1, 8]) },
    },
    constNode("dense/kernel", "DT_FLOAT", [8, 6]),
    {
      name: "dense/MatMul",
      op: "MatMul",
      input: ["x", "dense/kernel"],
      attr: { T: dtypeAttr("DT_FLOAT"), transpose_a: { b: false }, transpose_b: { b: false } },
    },
  ];
}

/**
 * A graph model with a selection op in it, as detectors with their NMS inside are: `x [-1, 8]`
 * through a MatMul `[8, 6]` gives scores (output `Identity_1`); `TopKV2` with k = 3 picks the
 * three best (output `Identity`, its values) and their positions (output `Identity_2`).
 */
export function topKModelFiles(): Files {
  const kernel = randomArray(48, 301).map((v) => v * 0.5);
  const nodes = [
    ...denseScoreNodes(),
    constNode("topk/k", "DT_INT32", []),
    {
      name: "topk",
      op: "TopKV2",
      input: ["dense/MatMul", "topk/k", "^dense/kernel"],
      attr: { T: dtypeAttr("DT_FLOAT"), sorted: { b: true } },
    },
    { name: "Identity", op: "Identity", input: ["topk"], attr: { T: dtypeAttr("DT_FLOAT") } },
    {
      name: "Identity_1",
      op: "Identity",
      input: ["dense/MatMul"],
      attr: { T: dtypeAttr("DT_FLOAT") },
    },
    { name: "Identity_2", op: "Identity", input: ["topk:1"], attr: { T: dtypeAttr("DT_INT32") } },
  ];
  return scoreModelFiles(nodes, kernel, { name: "topk/k", shape: [], dtype: "int32" }, [3]);
}

/**
 * x [n, 8] · dense/kernel [8, 6] (`Identity_2`), then the positions whose score passes 0.3
 * (`Where`: `Identity`, [m, 2]) and their scores (`GatherNd`: `Identity_1`, [m]): how many pass
 * depends on the scores, so a quantized copy may give lists of another length.
 */
export function whereModelFiles(): Files {
  const kernel = randomArray(48, 301).map((v) => v * 0.5);
  const nodes = [
    ...denseScoreNodes(),
    constNode("threshold", "DT_FLOAT", []),
    {
      name: "pass",
      op: "Greater",
      input: ["dense/MatMul", "threshold"],
      attr: { T: dtypeAttr("DT_FLOAT") },
    },
    { name: "where", op: "Where", input: ["pass"], attr: { T: dtypeAttr("DT_BOOL") } },
    {
      name: "picked",
      op: "GatherNd",
      input: ["dense/MatMul", "where"],
      attr: { Tparams: dtypeAttr("DT_FLOAT"), Tindices: dtypeAttr("DT_INT64") },
    },
    { name: "Identity", op: "Identity", input: ["where"], attr: { T: dtypeAttr("DT_INT64") } },
    { name: "Identity_1", op: "Identity", input: ["picked"], attr: { T: dtypeAttr("DT_FLOAT") } },
    {
      name: "Identity_2",
      op: "Identity",
      input: ["dense/MatMul"],
      attr: { T: dtypeAttr("DT_FLOAT") },
    },
  ];
  return scoreModelFiles(nodes, kernel, { name: "threshold", shape: [], dtype: "float32" }, [
    0.3,
  ]);
}

/** The files of a selection model: its nodes, the kernel and one more scalar weight. */
function scoreModelFiles(
  nodes: unknown[],
  kernel: Float32Array,
  scalar: { name: string; shape: number[]; dtype: "int32" | "float32" },
  value: [number],
): Files {
  return files(
    {
      format: "graph-model",
      generatedBy: "2.12.0",
      convertedBy: "TensorFlow.js Converter v4.5.0",
      modelTopology: { node: nodes, library: {}, versions: { producer: 1395 } },
    },
    [{ name: "dense/kernel", shape: [8, 6], dtype: "float32" }, scalar],
    packed([
      kernel,
      scalar.dtype === "int32" ? Int32Array.of(...value) : Float32Array.of(...value),
    ]),
    1 << 20,
  );
}

/**
 * The same model with every float32 weight stored as the tfjs converter's
 * `--quantize_uint8` / `--quantize_uint16` / `--quantize_float16` would (per-tensor affine
 * codes with a zero-nudged range, or float16).
 */
export function storedAs(input: Files, storage: TfjsStorage, shardBytes = 2048): Files {
  const model = readTfjs(input.get("model.json")!, input);
  const replacements = new Map<string, TfjsReplacement>();
  for (const w of model.weights) {
    if (w.spec.dtype !== "float32") continue;
    replacements.set(w.spec.name, { values: tfjsWeightValues(w) as Float32Array, storage });
  }
  const out = encodeTfjs(model, replacements, { shardBytes });
  return new Map([["model.json", out.modelJson], ...out.shards]);
}

/**
 * The convolution and MatMul kernels int8 per output channel (symmetric: one zero point, what
 * `channelScales` stores as codes), every other float weight uint8 per tensor.
 */
export const INT8_PER_CHANNEL = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  quant_scheme: "symmetric",
  granularity: "per_channel",
}, {
  op_types: ["ConvTranspose2d", "Module", "PReLU", "BatchNorm2d"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

/** Every float weight the module view selects (Conv2d/Linear weights and other constants), uint8. */
export const UINT8 = [{
  op_types: ["Conv2d", "Linear", "ConvTranspose2d", "Module", "PReLU", "BatchNorm2d"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

/** The convolution and MatMul kernels alone, uint8 per tensor. */
export const UINT8_KERNELS = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

/** Input sets for a model with one `[n, h, w, c]` input, skewed like images (not centred). */
export function imageSets(dims: number[], count: number, seed: number): TfjsInputSet[] {
  const n = dims.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, (_, k) => [{ data: values(n, seed + k, 0, 1), dims }]);
}

/**
 * A tfjs model's kernels quantized to uint8 (no headroom; `UINT8_KERNELS` unless another config
 * list is given), without and with bias correction on `inputs` run by `runtime`.
 */
export async function quantizedPair(
  files: ReadonlyMap<string, Uint8Array>,
  inputs: TfjsInputSet[],
  runtime: TfjsRuntime,
  configList: readonly Record<string, unknown>[] = UINT8_KERNELS,
) {
  const model = loadModel(files.get("model.json")!, "model.json", files);
  const base = { mode: "quantization", configList, headroom: 0 } as const;
  const plain = await compressModel(model, base);
  const corrected = await compressModel(model, {
    ...base,
    tfjsRuntime: runtime,
    tfjsInputs: inputs,
    biasCorrection: true,
  });
  return { model, plain, corrected };
}
