// Cross-layer equalization of tfjs layers models (`equalizeTfjs`, `compressModel`'s
// `equalize`): the pairs found through the layers that commute with a per-channel scale, the
// function kept in tfjs, the ranges evened out, and the uint8 error it saves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compareTfjsOutputs, type TfjsRuntime } from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../../src/io/tfjs/write_tfjs.ts";
import type { TfjsModel } from "../../src/io/tfjs/tfjs_types.ts";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { equalizeTfjs } from "../../src/quantization/equalize_tfjs.ts";
import { savedFiles, tf, tfl, UINT8_KERNELS, values } from "./_models.ts";

const runtime: TfjsRuntime = { tf, loadLayersModel: (h) => tfl.loadLayersModel(h) };
const filesOf = (w: { modelJson: Uint8Array; shards: ReadonlyMap<string, Uint8Array> }) =>
  new Map([["model.json", w.modelJson], ...w.shards]);
const INPUTS = [[{ data: values(2 * 8 * 8 * 3, 3, -1, 1), dims: [2, 8, 8, 3] }]];

/**
 * conv a (relu) -> LeakyReLU -> MaxPooling2D -> DepthwiseConv2D dw (relu) -> 1x1 conv b ->
 * relu -> GlobalAveragePooling2D -> Dense d1 (relu) -> Dense d2. dw's channels span 0.01 to 10
 * (the depthwise kernels that one uint8 grid per tensor loses most on, Nagel et al. 2019), b's
 * inputs the inverse; the other kernels are even.
 */
async function chainFiles(): Promise<Map<string, Uint8Array>> {
  const model = tfl.sequential();
  const conv = { kernelSize: 3, padding: "same" as const };
  model.add(
    tfl.layers.conv2d({
      ...conv,
      inputShape: [8, 8, 3],
      filters: 8,
      activation: "relu",
      name: "a",
    }),
  );
  model.add(tfl.layers.leakyReLU({ alpha: 0.2, name: "lr" }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2, name: "mp" }));
  model.add(tfl.layers.depthwiseConv2d({ ...conv, activation: "relu", name: "dw" }));
  model.add(tfl.layers.conv2d({ kernelSize: 1, filters: 6, name: "b" }));
  model.add(tfl.layers.activation({ activation: "relu", name: "act" }));
  model.add(tfl.layers.globalAveragePooling2d({ name: "gap" }));
  model.add(tfl.layers.dense({ units: 8, activation: "relu", name: "d1" }));
  model.add(tfl.layers.dense({ units: 3, name: "d2" }));
  spreadWeights(model, 70, "dw/depthwise_kernel", "b/kernel");
  return await savedFiles(model);
}

/**
 * Random weights, but the 8 output channels of kernel `wide` span 10^(c % 4 - 2): 0.01, 0.1, 1
 * or 10, and the input channels of kernel `inverse` the inverse, so each path weighs alike (as
 * a batch norm folded into the first makes them).
 */
function spreadWeights(model: LayersModel, seed: number, wide: string, inverse: string) {
  const names = model.weights.map((w) => w.originalName);
  model.setWeights(
    model.getWeights().map((w, i) => {
      const v = values(w.size, seed + i, -1, 1);
      const out = w.shape[w.shape.length - 1];
      if (names[i] === wide) {
        return tf.tensor(v.map((x, k) => x * 10 ** ((k % 8) % 4 - 2)), w.shape);
      }
      if (names[i] === inverse) {
        return tf.tensor(v.map((x, k) => x * 10 ** (2 - (Math.floor(k / out) % 8) % 4)), w.shape);
      }
      return tf.tensor(v, w.shape);
    }),
  );
}

/** The largest over smallest per-output-channel max |w| of a kernel. */
function spread(model: TfjsModel, name: string): number {
  const w = model.weights.find((x) => x.spec.name === name)!;
  const v = tfjsWeightValues(w);
  const shape = w.spec.shape;
  const c = name.endsWith("depthwise_kernel") ? shape[2] * shape[3] : shape[shape.length - 1];
  const r = new Float64Array(c);
  for (let i = 0; i < v.length; i++) r[i % c] = Math.max(r[i % c], Math.abs(v[i]));
  return Math.max(...r) / Math.min(...r);
}

