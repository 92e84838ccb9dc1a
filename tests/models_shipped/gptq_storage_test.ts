// GPTQ results in the integer storages: QDQ (DequantizeLinear on GPTQ's own codes, scales and
// zero points), MatMulNBits with g_idx for act-order groups, and on safetensors models integer
// codes and compressed-tensors. Each runs (or reads back) like the float GPTQ model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compressModel, loadModel } from "../../mod.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { convBatchNorm, mlp, values } from "./_models.ts";
import { groupedConvs } from "../quantization/_grouped_convs.ts";
import { loadOrt } from "../io/_ocr.ts";
import { difference, runModel } from "./_ort.ts";
import { gptq } from "../../src/quantization/gptq.ts";
import { sparseGpt } from "../../src/pruning/sparse_gpt.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { readQuantizedSafetensors } from "../../src/quantization/quantized_safetensors.ts";
import { readCompressedTensors } from "../../src/quantization/compressed_tensors.ts";
import { dequantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { readLayerInputs } from "../../src/compress/layer_inputs.ts";

// The model's input is [2, 32]: 32 batches of 2 rows.
const BATCHES = Array.from({ length: 32 }, (_, i) => ({
  x: { data: values(2 * 32, 100 + i), dims: [2, 32] },
}));

const config = (quant_dtype: string, granularity: unknown, op = "Linear") => [{
  op_types: [op],
  target_names: ["weight"],
  quant_dtype,
  ...(quant_dtype.startsWith("u") ? { quant_scheme: "affine" } : {}),
  granularity,
}];

/** The raw bytes of an initializer. */
function initializer(bytes: Uint8Array, name: string): { storage: { bytes: Uint8Array } } {
  const t = decodeOnnx(bytes).tensors.find((t) => t.name === name);
  assert.ok(t !== undefined && t.storage.kind === "raw", name);
  return { storage: { bytes: bytes.slice(t.storage.start, t.storage.end) } };
}

/**
 * The outputs of a QDQ model with onnxruntime's DequantizeLinear + MatMul fusion computing in
 * float (`session.qdq_matmulnbits_accuracy_level` 0): by default (4) it fuses 4-bit per-channel
 * weights into MatMulNBits and quantizes the activations to int8, which moves outputs by ~0.7%.
 */
async function runFloat(model: Uint8Array, dims: number[]): Promise<Float32Array> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(model, {
    extra: { session: { qdq_matmulnbits_accuracy_level: "0" } },
  });
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor("float32", values(n, 99, 1.5), dims);
  const out = await session.run({ x });
  return out.y.data as Float32Array;
}

for (const quant_dtype of ["int4", "uint4", "int3"]) {
  test(`GPTQ ${quant_dtype} per channel as QDQ holds GPTQ's codes and runs like its float model`, async () => {
    const ort = await loadOrt();
    const run = (storage: "float" | "int" | "auto") =>
      compressModel(loadModel(mlp(), "mlp.onnx"), {
        mode: "quantization",
        algorithm: "GPTQ",
        configList: config(quant_dtype, "per_channel"),
        storage,
        calibration: { batches: BATCHES, ort },
      });
    const float = await run("float");
    const qdq = await run("int");
    assert.equal(qdq.report.storage, "qdq");
    assert.equal((await run("auto")).report.storage, "qdq");
    const ops = decodeOnnx(qdq.bytes).graph.nodes.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === "DequantizeLinear").length, 2, ops.join(","));
    assert.ok(qdq.bytes.length < 0.3 * float.bytes.length, `${qdq.bytes.length} bytes`);
    const a = await runModel(float.bytes, "x", [2, 32]);
    const d = difference(await runFloat(qdq.bytes, [2, 32]), a.y);
    assert.ok(d.relative <= 1e-4, `max |diff| ${d.max} (relative ${d.relative})`);
    // fc1 sees the graph input: its codes and scales are gptq()'s on the calibration rows.
    const w = await onnxModel(decodeOnnx(mlp())).modules.find((m) => m.name === "fc1")!.params
      .weight.data();
    const bits = Number(quant_dtype.at(-1));
    const direct = gptq(w, [64, 32], BATCHES.map((b) => b.x.data), {
      bits,
      sym: !quant_dtype.startsWith("u"),
    });
    const scale = initializer(qdq.bytes, "fc1.weight_scale");
    assert.deepEqual(
      new Float32Array(scale.storage.bytes.slice().buffer),
      direct.scale,
    );
    // The codes, stored [in, out] (MatMul layout) as packed 4-bit values, low nibble first.
    const packed = initializer(qdq.bytes, "fc1.weight_quantized").storage.bytes;
    const codes = Array.from({ length: 64 * 32 }, (_, i) => (packed[i >> 1] >> ((i & 1) * 4)) & 15);
    const want = Array.from({ length: 64 * 32 }, (_, i) => direct.codes[(i % 64) * 32 + (i >> 6)]);
    assert.deepEqual(codes, want);
    const zp = initializer(qdq.bytes, "fc1.weight_zero_point").storage.bytes;
    assert.deepEqual(
      Array.from({ length: 64 }, (_, i) => (zp[i >> 1] >> ((i & 1) * 4)) & 15),
      [...direct.zeroPoint],
    );
  });
}

