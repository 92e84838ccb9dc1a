// Bias correction of quantized tfjs graph models (`biasCorrection`, `tfjsBiasSites`,
// `tfjsInputMeans`), equalization through ReLU6 from calibration maxima and of float16 weights,
// and measured headroom on given inputs: on the test graph model and on a linear model where
// the correction is exact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  tfjsChannelStats,
  tfjsInputMeans,
  type TfjsInputSet,
  type TfjsRuntime,
  tfjsSensitivity,
} from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../../src/io/tfjs/write_tfjs.ts";
import { equalizeTfjs } from "../../src/quantization/equalize_tfjs.ts";
import {
  biasCorrectTfjs,
  tfjsBiasSites,
  withTfjsBiases,
} from "../../src/quantization/bias_correct_tfjs.ts";
import {
  graphModelFiles,
  imageSets,
  quantizedPair,
  storedAs,
  tf,
  UINT8_KERNELS,
  values,
} from "./_models.ts";

const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };
const load = (files: Map<string, Uint8Array>) =>
  loadModel(files.get("model.json")!, "model.json", files);

/** The mean of each output over the sets (as tfjs computes the outputs). */
async function outputMeans(
  files: ReadonlyMap<string, Uint8Array>,
  inputs: readonly TfjsInputSet[],
  name: string,
): Promise<Float64Array> {
  return (await tfjsInputMeans(runtime, files, inputs, [name])).get(name)!;
}

test("tfjsBiasSites: fused and following biases, MatMul transpose_b without one", () => {
  const f = graphModelFiles();
  const sites = tfjsBiasSites(readTfjs(f.get("model.json")!, f));
  assert.deepEqual(
    sites.map((s) => [s.node, s.kind, s.input, s.channels, s.bias ?? null, s.into ?? null]),
    [
      [
        "model/conv1/Relu",
        "conv",
        "x",
        4,
        "model/conv1/BiasAdd/ReadVariableOp",
        null,
      ],
      [
        "model/dw/Relu6",
        "depthwise",
        "model/conv1/Relu",
        8,
        "model/dw/BiasAdd/ReadVariableOp",
        null,
      ],
      [
        "model/conv2/Conv2D",
        "conv",
        "model/dw/Relu6",
        5,
        "model/conv2/BiasAdd/ReadVariableOp",
        null,
      ],
      [
        "model/fc1/Relu",
        "matmul",
        "model/flatten/Reshape",
        12,
        "model/fc1/BiasAdd/ReadVariableOp",
        null,
      ],
      ["model/fc2/MatMul", "matmul", "model/fc1/Relu", 3, null, null],
    ],
  );
  assert.equal(sites[4].transposeB, true);
});

test("tfjsInputMeans: per-channel means of a model input and of an inner tensor", async () => {
  const f = graphModelFiles();
  const inputs = imageSets([2, 6, 6, 3], 2, 5);
  const means = await tfjsInputMeans(runtime, f, inputs, ["x", "model/conv1/Relu"], 1);
  // The input's: by hand.
  const want = new Float64Array(3);
  for (const [x] of inputs) {
    for (let i = 0; i < x.data.length; i++) want[i % 3] += x.data[i] / (2 * 2 * 36);
  }
  const x = means.get("x")!;
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(x[c] - want[c]) < 1e-5, `${x[c]} ${want[c]}`);
  assert.equal(means.get("model/conv1/Relu")!.length, 4);
  await assert.rejects(tfjsInputMeans(runtime, f, [], ["x"]), /"inputs" must hold at least one/);
});

const b64 = (s: string) => btoa(s);
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const dimsOf = (dims: number[]) => ({ dim: dims.map((d) => ({ size: String(d) })) });

/** A `Const` node of a weight. */
const constNode = (name: string, dims: number[], dtype = "DT_FLOAT") => ({
  name,
  op: "Const",
  attr: { value: { tensor: { dtype, tensorShape: dimsOf(dims) } }, dtype: { type: dtype } },
});