test("equalizeTfjs on a layers model: pairs through activations and pooling; the function kept", async () => {
  const f = await chainFiles();
  const model = readTfjs(f.get("model.json")!, f);
  const eq = equalizeTfjs(model);
  assert.deepEqual(eq.pairs, [["a", "dw"], ["dw", "b"], ["b", "d1"], ["d1", "d2"]]);
  // dw's channels, 1000x apart, come within 10x.
  assert.ok(spread(model, "dw/depthwise_kernel") > 500);
  assert.ok(
    spread(eq.model, "dw/depthwise_kernel") < 10,
    `${spread(eq.model, "dw/depthwise_kernel")}`,
  );
  const cmp = await compareTfjsOutputs(runtime, filesOf(encodeTfjs(eq.model, new Map())), f, {
    inputs: INPUTS,
  });
  assert.ok(cmp[0].cosine > 0.999999 && cmp[0].relativeError < 1e-5, `${cmp[0].relativeError}`);
});

test("equalizeTfjs on a layers model: a clip, channels first, a batch norm, a reader too many or a shared layer end a pair", async () => {
  const f = await chainFiles();
  const edit = (
    change: (layers: { class_name: string; config: Record<string, unknown> }[]) => void,
  ) => {
    const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
    change(json.modelTopology.config.layers);
    const g = new Map([...f, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
    return equalizeTfjs(readTfjs(g.get("model.json")!, g)).pairs.map((p) => p.join(" -> "));
  };
  const layer = (layers: { config: Record<string, unknown> }[], name: string) =>
    layers.find((l) => l.config.name === name)!.config;
  // A ReLU6 is not homogeneous: b's relu clipped at 6 ends b's pair.
  assert.deepEqual(
    edit((ls) => {
      const act = ls.find((l) => l.config.name === "act")!;
      act.class_name = "ReLU";
      act.config.max_value = 6;
    }),
    ["a -> dw", "dw -> b", "d1 -> d2"],
  );
  // a in relu6, d1 in sigmoid: neither is a producer.
  assert.deepEqual(
    edit((ls) => {
      layer(ls, "a").activation = "relu6";
      layer(ls, "d1").activation = "sigmoid";
    }),
    ["dw -> b", "b -> d1"],
  );
  // dw in channels first (its kernel unchanged) neither gives nor takes a scale.
  assert.deepEqual(edit((ls) => (layer(ls, "dw").data_format = "channels_first")), [
    "b -> d1",
    "d1 -> d2",
  ]);

  // A batch norm ends a path (see _equalize_layers.ts).
  const bn = tfl.sequential();
  bn.add(tfl.layers.conv2d({ inputShape: [4, 4, 2], kernelSize: 1, filters: 3, name: "p" }));
  bn.add(tfl.layers.batchNormalization({ name: "bn" }));
  bn.add(tfl.layers.conv2d({ kernelSize: 1, filters: 2, name: "q" }));
  const bf = await savedFiles(bn);
  assert.deepEqual(equalizeTfjs(readTfjs(bf.get("model.json")!, bf)).pairs, []);

  // A Functional model: b read twice (a residual add), a shared conv.
  const input = tfl.input({ shape: [8, 8, 4] });
  const conv = { kernelSize: 1, filters: 4, padding: "same" as const };
  const a = tfl.layers.conv2d({ ...conv, activation: "relu", name: "a" }).apply(input) as never;
  const b = tfl.layers.conv2d({ ...conv, name: "b" }).apply(a) as never;
  const c = tfl.layers.conv2d({ ...conv, name: "c" }).apply(b) as never;
  const sum = tfl.layers.add({ name: "sum" }).apply([b, c]) as never;
  const shared = tfl.layers.conv2d({ ...conv, name: "shared" });
  const s1 = shared.apply(sum) as never;
  const s2 = shared.apply(s1) as never;
  const d = tfl.layers.conv2d({ ...conv, name: "d" }).apply(s2) as never;
  const fn = await savedFiles(tfl.model({ inputs: input, outputs: d }));
  assert.deepEqual(equalizeTfjs(readTfjs(fn.get("model.json")!, fn)).pairs, [["a", "b"]]);
});

/** uint8 per tensor of every kernel, no headroom, with or without equalization: the result and its output's comparison. */
async function uint8Run(f: Map<string, Uint8Array>, equalize: boolean) {
  const r = await compressModel(loadModel(f.get("model.json")!, "model.json", f), {
    mode: "quantization",
    configList: UINT8_KERNELS,
    headroom: 0,
    equalize,
  });
  const [c] = await compareTfjsOutputs(runtime, r.files!, f, { inputs: INPUTS });
  return { r, c };
}

test("compressModel equalize on a layers model: less uint8 error than without, and the report says how many pairs", async () => {
  const f = await chainFiles();
  const run = (equalize: boolean) => uint8Run(f, equalize);
  const plain = await run(false);
  const eq = await run(true);
  assert.match(
    eq.r.report.warnings.join("\n"),
    /equalize: 4 pair\(s\) of layers rescaled per channel/,
  );
  assert.ok(
    // dw's small channels are lost on one grid per tensor, and b's large weights make them
    // count: about 1.2 -> 0.01.
    plain.c.relativeError > 0.5 && eq.c.relativeError < plain.c.relativeError / 20,
    `${plain.c.relativeError} -> ${eq.c.relativeError}`,
  );
});

/**
 * conv a (relu) -> SeparableConv2D sep (relu) -> 1 x 1 conv b. sep's depthwise channels span
 * 0.01 to 10 and its pointwise kernel's inputs the inverse (as a batch norm folded into a
 * MobileNet's depthwise layer makes them).
 */
async function separableFiles(): Promise<Map<string, Uint8Array>> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({
    inputShape: [8, 8, 3],
    kernelSize: 3,
    padding: "same",
    filters: 8,
    activation: "relu",
    name: "a",
  }));
  model.add(tfl.layers.separableConv2d({
    kernelSize: 3,
    padding: "same",
    filters: 6,
    activation: "relu",
    name: "sep",
  }));
  model.add(tfl.layers.conv2d({ kernelSize: 1, filters: 4, name: "b" }));
  spreadWeights(model, 90, "sep/depthwise_kernel", "sep/pointwise_kernel");
  return await savedFiles(model);
}