test("GPTQ int4 per channel on convolutions as QDQ runs like its float model", async () => {
  const ort = await loadOrt();
  const batches = Array.from({ length: 4 }, (_, i) => ({
    x: { data: values(3 * 64, 300 + i), dims: [1, 3, 8, 8] },
  }));
  const run = (storage: "float" | "int") =>
    compressModel(loadModel(convBatchNorm(), "conv.onnx"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int4", "per_channel", "Conv2d"),
      storage,
      calibration: { batches, ort },
    });
  const float = await run("float");
  const qdq = await run("int");
  assert.equal(qdq.report.storage, "qdq");
  const ops = decodeOnnx(qdq.bytes).graph.nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === "DequantizeLinear").length, 2, ops.join(","));
  const a = await runModel(float.bytes, "x", [1, 3, 8, 8]);
  const b = await runModel(qdq.bytes, "x", [1, 3, 8, 8]);
  const d = difference(b.y, a.y);
  assert.ok(d.relative <= 1e-4, `max |diff| ${d.max} (relative ${d.relative})`);
});

test("GPTQ on grouped and depthwise convolutions: QDQ per channel runs like the float model, groups [1, G] as float", async () => {
  const ort = await loadOrt();
  const { bytes, batches } = groupedConvs();
  const run = (storage: "float" | "int" | "auto", granularity: unknown = "per_channel") =>
    compressModel(loadModel(bytes, "grouped.onnx"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int4", granularity, "Conv2d"),
      storage,
      calibration: { batches, ort },
    });
  const float = await run("float");
  assert.deepEqual(float.report.layers.map((l) => l.module), ["gconv", "dw"]);
  assert.deepEqual(float.report.warnings ?? [], []);
  const qdq = await run("int");
  assert.equal(qdq.report.storage, "qdq");
  assert.equal((await run("auto")).report.storage, "qdq");
  const ops = decodeOnnx(qdq.bytes).graph.nodes.map((n) => n.opType);
  assert.equal(ops.filter((o) => o === "DequantizeLinear").length, 2, ops.join(","));
  const a = await runModel(float.bytes, "x", [2, 4, 6, 7]);
  const b = await runModel(qdq.bytes, "x", [2, 4, 6, 7]);
  for (const name of ["r", "y"]) {
    const d = difference(b[name], a[name]);
    assert.ok(d.relative <= 1e-4, `${name}: max |diff| ${d.max} (relative ${d.relative})`);
  }
  // the float model's weights are GPTQ's, on the grid, different from the source's
  const source = onnxModel(decodeOnnx(bytes));
  const saved = onnxModel(decodeOnnx(float.bytes));
  for (const name of ["gconv", "dw"]) {
    const before = await source.modules.find((m) => m.name === name)!.params.weight.data();
    const after = await saved.modules.find((m) => m.name === name)!.params.weight.data();
    assert.notDeepEqual(after, before, name);
  }
  // [1, G] groups along the im2col row are stored as float, as for dense convolutions
  const grouped = await run("auto", [1, 3]);
  assert.equal(grouped.report.storage, "float");
  assert.deepEqual(grouped.report.layers.map((l) => l.module), ["gconv", "dw"]);
});

test("GPTQ groups [1, G] as QDQ below opset 21: float with the reason under auto, an error under int", async () => {
  const ort = await loadOrt();
  const run = (storage: "int" | "auto") =>
    compressModel(loadModel(mlp(), "mlp.onnx"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int4", [1, 16]),
      storage,
      calibration: { batches: BATCHES, ort },
    });
  const auto = await run("auto");
  assert.equal(auto.report.storage, "float");
  assert.match(
    auto.report.warnings.join("\n"),
    /GPTQ's weights are stored as float .*opset 21: the model's opset is 17/,
  );
  await assert.rejects(
    run("int"),
    /DequantizeLinear's block_size, which needs default-domain opset 21/,
  );
});

