// TensorFlow.js model files built with tfjs itself (a layers model saved by `model.save`, a graph
// model in the converter's format with fused ops), in every weight dtype and tfjs weight
// quantization: read exactly as tfjs reads them, seen in PyTorch layout, written back unchanged,
// quantized and pruned, then run by tfjs against the original.
import { test } from "node:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import assert from "node:assert/strict";
import { loadGraphModel } from "@tensorflow/tfjs-converter";
import {
  compareTfjsOutputs,
  type TfjsRuntime,
  tfjsSensitivity,
} from "../../src/compress/compare_tfjs.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { readModelFile } from "../../src/compress/read_model_file.ts";
import { readTfjs, tfjsWeightValues } from "../../src/io/tfjs/read_tfjs.ts";
import { readTfjsFile, saveTfjsFiles } from "../../src/io/tfjs/save_tfjs.ts";
import { FileError } from "../../src/io/file_error.ts";
import { encodeTfjs } from "../../src/io/tfjs/write_tfjs.ts";
import { ModelFormatError } from "../../src/io/model_format_error.ts";
import { prune } from "../../src/pruning/prune.ts";
import { quantize } from "../../src/quantization/quantize.ts";
import { quantizedTfjs } from "../../src/quantization/quantized_tfjs.ts";
import { einsumDense, tfjsModel } from "../../src/model/tfjs_model.ts";
import { fakeQuantize } from "../../src/quantization/fake_quantize.ts";
import {
  einsumModelFiles,
  type Files,
  graphModelFiles,
  layersModelFiles,
  recurrentModelFiles,
  savedFiles,
  storedAs,
  tf,
  tfl,
  topKModelFiles,
  UINT8_KERNELS,
  values,
  whereModelFiles,
} from "./_models.ts";
import { cli, CLS, tempDir } from "../cli/_run.ts";

const runtime: TfjsRuntime = {
  tf,
  loadGraphModel: (h) => loadGraphModel(h),
  loadLayersModel: (h) => tfl.loadLayersModel(h),
};

const STORAGES = ["float32", "uint8", "uint16", "float16"] as const;

async function variants(): Promise<{ label: string; files: Files; base: Files }[]> {
  const out = [];
  for (
    const [kind, base] of [["layers", await layersModelFiles()], [
      "graph",
      graphModelFiles(),
    ]] as const
  ) {
    for (const s of STORAGES) {
      out.push({ label: `${kind} ${s}`, files: s === "float32" ? base : storedAs(base, s), base });
    }
  }
  return out;
}

const load = (files: Files) => loadModel(files.get("model.json")!, "model.json", files);

/** All shard bytes in manifest order and the weight specs, as tfjs's loaders hand them over. */
function artifacts(files: Files) {
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  const parts = json.weightsManifest.flatMap((g: { paths: string[] }) =>
    g.paths.map((p) => files.get(p)!)
  );
  const data = new Uint8Array(parts.reduce((n: number, p: Uint8Array) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { specs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights), data };
}

const bits = (v: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(v).buffer));

test("every weight reads as tfjs's own decodeWeights reads it, in every storage", async () => {
  for (const { label, files } of await variants()) {
    const model = readTfjs(files.get("model.json")!, files);
    const { specs, data } = artifacts(files);
    const ref = tf.io.decodeWeights(data.buffer, specs);
    for (const w of model.weights) {
      const mine = tfjsWeightValues(w);
      const theirs = ref[w.spec.name].dataSync();
      assert.equal(mine.length, theirs.length, `${label} ${w.spec.name}`);
      if (w.spec.dtype === "float32") {
        assert.deepEqual(bits(mine), bits(theirs as Float32Array), `${label} ${w.spec.name}`);
      } else assert.deepEqual([...mine], [...theirs], `${label} ${w.spec.name}`);
    }
    tf.dispose(Object.values(ref));
  }
});

test("int32 weights stored as uint8/uint16 codes, strings and complex64 read like tfjs", () => {
  const int = Int32Array.of(-3, 0, 7, 12);
  const u8 = Uint8Array.of(0, 1, 2, 3);
  const u16 = new Uint8Array(Uint16Array.of(0, 2, 4, 6).buffer);
  const text = new TextEncoder().encode("abc");
  const str = new Uint8Array(4 + text.length);
  new DataView(str.buffer).setUint32(0, text.length, true);
  str.set(text, 4);
  const cx = new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer);
  const specs = [
    { name: "i", shape: [4], dtype: "int32" },
    { name: "q8", shape: [4], dtype: "int32", quantization: { dtype: "uint8", min: -3, scale: 5 } },
    {
      name: "q16",
      shape: [4],
      dtype: "int32",
      quantization: { dtype: "uint16", min: 1, scale: 0.75 },
    },
    { name: "s", shape: [1], dtype: "string" },
    { name: "c", shape: [2], dtype: "complex64" },
  ];
  const parts = [new Uint8Array(int.buffer), u8, u16, str, cx];
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  // Cut mid-weight into three shards listed out of name order, as the manifest may.
  const json = JSON.stringify({
    format: "graph-model",
    modelTopology: { node: [] },
    weightsManifest: [{ paths: ["z.bin", "a.bin", "m.bin"], weights: specs }],
  });
  const shards = new Map([["m.bin", data.subarray(13)], ["a.bin", data.subarray(5, 13)], [
    "z.bin",
    data.subarray(0, 5),
  ]]);
  const model = readTfjs(json, shards);
  const ref = tf.io.decodeWeights(data.buffer, specs as never);
  for (const w of model.weights.slice(0, 3)) {
    assert.deepEqual([...tfjsWeightValues(w)], [...ref[w.spec.name].dataSync()], w.spec.name);
  }
  assert.deepEqual(model.weights[3].bytes, str);
  assert.deepEqual(model.weights[4].bytes, cx);
  assert.throws(() => tfjsWeightValues(model.weights[3]), TypeError);
  tf.dispose(Object.values(ref));
});

test("a missing or short shard is a ModelFormatError naming the file, weight and offset", () => {
  const json = JSON.stringify({
    format: "graph-model",
    modelTopology: { node: [] },
    weightsManifest: [{ paths: ["a.bin"], weights: [{ name: "w", shape: [4], dtype: "float32" }] }],
  });
  assert.throws(() => readTfjs(json, new Map(), { file: "m/model.json" }), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.match(e.message, /m\/model\.json.*"a\.bin" is missing/);
    return true;
  });
  assert.throws(() => readTfjs(json, new Map([["a.bin", new Uint8Array(10)]])), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.equal(e.field, "w");
    assert.match(e.message, /needs 16 bytes from byte 0 .* hold 10 bytes/);
    return true;
  });
});