test("equalizeTfjs on a layers model: a SeparableConv2D's two kernels pair, and it pairs by them with its neighbours", async () => {
  const f = await separableFiles();
  const model = readTfjs(f.get("model.json")!, f);
  const eq = equalizeTfjs(model);
  assert.deepEqual(eq.pairs, [
    ["a", "sep"],
    ["sep/depthwise_kernel", "sep/pointwise_kernel"],
    ["sep", "b"],
  ]);
  assert.ok(spread(model, "sep/depthwise_kernel") > 500);
  const after = spread(eq.model, "sep/depthwise_kernel");
  assert.ok(after < 10, String(after));
  const cmp = await compareTfjsOutputs(runtime, filesOf(encodeTfjs(eq.model, new Map())), f, {
    inputs: INPUTS,
  });
  assert.ok(cmp[0].cosine > 0.999999 && cmp[0].relativeError < 1e-5, `${cmp[0].relativeError}`);
  // In channels first it pairs inside only (its kernels' layout does not change).
  const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
  json.modelTopology.config.layers.find((l: { config: { name: string } }) =>
    l.config.name === "sep"
  ).config.data_format = "channels_first";
  const g = new Map([...f, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
  assert.deepEqual(equalizeTfjs(readTfjs(g.get("model.json")!, g)).pairs, [
    ["sep/depthwise_kernel", "sep/pointwise_kernel"],
  ]);
  // uint8 per tensor of every kernel: the depthwise channels lost on one grid come back.
  const plain = (await uint8Run(f, false)).c.relativeError;
  const equalized = (await uint8Run(f, true)).c.relativeError;
  assert.ok(equalized < plain / 10, `${plain} -> ${equalized}`);
});