for (const quant_dtype of ["int4", "uint4", "int3"]) {
  test(`GPTQ ${quant_dtype} groups [1, 16] as blocked QDQ (opset 21) hold GPTQ's grid and run like its float model`, async () => {
    const ort = await loadOrt();
    const opset21 = mlp(21);
    const run = (storage: "float" | "int") =>
      compressModel(loadModel(opset21, "mlp.onnx"), {
        mode: "quantization",
        algorithm: "GPTQ",
        configList: config(quant_dtype, [1, 16]),
        storage,
        calibration: { batches: BATCHES, ort },
      });
    const float = await run("float");
    const qdq = await run("int");
    assert.equal(qdq.report.storage, "qdq");
    const dq = decodeOnnx(qdq.bytes).graph.nodes.filter((n) => n.opType === "DequantizeLinear");
    assert.equal(dq.length, 2);
    assert.deepEqual(
      dq[0].attributes.map((a) => [a.name, a.i]),
      [["axis", 0], ["block_size", 16]],
    );
    const d = difference(
      await runFloat(qdq.bytes, [2, 32]),
      (await runModel(float.bytes, "x", [2, 32])).y,
    );
    assert.ok(d.relative <= 1e-4, `max |diff| ${d.max} (relative ${d.relative})`);
    // fc1's scales, stored [groups, out] (the MatMul layout), are gptq()'s [out, groups].
    const w = await onnxModel(decodeOnnx(mlp())).modules.find((m) => m.name === "fc1")!.params
      .weight.data();
    const direct = gptq(w, [64, 32], BATCHES.map((b) => b.x.data), {
      bits: Number(quant_dtype.at(-1)),
      sym: !quant_dtype.startsWith("u"),
      groupSize: 16,
    });
    const scale = new Float32Array(
      initializer(qdq.bytes, "fc1.weight_scale").storage.bytes.slice().buffer,
    );
    assert.deepEqual(
      [...scale],
      Array.from({ length: 128 }, (_, i) => direct.scale[(i % 64) * 2 + (i >> 6)]),
    );
  });
}

for (const quant_dtype of ["uint4", "int4", "int3"]) {
  for (const granularity of [[1, 16], [1, 32]]) {
    test(`GPTQ ${quant_dtype} act-order groups ${JSON.stringify(granularity)} as MatMulNBits with g_idx run like the float model`, async () => {
      const ort = await loadOrt();
      const run = (storage: "float" | "nbits" | "int" | "auto") =>
        compressModel(loadModel(mlp(), "mlp.onnx"), {
          mode: "quantization",
          algorithm: "GPTQ",
          configList: config(quant_dtype, granularity),
          storage,
          gptq: { actOrder: true },
          calibration: { batches: BATCHES, ort },
        });
      const float = await run("float");
      const nbits = await run("nbits");
      assert.equal(nbits.report.storage, "nbits");
      const nodes = decodeOnnx(nbits.bytes).graph.nodes.filter((n) => n.opType === "MatMulNBits");
      assert.equal(nodes.length, 2);
      assert.ok(nodes.every((n) => n.inputs[4]?.endsWith("_g_idx")), JSON.stringify(nodes));
      if (granularity[1] === 16) {
        // the groups really are out of order (act-order): fc1's g_idx is not sorted
        const gIdx = new Int32Array(
          initializer(nbits.bytes, "fc1.weight_nbits_g_idx").storage.bytes.slice().buffer,
        );
        assert.ok(gIdx.some((g, i) => i > 0 && g < gIdx[i - 1]), `${gIdx}`);
      }
      const a = await runModel(float.bytes, "x", [2, 32]);
      const b = await runModel(nbits.bytes, "x", [2, 32]);
      const d = difference(b.y, a.y);
      assert.ok(d.relative <= 1e-4, `max |diff| ${d.max} (relative ${d.relative})`);
      // QDQ cannot hold groups out of order: auto keeps float and says why, int names it.
      const auto = await run("auto");
      assert.equal(auto.report.storage, "float");
      assert.deepEqual(auto.bytes, float.bytes);
      assert.match(auto.report.warnings.join("\n"), /act-order .*"fc1" has no block grid/);
      await assert.rejects(
        run("int"),
        /storage "int" cannot hold this GPTQ result: .*act-order.*MatMulNBits \(storage nbits, with g_idx\)/,
      );
    });
  }
}