test("a weights manifest alone (face-api.js's *-weights_manifest.json) is read; a broken one names the fault", () => {
  const manifest = JSON.stringify([{
    paths: ["a.bin"],
    weights: [{ name: "w", shape: [4], dtype: "float32" }],
  }]);
  const model = readTfjs(manifest, new Map([["a.bin", new Uint8Array(16)]]));
  assert.equal(model.kind, "weights-manifest");
  assert.deepEqual(model.json, { weightsManifest: JSON.parse(manifest) });
  assert.throws(
    () => readTfjs(manifest, new Map(), { file: "m-weights_manifest.json" }),
    (e: unknown) => {
      assert.ok(e instanceof ModelFormatError);
      assert.match(e.message, /m-weights_manifest\.json.*the weight shard "a\.bin" is missing/);
      return true;
    },
  );
  assert.throws(() => readTfjs("[1, 2]", new Map()), /a manifest group must have "paths"/);
  assert.throws(
    () => readTfjs("5", new Map()),
    /must hold a JSON object \(a model\) or a list of weight groups/,
  );
});

test("a TensorFlow GraphDef (tfjs 0.x's tensorflowjs_model.pb) is a ModelFormatError that says what it is", async () => {
  const dir = tempDir();
  // GraphDef { node { name: "x" op: "Placeholder" } }: field 1 (node) length-delimited.
  const node = [0x0a, 0x01, 0x78, 0x12, 0x0b, ...new TextEncoder().encode("Placeholder")];
  const path = `${dir}/tensorflowjs_model.pb`;
  writeFileSync(path, new Uint8Array([0x0a, node.length, ...node]));
  await assert.rejects(readModelFile(path, () => {}), (e: unknown) => {
    assert.ok(e instanceof ModelFormatError);
    assert.equal(e.offset, 0);
    assert.match(e.message, /tensorflowjs_model\.pb" at byte 0: this is not an ONNX model/);
    assert.match(e.message, /TensorFlow GraphDef.*tensorflowjs_converter 1\.0 or later/);
    return true;
  });
  const r = await cli("inspect", path);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /most likely a TensorFlow GraphDef/);
});

test("the module view has PyTorch layouts: Conv2D, depthwise (multiplier 2), Dense, transpose_b", async () => {
  const layers = tfjsModel(
    readTfjs((await layersModelFiles()).get("model.json")!, await layersModelFiles()),
  );
  const byName = new Map(layers.modules.map((m) => [m.name, m]));
  const raw = new Map(
    layers.source!.format === "tfjs"
      ? layers.source!.tfjs.weights.map((w) => [w.spec.name, w])
      : [],
  );
  const check = async (module: string, weight: string, perm: number[], shape: number[]) => {
    const ref = byName.get(module)!.params.weight;
    assert.deepEqual(ref.shape, shape, module);
    const w = raw.get(weight)!;
    const t = tf.tensor(tfjsWeightValues(w) as Float32Array, [...w.spec.shape]);
    const expected = tf.reshape(tf.transpose(t, perm), shape);
    assert.deepEqual(bits(await ref.data()), bits(expected.dataSync()), module);
    tf.dispose([t, expected]);
  };
  await check("conv1", "conv1/kernel", [3, 2, 0, 1], [8, 3, 3, 3]);
  await check("dw", "dw/depthwise_kernel", [2, 3, 0, 1], [16, 1, 3, 3]);
  await check("sep.pointwise", "sep/pointwise_kernel", [3, 2, 0, 1], [6, 16, 1, 1]);
  await check("fc1", "fc1/kernel", [1, 0], [16, 384]);
  assert.equal(byName.get("bn")!.type, "BatchNorm2d");
  assert.deepEqual(Object.keys(byName.get("bn")!.params).sort(), [
    "bias",
    "running_mean",
    "running_var",
    "weight",
  ]);
  assert.equal(byName.get("conv1")!.activation, "relu");

  const graph = tfjsModel(readTfjs(graphModelFiles().get("model.json")!, graphModelFiles()));
  const g = new Map(graph.modules.map((m) => [m.name, m]));
  assert.deepEqual(
    [...g.values()].filter((m) => m.type !== "Module").map((
      m,
    ) => [m.name, m.type, m.opType, m.activation ?? "", Object.keys(m.params).join(",")]),
    [
      ["model.conv1", "Conv2d", "_FusedConv2D", "Relu", "weight,bias"],
      ["model.dw", "Conv2d", "FusedDepthwiseConv2dNative", "Relu6", "weight,bias"],
      ["model.conv2", "Conv2d", "Conv2D", "", "weight,bias"],
      ["model.fc1", "Linear", "_FusedMatMul", "Relu", "weight,bias"],
      ["model.fc2", "Linear", "MatMul", "", "weight"],
    ],
  );
  assert.deepEqual(g.get("model.fc2")!.params.weight.shape, [3, 12]);
  assert.equal(g.get("model.fc2")!.params.weight.transpose, undefined);
  assert.deepEqual(g.get("model.dw")!.params.weight.shape, [8, 1, 3, 3]);
  assert.deepEqual(graph.graph!.inputs, ["x"]);
  assert.deepEqual(graph.graph!.outputs, ["Identity"]);
});

test("einsumDense: the equations of a dense layer, either operand the kernel, and no other", () => {
  const kernelAt = (k: number) => (i: number) => i === k;
  const dense = (operand: number, inOut: boolean, keptLast = true) => ({
    operand,
    inOut,
    keptLast,
  });
  assert.deepEqual(einsumDense("abcg,gf->abcf", kernelAt(1)), dense(1, true));
  assert.deepEqual(einsumDense("ij,kj->ik", kernelAt(1)), dense(1, false));
  assert.deepEqual(einsumDense("fg,abg->abf", kernelAt(0)), dense(0, false));
  assert.deepEqual(einsumDense("...g, gf -> ...f", kernelAt(1)), dense(1, true));
  assert.deepEqual(einsumDense("bij,jk->kbi", kernelAt(1)), dense(1, true, false));
  for (
    const eq of [
      "abcg,gf->abcf,", // not one output
      "abcg,gf", // implicit output
      "abcg,gf->abcf->abcf", // two arrows
      "ij,jk->i", // the kernel's other axis summed away
      "ij,jk->ijk", // nothing contracted
      "ij,jj->ij", // a repeated label
      "bij,bjk->bik", // a batched product (a 3-D operand as kernel)
      "ij,jk,kl->il", // three operands
      "aij,jk->ik", // a label of the input summed away besides the contracted one
      "ij,jk->ikz", // a label from nowhere
    ]
  ) assert.equal(einsumDense(eq, kernelAt(1)), undefined, eq);
  // Neither operand a kernel (two activations, a resize by a computed matrix).
  assert.equal(einsumDense("abcg,gf->abcf", () => false), undefined);
});

