// Channel scales for tfjs graph and layers models (`tfjsChannelScaleSites`,
// `withTfjsChannelScales`, `channelScales`): the rewritten graph or layer list computes the same
// function in tfjs, per-channel kernels are written as NNI's values at one byte per weight, and
// the options are checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import { compareTfjsOutputs, type TfjsRuntime } from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { encodeTfjs } from "../../src/io/tfjs/write_tfjs.ts";
import type { TfjsModel } from "../../src/io/tfjs/tfjs_types.ts";
import {
  tfjsChannelScaleSites,
  withTfjsChannelScales,
} from "../../src/quantization/channel_scales_tfjs.ts";
import { fakeQuantize } from "../../src/quantization/fake_quantize.ts";
import { paramRef } from "../../src/quantization/_param_ref.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import {
  fitTfjsChannelScales,
  quantizedTfjs,
  tfjsUint8Grids,
} from "../../src/quantization/quantized_tfjs.ts";
import { toTfjsLayout } from "../../src/model/tfjs_model.ts";
import {
  channelsFirstModelFiles,
  einsumModelFiles,
  functionalModelFiles,
  graphModelFiles,
  INT8_PER_CHANNEL,
  layersModelFiles,
  nestedModelFiles,
  storedAs,
  tf,
  tfl,
  values,
} from "./_models.ts";

const runtime: TfjsRuntime = {
  tf,
  loadGraphModel: (h) => loadGraphModel(h),
  loadLayersModel: (h) => tfl.loadLayersModel(h),
};

/** Only the kernels, int8 per output channel. */
const PER_CHANNEL = [INT8_PER_CHANNEL[0]];

const filesOf = (w: { modelJson: Uint8Array; shards: ReadonlyMap<string, Uint8Array> }) =>
  new Map([["model.json", w.modelJson], ...w.shards]);

const inputs = (
  seed: number,
) => [[{ data: values(4 * 6 * 6 * 3, seed, -1, 1), dims: [4, 6, 6, 3] }]];

type Node = { name: string; op: string; input?: string[]; attr?: Record<string, unknown> };
const nodesOf = (m: TfjsModel) => (m.json.modelTopology as { node: Node[] }).node;

