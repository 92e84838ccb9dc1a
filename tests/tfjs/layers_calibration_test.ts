// Bias correction and GPTQ rounding of tfjs layers models: the layers they work on
// (`tfjsBiasSites`), each layer's input read from tfjs-layers runs (Sequential, Functional,
// nested models), the correction taken into biases, into a BatchNormalization's moving mean and
// into new biases, and GPTQ's codes; every result loaded and run by tfjs-layers.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compareTfjsOutputs,
  tfjsInputMeans,
  type TfjsInputSet,
  tfjsMemoryHandler,
  type TfjsRuntime,
} from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { tfjsBiasSites, withTfjsBiases } from "../../src/quantization/bias_correct_tfjs.ts";
import { tfjsConvGeometry } from "../../src/quantization/gptq_tfjs.ts";
import {
  functionalModelFiles,
  imageSets,
  layersModelFiles,
  nestedModelFiles,
  quantizedPair,
  savedFiles,
  tf,
  tfl,
  UINT8_KERNELS,
  values,
} from "./_models.ts";

const runtime: TfjsRuntime = { tf, loadLayersModel: (h) => tfl.loadLayersModel(h) };
const decoded = (f: ReadonlyMap<string, Uint8Array>) => readTfjs(f.get("model.json")!, f);
const json = (f: ReadonlyMap<string, Uint8Array>) =>
  JSON.parse(new TextDecoder().decode(f.get("model.json")!));

test("tfjsBiasSites on layers models: Conv2D, DepthwiseConv2D, SeparableConv2D and Dense, nested models too; a layer called twice is one site", async () => {
  const row = (m: ReturnType<typeof decoded>) =>
    tfjsBiasSites(m).map((s) => [s.node, s.kind, s.kernel, s.input, s.channels, s.bias ?? null]);
  assert.deepEqual(row(decoded(await layersModelFiles())), [
    ["conv1", "conv", "conv1/kernel", "conv1", 8, "conv1/bias"],
    ["dw", "depthwise", "dw/depthwise_kernel", "dw", 16, "dw/bias"],
    // A SeparableConv2D: the pointwise kernel reads the layer's input through the depthwise
    // one, whose shift goes into the layer's bias through the pointwise kernel.
    ["sep", "conv", "sep/pointwise_kernel", "sep", 6, "sep/bias"],
    ["sep/depthwise", "depthwise", "sep/depthwise_kernel", "sep", 16, null],
    ["fc1", "matmul", "fc1/kernel", "fc1", 16, "fc1/bias"],
    ["fc2", "matmul", "fc2/kernel", "fc2", 4, "fc2/bias"],
  ]);
  // `shared` is applied twice; `dw` and `head` have no bias and no BatchNormalization after.
  assert.deepEqual(row(decoded(await functionalModelFiles())), [
    ["stem", "conv", "stem/kernel", "stem", 4, "stem/bias"],
    ["shared", "conv", "shared/kernel", "shared", 4, "shared/bias"],
    ["dw", "depthwise", "dw/depthwise_kernel", "dw", 8, null],
    ["sep", "conv", "sep/pointwise_kernel", "sep", 5, "sep/bias"],
    ["sep/depthwise", "depthwise", "sep/depthwise_kernel", "sep", 8, null],
    ["head", "conv", "head/kernel", "head", 2, null],
    ["fc", "matmul", "fc/kernel", "fc", 3, "fc/bias"],
  ]);
  assert.deepEqual(row(decoded(await nestedModelFiles())).map((r) => r[0]), ["c1", "d1", "d2"]);
  const model = decoded(await layersModelFiles());
  const [conv1] = tfjsBiasSites(model);
  assert.deepEqual(tfjsConvGeometry(model, conv1), {
    strides: [1, 1],
    dilations: [1, 1],
    padding: "SAME",
  });
  assert.equal(tfjsConvGeometry(model, { node: "fc1", kind: "matmul" }), undefined);
  const sep = tfjsBiasSites(model).filter((s) => s.node.startsWith("sep"));
  assert.deepEqual(sep.map((s) => [s.through ?? null, s.into ?? null]), [
    ["sep/depthwise_kernel", null],
    [null, "sep"],
  ]);
  // The depthwise kernel runs on the layer's input with its geometry; the pointwise one is 1 x 1
  // on the depthwise output.
  assert.deepEqual(tfjsConvGeometry(model, sep[1]), conv1Geometry);
  assert.equal(tfjsConvGeometry(model, sep[0]), undefined);
});