test("an Einsum dense layer (jax2tf) is a Linear: layout, bias, activation; quantized and pruned, tfjs runs it", async () => {
  const files = einsumModelFiles();
  const model = load(files);
  const byName = new Map(model.graph.modules.map((m) => [m.name, m]));
  const inProj = byName.get("model.in_proj.einsum")!;
  const outProj = byName.get("model.out_proj.einsum")!;
  assert.deepEqual(
    [inProj, outProj].map((m) => [m.type, m.opType, m.activation ?? "", Object.keys(m.params)]),
    [["Linear", "Einsum", "Tanh", ["weight", "bias"]], ["Linear", "Einsum", "", ["weight"]]],
  );
  assert.ok(model.format === "tfjs");
  const raw = new Map(model.tfjs.weights.map((w) => [w.spec.name, tfjsWeightValues(w)]));
  // [in, out] stored, [out, in] seen; a kernel stored [out, in] is seen as stored.
  const stored = raw.get("jax2tf_arg_0/ReadVariableOp")!;
  assert.deepEqual(inProj.params.weight.shape, [5, 6]);
  const seen = await inProj.params.weight.data();
  for (let o = 0; o < 5; o++) {
    for (let i = 0; i < 6; i++) assert.equal(seen[o * 6 + i], stored[i * 5 + o]);
  }
  assert.deepEqual(outProj.params.weight.shape, [3, 5]);
  assert.deepEqual(
    bits(await outProj.params.weight.data()),
    bits(raw.get("jax2tf_arg_2/ReadVariableOp")!),
  );
  assert.equal(model.graph.modules.filter((m) => m.opType === "Einsum").length, 2);

  // uint8 per tensor: tfjs runs the result, both outputs close.
  const q = await (await quantize(model.graph, UINT8_KERNELS)).save("int");
  assert.deepEqual(q.warnings, []);
  const back = load(q.files! as Files);
  assert.ok(back.format === "tfjs");
  assert.deepEqual(
    back.tfjs.weights.filter((w) => w.spec.quantization?.dtype === "uint8").map((w) => w.spec.name)
      .sort(),
    ["jax2tf_arg_0/ReadVariableOp", "jax2tf_arg_2/ReadVariableOp"],
  );
  const cmp = await compareTfjsOutputs(runtime, q.files!, files);
  assert.equal(cmp.length, 2);
  for (const c of cmp) assert.ok(c.cosine >= 0.99, `${c.name}: ${c.cosine}`);

  // Output channels pruned: whole columns of the [in, out] kernel, whole rows of [out, in].
  const pruned = await (await prune(model.graph, [{
    op_types: ["Linear"],
    sparse_ratio: 0.4,
    granularity: "out_channel",
  }])).save();
  const p = load(pruned.files! as Files);
  assert.ok(p.format === "tfjs");
  const after = new Map(p.tfjs.weights.map((w) => [w.spec.name, tfjsWeightValues(w)]));
  const k0 = after.get("jax2tf_arg_0/ReadVariableOp")!;
  const zeroColumns = [0, 1, 2, 3, 4].filter((o) =>
    [0, 1, 2, 3, 4, 5].every((i) => k0[i * 5 + o] === 0)
  );
  assert.equal(zeroColumns.length, 2);
  assert.equal([...k0].filter((v) => v === 0).length, 12);
  const k2 = after.get("jax2tf_arg_2/ReadVariableOp")!;
  const zeroRows = [0, 1, 2].filter((o) => k2.subarray(o * 5, o * 5 + 5).every((v) => v === 0));
  assert.equal(zeroRows.length, 1);
  const [pc] = await compareTfjsOutputs(runtime, pruned.files!, files);
  assert.ok(Number.isFinite(pc.cosine));
});

test("recurrent layers, cells and wrappers: LSTM/GRU/RNN weights, a stack of cells, and TimeDistributed's Dense in PyTorch layout; quantized and pruned, tfjs runs them", async () => {
  const files = await recurrentModelFiles();
  const model = load(files);
  assert.ok(model.format === "tfjs");
  const view = model.graph.modules.map((m) => [
    m.name,
    m.type,
    ...Object.entries(m.params).map(([n, r]) => `${n} ${r.shape.join("x")}`),
  ]);
  assert.deepEqual(view.map(([name, type]) => [name, type]), [
    ["bi.forward_lstm", "LSTM"],
    ["bi.backward_lstm", "LSTM"],
    ["td", "Linear"],
    ["gru", "GRU"],
    ["stack.RNNCell_0", "LSTM"],
    ["stack.RNNCell_1", "RNN"],
    ["srnn", "RNN"],
    ["out", "Linear"],
  ]);
  assert.deepEqual(view[0].slice(2), ["weight_ih 64x8", "weight_hh 64x16", "bias 64"]);
  assert.deepEqual(view[2].slice(2), ["weight 12x32", "bias 12"]);
  assert.deepEqual(view[3].slice(2), ["weight_ih 30x12", "weight_hh 30x10", "bias 30"]);
  assert.deepEqual(view[5].slice(2), ["weight_ih 5x6", "weight_hh 5x5", "bias 5"]);
  // weight_ih is the Keras kernel [in, gates * units] transposed.
  const raw = new Map(model.tfjs.weights.map((w) => [w.spec.name, tfjsWeightValues(w)]));
  const kernel = raw.get("gru/kernel")!;
  const seen = await model.graph.modules[3].params.weight_ih.data();
  for (let o = 0; o < 30; o++) {
    for (let i = 0; i < 12; i++) assert.equal(seen[o * 12 + i], kernel[i * 30 + o]);
  }
  assert.deepEqual(
    bits(await model.graph.modules[3].params.bias.data()),
    bits(raw.get("gru/bias")!),
  );

  // uint8 per tensor of every input and recurrent kernel and both dense kernels.
  const config = [
    {
      op_types: ["LSTM", "GRU", "RNN"],
      target_names: ["weight_ih", "weight_hh"],
      quant_dtype: "uint8",
      quant_scheme: "affine",
    },
    ...UINT8_KERNELS,
  ];
  const q = await (await quantize(model.graph, config)).save("int");
  assert.deepEqual(q.warnings, []);
  const back = load(q.files! as Files);
  assert.ok(back.format === "tfjs");
  const coded = back.tfjs.weights.filter((w) => w.spec.quantization?.dtype === "uint8");
  assert.deepEqual(
    coded.map((w) => w.spec.name).sort(),
    [...raw.keys()].filter((n) => /kernel$/.test(n)).sort(),
  );
  const [qc] = await compareTfjsOutputs(runtime, q.files!, files);
  assert.ok(qc.cosine >= 0.999, `uint8: ${qc.cosine}`);

  // Half of each recurrent kernel pruned: zeros in the stored kernels, tfjs runs the result.
  const pruned = await (await prune(model.graph, [{
    op_types: ["LSTM", "GRU", "RNN"],
    target_names: ["weight_ih", "weight_hh"],
    sparse_ratio: 0.5,
  }])).save();
  const p = load(pruned.files! as Files);
  assert.ok(p.format === "tfjs");
  for (const w of p.tfjs.weights) {
    const v = tfjsWeightValues(w);
    const zeros = [...v].filter((x) => x === 0).length;
    if (/\/(recurrent_)?kernel$/.test(w.spec.name) && !/^(td|out)\//.test(w.spec.name)) {
      assert.equal(zeros, Math.floor(v.length / 2), w.spec.name);
    } else assert.deepEqual(bits(v), bits(raw.get(w.spec.name)!), w.spec.name);
  }
  const [pc] = await compareTfjsOutputs(runtime, pruned.files!, files);
  assert.ok(Number.isFinite(pc.cosine) && pc.cosine > 0.9, `pruned: ${pc.cosine}`);
});