/** The model with `fused_ops` of the first `_FusedConv2D` set to BiasAdd + `activation`. */
function withActivation(f: Map<string, Uint8Array>, activation: string): Map<string, Uint8Array> {
  const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
  const conv = json.modelTopology.node.find((n: Node) => n.op === "_FusedConv2D");
  conv.attr.fused_ops = { list: { s: [btoa("BiasAdd"), btoa(activation)] } };
  conv.attr.leakyrelu_alpha = { f: 0.3 };
  return new Map([...f, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
}

test("tfjsChannelScaleSites: the kernels of conv, depthwise and MatMul layers, with their channels", () => {
  const f = graphModelFiles();
  const sites = tfjsChannelScaleSites(readTfjs(f.get("model.json")!, f));
  assert.deepEqual(
    [...sites.values()].map((s) => [s.kernel, s.nodes, s.channels, s.channelsLast]),
    [
      ["model/conv1/Conv2D/ReadVariableOp", ["model/conv1/Relu"], 4, true],
      ["model/dw/depthwise/ReadVariableOp", ["model/dw/Relu6"], 8, true],
      ["model/conv2/Conv2D/ReadVariableOp", ["model/conv2/Conv2D"], 5, true],
      ["model/fc1/MatMul/ReadVariableOp", ["model/fc1/Relu"], 12, true],
      ["model/fc2/MatMul/ReadVariableOp", ["model/fc2/MatMul"], 3, false],
    ],
  );
  // A kernel another node reads too, or a layer fusing a batch norm, takes none.
  const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
  json.modelTopology.node.push({
    name: "peek",
    op: "Identity",
    input: ["model/conv1/Conv2D/ReadVariableOp"],
  });
  // A control input (a converter's NoOp after the weights) reads nothing: fc1 stays a site.
  json.modelTopology.node.push({
    name: "after_weights",
    op: "NoOp",
    input: ["^model/fc1/MatMul/ReadVariableOp"],
  });
  json.modelTopology.node.find((n: Node) => n.name === "model/dw/Relu6").attr.fused_ops = {
    list: { s: [btoa("FusedBatchNorm")] },
  };
  const other = readTfjs(JSON.stringify(json), f);
  const left = [...tfjsChannelScaleSites(other).keys()];
  assert.ok(!left.includes("model/conv1/Conv2D/ReadVariableOp"));
  assert.ok(!left.includes("model/dw/depthwise/ReadVariableOp"));
  assert.deepEqual(left, [
    "model/conv2/Conv2D/ReadVariableOp",
    "model/fc1/MatMul/ReadVariableOp",
    "model/fc2/MatMul/ReadVariableOp",
  ]);
});

test("withTfjsChannelScales: kernels divided per output channel, scales after the layer: the same outputs in tfjs", async () => {
  for (const activation of ["Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid"]) {
    const f = withActivation(graphModelFiles(), activation);
    const model = readTfjs(f.get("model.json")!, f);
    const sites = tfjsChannelScaleSites(model);
    const scales = new Map<string, Float32Array>();
    const divided = new Map<string, { values: Float32Array }>();
    let seed = 300;
    for (const [kernel, site] of sites) {
      const s = values(site.channels, seed++, 0.25, 4);
      scales.set(kernel, s);
      const w = tfjsWeightValues(
        model.weights.find((x) => x.spec.name === kernel)!,
      ) as Float32Array;
      const per = w.length / site.channels;
      divided.set(kernel, {
        values: Float32Array.from(
          w,
          (v, i) => v / s[site.channelsLast ? i % site.channels : Math.floor(i / per)],
        ),
      });
    }
    const out = withTfjsChannelScales(model, scales);
    assert.equal(out.weights.size, 5);
    const nodes = nodesOf(out.model);
    // The layers are unfused; each reader of a layer still reads its name.
    assert.ok(!nodes.some((n) => n.op.startsWith("_Fused") || n.op.startsWith("Fused")));
    assert.equal(nodes.filter((n) => n.op === "Mul").length, 5);
    assert.equal(nodes.find((n) => n.name === "model/conv1/Relu")!.op, activation);
    const written = filesOf(encodeTfjs(out.model, divided));
    const cmp = await compareTfjsOutputs(runtime, written, f, { inputs: inputs(5) });
    for (const c of cmp) {
      assert.ok(c.cosine > 0.999999, `${activation} ${c.name}: ${c.cosine}`);
      assert.ok(c.maxAbsDiff < 1e-4, `${activation} ${c.name}: ${c.maxAbsDiff}`);
    }
  }
  const f = graphModelFiles();
  const model = readTfjs(f.get("model.json")!, f);
  assert.throws(
    () =>
      withTfjsChannelScales(
        model,
        new Map([["model/conv1/BiasAdd/ReadVariableOp", new Float32Array(4)]]),
      ),
    /takes no channel scales/,
  );
  assert.throws(
    () =>
      withTfjsChannelScales(
        model,
        new Map([["model/conv1/Conv2D/ReadVariableOp", new Float32Array(3)]]),
      ),
    /must have 4 values, one per output channel: current value is 3/,
  );
});

test("quantizedTfjs channelScales: per-channel int8 kernels written as NNI's values at one byte per weight", async () => {
  const f = graphModelFiles();
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, PER_CHANNEL);
  const plain = await quantizedTfjs(view.tfjs, view.graph, result.params);
  assert.equal(plain.channelScaled.length, 0);
  assert.match(plain.warnings.join("\n"), /tfjs stores one min and scale per tensor/);
  const out = await quantizedTfjs(view.tfjs, view.graph, result.params, { channelScales: true });
  assert.equal(out.channelScaled.length, 5);
  assert.ok(out.channelScaled.every((c) => c.storage === "float32"));
  assert.ok(!out.warnings.some((w) => /per tensor/.test(w)), out.warnings.join("\n"));
  const back = readTfjs(out.modelJson, out.shards);
  const byName = new Map(back.weights.map((w) => [w.spec.name, w]));
  const sites = tfjsChannelScaleSites(view.tfjs);
  for (const p of result.params) {
    const ref = paramRef(view.graph, p.module, p.target, p.configIndex);
    const kernel = byName.get(ref.name)!;
    assert.equal(kernel.spec.quantization?.dtype, "uint8", ref.name);
    assert.equal(out.storages.get(ref.name), "uint8");
    // codes · (grid) · scale_c is NNI's fake-quantized value, bit for bit.
    const scaled = out.channelScaled.find((c) => c.name === ref.name)!;
    const scales = tfjsWeightValues(byName.get(scaled.scales)!) as Float32Array;
    const levels = tfjsWeightValues(kernel) as Float32Array;
    const fake = toTfjsLayout(ref, fakeQuantize(await ref.data(), ref.shape, p));
    const site = sites.get(ref.name)!;
    const per = levels.length / site.channels;
    const check = new Float32Array(1);
    for (let i = 0; i < levels.length; i++) {
      check[0] = levels[i] * scales[site.channelsLast ? i % site.channels : Math.floor(i / per)];
      // (tfjs decodes a zero as +0 where NNI's rounding gives -0 for small negatives.)
      assert.ok(check[0] === fake[i], `${ref.name}[${i}]: ${check[0]} vs ${fake[i]}`);
    }
  }
  // The same outputs as the fake-quantized float32 file, at a quarter of the kernels' bytes.
  const cmp = await compareTfjsOutputs(runtime, filesOf(out), filesOf(plain), {
    inputs: inputs(9),
  });
  for (const c of cmp) assert.ok(c.maxAbsDiff < 1e-4, `${c.name}: ${c.maxAbsDiff}`);
  const bytes = (w: { shards: ReadonlyMap<string, Uint8Array> }) =>
    [...w.shards.values()].reduce((n, b) => n + b.length, 0);
  assert.ok(bytes(out) < 0.45 * bytes(plain), `${bytes(out)} vs ${bytes(plain)}`);

  // Different zero points per channel (affine): one grid cannot hold them; fake-quantized.
  const affine = await quantize(view.graph, [{
    ...PER_CHANNEL[0],
    quant_scheme: "affine",
    quant_dtype: "uint8",
  }]);
  const kept = await quantizedTfjs(view.tfjs, view.graph, affine.params, { channelScales: true });
  assert.ok(kept.channelScaled.length < 5);
  assert.match(kept.warnings.join("\n"), /written fake-quantized/);
});

test("quantizedTfjs channelScales: the Einsum dense layers of a jax2tf model, either kernel layout", async () => {
  const f = einsumModelFiles();
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const sites = tfjsChannelScaleSites(view.tfjs);
  assert.deepEqual(
    [...sites.values()].map((s) => [s.kernel, s.nodes, s.channels, s.channelsLast]),
    [
      ["jax2tf_arg_0/ReadVariableOp", ["model/in_proj/einsum/Einsum"], 5, true],
      ["jax2tf_arg_2/ReadVariableOp", ["model/out_proj/einsum/Einsum"], 3, false],
    ],
  );
  const result = await quantize(view.graph, PER_CHANNEL);
  const plain = await quantizedTfjs(view.tfjs, view.graph, result.params);
  const out = await quantizedTfjs(view.tfjs, view.graph, result.params, { channelScales: true });
  assert.equal(out.channelScaled.length, 2);
  const nodes = nodesOf(readTfjs(out.modelJson, out.shards));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  assert.equal(byName.get("model/in_proj/einsum/Einsum")!.op, "Mul");
  assert.equal(byName.get("model/in_proj/einsum/Einsum/unscaled")!.op, "Einsum");
  // The outputs of the fake-quantized float32 file, from one byte per kernel weight.
  const x = [[{ data: values(2 * 4 * 4 * 6, 5, -1, 1), dims: [2, 4, 4, 6] }]];
  const cmp = await compareTfjsOutputs(runtime, filesOf(out), filesOf(plain), { inputs: x });
  assert.equal(cmp.length, 2);
  for (const c of cmp) assert.ok(c.maxAbsDiff < 1e-5, `${c.name}: ${c.maxAbsDiff}`);
  const back = readTfjs(out.modelJson, out.shards);
  for (const w of ["jax2tf_arg_0/ReadVariableOp", "jax2tf_arg_2/ReadVariableOp"]) {
    assert.equal(back.weights.find((b) => b.spec.name === w)!.spec.quantization?.dtype, "uint8");
  }
});

test("quantizedTfjs channelScales: a float16 model gets float16 scales relative to a power of two", async () => {
  const f = storedAs(graphModelFiles(), "float16");
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, PER_CHANNEL);
  const out = await quantizedTfjs(view.tfjs, view.graph, result.params, { channelScales: true });
  assert.equal(out.channelScaled.length, 5);
  assert.ok(out.channelScaled.every((c) => c.storage === "float16"));
  const back = readTfjs(out.modelJson, out.shards);
  for (const c of out.channelScaled) {
    const kernel = back.weights.find((w) => w.spec.name === c.name)!;
    const scale = kernel.spec.quantization!.scale!;
    assert.ok(Number.isInteger(Math.log2(scale)), `${c.name}: grid step ${scale}`);
    const stored = tfjsWeightValues(back.weights.find((w) => w.spec.name === c.scales)!);
    assert.ok(Math.max(...stored) >= 1 && Math.max(...stored) < 2);
  }
  const fake = await quantizedTfjs(view.tfjs, view.graph, result.params);
  const cmp = await compareTfjsOutputs(runtime, filesOf(out), filesOf(fake), {
    inputs: inputs(11),
  });
  for (const c of cmp) assert.ok(c.cosine > 0.99999, `${c.name}: ${c.cosine}`);
});