/** The attributes of a 1x1 VALID convolution, as the converter writes them. */
const CONV = {
  strides: ints([1, 1, 1, 1]),
  padding: { s: b64("VALID") },
  data_format: { s: b64("NHWC") },
  dilations: ints([1, 1, 1, 1]),
  T: { type: "DT_FLOAT" },
};

/** The float input `x`. */
const placeholder = (dims: number[]) => ({
  name: "x",
  op: "Placeholder",
  attr: { dtype: { type: "DT_FLOAT" }, shape: { shape: dimsOf(dims) } },
});

/** A graph model's files: `model.json` with one shard `w.bin`. */
function graphFiles(
  nodes: unknown[],
  weights: { name: string; shape: number[]; dtype: string }[],
  bytes: Uint8Array,
): Map<string, Uint8Array> {
  const json = {
    format: "graph-model",
    modelTopology: { node: nodes, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: ["w.bin"], weights }],
  };
  return new Map([["model.json", new TextEncoder().encode(JSON.stringify(json))], [
    "w.bin",
    bytes,
  ]]);
}

// x [n, 4, 4, 3] -> depthwise 1x1 (no bias) -> 1x1 conv 3 -> 2 with BiasAdd -> Identity: linear,
// so once the depthwise's shift is carried into the conv's bias, the output's mean on the
// calibration inputs is exactly the float model's.
function linearModel(): Map<string, Uint8Array> {
  const k = constNode;
  const conv = CONV;
  const nodes = [
    placeholder([-1, 4, 4, 3]),
    k("dwk", [1, 1, 3, 1]),
    k("pwk", [1, 1, 3, 2]),
    k("pwb", [2]),
    { name: "dw", op: "DepthwiseConv2dNative", input: ["x", "dwk"], attr: conv },
    {
      name: "pw",
      op: "_FusedConv2D",
      input: ["dw", "pwk", "pwb"],
      attr: {
        ...conv,
        num_args: { i: "1" },
        fused_ops: { list: { s: [b64("BiasAdd")] } },
        epsilon: { f: 0 },
      },
    },
    { name: "Identity", op: "Identity", input: ["pw"], attr: { T: { type: "DT_FLOAT" } } },
  ];
  // Channel ranges far apart, so that one uint8 grid per tensor rounds the small ones coarsely.
  const data = Float32Array.of(
    3.1,
    0.0123,
    -0.517,
    0.71,
    -1.33,
    0.0291,
    2.2,
    0.4,
    -0.05,
    0.25,
    -0.1,
  );
  return graphFiles(nodes, [
    { name: "dwk", shape: [1, 1, 3, 1], dtype: "float32" },
    { name: "pwk", shape: [1, 1, 3, 2], dtype: "float32" },
    { name: "pwb", shape: [2], dtype: "float32" },
  ], new Uint8Array(data.buffer));
}

test("bias correction: a linear model's output mean on the calibration inputs is the float model's", async () => {
  const files = linearModel();
  const inputs = imageSets([2, 4, 4, 3], 3, 11);
  const { model, plain, corrected } = await quantizedPair(files, inputs, runtime);
  const sites = tfjsBiasSites(model.format === "tfjs" ? model.tfjs : assert.fail());
  assert.deepEqual(sites.map((s) => [s.node, s.bias ?? null, s.into ?? null]), [
    ["dw", null, "pw"],
    ["pw", "pwb", null],
  ]);
  assert.match(
    corrected.report.warnings.join("\n"),
    /bias correction: the expected output shift of 2 layer\(s\) taken out of their biases \(means of 2 layer input\(s\) on 3 input set\(s\)\)/,
  );
  const want = await outputMeans(files, inputs, "Identity");
  const before = await outputMeans(plain.files!, inputs, "Identity");
  const after = await outputMeans(corrected.files!, inputs, "Identity");
  const gap = (m: Float64Array) => Math.max(...m.map((v, i) => Math.abs(v - want[i])));
  assert.ok(gap(before) > 1e-3, `the uint8 model's mean moved by ${gap(before)}`);
  assert.ok(gap(after) < 1e-5, `corrected: ${gap(after)} (before ${gap(before)})`);
  // Only the bias changed beyond quantization: same kernels, same bytes.
  const shard = (f: ReadonlyMap<string, Uint8Array>) => [...f].find(([k]) => k !== "model.json")!;
  assert.equal(shard(corrected.files!)[1].length, shard(plain.files!)[1].length);
});