test("Einsum dense layers take bias correction and GPTQ rounding: the shift (W_q - W) E[x] leaves the bias", async () => {
  const files = einsumModelFiles();
  const model = load(files);
  // Inputs not centred on zero, so that a kernel's rounding shifts the outputs.
  const sets = [0, 1, 2].map((
    k,
  ) => [{ data: values(2 * 4 * 4 * 6, 70 + k, 0, 1), dims: [2, 4, 4, 6] }]);
  const options = {
    mode: "quantization",
    configList: UINT8_KERNELS,
    headroom: 0,
    tfjsRuntime: runtime,
    tfjsInputs: sets,
    measureHeadroom: false,
  } as const;
  const plain = await compressModel(model, options);
  const corrected = await compressModel(model, { ...options, biasCorrection: true });
  const warning = corrected.report.warnings.find((w) => w.startsWith("bias correction"))!;
  assert.match(warning, /shift of 1 layer\(s\) taken out of their biases/);
  // out_proj has no bias, and an Einsum takes no new one: its shift is left, and named.
  assert.match(warning, /model\/out_proj\/einsum\/Einsum/);
  const weights = (f: ReadonlyMap<string, Uint8Array>) => {
    const m = load(f as Files);
    assert.ok(m.format === "tfjs");
    return new Map(m.tfjs.weights.map((w) => [w.spec.name, tfjsWeightValues(w)]));
  };
  const before = weights(files);
  const q = weights(plain.files!);
  const after = weights(corrected.files!);
  const kernel = "jax2tf_arg_0/ReadVariableOp";
  assert.deepEqual(after.get(kernel), q.get(kernel));
  // E[x] per input channel over every set, then b' = b - sum_g (W_q - W)[g, f] E[x_g].
  const mean = new Float64Array(6);
  let rows = 0;
  for (const [x] of sets) {
    for (let i = 0; i < x.data.length; i++) mean[i % 6] += x.data[i];
    rows += x.data.length / 6;
  }
  const w = before.get(kernel)!;
  const wq = q.get(kernel)!;
  const bias = before.get("jax2tf_arg_1/ReadVariableOp")!;
  const got = after.get("jax2tf_arg_1/ReadVariableOp")!;
  let moved = 0;
  for (let f = 0; f < 5; f++) {
    let shift = 0;
    for (let g = 0; g < 6; g++) shift += (wq[g * 5 + f] - w[g * 5 + f]) * mean[g] / rows;
    assert.ok(Math.abs(got[f] - (bias[f] - shift)) < 1e-6, `channel ${f}`);
    moved = Math.max(moved, Math.abs(shift));
  }
  assert.ok(moved > 1e-5, String(moved));
  // GPTQ rounding keeps each Einsum kernel's grid and changes some codes.
  const gptq = await compressModel(model, { ...options, gptqRounding: true });
  const g = weights(gptq.files!);
  for (const k of [kernel, "jax2tf_arg_2/ReadVariableOp"]) {
    assert.equal(g.get(k)!.length, q.get(k)!.length);
    assert.ok(g.get(k)!.some((v, i) => v !== q.get(k)![i]), k);
  }
  const cmp = await compareTfjsOutputs(runtime, gptq.files!, files);
  for (const c of cmp) assert.ok(c.cosine >= 0.99, `${c.name}: ${c.cosine}`);
});

test("round trip: every tensor identical, in every storage and shard size", async () => {
  for (const { label, files } of await variants()) {
    const model = readTfjs(files.get("model.json")!, files);
    for (const shardBytes of [333, 4 * 1024 * 1024]) {
      const out = encodeTfjs(model, new Map(), { shardBytes });
      assert.ok([...out.shards.values()].every((s) => s.length <= shardBytes));
      const back = readTfjs(out.modelJson, out.shards);
      assert.deepEqual(back.weights.map((w) => w.spec), model.weights.map((w) => w.spec), label);
      back.weights.forEach((w, i) =>
        assert.deepEqual(w.bytes, model.weights[i].bytes, `${label} ${w.spec.name}`)
      );
      // Everything but the manifest is kept as read.
      const { weightsManifest: _a, ...restA } = JSON.parse(new TextDecoder().decode(out.modelJson));
      const { weightsManifest: _b, ...restB } = model.json;
      assert.deepEqual(restA, restB);
    }
  }
});

const QUANT = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "uint8",
  quant_scheme: "affine",
}];

test("quantize to uint8: tfjs codes per tensor that decode to NNI's fake-quantized values; tfjs runs it", async () => {
  for (const { label, files, base } of await variants()) {
    const model = load(files);
    const view = model.graph;
    const result = await quantize(view, QUANT);
    const saved = await result.save("int");
    assert.deepEqual(saved.warnings, [], label);
    const back = load(saved.files! as Files);
    const byName = new Map(back.graph.modules.map((m) => [m.name, m]));
    for (const p of result.params) {
      const ref = byName.get(p.module)!.params[p.target];
      assert.equal(ref.dtype, "U8", `${label} ${p.module}`);
      const orig = view.modules.find((m) => m.name === p.module)!.params[p.target];
      // uint8 codes stay as stored: they already are a uint8 quantization (see the next test).
      const expected = label.endsWith(" uint8")
        ? await orig.data()
        : fakeQuantize(await orig.data(), orig.shape, p);
      const got = await ref.data();
      for (let i = 0; i < got.length; i++) {
        assert.ok(
          got[i] === expected[i],
          `${label} ${p.module}[${i}]: ${got[i]} vs ${expected[i]}`,
        );
      }
    }
    const [cmp] = await compareTfjsOutputs(runtime, saved.files!, base);
    assert.ok(cmp.cosine >= 0.99, `${label}: cosine ${cmp.cosine}`);
  }
});