const conv1Geometry = { strides: [1, 1], dilations: [1, 1], padding: "SAME" };

/**
 * Each named layer's input as tfjs-layers computes it when its layers are applied one by one
 * (Sequential models, nested ones included): the per-channel means.
 */
async function appliedMeans(
  files: ReadonlyMap<string, Uint8Array>,
  input: TfjsInputSet,
): Promise<Map<string, Float64Array>> {
  const model = await tfl.loadLayersModel(tfjsMemoryHandler(tf, files) as never);
  const out = new Map<string, Float64Array>();
  const walk = (m: { layers: unknown[] }, x: tf.Tensor): tf.Tensor => {
    for (const l of m.layers as { name: string; apply(x: tf.Tensor): tf.Tensor }[]) {
      const c = x.shape.at(-1)!;
      const mean = tf.mean(tf.reshape(x, [-1, c]), 0).dataSync();
      out.set(l.name, Float64Array.from(mean));
      x = "layers" in l ? walk(l as unknown as { layers: unknown[] }, x) : l.apply(x);
    }
    return x;
  };
  tf.tidy(() => {
    walk(model, tf.tensor(input[0].data as Float32Array, [...input[0].dims]));
  });
  model.dispose();
  return out;
}

test("tfjsInputMeans on layers models: each layer's input as tfjs-layers computes it, in nested models too", async () => {
  for (
    const [files, dims] of [
      [await layersModelFiles(), [3, 8, 8, 3]],
      [await nestedModelFiles(), [3, 6, 6, 3]],
    ] as const
  ) {
    const input = imageSets([...dims], 1, 5);
    const names = [...new Set(tfjsBiasSites(decoded(files)).map((s) => s.input))];
    const means = await tfjsInputMeans(runtime, files, input, names);
    const want = await appliedMeans(files, input[0]);
    assert.deepEqual([...means.keys()].sort(), [...names].sort());
    for (const name of names) {
      const a = means.get(name)!;
      const b = want.get(name)!;
      assert.equal(a.length, b.length, name);
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${name}[${i}]: ${v} vs ${b[i]}`));
    }
  }
  // A Functional model: through the public `getInputAt(k)` of each layer, over every call k
  // (`shared` is called twice: its mean is over both inputs, which have the same size).
  const files = await functionalModelFiles();
  const input = imageSets([2, 6, 6, 3], 1, 9);
  const names = [...new Set(tfjsBiasSites(decoded(files)).map((s) => s.input))];
  assert.ok(names.includes("shared"));
  const means = await tfjsInputMeans(runtime, files, input, names);
  const model = await tfl.loadLayersModel(tfjsMemoryHandler(tf, files) as never);
  const x = tf.tensor(input[0][0].data as Float32Array, [...input[0][0].dims]);
  for (const name of names) {
    const layer = model.getLayer(name);
    const calls = layer.inboundNodes.length;
    assert.equal(calls, name === "shared" ? 2 : 1, name);
    const want = new Float64Array(means.get(name)!.length);
    for (let k = 0; k < calls; k++) {
      const sub = tfl.model({
        inputs: model.inputs,
        outputs: layer.getInputAt(k) as ReturnType<typeof tfl.input>,
      });
      const y = sub.predict(x) as tf.Tensor;
      tf.mean(tf.reshape(y, [-1, y.shape.at(-1)!]), 0).dataSync()
        .forEach((v, i) => want[i] += v / calls);
      y.dispose();
    }
    means.get(name)!.forEach((v, i) =>
      assert.ok(Math.abs(v - want[i]) < 1e-5, `${name}[${i}]: ${v} vs ${want[i]}`)
    );
  }
  x.dispose();
  model.dispose();
});

/**
 * input [4, 4, 3] -> `c1` 1x1 conv 3 -> 4 with a bias -> `c2` 1x1 conv 4 -> 5 without one ->
 * `bn` BatchNormalization -> global average pooling -> `fc` Dense 2: linear, and every layer
 * after a convolution sees its channel means (a flatten would give the Dense one mean per
 * position, which a shift per channel does not cancel), so with each layer's shift taken out
 * (c2's through the batch norm's moving mean) the output's mean on the calibration inputs is
 * the float model's. Channel ranges far apart, so that one uint8 grid rounds coarsely.
 */
async function linearLayersModel(): Promise<Map<string, Uint8Array>> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [4, 4, 3], filters: 4, kernelSize: 1, name: "c1" }));
  model.add(tfl.layers.conv2d({ filters: 5, kernelSize: 1, useBias: false, name: "c2" }));
  model.add(tfl.layers.batchNormalization({ name: "bn" }));
  model.add(tfl.layers.globalAveragePooling2d({ name: "pool" }));
  model.add(tfl.layers.dense({ units: 2, name: "fc" }));
  const names = model.weights.map((w) => w.originalName);
  model.setWeights(
    model.getWeights().map((w, i) => {
      const v = values(w.size, 31 + i, -1, 1);
      // Output channels spanning 1 to 1/300: the small ones round to few codes.
      if (w.shape.length === 4) {
        const out = w.shape[3];
        v.forEach((x, j) => v[j] = x / (1 + 299 * ((j % out) / (out - 1)) ** 2));
      }
      if (names[i].includes("moving_variance")) v.forEach((x, j) => v[j] = Math.abs(x) + 0.5);
      return tf.tensor(v, w.shape);
    }),
  );
  return await savedFiles(model);
}

/**
 * The output's mean (2 values) over `inputs`, as tfjs-layers runs each model: the uint8 model's
 * is more than 1e-3 from the float model's, the corrected one's within 1e-5.
 */
async function assertMeanKept(
  files: ReadonlyMap<string, Uint8Array>,
  plain: ReadonlyMap<string, Uint8Array>,
  corrected: ReadonlyMap<string, Uint8Array>,
  inputs: TfjsInputSet[],
) {
  const outputMean = async (f: ReadonlyMap<string, Uint8Array>) => {
    const m = await tfl.loadLayersModel(tfjsMemoryHandler(tf, f) as never);
    const sum = new Float64Array(2);
    for (const [x] of inputs) {
      const y = m.predict(tf.tensor(x.data as Float32Array, [...x.dims])) as tf.Tensor;
      const v = y.dataSync();
      for (let i = 0; i < v.length; i++) sum[i % 2] += v[i] / (v.length / 2) / inputs.length;
      y.dispose();
    }
    m.dispose();
    return sum;
  };
  const want = await outputMean(files);
  const gap = (m: Float64Array) => Math.max(...m.map((v, i) => Math.abs(v - want[i])));
  const before = gap(await outputMean(plain));
  const after = gap(await outputMean(corrected));
  assert.ok(before > 1e-3, `the uint8 model's mean moved by ${before}`);
  assert.ok(after < 1e-5, `corrected: ${after} (before ${before})`);
}

test("bias correction of a layers model: the output mean is the float model's, through a BatchNormalization's moving mean too", async () => {
  const files = await linearLayersModel();
  const sites = tfjsBiasSites(decoded(files));
  assert.deepEqual(sites.map((s) => [s.node, s.bias ?? null, s.subtracted ?? false]), [
    ["c1", "c1/bias", false],
    ["c2", "bn/moving_mean", true],
    ["fc", "fc/bias", false],
  ]);
  const inputs = imageSets([2, 4, 4, 3], 3, 11);
  const { plain, corrected } = await quantizedPair(files, inputs, runtime);
  assert.match(
    corrected.report.warnings.join("\n"),
    /bias correction: the expected output shift of 3 layer\(s\) taken out of their biases \(means of 3 layer input\(s\) on 3 input set\(s\)\)/,
  );
  await assertMeanKept(files, plain.files!, corrected.files!, inputs);
  // The moving mean took c2's shift; the kernels are written as before, the size is the same.
  const mean = (f: ReadonlyMap<string, Uint8Array>) =>
    tfjsWeightValues(decoded(f).weights.find((w) => w.spec.name === "bn/moving_mean")!);
  assert.notDeepEqual([...mean(corrected.files!)], [...mean(plain.files!)]);
  for (const k of ["c1/kernel", "c2/kernel", "fc/kernel"]) {
    const a = decoded(corrected.files!).weights.find((w) => w.spec.name === k)!;
    const b = decoded(plain.files!).weights.find((w) => w.spec.name === k)!;
    assert.deepEqual(a.bytes, b.bytes, k);
  }
  const bytes = (f: ReadonlyMap<string, Uint8Array>) =>
    [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);
  assert.equal(bytes(corrected.files!), bytes(plain.files!));
});

/**
 * input [4, 4, 3] -> `c1` 1x1 conv 3 -> 4 -> `sep` SeparableConv2D 1x1, 4 -> 5
 * (with a bias, or without one and a BatchNormalization after it) -> global average pooling ->
 * `fc` Dense 2: linear, so with both of the separable layer's shifts taken out the output's
 * mean on the calibration inputs is the float model's. (A depth multiplier of 1: tfjs-layers
 * 4.22 saves a SeparableConv2D without its `depth_multiplier`, so one of 2 it saved does not
 * load back.)
 */
async function separableLayersModel(useBias: boolean): Promise<Map<string, Uint8Array>> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [4, 4, 3], filters: 4, kernelSize: 1, name: "c1" }));
  model.add(tfl.layers.separableConv2d({
    filters: 5,
    kernelSize: 1,
    useBias,
    name: "sep",
  }));
  if (!useBias) model.add(tfl.layers.batchNormalization({ name: "bn" }));
  model.add(tfl.layers.globalAveragePooling2d({ name: "pool" }));
  model.add(tfl.layers.dense({ units: 2, name: "fc" }));
  const names = model.weights.map((w) => w.originalName);
  model.setWeights(
    model.getWeights().map((w, i) => {
      const v = values(w.size, 71 + i, -1, 1);
      // Channels spanning 1 to 1/300 (depthwise ones too): one uint8 grid rounds them coarsely.
      if (w.shape.length === 4) {
        const out = w.shape[2] * w.shape[3];
        v.forEach((x, j) => v[j] = x / (1 + 299 * ((j % out) / (out - 1)) ** 2));
      }
      if (names[i].includes("moving_variance")) v.forEach((x, j) => v[j] = Math.abs(x) + 0.5);
      return tf.tensor(v, w.shape);
    }),
  );
  return await savedFiles(model);
}