test("bias correction on the test graph model: the outputs' mean error shrinks; a layer without a bias gets one", async () => {
  const files = graphModelFiles();
  const score = imageSets([4, 6, 6, 3], 2, 51);
  const { plain, corrected } = await quantizedPair(files, imageSets([4, 6, 6, 3], 2, 21), runtime);
  const warning = corrected.report.warnings.find((w) => w.startsWith("bias correction"))!;
  assert.match(warning, /shift of 5 layer\(s\)/);
  assert.match(
    warning,
    /1 of them had no bias and were given one \(fused BiasAdd\): model\/fc2\/MatMul/,
  );
  assert.doesNotMatch(warning, /have no bias to take it/);
  // On other inputs of the same kind: the mean of the output moves less.
  const want = await outputMeans(files, score, "Identity");
  const gap = async (f: ReadonlyMap<string, Uint8Array>) => {
    const m = await outputMeans(f, score, "Identity");
    return m.reduce((s, v, i) => s + Math.abs(v - want[i]), 0);
  };
  const before = await gap(plain.files!);
  const after = await gap(corrected.files!);
  assert.ok(after < before, `mean error ${after} after, ${before} before`);
  const cos = async (f: ReadonlyMap<string, Uint8Array>) =>
    Math.min(
      ...(await compareTfjsOutputs(runtime, f, files, { inputs: score })).map((c) => c.cosine),
    );
  assert.ok(await cos(corrected.files!) > 0.99);
});

test("bias correction needs tfjs inputs and a runtime, and a tfjs model in quantization", async () => {
  const model = load(graphModelFiles());
  await assert.rejects(
    compressModel(model, { mode: "quantization", configList: UINT8_KERNELS, biasCorrection: true }),
    /"biasCorrection" needs "tfjsRuntime" and "tfjsInputs" \(calibration inputs\): tfjsRuntime is missing/,
  );
  await assert.rejects(
    compressModel(model, { mode: "pruning", configList: UINT8_KERNELS, biasCorrection: true }),
    /"biasCorrection" corrects the biases of quantized TensorFlow\.js models: the model is tfjs, the mode pruning/,
  );
});

test("measured headroom on given inputs: the measure runs on them", async () => {
  const files = graphModelFiles();
  const inputs = imageSets([3, 6, 6, 3], 2, 77);
  const s = await tfjsSensitivity(runtime, files, { inputs });
  try {
    assert.equal(await s.measure(files), 1);
    const q = await compressModel(load(files), {
      mode: "quantization",
      configList: UINT8_KERNELS,
      headroom: 0,
    });
    const m = await s.measure(q.files!);
    const c = await compareTfjsOutputs(runtime, q.files!, files, { inputs });
    // The same inputs and the same pooling over sets: the same figure.
    assert.ok(Math.abs(m - Math.min(...c.map((o) => o.cosine))) < 1e-9, `${m}`);
  } finally {
    s.dispose();
  }
  await assert.rejects(tfjsSensitivity(runtime, files, { inputs: [] }), /at least one input set/);
});