test("a model already stored as uint8: targets and non-targets written back byte for byte", async () => {
  // Every float weight as the converter's uint8 codes, with one grid per tensor whose range need
  // not hold 0 (uint8 biases, the dense kernels): quantizing them again on NNI's grid moved them
  // by up to 4.5e-8; a shipped model's Reshape constant and NMS thresholds moved likewise and
  // changed which boxes non-max suppression kept (human/handtrack).
  const files = storedAs(graphModelFiles(), "uint8");
  const model = load(files);
  if (model.format !== "tfjs") throw new Error("not a tfjs model");
  for (
    const [label, opTypes] of [["Conv2d only", ["Conv2d"]], ["every constant", [
      "Conv2d",
      "Linear",
      "Module",
    ]]] as const
  ) {
    for (const storage of ["int", "float"] as const) {
      const out = await compressModel(model, {
        mode: "quantization",
        configList: [{
          op_types: [...opTypes],
          target_names: ["weight"],
          quant_dtype: "uint8",
          quant_scheme: "affine",
        }],
        storage,
        headroom: 0,
      });
      const back = readTfjs(out.files!.get("model.json")!, out.files!);
      assert.deepEqual(back.weights.map((w) => w.spec), model.tfjs.weights.map((w) => w.spec));
      back.weights.forEach((w, i) =>
        assert.deepEqual(w.bytes, model.tfjs.weights[i].bytes, `${label} ${storage} ${w.spec.name}`)
      );
      const [cmp] = await compareTfjsOutputs(runtime, out.files!, files);
      assert.equal(cmp.maxAbsDiff, 0, `${label} ${storage}`);
    }
  }
});

test("per-channel int8 has no tfjs storage: written fake-quantized, exactly, and the report says so", async () => {
  const files = await layersModelFiles();
  const model = load(files);
  const out = await compressModel(model, {
    mode: "quantization",
    configList: [{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int8",
      granularity: "per_channel",
    }],
  });
  assert.equal(
    out.report.warnings.filter((w) => /written fake-quantized as float(16|32)/.test(w)).length,
    2,
  );
  assert.match(
    out.report.warnings.join("\n"),
    /tfjs stores one min and scale per tensor, the target has 16/,
  );
  const result = await quantize(model.graph, [{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "per_channel",
  }]);
  const back = load(out.files! as Files).graph;
  for (const p of result.params) {
    const orig = model.graph.modules.find((m) => m.name === p.module)!.params.weight;
    const expected = fakeQuantize(await orig.data(), orig.shape, p);
    const got = await back.modules.find((m) => m.name === p.module)!.params.weight.data();
    assert.deepEqual(bits(got), bits(expected), p.module);
  }
  const [cmp] = await compareTfjsOutputs(runtime, out.files!, files);
  assert.ok(cmp.cosine >= 0.99);
});

test("prune 30% and 50%: zeros where the masks say, stored as before, and tfjs runs the result", async () => {
  for (const { label, files, base } of await variants()) {
    const model = load(files);
    for (const ratio of [0.3, 0.5]) {
      const config = [{ op_types: ["Conv2d", "Linear"], sparse_ratio: ratio }];
      const result = await prune(model.graph, config);
      const saved = await result.save();
      const back = load(saved.files! as Files);
      assert.ok(model.format === "tfjs" && back.format === "tfjs");
      const before = new Map(model.tfjs.weights.map((w) => [w.spec.name, w.spec]));
      for (const w of back.tfjs.weights) {
        assert.equal(
          w.spec.quantization?.dtype,
          before.get(w.spec.name)!.quantization?.dtype,
          `${label} ${w.spec.name}`,
        );
      }
      for (const t of result.targets) {
        if (t.target !== "weight") continue;
        const ref = back.graph.modules.find((m) => m.name === t.module)!.params.weight;
        const values = await ref.data();
        const zeros = values.filter((v) => v === 0).length;
        assert.ok(
          zeros >= Math.floor(values.length * ratio),
          `${label} ${t.module}: ${zeros}/${values.length}`,
        );
      }
      const [cmp] = await compareTfjsOutputs(runtime, saved.files!, base);
      assert.ok(Number.isFinite(cmp.cosine) && cmp.cosine > 0, `${label} ${ratio}: ${cmp.cosine}`);
    }
  }
});

test("L1 channel pruning zeroes whole output channels in tfjs layout (last dim of Conv2D)", async () => {
  const files = await layersModelFiles();
  const model = load(files);
  const result = await prune(model.graph, [{ op_names: ["conv1"], sparse_ratio: 0.5 }], {
    pruner: "l1",
  });
  const saved = await result.save();
  const back = readTfjs(saved.files!.get("model.json")!, saved.files!);
  const w = back.weights.find((x) => x.spec.name === "conv1/kernel")!;
  const v = tfjsWeightValues(w);
  const out = w.spec.shape[3];
  const zeroChannels = Array.from({ length: out }, (_, o) => o).filter((o) => {
    for (let i = o; i < v.length; i += out) if (v[i] !== 0) return false;
    return true;
  });
  assert.equal(zeroChannels.length, 4);
});

test("files on disk: model.json and shards, renamed after the output, read back by path", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, await layersModelFiles());
  const model = await readModelFile(`${dir}/model.json`, () => {});
  assert.equal(model.format, "tfjs");
  const result = await compressModel(model, {
    mode: "pruning",
    configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
  });
  await saveTfjsFiles(`${dir}/small.json`, result.files!);
  const names = readdirSync(dir).sort();
  assert.ok(names.includes("small-shard1of1.bin"), names.join(","));
  assert.ok(names.includes("group1-shard1of14.bin"));
  const again = await readModelFile(`${dir}/small.json`, () => {});
  assert.equal(again.graph.modules.length, model.graph.modules.length);
  assert.ok(
    result.report.after.fileBytes > 0 &&
      result.report.before.fileBytes > result.report.after.fileBytes - 100,
  );
});

test("shard paths with %-escapes are decoded; a % that is no escape, or a name on disk as written, is read as it is", async () => {
  const dir = tempDir();
  const files = await layersModelFiles(1 << 20);
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  const shard = files.get(json.weightsManifest[0].paths[0])!;
  const cases: [string, string][] = [
    ["my%20weights.bin", "my weights.bin"],
    ["50%.bin", "50%.bin"],
    ["a%20b%.bin", "a%20b%.bin"],
    ["./sub%2Dx.bin", "sub%2Dx.bin"],
  ];
  for (const [path, onDisk] of cases) {
    json.weightsManifest[0].paths = [path];
    writeFileSync(`${dir}/m.json`, JSON.stringify(json));
    writeFileSync(`${dir}/${onDisk}`, shard);
    const model = await readTfjsFile(`${dir}/m.json`);
    assert.equal(model.weights.length, json.weightsManifest[0].weights.length, path);
  }
  json.weightsManifest[0].paths = ["gone%zz.bin"];
  writeFileSync(`${dir}/m.json`, JSON.stringify(json));
  await assert.rejects(readTfjsFile(`${dir}/m.json`), (e: Error) => {
    assert.ok(e instanceof FileError, String(e));
    assert.match(e.message, /gone%zz\.bin/);
    return true;
  });
});

/** `eval <dir>/q8.json --reference <dir>/model.json`, then `extra`. */
const evalQ8 = (dir: string, ...extra: string[]) =>
  cli("eval", `${dir}/q8.json`, "--reference", `${dir}/model.json`, ...extra);