test("bias correction of a SeparableConv2D layer: both kernels' shifts leave the output mean the float model's", async () => {
  for (const useBias of [true, false]) {
    const files = await separableLayersModel(useBias);
    const sites = tfjsBiasSites(decoded(files));
    const bias = useBias ? "sep/bias" : "bn/moving_mean";
    assert.deepEqual(sites.map((s) => [s.node, s.bias ?? null, s.into ?? null]), [
      ["c1", "c1/bias", null],
      ["sep", bias, null],
      ["sep/depthwise", null, "sep"],
      ["fc", "fc/bias", null],
    ]);
    const inputs = imageSets([2, 4, 4, 3], 3, 13);
    const { plain, corrected } = await quantizedPair(files, inputs, runtime);
    assert.match(
      corrected.report.warnings.join("\n"),
      /bias correction: the expected output shift of 4 layer\(s\) taken out of their biases \(means of 3 layer input\(s\) on 3 input set\(s\)\)/,
    );
    await assertMeanKept(files, plain.files!, corrected.files!, inputs);
  }
  // The depthwise kernel's shift alone (the pointwise kernel unchanged) is still taken out.
  const files = await separableLayersModel(true);
  const model = loadModel(files.get("model.json")!, "model.json", files);
  const r = await compressModel(model, {
    mode: "quantization",
    configList: [{ ...UINT8_KERNELS[0], op_names: ["sep.depthwise"] }],
    headroom: 0,
    tfjsRuntime: runtime,
    tfjsInputs: imageSets([2, 4, 4, 3], 3, 13),
    biasCorrection: true,
  });
  assert.match(r.report.warnings.join("\n"), /shift of 1 layer\(s\) taken out/);
  const b = (
    f: ReadonlyMap<string, Uint8Array>,
  ) => [...tfjsWeightValues(decoded(f).weights.find((w) => w.spec.name === "sep/bias")!)];
  assert.notDeepEqual(b(r.files!), b(files));
});