test("equalize through ReLU6: with calibration maxima below 6 the pair is rescaled and the function kept; a channel that reaches 6 keeps its scale", async () => {
  const files = graphModelFiles();
  const source = readTfjs(files.get("model.json")!, files);
  const inputs = imageSets([4, 6, 6, 3], 2, 31);
  const stats = await tfjsChannelStats(runtime, files, inputs, ["model/dw/Relu6"]);
  const max = stats.get("model/dw/Relu6")!.max;
  assert.ok(max.every((m) => m < 3), `${max}`);
  const pairsOf = (r: ReturnType<typeof equalizeTfjs>) => r.pairs.map((p) => p.join(" -> "));
  assert.deepEqual(pairsOf(equalizeTfjs(source)), ["model/conv1/Relu -> model/dw/Relu6"]);
  const eq = equalizeTfjs(source, { activationMax: new Map([["model/dw/Relu6", max]]) });
  assert.deepEqual(pairsOf(eq), [
    "model/conv1/Relu -> model/dw/Relu6",
    "model/dw/Relu6 -> model/conv2/Conv2D",
  ]);
  assert.deepEqual(eq.relu6, { pairs: 1, clipped: 0, channels: 8 });
  const written = encodeTfjs(eq.model, new Map());
  const eqFiles = new Map([["model.json", written.modelJson], ...written.shards]);
  // The function is kept on the calibration inputs (every ReLU6 value stays below 6).
  const same = await compareTfjsOutputs(runtime, eqFiles, files, { inputs });
  assert.ok(same.every((o) => o.relativeError < 1e-5), JSON.stringify(same));
  // And the scales moved: the depthwise kernel changed.
  const dwOf = (m: typeof source) =>
    tfjsWeightValues(m.weights.find((w) => w.spec.name === "model/dw/depthwise/ReadVariableOp")!);
  const before = dwOf(source);
  const after = dwOf(eq.model);
  assert.ok(before.some((v, i) => Math.abs(v - after[i]) > 1e-4));
  // Channel 3 reached 3, half the clip (the default margin 2): it keeps scale 1, so conv2's
  // input channel 3 (conv2 is rescaled by
  // this pair only; [1, 1, 8, 5]: input channel = floor(index / 5)) is unchanged, others moved.
  const clipped = Float64Array.from(max);
  clipped[3] = 3;
  const held = equalizeTfjs(source, { activationMax: new Map([["model/dw/Relu6", clipped]]) });
  assert.deepEqual(held.relu6, { pairs: 1, clipped: 1, channels: 8 });
  // Margin 1: only channels at 6 are held.
  assert.deepEqual(
    equalizeTfjs(source, { activationMax: new Map([["model/dw/Relu6", clipped]]), margin: 1 })
      .relu6,
    { pairs: 1, clipped: 0, channels: 8 },
  );
  assert.throws(
    () => equalizeTfjs(source, { activationMax: new Map(), margin: 0.5 }),
    /"margin" must be at least 1: current value is 0\.5/,
  );
  const conv2Of = (m: typeof source) =>
    tfjsWeightValues(m.weights.find((w) => w.spec.name === "model/conv2/Conv2D/ReadVariableOp")!);
  const c0 = conv2Of(source);
  const c1 = conv2Of(held.model);
  for (let i = 0; i < c0.length; i++) {
    const moved = Math.abs(c1[i] - c0[i]) > 1e-6 * Math.abs(c0[i]);
    if (Math.floor(i / 5) === 3) assert.equal(c1[i], c0[i], `${i}`);
    else if (i % 5 === 0) assert.ok(moved || c0[i] === 0, `${i}: ${c0[i]} -> ${c1[i]}`);
  }
});

test("equalize float16 weights: rescaled and stored as float16 again", () => {
  const files = storedAs(graphModelFiles(), "float16");
  const source = readTfjs(files.get("model.json")!, files);
  assert.deepEqual(equalizeTfjs(source).pairs, []);
  const eq = equalizeTfjs(source, { float16: true });
  assert.deepEqual(eq.pairs.map((p) => p[0]), ["model/conv1/Relu"]);
  assert.ok(
    eq.model.weights.filter((w) => w.spec.dtype === "float32")
      .every((w) => w.spec.quantization?.dtype === "float16"),
  );
});