test("CLI: inspect, prune, quantize and eval --reference on model.json", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, graphModelFiles());
  writeFileSync(
    `${dir}/p.json`,
    JSON.stringify([{ op_types: ["Conv2d", "Linear"], sparse_ratio: 0.3 }]),
  );
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  const inspect = await cli("inspect", `${dir}/model.json`);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /model\.conv1\s+Conv2d\s+_FusedConv2D/);
  const p = await cli(
    "prune",
    `${dir}/model.json`,
    "--config",
    `${dir}/p.json`,
    "--output",
    `${dir}/pruned.json`,
  );
  assert.equal(p.code, 0, p.stderr);
  const q = await cli(
    "quantize",
    `${dir}/model.json`,
    "--config",
    `${dir}/q.json`,
    "--output",
    `${dir}/q8.json`,
  );
  assert.equal(q.code, 0, q.stderr);
  const e = await evalQ8(dir, "--json");
  assert.equal(e.code, 0, e.stderr);
  const cos = JSON.parse(e.stdout).outputs[0].cosine;
  assert.ok(cos >= 0.99, String(cos));
});

test("outputs after a selection op (TopKV2) are flagged by the comparison, left out of the measured headroom, and noted by eval", async () => {
  const files = topKModelFiles();
  const q = await compressModel(load(files), { mode: "quantization", configList: UINT8_KERNELS });
  // 256 rows: on some, the third and fourth scores swap, and the picked positions jump.
  const inputs = [[{ data: values(2048, 5, -1, 1), dims: [256, 8] }]];
  const cmp = await compareTfjsOutputs(runtime, q.files!, files, { inputs });
  assert.deepEqual(
    cmp.map((c) => [c.name, c.afterSelection ?? ""]),
    [["Identity", "TopKV2"], ["Identity_1", ""], ["Identity_2", "TopKV2"]],
  );
  const scores = cmp[1].cosine;
  assert.ok(scores < 1 && scores > 0.9999, String(scores));
  assert.ok(cmp[2].maxAbsDiff >= 1 && cmp[2].cosine < scores, JSON.stringify(cmp[2]));
  // Matched as sets (rows of 3 picks), the picks agree at least as well as position by position.
  assert.equal(cmp[1].matched, undefined);
  for (const c of [cmp[0], cmp[2]]) {
    const m = c.matched!;
    assert.deepEqual([m.rows, m.record, m.unmatched], [256, 3, 0], JSON.stringify(m));
    assert.ok(m.cosine >= c.cosine && m.maxAbsDiff <= c.maxAbsDiff, JSON.stringify(c));
  }
  // The measure of the headroom is the scores' cosine, not the positions' lower one.
  const s = await tfjsSensitivity(runtime, files, { inputs });
  try {
    const measured = await s.measure(q.files!);
    assert.ok(Math.abs(measured - scores) < 1e-9, `${measured} against ${scores}`);
  } finally {
    s.dispose();
  }
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, files);
  await saveTfjsFiles(`${dir}/q8.json`, q.files!);
  const e = await evalQ8(dir);
  assert.equal(e.code, 0, e.stderr);
  assert.match(
    e.stdout,
    /Identity, Identity_2 come after a selection op \(TopKV2\): .* judge it on the other outputs, or on the picks matched below\./,
  );
  assert.match(
    e.stdout,
    /The picks matched as sets .*\n\n.*picks paired.*\n.*\nIdentity\s+2\s+3\s+0\s/,
  );
  const j = await evalQ8(dir, "--json");
  assert.deepEqual(
    JSON.parse(j.stdout).outputs.map((o: { afterSelection?: string }) => o.afterSelection ?? ""),
    ["TopKV2", "", "TopKV2"],
  );
});

test("outputs after a Where whose lists differ in length: no element-wise measures, the picks matched with the rest counted", async () => {
  const files = whereModelFiles();
  const q = await compressModel(load(files), { mode: "quantization", configList: UINT8_KERNELS });
  const inputs = [[{ data: values(2048, 5, -1, 1), dims: [256, 8] }]];
  const ref = await compareTfjsOutputs(runtime, files, files, { inputs });
  assert.deepEqual(ref.map((c) => [c.name, c.afterSelection ?? "", Math.round(c.cosine * 1e9)]), [
    ["Identity", "Where", 1e9],
    ["Identity_1", "Where", 1e9],
    ["Identity_2", "", 1e9],
  ]);
  const passed = ref[1].dims[0];
  assert.ok(passed > 100 && passed < 1536, String(passed));
  const cmp = await compareTfjsOutputs(runtime, q.files!, files, { inputs });
  assert.ok(cmp[2].cosine > 0.9999 && cmp[2].cosine < 1, String(cmp[2].cosine));
  const [coords, scores] = cmp;
  // Scores near 0.3 crossed it: the lists differ in length.
  assert.ok(Number.isNaN(coords.cosine) && Number.isNaN(scores.maxAbsDiff), JSON.stringify(cmp));
  const m = scores.matched!;
  assert.equal(m.record, 1);
  assert.ok(m.unmatched > 0 && m.unmatched < 20, JSON.stringify(m));
  // The shorter list is paired whole.
  assert.ok(m.rows === passed || m.rows + m.unmatched === passed, JSON.stringify(m));
  assert.ok(m.cosine > 0.99 && m.cosine < 1, String(m.cosine));
  // A score without a partner is near the threshold: the largest difference is about 0.3.
  assert.ok(m.maxAbsDiff > 0.29 && m.maxAbsDiff < 0.32, String(m.maxAbsDiff));
  assert.deepEqual([coords.matched!.record, coords.matched!.unmatched], [2, m.unmatched]);
  // Every output is a pick but one: the measured headroom scores the raw output alone.
  const s = await tfjsSensitivity(runtime, files, { inputs });
  try {
    assert.ok(Math.abs((await s.measure(q.files!)) - cmp[2].cosine) < 1e-9);
  } finally {
    s.dispose();
  }
  // Without the raw output every output is a pick: the comparison adds the tensor the Where
  // selects from (the scores, through its Greater).
  const picksOnly = (f: Map<string, Uint8Array>) => {
    const json = JSON.parse(new TextDecoder().decode(f.get("model.json")!));
    json.modelTopology.node = json.modelTopology.node.filter((n: { name: string }) =>
      n.name !== "Identity_2"
    );
    return new Map([...f, ["model.json", new TextEncoder().encode(JSON.stringify(json))]]);
  };
  const refOnly = picksOnly(files);
  const qOnly = picksOnly(q.files! as Map<string, Uint8Array>);
  const only = await compareTfjsOutputs(runtime, qOnly, refOnly, { inputs });
  assert.deepEqual(
    only.map((c) => [c.name, c.afterSelection ?? "", c.beforeSelection ?? ""]),
    [["Identity", "Where", ""], ["Identity_1", "Where", ""], ["dense/MatMul", "", "Where"]],
  );
  // The same tensor as the raw output of the model with it.
  assert.deepEqual(only[2].dims, cmp[2].dims);
  assert.ok(Math.abs(only[2].cosine - cmp[2].cosine) < 1e-12, JSON.stringify(only[2]));
  assert.ok(Math.abs(only[2].maxAbsDiff - cmp[2].maxAbsDiff) < 1e-12);
  // The measured headroom still scores such a model on its picks matched as sets.
  const p = await tfjsSensitivity(runtime, refOnly, { inputs });
  try {
    const lowest = Math.min(...only.slice(0, 2).map((c) => c.matched!.cosine));
    assert.ok(Math.abs((await p.measure(qOnly)) - lowest) < 1e-9, String(lowest));
  } finally {
    p.dispose();
  }
  // On random inputs the tensor comes too.
  const [, , raw] = await compareTfjsOutputs(runtime, qOnly, refOnly, { seed: 7 });
  assert.equal(raw.beforeSelection, "Where");
  assert.ok(raw.cosine < 1 && raw.cosine > 0.999, String(raw.cosine));
  // eval names the row that is no output and says to judge the model on it.
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, refOnly);
  await saveTfjsFiles(`${dir}/q8.json`, qOnly);
  const e = await evalQ8(dir);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /\ndense\/MatMul\s+\[\d+, 6\]\s/);
  assert.match(
    e.stdout,
    /Identity, Identity_1 come after a selection op \(Where\): .* judge it on the last row, or on the picks matched below\./,
  );
  assert.match(
    e.stdout,
    /The last row is no output: the tensor the selection op \(Where\) selects from, the model's raw scores, offsets or heatmaps, compared element by element\./,
  );
  const j = await evalQ8(dir, "--json");
  assert.deepEqual(
    JSON.parse(j.stdout).outputs.map((o: { beforeSelection?: string }) => o.beforeSelection ?? ""),
    ["", "", "Where"],
  );
});