test("bias correction of Conv1D layers: into the bias, a batch norm's moving mean or a new bias; the output mean kept", async () => {
  // input [6, 3] -> `c1` Conv1D 1 -> 4 with a bias -> `c2` Conv1D 1 -> 5 without one -> `bn`
  // (channels on axis 2) -> `c3` Conv1D 1 -> 3 without a bias (given one) -> pooling -> `fc`.
  const model = tfl.sequential();
  model.add(tfl.layers.conv1d({ inputShape: [6, 3], filters: 4, kernelSize: 1, name: "c1" }));
  model.add(tfl.layers.conv1d({ filters: 5, kernelSize: 1, useBias: false, name: "c2" }));
  model.add(tfl.layers.batchNormalization({ axis: 2, name: "bn" }));
  model.add(tfl.layers.conv1d({ filters: 3, kernelSize: 1, useBias: false, name: "c3" }));
  model.add(tfl.layers.globalAveragePooling1d({ name: "pool" }));
  model.add(tfl.layers.dense({ units: 2, name: "fc" }));
  const names = model.weights.map((w) => w.originalName);
  model.setWeights(
    model.getWeights().map((w, i) => {
      const v = values(w.size, 91 + i, -1, 1);
      if (w.shape.length === 3) {
        const out = w.shape[2];
        v.forEach((x, j) => v[j] = x / (1 + 299 * ((j % out) / (out - 1)) ** 2));
      }
      if (names[i].includes("moving_variance")) v.forEach((x, j) => v[j] = Math.abs(x) + 0.5);
      return tf.tensor(v, w.shape);
    }),
  );
  const files = await savedFiles(model); // disposes the model
  const sites = tfjsBiasSites(decoded(files));
  assert.deepEqual(sites.map((s) => [s.node, s.kind, s.bias ?? null, s.subtracted ?? false]), [
    ["c1", "conv", "c1/bias", false],
    ["c2", "conv", "bn/moving_mean", true],
    ["c3", "conv", null, false],
    ["fc", "matmul", "fc/bias", false],
  ]);
  // A Conv1D's geometry is the 2-D convolution of height 1 it is.
  assert.deepEqual(tfjsConvGeometry(decoded(files), sites[0]), {
    strides: [1, 1],
    dilations: [1, 1],
    padding: "VALID",
  });
  const inputs = imageSets([2, 6, 3], 3, 17);
  const { plain, corrected } = await quantizedPair(files, inputs, runtime, [
    { ...UINT8_KERNELS[0], op_types: ["Conv1d", "Linear"] },
  ]);
  assert.match(
    corrected.report.warnings.join("\n"),
    /shift of 4 layer\(s\) taken out .*1 of them had no bias and were given one \(use_bias\): c3/,
  );
  assert.ok(decoded(corrected.files!).weights.some((w) => w.spec.name === "c3/bias"));
  await assertMeanKept(files, plain.files!, corrected.files!, inputs);
});