test("GPTQ act-order groups of 8 bits are refused by MatMulNBits, naming the bits", async () => {
  const ort = await loadOrt();
  await assert.rejects(
    compressModel(loadModel(mlp(), "mlp.onnx"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int8", [1, 16]),
      storage: "nbits",
      gptq: { actOrder: true },
      calibration: { batches: BATCHES, ort },
    }),
    /act-order groups with g_idx for 4-bit codes only .*the result has 8 bits/,
  );
});

test("GPTQ act-order per channel, and with static groups, as QDQ run like the float model", async () => {
  const ort = await loadOrt();
  for (
    const extra of [{ granularity: "per_channel" }, { granularity: [1, 16], staticGroups: true }]
  ) {
    const run = (storage: "float" | "int" | "nbits") =>
      compressModel(loadModel(mlp(), "mlp.onnx"), {
        mode: "quantization",
        algorithm: "GPTQ",
        configList: config("int4", extra.granularity),
        storage,
        gptq: { actOrder: true, staticGroups: extra.staticGroups === true },
        calibration: { batches: BATCHES, ort },
      });
    const float = await run("float");
    const stored = await run(extra.staticGroups ? "nbits" : "int");
    const a = await runModel(float.bytes, "x", [2, 32]);
    const d = difference(await runFloat(stored.bytes, [2, 32]), a.y);
    assert.ok(d.relative <= 1e-4, `${JSON.stringify(extra)}: relative ${d.relative}`);
  }
});

/** fc1 [8, 16] and fc2 [4, 8] (PyTorch layout) as safetensors, and each one's input rows. */
function safetensorsMlp() {
  const w1 = values(8 * 16, 41, 0.5);
  const w2 = values(4 * 8, 42, 0.5);
  const x1 = values(64 * 16, 43, 1.5);
  const x2 = values(64 * 8, 44, 1.5);
  const model = writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [8, 16], data: w1 },
    { name: "fc1.bias", dtype: "F32", shape: [8], data: values(8, 45) },
    { name: "fc2.weight", dtype: "F32", shape: [4, 8], data: w2 },
  ]);
  const inputs = writeSafetensors([
    { name: "fc1.input", dtype: "F32", shape: [64, 16], data: x1 },
    { name: "fc2.input", dtype: "F32", shape: [64, 8], data: x2 },
  ]);
  return { model, inputs, w1, w2, x1, x2 };
}

for (const granularity of ["per_channel", [1, 8]]) {
  test(`GPTQ int4 ${JSON.stringify(granularity)} on safetensors with per-layer inputs: integer codes and compressed-tensors hold gptq()'s grid`, async () => {
    const m = safetensorsMlp();
    const layerInputs = readLayerInputs(m.inputs, "inputs.safetensors");
    const run = (storage: "float" | "int" | "compressed-tensors" | "auto") =>
      compressModel(loadModel(m.model, "m.safetensors"), {
        mode: "quantization",
        algorithm: "GPTQ",
        configList: config("int4", granularity),
        storage,
        layerInputs,
      });
    const groupSize = granularity === "per_channel" ? -1 : 8;
    const direct = [
      gptq(m.w1, [8, 16], [m.x1], { bits: 4, sym: true, groupSize }),
      gptq(m.w2, [4, 8], [m.x2], { bits: 4, sym: true, groupSize }),
    ];
    const float = await run("float");
    assert.equal(float.report.storage, "float");
    const floats = readSafetensors(float.bytes).tensors;
    for (const [i, name] of ["fc1.weight", "fc2.weight"].entries()) {
      const t = floats.find((t) => t.name === name)!;
      assert.deepEqual(new Float32Array(t.data.slice().buffer), direct[i].weight, name);
    }
    // the bias is untouched
    assert.deepEqual(
      floats.find((t) => t.name === "fc1.bias")!.data,
      readSafetensors(m.model).tensors.find((t) => t.name === "fc1.bias")!.data,
    );
    const int = await run("int");
    assert.equal(int.report.storage, "int");
    const q = readQuantizedSafetensors(int.bytes).quantized;
    for (const [i, name] of ["fc1.weight", "fc2.weight"].entries()) {
      const t = q.find((t) => t.name === name)!;
      // uint4 codes with the zero point 8: GPTQ's symmetric grid
      assert.deepEqual([...t.codes], [...direct[i].codes], name);
      assert.deepEqual([...t.params.scale], [...direct[i].scale], name);
    }
    const ct = await run("compressed-tensors");
    assert.equal(ct.report.storage, "compressed-tensors");
    assert.equal((await run("auto")).report.storage, "compressed-tensors");
    assert.equal(
      ct.quantizationConfig!.config_groups.group_0.weights.strategy,
      granularity === "per_channel" ? "channel" : "group",
    );
    const read = readCompressedTensors(ct.bytes, ct.quantizationConfig!).quantized;
    for (const [i, name] of ["fc1.weight", "fc2.weight"].entries()) {
      const t = read.find((t) => t.name === name)!;
      // signed codes: GPTQ's unsigned codes less the symmetric zero point 8
      assert.deepEqual([...t.codes], [...direct[i].codes].map((c) => c - 8), name);
      assert.deepEqual([...t.params.scale], [...direct[i].scale], name);
    }
  });
}