test("CLI: --tfjs-setup registers a layers model's custom layer for eval and for the runs of quantize", async () => {
  const dir = tempDir();
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [4], activation: "tanh" }),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  model.layers.forEach((l, i) =>
    l.setWeights(
      l.getWeights().map((w, j) => tf.tensor(values(w.size, 40 + 2 * i + j, -1, 1), w.shape)),
    )
  );
  const files = await savedFiles(model);
  // A weightless layer tfjs-layers does not know, between the two Dense layers.
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  (json.modelTopology.model_config ?? json.modelTopology).config.layers.splice(1, 0, {
    class_name: "ScaleByTwo",
    config: { name: "scale_by_two", trainable: true, dtype: "float32" },
  });
  files.set("model.json", new TextEncoder().encode(JSON.stringify(json)));
  await saveTfjsFiles(`${dir}/model.json`, files);
  writeFileSync(
    `${dir}/setup.mjs`,
    `export default (tf) => {
      class ScaleByTwo extends tf.layers.Layer {
        static className = "ScaleByTwo";
        call(x) { return tf.mul(Array.isArray(x) ? x[0] : x, 2); }
      }
      tf.serialization.registerClass(ScaleByTwo);
    };\n`,
  );
  writeFileSync(`${dir}/none.mjs`, "export const layers = [];\n");
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  const q = await cli(
    "quantize",
    `${dir}/model.json`,
    "--config",
    `${dir}/q.json`,
    "-o",
    `${dir}/q8.json`,
    "--measure-headroom",
    "--headroom",
    "0.3",
    "--tfjs-setup",
    `${dir}/setup.mjs`,
  );
  assert.equal(q.code, 0, q.stderr);
  // The measured headroom runs the model in tfjs: without the setup it cannot.
  const qWithout = await cli(
    "quantize",
    `${dir}/model.json`,
    "--config",
    `${dir}/q.json`,
    "-o",
    `${dir}/q8b.json`,
    "--measure-headroom",
  );
  assert.equal(qWithout.code, 1, qWithout.stderr);
  assert.match(qWithout.stderr, /Unknown layer: ScaleByTwo/);
  assert.match(qWithout.stderr, /hint: .*--tfjs-setup <module\.js>/);
  assert.ok(!existsSync(`${dir}/q8b.json`));
  const without = await evalQ8(dir);
  assert.equal(without.code, 1, without.stderr);
  assert.match(without.stderr, /Unknown layer: ScaleByTwo/);
  assert.match(without.stderr, /hint: .*--tfjs-setup <module\.js>/);
  const e = await evalQ8(dir, "--tfjs-setup", `${dir}/setup.mjs`, "--json");
  assert.equal(e.code, 0, e.stderr);
  const cos = JSON.parse(e.stdout).outputs[0].cosine;
  assert.ok(cos >= 0.99, String(cos));
  // A module with no function, a missing one, and the flag on a model it cannot apply to.
  const none = await evalQ8(dir, "--tfjs-setup", `${dir}/none.mjs`);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /--tfjs-setup .*none\.mjs exports no function/);
  const missing = await evalQ8(dir, "--tfjs-setup", `${dir}/absent.mjs`);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot load --tfjs-setup .*absent\.mjs/);
  const onnx = await cli("eval", CLS, "--tfjs-setup", `${dir}/setup.mjs`);
  assert.equal(onnx.code, 2, onnx.stderr);
  assert.match(onnx.stderr, /--tfjs-setup goes with a TensorFlow\.js model\.json/);
});

test("CLI: --tfjs-setup gives a graph model's unknown op an implementation (tf.registerOp) for eval", async () => {
  const dir = tempDir();
  const files = graphModelFiles();
  const json = JSON.parse(new TextDecoder().decode(files.get("model.json")!));
  json.modelTopology.node.find((n: { name: string }) => n.name === "Identity").op = "TimesTwo";
  files.set("model.json", new TextEncoder().encode(JSON.stringify(json)));
  await saveTfjsFiles(`${dir}/model.json`, files);
  writeFileSync(
    `${dir}/ops.mjs`,
    'export default (tf) => tf.registerOp("TimesTwo", (node) => tf.mul(node.inputs[0], 2));\n',
  );
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  const q = await cli(
    "quantize",
    `${dir}/model.json`,
    "-c",
    `${dir}/q.json`,
    "-o",
    `${dir}/q8.json`,
  );
  assert.equal(q.code, 0, q.stderr);
  const without = await evalQ8(dir);
  assert.equal(without.code, 1, without.stderr);
  assert.match(without.stderr, /Unknown op 'TimesTwo'/);
  assert.match(without.stderr, /hint: .*--tfjs-setup <module\.js>.*tf\.registerOp/);
  const e = await evalQ8(dir, "--tfjs-setup", `${dir}/ops.mjs`, "--json");
  assert.equal(e.code, 0, e.stderr);
  const cos = JSON.parse(e.stdout).outputs[0].cosine;
  assert.ok(cos >= 0.99, String(cos));
});