test("bias correction gives a layers model's layers without a bias one (use_bias), which tfjs-layers loads", async () => {
  const files = await functionalModelFiles();
  const inputs = imageSets([4, 6, 6, 3], 2, 21);
  const model = loadModel(files.get("model.json")!, "model.json", files);
  const r = await compressModel(model, {
    mode: "quantization",
    configList: UINT8_KERNELS,
    headroom: 0,
    tfjsRuntime: runtime,
    tfjsInputs: inputs,
    biasCorrection: true,
  });
  const warning = r.report.warnings.find((w) => w.startsWith("bias correction"))!;
  assert.match(warning, /2 of them had no bias and were given one \(use_bias\): dw, head/);
  const layers = json(r.files!).modelTopology.config.layers as {
    config: { name: string; use_bias?: boolean };
  }[];
  for (const name of ["dw", "head"]) {
    assert.equal(layers.find((l) => l.config.name === name)!.config.use_bias, true, name);
    assert.ok(decoded(r.files!).weights.some((w) => w.spec.name === `${name}/bias`), name);
  }
  const cmp = await compareTfjsOutputs(runtime, r.files!, files, {
    inputs: imageSets([4, 6, 6, 3], 1, 61),
  });
  for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
  // withTfjsBiases refuses a layer that has a bias, and a wrong length.
  const m = decoded(files);
  assert.throws(
    () => withTfjsBiases(m, new Map([["stem", new Float32Array(4)]])),
    /layer "stem" takes no new bias/,
  );
  assert.throws(
    () => withTfjsBiases(m, new Map([["head", new Float32Array(3)]])),
    /the bias of layer "head" must have 2 values, one per output channel: current value is 3/,
  );
});