for (const quant_dtype of ["int4", "uint4"]) {
  test(`GPTQ ${quant_dtype} act-order groups as compressed-tensors write weight_g_idx and decode to gptq()'s weights`, async () => {
    const m = safetensorsMlp();
    const layerInputs = readLayerInputs(m.inputs, "inputs.safetensors");
    const run = (storage: "int" | "compressed-tensors" | "auto") =>
      compressModel(loadModel(m.model, "m.safetensors"), {
        mode: "quantization",
        algorithm: "GPTQ",
        configList: config(quant_dtype, [1, 4]),
        storage,
        layerInputs,
        gptq: { actOrder: true },
      });
    const options = { bits: 4, sym: quant_dtype === "int4", groupSize: 4, actOrder: true };
    const direct = [
      gptq(m.w1, [8, 16], [m.x1], options),
      gptq(m.w2, [4, 8], [m.x2], options),
    ];
    const ct = await run("compressed-tensors");
    assert.equal(ct.report.storage, "compressed-tensors");
    assert.equal((await run("auto")).report.storage, "compressed-tensors");
    const weights = ct.quantizationConfig!.config_groups.group_0.weights;
    assert.equal(weights.actorder, "group");
    assert.equal(weights.strategy, "group");
    assert.equal(weights.group_size, 4);
    const file = readSafetensors(ct.bytes);
    const read = readCompressedTensors(ct.bytes).quantized;
    for (const [i, [name, inp]] of ([["fc1", 16], ["fc2", 8]] as const).entries()) {
      // weight_g_idx: int32 [in], each original column's group, in column order
      const g = file.tensors.find((t) => t.name === `${name}.weight_g_idx`)!;
      assert.equal(g.dtype, "I32");
      assert.deepEqual(g.shape, [inp]);
      const gIdx = new Int32Array(g.data.slice().buffer);
      assert.deepEqual(gIdx, direct[i].groupIndex, name);
      const scale = file.tensors.find((t) => t.name === `${name}.weight_scale`)!;
      assert.deepEqual(scale.shape, [direct[i].codes.length / inp, inp / 4]);
      const t = read.find((t) => t.name === `${name}.weight`)!;
      assert.deepEqual(t.groupIndex, direct[i].groupIndex);
      assert.deepEqual(dequantizeTensor(t.codes, t.shape, t.params), direct[i].weight, name);
    }
    // the groups really are out of order: fc1's g_idx is not sorted
    assert.ok(direct[0].groupIndex.some((g, c) => c > 0 && g < direct[0].groupIndex[c - 1]));
    await assert.rejects(
      run("int"),
      /storage "int" cannot hold this GPTQ result: .*act-order.*as compressed-tensors \(with weight_g_idx\)/,
    );
  });
}