test("measured headroom: the weight whose uint8 storage damages the outputs goes to 16 bits, whatever its channel error", async () => {
  const files = graphModelFiles();
  const model = load(files);
  if (model.format !== "tfjs") throw new Error("not a tfjs model");
  const config = [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "uint8",
    quant_scheme: "affine",
  }];
  const result = await quantize(model.graph, config);
  const fc1 = "model/fc1/MatMul/ReadVariableOp";
  const seen: string[][] = [];
  // Outputs suffer only when fc1 (the largest, last by channel error per byte) is stored as uint8.
  const measure = (f: { modelJson: Uint8Array }) => {
    const json = JSON.parse(new TextDecoder().decode(f.modelJson));
    const specs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights) as {
      name: string;
      quantization?: { dtype: string };
    }[];
    const uint8 = specs.filter((s) => s.quantization?.dtype === "uint8").map((s) => s.name);
    seen.push(uint8);
    return Promise.resolve(uint8.includes(fc1) ? 0.6 : 1);
  };
  const out = await quantizedTfjs(model.tfjs, model.graph, result.params, {
    headroom: 0.5,
    measure,
  });
  // Each of the five targets measured alone at uint8, the other weights as stored.
  assert.equal(seen.length, 5);
  assert.ok(seen.every((s) => s.length === 1), JSON.stringify(seen));
  assert.deepEqual(out.upgraded.map((u) => [u.name, u.damage]), [[fc1, 0.4]]);
  assert.notEqual(out.storages.get(fc1), "uint8");
  const plain = await quantizedTfjs(model.tfjs, model.graph, result.params, { headroom: 0.5 });
  // By channel error per byte the budget goes to every other weight first.
  assert.equal(plain.upgraded.length, 5);
  assert.equal(plain.upgraded[4].name, fc1);
  assert.ok(plain.upgraded.every((u) => u.damage === undefined));
});

test("measured headroom with tfjs: within 25% + 10% of the weight bytes, the lowest cosine on other inputs at least the channel error's", async () => {
  const files = graphModelFiles();
  const model = load(files);
  const base = {
    mode: "quantization",
    configList: [{
      op_types: ["Conv2d", "Linear"],
      target_names: ["weight"],
      quant_dtype: "uint8",
      quant_scheme: "affine",
    }],
    headroom: 0.1,
  } as const;
  const byError = await compressModel(model, base);
  const measured = await compressModel(model, { ...base, tfjsRuntime: runtime });
  assert.match(measured.report.warnings.join("\n"), /raised the measured output cosine/);
  const weightBytes = (f: ReadonlyMap<string, Uint8Array>) =>
    [...f].filter(([k]) => k !== "model.json").reduce((n, [, b]) => n + b.length, 0);
  assert.ok(weightBytes(measured.files!) <= 0.35 * weightBytes(files));
  // compareTfjsOutputs's inputs (seed 1234) are not the ones the choice was measured on (7).
  const cos = async (f: ReadonlyMap<string, Uint8Array>) =>
    Math.min(...(await compareTfjsOutputs(runtime, f, files)).map((c) => c.cosine));
  const a = await cos(measured.files!);
  const b = await cos(byError.files!);
  assert.ok(a >= b - 1e-4, `measured ${a}, by channel error ${b}`);
});

test("CLI: quantize --measure-headroom runs tfjs to choose the weights stored at 16 bits", async () => {
  const dir = tempDir();
  await saveTfjsFiles(`${dir}/model.json`, graphModelFiles());
  writeFileSync(`${dir}/q.json`, JSON.stringify(QUANT));
  const q = await cli(
    "quantize",
    `${dir}/model.json`,
    "--config",
    `${dir}/q.json`,
    "--headroom",
    "0.1",
    "--measure-headroom",
    "--output",
    `${dir}/q8.json`,
  );
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout + q.stderr, /raised the measured output cosine the most per byte/);
});

test("an empty constant and a -inf one are no modules: quantizing every constant passes them by", async () => {
  // nanodet (human-models) holds both, an empty [0, 1] and a -inf padding value; faceboxes a
  // -inf score threshold. Quantizing them failed on their empty or infinite range.
  const json = JSON.stringify({
    format: "graph-model",
    modelTopology: {
      node: [
        { name: "x", op: "Placeholder" },
        { name: "k", op: "Const" },
        { name: "empty", op: "Const" },
        { name: "pad", op: "Const" },
        { name: "y", op: "MatMul", input: ["x", "k"] },
        { name: "z", op: "ConcatV2", input: ["y", "empty"] },
        { name: "p", op: "PadV2", input: ["z", "empty", "pad"] },
      ],
    },
    weightsManifest: [{
      paths: ["w.bin"],
      weights: [
        { name: "k", shape: [2, 2], dtype: "float32" },
        { name: "empty", shape: [0, 2], dtype: "float32" },
        { name: "pad", shape: [], dtype: "float32" },
      ],
    }],
  });
  const files = new Map([
    ["model.json", new TextEncoder().encode(json)],
    ["w.bin", new Uint8Array(Float32Array.of(0.5, -1, 0.25, 2, -Infinity).buffer)],
  ]);
  const model = loadModel(files.get("model.json")!, "model.json", files);
  assert.deepEqual(model.graph.modules.map((m) => m.name), ["y"]);
  const r = await compressModel(model, {
    mode: "quantization",
    configList: [{
      op_types: ["Linear", "Module"],
      target_names: ["weight"],
      quant_dtype: "uint8",
      quant_scheme: "affine",
    }],
  });
  const back = readTfjs(r.files!.get("model.json")!, r.files!);
  assert.deepEqual(back.weights.map((w) => [w.spec.name, w.spec.shape, w.bytes.length]), [
    ["k", [2, 2], 4],
    ["empty", [0, 2], 0],
    ["pad", [], 4],
  ]);
  assert.deepEqual([...tfjsWeightValues(back.weights[2])], [-Infinity]);
});

test("compareTfjsOutputs: an image input of free size is 128 x 128, other free dims 16", async () => {
  const model = (dims: number[]) => {
    const json = JSON.stringify({
      format: "graph-model",
      modelTopology: {
        node: [
          {
            name: "x",
            op: "Placeholder",
            attr: {
              dtype: { type: "DT_FLOAT" },
              shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } },
            },
          },
          { name: "y", op: "Identity", input: ["x"], attr: { T: { type: "DT_FLOAT" } } },
        ],
        versions: { producer: 1482 },
      },
      weightsManifest: [{ paths: [], weights: [] }],
    });
    return new Map([["model.json", new TextEncoder().encode(json)]]);
  };
  const runtime: TfjsRuntime = { tf, loadGraphModel: (h) => loadGraphModel(h) };
  const image = model([-1, -1, -1, 3]);
  assert.deepEqual((await compareTfjsOutputs(runtime, image, image))[0].dims, [2, 128, 128, 3]);
  const rows = model([-1, -1, 5]);
  assert.deepEqual((await compareTfjsOutputs(runtime, rows, rows))[0].dims, [2, 16, 5]);
});