test("compressModel: equalize with tfjs inputs goes through ReLU6 and says how many channels clip", async () => {
  const files = graphModelFiles();
  const q = await compressModel(load(files), {
    mode: "quantization",
    configList: UINT8_KERNELS,
    equalize: true,
    tfjsRuntime: runtime,
    tfjsInputs: imageSets([4, 6, 6, 3], 2, 41),
    measureHeadroom: false,
  });
  assert.match(
    q.report.warnings.join("\n"),
    /equalize: 2 pair\(s\) of convolutions rescaled per channel before quantization \(cross-layer equalization; the float function is unchanged; 1 pair\(s\) through a ReLU6, 0 of their 8 channels reach 3, half the clip, on the calibration inputs/,
  );
  assert.doesNotMatch(q.report.warnings.join("\n"), /measured output cosine/);
});

/** A graph node of the models built here. */
interface Node {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

const nodesOf = (files: ReadonlyMap<string, Uint8Array>): Node[] =>
  JSON.parse(new TextDecoder().decode(files.get("model.json")!)).modelTopology.node;

// x [n, 4, 4, 2] -> 1x1 Conv2D 2 -> 2 and 1x1 DepthwiseConv2dNative (no biases) -> AddN ->
// Reshape [n, 32] -> MatMul 32 -> 3 (no bias) -> Identity: linear, with no layer whose shift can
// go into a bias of its own or of the layer it feeds (as in handlandmark-lite, whose bias-less
// convolutions feed AddN).
function addNModel(): Map<string, Uint8Array> {
  const k = constNode;
  const conv = { ...CONV, explicit_paddings: { list: {} } };
  const nodes: Node[] = [
    placeholder([-1, 4, 4, 2]),
    k("ka", [1, 1, 2, 2]),
    k("kd", [1, 1, 2, 1]),
    k("km", [32, 3]),
    k("shape", [2], "DT_INT32"),
    {
      name: "ca",
      op: "Conv2D",
      input: ["x", "ka"],
      attr: { ...conv, use_cudnn_on_gpu: { b: true } },
    },
    { name: "cd", op: "DepthwiseConv2dNative", input: ["x", "kd"], attr: conv },
    {
      name: "sum",
      op: "AddN",
      input: ["ca", "cd"],
      attr: { N: { i: "2" }, T: { type: "DT_FLOAT" } },
    },
    {
      name: "flat",
      op: "Reshape",
      input: ["sum", "shape"],
      attr: { T: { type: "DT_FLOAT" }, Tshape: { type: "DT_INT32" } },
    },
    {
      name: "fc",
      op: "MatMul",
      input: ["flat", "km"],
      attr: { T: { type: "DT_FLOAT" }, transpose_a: { b: false }, transpose_b: { b: false } },
    },
    { name: "Identity", op: "Identity", input: ["fc"], attr: { T: { type: "DT_FLOAT" } } },
  ];
  // Ranges far apart within each kernel, so that one uint8 grid per tensor rounds coarsely.
  const ka = Float32Array.of(3.1, 0.0123, -0.517, 0.071);
  const kd = Float32Array.of(2.3, 0.0371);
  const km = values(96, 9, -0.3, 0.3);
  km[5] = 2.9;
  const bytes = new Uint8Array(4 * (4 + 2 + 96 + 2));
  const f = new Float32Array(bytes.buffer, 0, 102);
  f.set(ka, 0);
  f.set(kd, 4);
  f.set(km, 6);
  new Int32Array(bytes.buffer, 102 * 4, 2).set([-1, 32]);
  return graphFiles(nodes, [
    { name: "ka", shape: [1, 1, 2, 2], dtype: "float32" },
    { name: "kd", shape: [1, 1, 2, 1], dtype: "float32" },
    { name: "km", shape: [32, 3], dtype: "float32" },
    { name: "shape", shape: [2], dtype: "int32" },
  ], bytes);
}

test("bias correction gives layers without a bias one: Conv2D, DepthwiseConv2dNative and MatMul feeding AddN / the output", async () => {
  const files = addNModel();
  const calibrate = imageSets([2, 4, 4, 2], 3, 61);
  const score = imageSets([2, 4, 4, 2], 2, 91);
  const { model, plain, corrected } = await quantizedPair(files, calibrate, runtime);
  const sites = tfjsBiasSites(model.format === "tfjs" ? model.tfjs : assert.fail());
  assert.deepEqual(sites.map((s) => [s.node, s.kind, s.bias ?? null, s.into ?? null]), [
    ["ca", "conv", null, null],
    ["cd", "depthwise", null, null],
    ["fc", "matmul", null, null],
  ]);
  const warning = corrected.report.warnings.find((w) => w.startsWith("bias correction"))!;
  assert.match(
    warning,
    /shift of 3 layer\(s\) taken out of their biases .*; 3 of them had no bias and were given one \(fused BiasAdd\): ca, cd, fc$/,
  );
  // The written graph: fused ops as tfjs-converter reads them, a Const and a float32 weight each.
  const out = corrected.files!;
  const nodes = new Map(nodesOf(out).map((n) => [n.name, n]));
  const want = [
    ["ca", "_FusedConv2D", true],
    ["cd", "FusedDepthwiseConv2dNative", false],
    ["fc", "_FusedMatMul", true],
  ] as const;
  for (const [name, op, epsilon] of want) {
    const n = nodes.get(name)!;
    assert.equal(n.op, op);
    assert.deepEqual(n.input!.slice(2), [`${name}/bias`]);
    assert.deepEqual(n.attr!.fused_ops, { list: { s: ["Qmlhc0FkZA=="] } });
    assert.deepEqual(n.attr!.num_args, { i: "1" });
    assert.deepEqual(n.attr!.epsilon, epsilon ? { f: 0 } : undefined);
    assert.deepEqual(n.attr!.T, { type: "DT_FLOAT" });
    assert.equal(nodes.get(`${name}/bias`)!.op, "Const");
  }
  assert.deepEqual(nodes.get("fc")!.attr!.transpose_b, { b: false });
  const written = readTfjs(out.get("model.json")!, out);
  const spec = (name: string) => written.weights.find((w) => w.spec.name === name)!.spec;
  assert.deepEqual(spec("ca/bias"), { name: "ca/bias", shape: [2], dtype: "float32" });
  assert.deepEqual(spec("cd/bias").shape, [2]);
  assert.deepEqual(spec("fc/bias").shape, [3]);
  // Round trip: read and written again, the same files.
  const again = encodeTfjs(written, new Map());
  assert.deepEqual(again.modelJson, out.get("model.json"));
  assert.deepEqual(
    [...again.shards.values()],
    [...out].filter(([k]) => k !== "model.json").map(([, b]) => b),
  );
  // tfjs runs it (loadGraphModel): the output's mean on the calibration inputs moves far less,
  // and the outputs are closer on other inputs.
  const target = await outputMeans(files, calibrate, "Identity");
  const gap = (m: Float64Array) => Math.max(...m.map((v, i) => Math.abs(v - target[i])));
  const before = gap(await outputMeans(plain.files!, calibrate, "Identity"));
  const after = gap(await outputMeans(out, calibrate, "Identity"));
  // The convolutions' sum keeps its channel means exactly; the MatMul reads positions, whose
  // means the per-channel biases do not each restore: closer, not exact.
  const sum = await outputMeans(files, calibrate, "sum");
  const sumAfter = await outputMeans(out, calibrate, "sum");
  assert.ok(sumAfter.every((v, i) => Math.abs(v - sum[i]) < 1e-5), `${sumAfter} ${sum}`);
  assert.ok(before > 1e-3, `the uint8 model's mean moved by ${before}`);
  assert.ok(after < before / 5, `corrected: ${after} (before ${before})`);
  const error = async (f: ReadonlyMap<string, Uint8Array>) =>
    (await compareTfjsOutputs(runtime, f, files, { inputs: score }))[0].relativeError;
  const [e0, e1] = [await error(plain.files!), await error(out)];
  assert.ok(e1 < e0, `relative error ${e1} corrected, ${e0} without`);
});

test("withTfjsBiases: unique names, control inputs kept last, only unfused layers; zero shifts add nothing", () => {
  const files = addNModel();
  const model = readTfjs(files.get("model.json")!, files);
  const json = structuredClone(model.json) as { modelTopology: { node: Node[] } };
  json.modelTopology.node.push({ name: "ca/bias", op: "NoOp" });
  json.modelTopology.node.find((n) => n.name === "fc")!.input!.push("^ca/bias");
  const taken = { ...model, json };
  const out = withTfjsBiases(
    taken,
    new Map([["fc", Float32Array.of(1, 2, 3)], ["ca", new Float32Array(2)]]),
  );
  assert.deepEqual([...out.weights], [["ca", "ca/bias_1"], ["fc", "fc/bias"]]);
  const fc = (out.model.json.modelTopology as { node: Node[] }).node.find((n) => n.name === "fc")!;
  assert.deepEqual(fc.input, ["flat", "km", "fc/bias", "^ca/bias"]);
  assert.deepEqual([...tfjsWeightValues(out.model.weights.at(-1)!)], [1, 2, 3]);
  // The source is unchanged.
  assert.equal(model.weights.length, 4);
  assert.throws(
    () => withTfjsBiases(model, new Map([["sum", Float32Array.of(1)]])),
    /node "sum" takes no new bias: only unfused Conv2D, DepthwiseConv2dNative and MatMul nodes do, it is AddN/,
  );
  assert.throws(
    () => withTfjsBiases(model, new Map([["nope", Float32Array.of(1)]])),
    /no node "nope"/,
  );
  // An unchanged mean (zero input) gives no bias; a node with an activation fused in but no
  // BiasAdd is left and named.
  const site = {
    node: "c",
    kind: "conv" as const,
    kernel: "k",
    transposeB: false,
    input: "x",
    channels: 1,
  };
  const kernels = new Map([["k", { shape: [1, 1, 2, 1], values: Float32Array.of(1, 2) }]]);
  const q = new Map([["k", Float32Array.of(1.25, 2)]]);
  const zero = biasCorrectTfjs(
    [site],
    kernels,
    q,
    new Map([["x", Float64Array.of(0, 0)]]),
    new Map(),
  );
  assert.deepEqual([zero.added.size, zero.corrected, zero.skipped], [0, [], []]);
  const relu = biasCorrectTfjs(
    [{ ...site, fused: ["Relu"] }],
    kernels,
    q,
    new Map([["x", Float64Array.of(4, 1)]]),
    new Map(),
  );
  assert.deepEqual([relu.added.size, relu.corrected, relu.skipped], [0, [], ["c"]]);
});

test("bias correction in a float16 model stores the new biases as float16", async () => {
  const files = storedAs(addNModel(), "float16");
  const calibrate = imageSets([2, 4, 4, 2], 3, 61);
  const { plain, corrected } = await quantizedPair(files, calibrate, runtime);
  const out = corrected.files!;
  const written = readTfjs(out.get("model.json")!, out);
  for (const name of ["ca/bias", "cd/bias", "fc/bias"]) {
    const spec = written.weights.find((w) => w.spec.name === name)!.spec;
    assert.equal(spec.quantization?.dtype, "float16", name);
  }
  // tfjs runs it: the output's mean on the calibration inputs moves less than without.
  const target = await outputMeans(files, calibrate, "Identity");
  const gap = (m: Float64Array) => Math.max(...m.map((v, i) => Math.abs(v - target[i])));
  const before = gap(await outputMeans(plain.files!, calibrate, "Identity"));
  const after = gap(await outputMeans(out, calibrate, "Identity"));
  assert.ok(after < before / 2, `corrected: ${after} (before ${before})`);
});

test("control inputs read nothing: a NoOp waiting for every weight keeps the bias sites and equalization pairs", () => {
  // The converter's `Func/.../output_control_node` NoOp (handskeleton of human-models): with it
  // counted as a reader, half of that model's layers were no bias site.
  const files = graphModelFiles();
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  const plain = readTfjs(files.get("model.json")!, files);
  json.modelTopology.node.push({
    name: "output_control_node",
    op: "NoOp",
    input: plain.weights.map((w) => `^${w.spec.name}`),
  });
  const waited = readTfjs(JSON.stringify(json), files);
  const summary = (m: typeof plain) =>
    tfjsBiasSites(m).map((s) => [s.node, s.kernel, s.bias, s.into]);
  assert.equal(tfjsBiasSites(plain).length, 5);
  assert.deepEqual(summary(waited), summary(plain));
  assert.deepEqual(equalizeTfjs(waited).pairs, equalizeTfjs(plain).pairs);
});