test("compressModel channelScales: with bias correction and GPTQ rounding; only for tfjs quantization", async () => {
  const f = graphModelFiles();
  const load = () => loadModel(f.get("model.json")!, "model.json", f);
  const calibration = [0, 1, 2].map((
    k,
  ) => [{ data: values(4 * 6 * 6 * 3, 40 + k, 0, 1), dims: [4, 6, 6, 3] }]);
  const r = await compressModel(load(), {
    mode: "quantization",
    configList: PER_CHANNEL,
    channelScales: true,
    // This small model's scales take 7% of its weight bytes: room for all of them.
    headroom: 0.1,
    tfjsRuntime: runtime,
    tfjsInputs: calibration,
    biasCorrection: true,
    gptqRounding: true,
  });
  const text = r.report.warnings.join("\n");
  assert.match(text, /channel scales: 5 kernel\(s\) quantized per channel/);
  assert.match(text, /GPTQ rounding: 5 uint8 kernel\(s\) rounded/);
  assert.match(text, /bias correction: the expected output shift of [1-9]/);
  const cmp = await compareTfjsOutputs(runtime, r.files!, f, {
    inputs: [0, 1].map((k) => [{ data: values(4 * 6 * 6 * 3, 90 + k, 0, 1), dims: [4, 6, 6, 3] }]),
  });
  for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
  await assert.rejects(
    compressModel(load(), {
      mode: "pruning",
      configList: [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }],
      channelScales: true,
    }),
    /"channelScales" stores per-channel kernels of quantized TensorFlow.js models/,
  );
});