test("GPTQ rounding on layers models: the same manifests, other codes, outputs kept", async () => {
  for (
    const [files, dims] of [
      [await layersModelFiles(), [4, 8, 8, 3]],
      [await nestedModelFiles(), [4, 6, 6, 3]],
      [await functionalModelFiles(), [4, 6, 6, 3]],
    ] as const
  ) {
    const load = () => loadModel(files.get("model.json")!, "model.json", files);
    const base = await compressModel(load(), {
      mode: "quantization",
      configList: UINT8_KERNELS,
      headroom: 0,
    });
    const r = await compressModel(load(), {
      mode: "quantization",
      configList: UINT8_KERNELS,
      headroom: 0,
      tfjsRuntime: runtime,
      tfjsInputs: imageSets([...dims], 3, 40),
      gptqRounding: true,
    });
    // Every site's kernel, a SeparableConv2D's pointwise one too (its input, the depthwise
    // output, computed from the layer's input).
    const sites = tfjsBiasSites(decoded(files)).length;
    assert.match(
      r.report.warnings.join("\n"),
      new RegExp(`GPTQ rounding: ${sites} uint8 kernel\\(s\\) rounded .* on 3 input set\\(s\\)`),
    );
    assert.deepEqual(json(r.files!).weightsManifest, json(base.files!).weightsManifest);
    const a = decoded(r.files!);
    const b = decoded(base.files!);
    let differ = 0;
    for (const w of a.weights) {
      const x = w.bytes;
      const y = b.weights.find((v) => v.spec.name === w.spec.name)!.bytes;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
    }
    assert.ok(differ > 0);
    const cmp = await compareTfjsOutputs(runtime, r.files!, files, {
      inputs: imageSets([...dims], 2, 90),
    });
    for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
  }
});

test("GPTQ rounding of a SeparableConv2D's pointwise kernel: the codes of the same kernel after a DepthwiseConv2D layer", async () => {
  // sep: 3 x 3 depthwise, stride 2, then 1 x 1 to 6, as one layer; the same weights as a
  // DepthwiseConv2D layer and a 1 x 1 Conv2D, whose input the depthwise output is.
  const conv = { kernelSize: 3, padding: "same" as const, strides: 2 };
  const one = tfl.sequential();
  one.add(tfl.layers.separableConv2d({ inputShape: [8, 8, 4], ...conv, filters: 6, name: "sep" }));
  one.add(tfl.layers.dense({ units: 2, name: "fc" }));
  const two = tfl.sequential();
  two.add(
    tfl.layers.depthwiseConv2d({ inputShape: [8, 8, 4], ...conv, useBias: false, name: "dw" }),
  );
  two.add(tfl.layers.conv2d({ kernelSize: 1, filters: 6, name: "pw" }));
  two.add(tfl.layers.dense({ units: 2, name: "fc" }));
  const weights = one.getWeights().map((w, i) => tf.tensor(values(w.size, 31 + i, -1, 1), w.shape));
  one.setWeights(weights);
  // [depthwise, pointwise, bias, fc kernel, fc bias] in both.
  two.setWeights(weights);
  const files = [await savedFiles(one), await savedFiles(two)];
  const inputs = imageSets([3, 8, 8, 4], 3, 60);
  const codes = async (f: Map<string, Uint8Array>, name: string, gptqRounding: boolean) => {
    const r = await compressModel(loadModel(f.get("model.json")!, "model.json", f), {
      mode: "quantization",
      configList: UINT8_KERNELS,
      headroom: 0,
      tfjsRuntime: runtime,
      tfjsInputs: inputs,
      gptqRounding,
    });
    return decoded(r.files!).weights.find((w) => w.spec.name === name)!.bytes;
  };
  const separable = await codes(files[0], "sep/pointwise_kernel", true);
  const split = await codes(files[1], "pw/kernel", true);
  const nearest = await codes(files[0], "sep/pointwise_kernel", false);
  assert.deepEqual(separable, split);
  assert.notDeepEqual(separable, nearest);
});