test("SparseGPT on grouped and depthwise convolutions: zeros in the float storage; N:M only on whole groups of M", async () => {
  const ort = await loadOrt();
  const { bytes, batches } = groupedConvs();
  const run = (pattern?: { n: number; m: number }) =>
    compressModel(loadModel(bytes, "grouped.onnx"), {
      mode: "pruning",
      algorithm: "SparseGPT",
      configList: [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }],
      calibration: { batches, ort },
      ...(pattern === undefined ? {} : { pattern }),
    });
  const half = await run();
  assert.deepEqual(half.report.layers.map((l) => l.module), ["gconv", "dw"]);
  const saved = onnxModel(decodeOnnx(half.bytes));
  for (const name of ["gconv", "dw"]) {
    const w = await saved.modules.find((m) => m.name === name)!.params.weight.data();
    assert.ok(w.filter((v) => v === 0).length >= w.length / 2, name);
  }
  // 2:4 along rows of 18 (gconv: 2 channels x 3x3) and 9 inputs (dw): no whole groups of 4
  const nm = await run({ n: 2, m: 4 });
  assert.deepEqual(nm.report.layers, []);
  assert.match(
    nm.report.warnings!.join("\n"),
    /SparseGPT leaves "dw" as it is: its rows of 9 inputs \(per group\) are not whole groups of 4/,
  );
});

test("SparseGPT on safetensors with per-layer inputs writes sparseGpt()'s weights", async () => {
  const m = safetensorsMlp();
  const layerInputs = readLayerInputs(m.inputs, "inputs.safetensors");
  for (const pattern of [undefined, { n: 2, m: 4 }]) {
    const run = await compressModel(loadModel(m.model, "m.safetensors"), {
      mode: "pruning",
      algorithm: "SparseGPT",
      configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
      layerInputs,
      ...(pattern === undefined ? {} : { pattern }),
    });
    const options = pattern === undefined ? { sparsity: 0.5 } : { prunen: 2, prunem: 4 };
    const want = sparseGpt(m.w1, [8, 16], [m.x1], options);
    const t = readSafetensors(run.bytes).tensors.find((t) => t.name === "fc1.weight")!;
    assert.deepEqual(new Float32Array(t.data.slice().buffer), want.weight);
    assert.ok(run.report.layers.every((l) => l.sparsity >= 0.5), JSON.stringify(run.report.layers));
  }
});

test("per-layer inputs are checked: names, shapes, dtypes, missing and stray modules", async () => {
  const m = safetensorsMlp();
  const bad = (tensors: Parameters<typeof writeSafetensors>[0]) => () =>
    readLayerInputs(writeSafetensors(tensors), "in.safetensors");
  assert.throws(
    bad([{ name: "fc1", dtype: "F32", shape: [1, 16], data: new Float32Array(16) }]),
    /layer inputs "in.safetensors": tensor "fc1" must be named <module>.input/,
  );
  assert.throws(
    bad([{ name: "fc1.input", dtype: "F32", shape: [16], data: new Float32Array(16) }]),
    /tensor "fc1.input" must have shape \[rows, in\] .*current shape is \[16\]/,
  );
  assert.throws(
    bad([{ name: "fc1.input", dtype: "I32", shape: [1, 16], data: new Int32Array(16) }]),
    /must be F32, F16, BF16 or F64: current dtype is I32/,
  );
  assert.throws(
    () => readLayerInputs(new Uint8Array(4), "x.bin"),
    /layer inputs "x.bin" must be a safetensors file/,
  );
  const run = (inputs: Uint8Array) =>
    compressModel(loadModel(m.model, "m.safetensors"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int4", "per_channel"),
      layerInputs: readLayerInputs(inputs),
    });
  await assert.rejects(
    run(
      writeSafetensors([{
        name: "fc1.input",
        dtype: "F32",
        shape: [4, 16],
        data: new Float32Array(64),
      }]),
    ),
    /no input rows for module "fc2" .*expected a tensor "fc2.input" of shape \[rows, 8\]/,
  );
  await assert.rejects(
    run(writeSafetensors([
      { name: "fc1.input", dtype: "F32", shape: [4, 12], data: new Float32Array(48) },
      { name: "fc2.input", dtype: "F32", shape: [4, 8], data: new Float32Array(32) },
    ])),
    /input rows of module "fc1" \(batch 0\) must be \[rows, 16\] \(its weight is \[8, 16\]\): current shape is \[4,12\] with 48 values/,
  );
  await assert.rejects(
    run(writeSafetensors([
      { name: "fc3.input", dtype: "F32", shape: [4, 16], data: new Float32Array(64) },
    ])),
    /tensor "fc3.input" names no module of the model/,
  );
  // graph input batches do not calibrate a safetensors model
  await assert.rejects(
    compressModel(loadModel(m.model, "m.safetensors"), {
      mode: "quantization",
      algorithm: "GPTQ",
      configList: config("int4", "per_channel"),
      calibration: { batches: [], ort: await loadOrt() },
    }),
    /GPTQ on a safetensors model needs each layer's input rows .*graph input batches were given/,
  );
});