test("fitTfjsChannelScales: scales paid from the headroom, the least gain per byte dropped first, per tensor as NNI", async () => {
  const f = graphModelFiles();
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, PER_CHANNEL);
  const perTensor = await quantize(view.graph, [{ ...PER_CHANNEL[0], granularity: "default" }]);
  const weightBytes = view.tfjs.weights.reduce((n, w) => n + w.bytes.byteLength, 0);
  const shardBytes = (w: { shards: ReadonlyMap<string, Uint8Array> }) =>
    [...w.shards.values()].reduce((n, b) => n + b.length, 0);
  let last = Infinity;
  const seen = new Set<number>();
  let halfOnly = false;
  for (const headroom of [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1]) {
    const fit = await fitTfjsChannelScales(view.tfjs, view.graph, result.params, { headroom });
    const n = fit.dropped.length;
    seen.add(n);
    // No budget: nothing dropped; more room never drops more.
    if (headroom === 0) assert.equal(n, 0);
    else assert.ok(n <= last, `${headroom}: ${n} after ${last}`);
    last = headroom === 0 ? Infinity : n;
    // The least gain per scale byte goes first.
    const gains = fit.dropped.map((d) => (d.tensorError - d.channelError) / d.scaleBytes);
    for (let i = 1; i < gains.length; i++) assert.ok(gains[i - 1] <= gains[i], `${gains}`);
    // A dropped kernel's target gets NNI's per-tensor parameters.
    for (const d of fit.dropped) {
      const i = result.params.findIndex((p) => p.module === d.module && p.target === d.target);
      const want = perTensor.params.find((p) => p.module === d.module && p.target === d.target)!;
      assert.deepEqual([...fit.params[i].scale], [...want.scale], d.name);
      assert.deepEqual([...fit.params[i].zeroPoint], [...want.zeroPoint], d.name);
      assert.equal(fit.params[i].granularity, null);
    }
    if (headroom === 0) continue;
    // Written: the kept kernels with scales, the dropped ones as uint8 codes per tensor on
    // NNI's per-tensor values, the file within the budget whenever a kernel was dropped.
    const out = await quantizedTfjs(view.tfjs, view.graph, result.params, {
      channelScales: true,
      headroom,
    });
    assert.equal(out.channelScaled.length + out.channelScalesDropped.length, 5);
    assert.deepEqual(out.channelScalesDropped.map((d) => d.name), fit.dropped.map((d) => d.name));
    // float16 scales for the float32 kernels before any is dropped.
    assert.deepEqual(
      out.channelScaled.filter((c) => c.storage === "float16").map((c) => c.name).sort(),
      [...fit.halfScales].sort(),
    );
    if (n > 0) assert.equal(fit.halfScales.size, 5 - n);
    if (fit.halfScales.size > 0 && n === 0) halfOnly = true;
    // (Within the budget when some scales were kept: dropping them all may still not be.)
    if (n > 0 && n < 5) {
      assert.ok(
        shardBytes(out) <= (0.25 + headroom) * weightBytes,
        `${headroom}: ${shardBytes(out)} of ${weightBytes}`,
      );
    }
    const back = readTfjs(out.modelJson, out.shards);
    for (const d of out.channelScalesDropped) {
      assert.match(out.warnings.join("\n"), new RegExp(`${d.name} .*do not fit the size budget`));
      const w = back.weights.find((x) => x.spec.name === d.name)!;
      assert.equal(w.spec.quantization?.dtype, "uint8");
      const p = perTensor.params.find((x) => x.module === d.module && x.target === d.target)!;
      const ref = paramRef(view.graph, p.module, p.target, p.configIndex);
      const fake = toTfjsLayout(ref, fakeQuantize(await ref.data(), ref.shape, p));
      const got = tfjsWeightValues(w) as Float32Array;
      for (let i = 0; i < got.length; i++) {
        assert.ok(got[i] === fake[i] || (got[i] === 0 && fake[i] === 0), `${d.name}[${i}]`);
      }
    }
    // GPTQ's grids are the ones written: per tensor for the dropped kernels.
    const grids = await tfjsUint8Grids(view.tfjs, view.graph, result.params, {
      channelScales: true,
      headroom,
    });
    for (const c of out.channelScaled) assert.ok(grids.get(c.name)!.grid.channelScales, c.name);
    for (const d of out.channelScalesDropped) {
      assert.equal(grids.get(d.name)!.grid.channelScales, undefined, d.name);
    }
  }
  // The sweep saw all, some and none of the scales fit.
  assert.ok(seen.has(0) && seen.has(5) && [...seen].some((n) => n > 0 && n < 5), `${[...seen]}`);
  assert.ok(halfOnly, "a headroom where float16 scales fit them all");

  // compressModel's default headroom with GPTQ rounding: the dropped kernels are rounded on
  // their per-tensor grids, and the report says which scales did not fit.
  const calibration = [0, 1].map((
    k,
  ) => [{ data: values(4 * 6 * 6 * 3, 60 + k, 0, 1), dims: [4, 6, 6, 3] }]);
  const r = await compressModel(
    loadModel(f.get("model.json")!, "model.json", f),
    {
      mode: "quantization",
      configList: PER_CHANNEL,
      channelScales: true,
      tfjsRuntime: runtime,
      tfjsInputs: calibration,
      gptqRounding: true,
    },
  );
  const text = r.report.warnings.join("\n");
  assert.match(text, /GPTQ rounding: 5 uint8 kernel\(s\) rounded/);
  assert.match(text, /kernel\(s\) whose scales did not fit the size budget \(2\.0% headroom/);
});