test("GPTQ rounding of Conv1D kernels: the codes of the same kernels as 2-D convolutions of height 1", async () => {
  // Conv1D layers (same with stride 2, valid with dilation 2, valid) against the same kernels
  // as Conv2D layers on [n, 1, length, channels].
  const one = tfl.sequential();
  one.add(tfl.layers.conv1d({
    inputShape: [12, 3],
    filters: 4,
    kernelSize: 3,
    padding: "same",
    strides: 2,
    name: "a",
  }));
  one.add(tfl.layers.conv1d({ filters: 5, kernelSize: 3, dilationRate: 2, name: "b" }));
  one.add(tfl.layers.conv1d({ filters: 3, kernelSize: 2, name: "c" }));
  const two = tfl.sequential();
  two.add(tfl.layers.conv2d({
    inputShape: [1, 12, 3],
    filters: 4,
    kernelSize: [1, 3],
    padding: "same",
    strides: [1, 2],
    name: "a",
  }));
  two.add(tfl.layers.conv2d({ filters: 5, kernelSize: [1, 3], dilationRate: [1, 2], name: "b" }));
  two.add(tfl.layers.conv2d({ filters: 3, kernelSize: [1, 2], name: "c" }));
  const weights = one.getWeights().map((w, i) => values(w.size, 51 + i, -1, 1));
  one.setWeights(one.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
  two.setWeights(two.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
  const sets = imageSets([3, 12, 3], 3, 70);
  const flat = sets.map((set) => set.map((x) => ({ data: x.data, dims: [3, 1, 12, 3] })));
  const files = [await savedFiles(one), await savedFiles(two)];
  const codes = async (
    f: Map<string, Uint8Array>,
    inputs: TfjsInputSet[],
    gptqRounding: boolean,
  ) => {
    const r = await compressModel(loadModel(f.get("model.json")!, "model.json", f), {
      mode: "quantization",
      configList: [{ ...UINT8_KERNELS[0], op_types: ["Conv1d", "Conv2d"] }],
      headroom: 0,
      tfjsRuntime: runtime,
      tfjsInputs: inputs,
      gptqRounding,
    });
    assert.equal(
      r.report.warnings.some((w) => /GPTQ rounding: 3 uint8 kernel/.test(w)),
      gptqRounding,
    );
    return ["a", "b", "c"].map((n) =>
      decoded(r.files!).weights.find((w) => w.spec.name === `${n}/kernel`)!.bytes
    );
  };
  // `causal` pads the start alone (tfjs-layers 4.22 cannot run it: "not implemented yet").
  const json = JSON.parse(new TextDecoder().decode(files[0].get("model.json")!));
  json.modelTopology.config.layers[1].config.padding = "causal";
  const causal = new Map([...files[0], [
    "model.json",
    new TextEncoder().encode(JSON.stringify(json)),
  ]]);
  assert.deepEqual(tfjsConvGeometry(decoded(causal), { node: "b", kind: "conv" }), {
    strides: [1, 1],
    dilations: [1, 2],
    padding: "EXPLICIT",
    explicit: [0, 0, 4, 0],
  });
  const conv1d = await codes(files[0], sets, true);
  assert.deepEqual(conv1d, await codes(files[1], flat, true));
  const nearest = await codes(files[0], sets, false);
  conv1d.forEach((c, k) => assert.notDeepEqual(c, nearest[k], ["a", "b", "c"][k]));
});