/** Scales for every site, and the kernels divided by them (what the rewritten model needs). */
function scalesFor(model: TfjsModel, seed: number) {
  const scales = new Map<string, Float32Array>();
  const divided = new Map<string, { values: Float32Array }>();
  for (const [kernel, site] of tfjsChannelScaleSites(model)) {
    const s = values(site.channels, seed++, 0.25, 4);
    scales.set(kernel, s);
    const w = tfjsWeightValues(model.weights.find((x) => x.spec.name === kernel)!) as Float32Array;
    const per = w.length / site.channels;
    divided.set(kernel, {
      values: Float32Array.from(
        w,
        (v, i) => v / s[site.channelsLast ? i % site.channels : Math.floor(i / per)],
      ),
    });
  }
  return { scales, divided };
}

type Layer = {
  class_name: string;
  name?: string;
  config: Record<string, unknown>;
  inbound_nodes?: unknown[][][];
};
const layersOf = (m: TfjsModel) =>
  (m.json.modelTopology as { config: { layers: Layer[] } }).config.layers;

test("layers models: channel-scale sites are the Conv2D, DepthwiseConv2D, SeparableConv2D, Conv1D and Dense kernels", async () => {
  const seq = await layersModelFiles();
  assert.deepEqual(
    [...tfjsChannelScaleSites(readTfjs(seq.get("model.json")!, seq)).values()].map((
      s,
    ) => [s.kernel, s.nodes, s.channels, s.channelsLast]),
    [
      ["conv1/kernel", ["conv1"], 8, true],
      ["dw/depthwise_kernel", ["dw"], 16, true],
      ["sep/pointwise_kernel", ["sep"], 6, true],
      ["fc1/kernel", ["fc1"], 16, true],
      ["fc2/kernel", ["fc2"], 4, true],
    ],
  );
  const fn = await functionalModelFiles();
  const model = readTfjs(fn.get("model.json")!, fn);
  assert.deepEqual(
    [...tfjsChannelScaleSites(model).values()].map((s) => [s.kernel, s.channels]),
    [
      ["stem/kernel", 4],
      ["shared/kernel", 4],
      ["dw/depthwise_kernel", 8],
      ["sep/pointwise_kernel", 5],
      ["head/kernel", 2],
      ["fc/kernel", 3],
    ],
  );
  // A BatchNormalization carries a Dense kernel's scales: its mean and variance cost 2 bytes
  // per channel beside them.
  assert.equal(tfjsChannelScaleSites(model).get("fc/kernel")!.extraBytes, 6);
  assert.equal(tfjsChannelScaleSites(model).get("head/kernel")!.extraBytes, undefined);
  // A bias the config does not announce, and Keras 3's inbound nodes take none; a channels-first
  // convolution takes scales (its scale layer reads channels first too).
  const edit = (fnEdit: (json: { modelTopology: { config: { layers: Layer[] } } }) => void) => {
    const json = JSON.parse(new TextDecoder().decode(fn.get("model.json")!));
    fnEdit(json);
    const f = new Map([...fn, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
    return [...tfjsChannelScaleSites(readTfjs(f.get("model.json")!, f)).keys()];
  };
  assert.deepEqual(
    edit((j) => {
      j.modelTopology.config.layers.find((l) => l.name === "stem")!.config.data_format =
        "channels_first";
      j.modelTopology.config.layers.find((l) => l.name === "head")!.config.use_bias = true;
    }),
    ["stem/kernel", "shared/kernel", "dw/depthwise_kernel", "sep/pointwise_kernel", "fc/kernel"],
  );
  assert.deepEqual(
    edit((j) => {
      const sum = j.modelTopology.config.layers.find((l) => l.name === "sum")!;
      sum.inbound_nodes = [{ args: [], kwargs: {} }] as unknown as unknown[][][];
    }),
    [],
  );
});

test("layers models: withTfjsChannelScales puts a 1x1 DepthwiseConv2D or a BatchNormalization after each layer: the same outputs in tfjs", async () => {
  for (
    const [kind, f] of [
      ["sequential", await layersModelFiles()],
      ["functional", await functionalModelFiles()],
      ["nested", await nestedModelFiles()],
    ] as const
  ) {
    const model = readTfjs(f.get("model.json")!, f);
    const { scales, divided } = scalesFor(model, 500);
    const out = withTfjsChannelScales(model, scales);
    // The nested model's layers are in its inner models' lists.
    const layers = kind === "nested"
      ? layersOf(out.model).flatMap((m) => (m.config as { layers: Layer[] }).layers)
      : layersOf(out.model);
    assert.equal(out.weights.size, kind === "nested" ? 3 : kind === "functional" ? 6 : 5);
    for (const [kernel, weight] of out.weights) {
      const layer = kernel.split("/")[0];
      const at = layers.findIndex((l) => l.config.name === layer);
      const next = layers[at + 1];
      const dense = /^(fc|d)\d*$/.test(layer);
      const hasBias = model.weights.some((w) => w.spec.name === `${layer}/bias`);
      assert.equal(next.class_name, dense ? "BatchNormalization" : "DepthwiseConv2D", kernel);
      assert.equal(
        weight,
        `${layer}_channel_scale/${dense ? "gamma" : "depthwise_kernel"}`,
      );
      assert.equal(layers[at].config.activation, "linear");
      assert.equal(layers[at].config.use_bias, false);
      assert.equal(next.config[dense ? "center" : "use_bias"], hasBias);
    }
    if (kind === "sequential") {
      // fc1's relu moves to an Activation layer after its batch norm.
      const names = layers.map((l) => `${l.class_name}:${l.config.name}`);
      const at = names.indexOf("Dense:fc1");
      assert.deepEqual(names.slice(at, at + 4), [
        "Dense:fc1",
        "BatchNormalization:fc1_channel_scale",
        "Activation:fc1_activation",
        "Dense:fc2",
      ]);
      assert.equal(layers[at + 2].config.activation, "relu");
    }
    if (kind === "functional") {
      // The shared layer's two calls each get their scale; its readers read the scaled outputs.
      const scale = layers.find((l) => l.name === "shared_channel_scale")!;
      assert.deepEqual(scale.inbound_nodes, [[["shared", 0, 0, {}]], [["shared", 1, 0, {}]]]);
      assert.deepEqual(layers.find((l) => l.name === "shared")!.inbound_nodes, [
        [["stem_channel_scale", 0, 0, {}]],
        [["shared_channel_scale", 0, 0, {}]],
      ]);
      assert.deepEqual(
        (out.model.json.modelTopology as { config: { output_layers: unknown } }).config
          .output_layers,
        [["head_channel_scale", 0, 0], ["fc_channel_scale", 0, 0]],
      );
      assert.deepEqual([...out.renamed], [
        ["stem/bias", "stem_channel_scale/bias"],
        ["shared/bias", "shared_channel_scale/bias"],
        ["sep/bias", "sep_channel_scale/bias"],
        ["fc/bias", "fc_channel_scale/beta"],
      ]);
    }
    const written = filesOf(encodeTfjs(out.model, divided));
    const side = kind === "sequential" ? 8 : 6;
    const cmp = await compareTfjsOutputs(runtime, written, f, {
      inputs: [[{ data: values(side * side * 3 * 2, 7, -1, 1), dims: [2, side, side, 3] }]],
    });
    assert.equal(cmp.length, kind === "functional" ? 2 : 1);
    for (const c of cmp) {
      assert.ok(c.cosine > 0.999999, `${kind} ${c.name}: ${c.cosine}`);
      assert.ok(c.maxAbsDiff < 1e-4, `${kind} ${c.name}: ${c.maxAbsDiff}`);
    }
  }
});

test("layers models: channels-first convolutions get a scale layer that reads channels first: the same outputs in tfjs", async () => {
  const f = await channelsFirstModelFiles();
  const model = readTfjs(f.get("model.json")!, f);
  assert.deepEqual(
    [...tfjsChannelScaleSites(model).values()].map((s) => [s.kernel, s.channels, s.channelsLast]),
    [
      ["c1/kernel", 6, true],
      ["d1/depthwise_kernel", 12, true],
      ["s1/pointwise_kernel", 5, true],
      ["fc/kernel", 3, true],
    ],
  );
  const inputs = [[{ data: values(2 * 3 * 8 * 8, 23, -1, 1), dims: [2, 3, 8, 8] }]];
  // Random scales divided out of the kernels: the model computes what it did.
  const { scales, divided } = scalesFor(model, 900);
  const out = withTfjsChannelScales(model, scales);
  const layers = layersOf(out.model);
  for (const layer of ["c1", "d1", "s1"]) {
    const scale = layers.find((l) => l.config.name === `${layer}_channel_scale`)!;
    assert.equal(scale.class_name, "DepthwiseConv2D", layer);
    assert.equal(scale.config.data_format, "channels_first", layer);
  }
  assert.equal(
    layers.find((l) => l.config.name === "fc_channel_scale")!.class_name,
    "BatchNormalization",
  );
  const same = await compareTfjsOutputs(runtime, filesOf(encodeTfjs(out.model, divided)), f, {
    inputs,
  });
  assert.ok(same[0].cosine > 0.999999 && same[0].maxAbsDiff < 1e-4, `${same[0].maxAbsDiff}`);
  // Quantized int8 per channel: every kernel stored as codes, computing what the fake-quantized
  // file computes.
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, PER_CHANNEL);
  const plain = await quantizedTfjs(view.tfjs, view.graph, result.params);
  const q = await quantizedTfjs(view.tfjs, view.graph, result.params, { channelScales: true });
  assert.deepEqual(q.channelScaled.map((c) => c.name).sort(), [
    "c1/kernel",
    "d1/depthwise_kernel",
    "fc/kernel",
    "s1/pointwise_kernel",
  ]);
  const back = readTfjs(q.modelJson, q.shards);
  for (const c of q.channelScaled) {
    const w = back.weights.find((x) => x.spec.name === c.name)!;
    assert.equal(w.spec.quantization?.dtype, "uint8", c.name);
  }
  const cmp = await compareTfjsOutputs(runtime, filesOf(q), filesOf(plain), { inputs });
  assert.ok(cmp[0].maxAbsDiff < 1e-4, `${cmp[0].maxAbsDiff}`);
  // A Conv1D in channels first takes none: tfjs-layers gives its outputs channels last, unlike
  // Keras, so no scale layer would read them right in both.
  const seq = await channelsFirstModelFiles(2048, true);
  const m1 = readTfjs(seq.get("model.json")!, seq);
  assert.deepEqual([...tfjsChannelScaleSites(m1).keys()], ["fc/kernel"]);
});

test("layers models: quantizedTfjs channelScales writes per-channel int8 kernels as NNI's values at one byte per weight", async () => {
  const f = await functionalModelFiles();
  const view = loadModel(f.get("model.json")!, "model.json", f);
  if (view.format !== "tfjs") throw new Error("a tfjs model");
  const result = await quantize(view.graph, PER_CHANNEL);
  const plain = await quantizedTfjs(view.tfjs, view.graph, result.params);
  assert.match(plain.warnings.join("\n"), /channelScales stores a Conv2D, DepthwiseConv2D/);
  const out = await quantizedTfjs(view.tfjs, view.graph, result.params, { channelScales: true });
  assert.deepEqual(out.channelScaled.map((c) => c.name).sort(), [
    "dw/depthwise_kernel",
    "fc/kernel",
    "head/kernel",
    "sep/pointwise_kernel",
    "shared/kernel",
    "stem/kernel",
  ]);
  const back = readTfjs(out.modelJson, out.shards);
  const byName = new Map(back.weights.map((w) => [w.spec.name, w]));
  const sites = tfjsChannelScaleSites(view.tfjs);
  for (const c of out.channelScaled) {
    const p = result.params.find((p) => paramRef(view.graph, p.module, p.target).name === c.name)!;
    const ref = paramRef(view.graph, p.module, p.target, p.configIndex);
    const kernel = byName.get(c.name)!;
    assert.equal(kernel.spec.quantization?.dtype, "uint8", c.name);
    assert.equal(kernel.bytes.length, ref.shape.reduce((a, b) => a * b, 1), c.name);
    const scales = tfjsWeightValues(byName.get(c.scales)!) as Float32Array;
    const levels = tfjsWeightValues(kernel) as Float32Array;
    const fake = toTfjsLayout(ref, fakeQuantize(await ref.data(), ref.shape, p));
    const channels = sites.get(c.name)!.channels;
    const check = new Float32Array(1);
    for (let i = 0; i < levels.length; i++) {
      check[0] = levels[i] * scales[i % channels];
      assert.ok(check[0] === fake[i], `${c.name}[${i}]: ${check[0]} vs ${fake[i]}`);
    }
  }
  // tfjs loads it (strict weight names) and computes what the fake-quantized file computes.
  const cmp = await compareTfjsOutputs(runtime, filesOf(out), filesOf(plain), {
    inputs: [[{ data: values(6 * 6 * 3 * 4, 13, -1, 1), dims: [4, 6, 6, 3] }]],
  });
  for (const c of cmp) assert.ok(c.maxAbsDiff < 1e-4, `${c.name}: ${c.maxAbsDiff}`);
  const bytes = (w: { shards: ReadonlyMap<string, Uint8Array> }) =>
    [...w.shards.values()].reduce((n, b) => n + b.length, 0);
  // (The biases and scales, float32, are a large part of so small a model.)
  assert.ok(bytes(out) < 0.6 * bytes(plain), `${bytes(out)} vs ${bytes(plain)}`);
  // The written file reads again, its scale layers as 1x1 depthwise convolutions.
  const again = loadModel(out.modelJson, "model.json", filesOf(out));
  assert.ok(
    again.graph.modules.some((m) => m.name === "stem_channel_scale" && m.type === "Conv2d"),
  );
});

test("layers models: channel scales with bias correction and GPTQ rounding; equalization of the separable convolution", async () => {
  const f = await functionalModelFiles();
  const r = await compressModel(loadModel(f.get("model.json")!, "model.json", f), {
    mode: "quantization",
    configList: PER_CHANNEL,
    channelScales: true,
    headroom: 0,
    tfjsRuntime: runtime,
    tfjsInputs: [[{ data: values(6 * 6 * 3 * 4, 5, 0, 1), dims: [4, 6, 6, 3] }]],
    equalize: true,
    biasCorrection: true,
    gptqRounding: true,
  });
  const text = r.report.warnings.join("\n");
  // Its other convolutions meet a shared layer or an add, or end in a sigmoid: two pairs, `dw`
  // into `sep`'s depthwise kernel, and that into its pointwise one.
  assert.match(text, /equalize: 2 pair\(s\) of layers rescaled per channel/);
  // Seven sites are corrected (`shared`, called twice, on the means of both calls; `sep` and its
  // depthwise kernel, which is written fake-quantized as float32; `dw` and `head` given a
  // bias); the six on a uint8 grid (all but `sep`'s depthwise kernel; its pointwise kernel on the
  // depthwise output) are rounded, then carry their scales (the biases move to the scale layers).
  assert.match(text, /bias correction: the expected output shift of 7 layer\(s\)/);
  assert.match(text, /2 of them had no bias and were given one \(use_bias\): dw, head/);
  assert.match(text, /GPTQ rounding: 6 uint8 kernel\(s\) rounded/);
  assert.match(text, /channel scales: 6 kernel\(s\)/);
  const written = readTfjs(r.files!.get("model.json")!, r.files!);
  for (const name of ["dw", "head"]) {
    assert.ok(written.weights.some((w) => w.spec.name === `${name}_channel_scale/bias`), name);
  }
  const cmp = await compareTfjsOutputs(runtime, r.files!, f, {
    inputs: [[{ data: values(6 * 6 * 3 * 4, 8, 0, 1), dims: [4, 6, 6, 3] }]],
  });
  for (const c of cmp) assert.ok(c.cosine > 0.99, `${c.name}: ${c.cosine}`);
});
