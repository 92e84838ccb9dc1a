// Float16 and bfloat16 ONNX models (float32 inputs and outputs with Casts at both ends, weights
// stored as float16/bfloat16 initializers) through every storage, calibration and pruning, from
// the library and the CLI; original and result run in onnxruntime-node on the same inputs.
//
// onnxruntime's CPU provider runs float16 Conv/MatMul/Gemm, but no bfloat16 MatMul, Gemm, Add or
// DequantizeLinear: bfloat16 models are checked by structure and through their float32 twin
// (`widenToFloat32`: the same weights widened exactly, Casts to bfloat16 made Casts to float32).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../../src/io/onnx/onnx_types.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import type { ModelSize } from "../../src/report/types.ts";
import { loadOrt } from "../io/_ocr.ts";
import { cli, tempDir } from "../cli/_run.ts";
import {
  BFLOAT16,
  castWeightsMlp,
  CNN_INPUT,
  cosine,
  encode,
  FLOAT,
  FLOAT16,
  halfCnn,
  halfMlp,
  type HalfType,
  MLP_INPUT,
  values,
  widenToFloat32,
} from "./_half_models.ts";

const INT8 = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "out_channel",
}];
const INT8_ACTS = [...INT8, {
  op_types: ["Conv2d", "Linear"],
  target_names: ["_input_"],
  quant_dtype: "uint8",
  granularity: "default",
}];
const INT4_NBITS = [{
  op_names: ["fc1"],
  target_names: ["weight"],
  quant_dtype: "int4",
  granularity: "per_channel",
}];
const LEVEL = [{ op_types: ["Conv2d", "Linear"], sparse_ratio: 0.2 }];

/** The outputs of a model on deterministic inputs; bfloat16 models run as their float32 twin. */
async function outputs(bytes: Uint8Array, dims: number[], type: HalfType): Promise<Float32Array> {
  const ort = await loadOrt();
  const model = type === BFLOAT16 ? await widenToFloat32(bytes) : bytes;
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const n = dims.reduce((a, b) => a * b, 1);
  const y = (await s.run({ x: new ort.Tensor("float32", values(n, 99, 2), dims) })).y;
  return y.data as Float32Array;
}

/** Cosine similarity of the outputs of the original and the result. */
async function fidelity(
  original: Uint8Array,
  result: Uint8Array,
  dims: number[],
  type: HalfType,
): Promise<number> {
  return cosine(await outputs(original, dims, type), await outputs(result, dims, type));
}

const types = (onnx: OnnxModel) =>
  new Map(onnx.graph.initializers.map((t) => [t.name, t.dataType]));
const ops = (onnx: OnnxModel) => onnx.graph.nodes.map((n) => n.opType);

/** Bytes of a model's stored tensors (every initializer here is a module parameter). */
function tensorBytes(bytes: Uint8Array): number {
  const size: Record<number, number> = { 1: 4, 2: 1, 3: 1, 10: 2, 16: 2, 21: 0.5, 22: 0.5 };
  let n = 0;
  for (const t of decodeOnnx(bytes).graph.initializers) {
    n += Math.ceil(t.dims.reduce((a, b) => a * b, 1) * size[t.dataType]);
  }
  return n;
}

/** The report's sizes are those of the files: the file, and the tensors it stores. */
function assertSizes(
  report: { readonly before: ModelSize; readonly after: ModelSize },
  src: Uint8Array,
  bytes: Uint8Array,
): void {
  assert.deepEqual(report.before, { fileBytes: src.length, packedBytes: tensorBytes(src) });
  assert.deepEqual(report.after, { fileBytes: bytes.length, packedBytes: tensorBytes(bytes) });
}

function calibrationBatches(dims: number[]) {
  const n = dims.reduce((a, b) => a * b, 1);
  return [0, 1, 2].map((i) => ({ x: { data: values(n, 100 + i, 2), dims } }));
}

test("float16 CNN: int8 QDQ stores codes with float16 scales, halves the weights and keeps the outputs", async () => {
  const src = halfCnn(FLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "quantization",
    configList: INT8,
    storage: "int",
  });
  assert.equal(report.storage, "qdq");
  const out = decodeOnnx(bytes);
  const t = types(out);
  for (const w of ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]) {
    assert.equal(t.get(`${w}_quantized`), 3, w); // INT8
    assert.equal(t.get(`${w}_scale`), FLOAT16, `${w}_scale`);
  }
  assert.equal(t.get("conv1.bias"), FLOAT16);
  assert.equal(ops(out).filter((o) => o === "DequantizeLinear").length, 4);
  assert.equal(ops(out).filter((o) => o === "Cast").length, 2); // the model's own
  assert.equal(report.after.fileBytes, bytes.length);
  assert.ok(bytes.length < src.length * 0.56, `${src.length} -> ${bytes.length}`);
  assertSizes(report, src, bytes);
  assert.ok(report.after.packedBytes < report.before.packedBytes * 0.55);
  const cos = await fidelity(src, bytes, CNN_INPUT, FLOAT16);
  assert.ok(cos >= 0.999, `cosine ${cos}`);
});

test("float16 CNN: float storage writes fake-quantized float16 values and reports the unchanged size", async () => {
  const src = halfCnn(FLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "quantization",
    configList: INT8,
    storage: "float",
  });
  assert.equal(report.storage, "float");
  assert.equal(bytes.length, src.length);
  assert.ok([...types(decodeOnnx(bytes)).values()].every((t) => t === FLOAT16));
  assertSizes(report, src, bytes);
  assert.equal(report.after.packedBytes, report.before.packedBytes);
  const cos = await fidelity(src, bytes, CNN_INPUT, FLOAT16);
  assert.ok(cos >= 0.999, `cosine ${cos}`);
});

test("float16 CNN: int4 MatMulNBits takes float16 activations and float16 scales", async () => {
  const src = halfCnn(FLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "quantization",
    configList: INT4_NBITS,
    storage: "nbits",
  });
  assert.equal(report.storage, "nbits");
  const out = decodeOnnx(bytes);
  assert.equal(ops(out).filter((o) => o === "MatMulNBits").length, 1);
  assert.equal(ops(out).filter((o) => o === "Cast").length, 2);
  assert.equal(types(out).get("fc1.weight_nbits_scale"), FLOAT16);
  assertSizes(report, src, bytes);
  // fc1 holds 16384 of the 20048 parameters: 32768 B become 8192 B of codes and 1024 B of scales.
  assert.equal(report.before.packedBytes - report.after.packedBytes, 32768 - 8192 - 1024);
  const cos = await fidelity(src, bytes, CNN_INPUT, FLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);
});

test("float16 CNN: calibration reads float16 activations and quantizes them in float32 between Casts", async () => {
  const src = halfCnn(FLOAT16);
  const ort = await loadOrt();
  const { bytes, report } = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "quantization",
    configList: INT8_ACTS,
    storage: "int",
    calibration: { batches: calibrationBatches(CNN_INPUT), ort },
  });
  assert.equal(report.storage, "qdq");
  const inputs = report.layers.filter((l) => l.target === "_input_0");
  assert.deepEqual(inputs.map((l) => l.module), ["conv1", "conv2", "fc1", "fc2"]);
  const out = decodeOnnx(bytes);
  assert.equal(ops(out).filter((o) => o === "QuantizeLinear").length, 4);
  // Each activation pair: Cast to float32, QuantizeLinear, DequantizeLinear, Cast to float16.
  const conv1 = out.graph.nodes.findIndex((n) => n.opType === "Conv");
  assert.deepEqual(ops(out).slice(conv1 - 4, conv1 + 1), [
    "Cast",
    "QuantizeLinear",
    "DequantizeLinear",
    "Cast",
    "Conv",
  ]);
  assert.equal(out.graph.nodes[conv1 - 1].attributes[0].i, FLOAT16);
  assert.equal(types(out).get("graph_input_cast_0_conv1_input_0_scale"), FLOAT);
  assertSizes(report, src, bytes);
  const cos = await fidelity(src, bytes, CNN_INPUT, FLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);

  // Output targets: every consumer reads the value through the pair, cast back to float16.
  const outs = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "quantization",
    configList: [{
      op_types: ["ReLU"],
      target_names: ["_output_"],
      quant_dtype: "int8",
      granularity: "default",
    }],
    storage: "int",
    calibration: { batches: calibrationBatches(CNN_INPUT), ort },
  });
  const o = decodeOnnx(outs.bytes);
  const relu = o.graph.nodes.findIndex((n) => n.opType === "Relu");
  assert.deepEqual(ops(o).slice(relu, relu + 5), [
    "Relu",
    "Cast",
    "QuantizeLinear",
    "DequantizeLinear",
    "Cast",
  ]);
  assert.deepEqual(
    [o.graph.nodes[relu + 4].outputs[0], o.graph.nodes[relu + 4].attributes[0].i],
    ["r1", FLOAT16],
  );
  const cosOut = await fidelity(src, outs.bytes, CNN_INPUT, FLOAT16);
  assert.ok(cosOut >= 0.99, `cosine ${cosOut}`);
});

test("float16 CNN: pruning writes masked float16 weights", async () => {
  const src = halfCnn(FLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "cnn16.onnx"), {
    mode: "pruning",
    configList: LEVEL,
  });
  assert.equal(bytes.length, src.length);
  assert.ok([...types(decodeOnnx(bytes)).values()].every((t) => t === FLOAT16));
  const weights = report.layers.filter((l) => l.target === "weight");
  assert.ok(weights.length > 0 && weights.every((l) => Math.abs(l.sparsity - 0.2) < 0.02));
  assertSizes(report, src, bytes);
  const cos = await fidelity(src, bytes, CNN_INPUT, FLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);
});

test("float16 weights whose scales float16 cannot hold are dequantized in float32 and cast", async () => {
  // fc1 is within ±1.3e-4: int8 scales near 1e-6, float16 subnormals (off by up to 3%).
  const src = halfMlp(FLOAT16, 1e-3);
  const compress = async (storage: "int" | "nbits" | "float", configList: unknown) =>
    await compressModel(loadModel(src, "tiny16.onnx"), {
      mode: "quantization",
      configList,
      storage,
    });
  const int = await compress("int", INT8);
  const out = decodeOnnx(int.bytes);
  assert.equal(types(out).get("fc1.weight_scale"), FLOAT);
  assert.equal(types(out).get("fc2.weight_scale"), FLOAT16);
  const cast = out.graph.nodes.find((n) => n.name === "fc1.weight_Cast")!;
  assert.deepEqual([cast.outputs[0], cast.attributes[0].i], ["fc1.weight", FLOAT16]);
  assertSizes(int.report, src, int.bytes);
  // The stored weights are the fake-quantized ones: the outputs agree to float16 rounding
  // (3e-4 with float16 subnormal scales).
  const a = await outputs((await compress("float", INT8)).bytes, MLP_INPUT, FLOAT16);
  const b = await outputs(int.bytes, MLP_INPUT, FLOAT16);
  const rel = Math.max(...a.map((v, i) => Math.abs(v - b[i]) / Math.abs(v)));
  assert.ok(rel < 5e-5, `max relative difference ${rel}`);

  const nbits = await compress("nbits", INT4_NBITS);
  const n = decodeOnnx(nbits.bytes);
  assert.equal(types(n).get("fc1.weight_nbits_scale"), FLOAT);
  const at = n.graph.nodes.findIndex((x) => x.opType === "MatMulNBits");
  assert.deepEqual(ops(n).slice(at - 1, at + 2), ["Cast", "MatMulNBits", "Cast"]);
  assertSizes(nbits.report, src, nbits.bytes);
  const cos = await fidelity(src, nbits.bytes, MLP_INPUT, FLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);
});

test("bfloat16 MLP: onnxruntime's CPU provider runs none of its operators", async () => {
  const ort = await loadOrt();
  await assert.rejects(
    ort.InferenceSession.create(halfMlp(BFLOAT16)),
    /Could not find an implementation for (MatMul|Add|Gemm|Relu)/,
  );
});

test("bfloat16 MLP: int8 QDQ dequantizes in float32 and casts to bfloat16", async () => {
  const src = halfMlp(BFLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "mlp16.onnx"), {
    mode: "quantization",
    configList: INT8,
    storage: "int",
  });
  assert.equal(report.storage, "qdq");
  const out = decodeOnnx(bytes);
  for (const w of ["fc1.weight", "fc2.weight"]) {
    assert.equal(types(out).get(`${w}_scale`), FLOAT);
    const dq = out.graph.nodes.find((n) => n.name === `${w}_DequantizeLinear`)!;
    const cast = out.graph.nodes.find((n) => n.inputs[0] === dq.outputs[0])!;
    assert.deepEqual([cast.opType, cast.outputs[0], cast.attributes[0].i], ["Cast", w, BFLOAT16]);
  }
  assert.equal(types(out).get("fc1.bias"), BFLOAT16);
  assertSizes(report, src, bytes);
  assert.ok(report.after.packedBytes < report.before.packedBytes * 0.56);
  const cos = await fidelity(src, bytes, MLP_INPUT, BFLOAT16);
  assert.ok(cos >= 0.999, `cosine ${cos}`);
});

test("bfloat16 MLP: MatMulNBits runs in float32 between Casts; float storage keeps bfloat16", async () => {
  const src = halfMlp(BFLOAT16);
  const nbits = await compressModel(loadModel(src, "mlp16.onnx"), {
    mode: "quantization",
    configList: INT4_NBITS,
    storage: "nbits",
  });
  const out = decodeOnnx(nbits.bytes);
  const at = out.graph.nodes.findIndex((n) => n.opType === "MatMulNBits");
  assert.deepEqual(ops(out).slice(at - 1, at + 2), ["Cast", "MatMulNBits", "Cast"]);
  assert.deepEqual(
    [out.graph.nodes[at - 1].attributes[0].i, out.graph.nodes[at + 1].attributes[0].i],
    [FLOAT, BFLOAT16],
  );
  assert.equal(types(out).get("fc1.weight_nbits_scale"), FLOAT);
  assertSizes(nbits.report, src, nbits.bytes);
  const cos = await fidelity(src, nbits.bytes, MLP_INPUT, BFLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);

  const float = await compressModel(loadModel(src, "mlp16.onnx"), {
    mode: "quantization",
    configList: INT8,
    storage: "float",
  });
  assert.equal(float.bytes.length, src.length);
  assert.ok([...types(decodeOnnx(float.bytes)).values()].every((t) => t === BFLOAT16));
  assertSizes(float.report, src, float.bytes);
  const cosFloat = await fidelity(src, float.bytes, MLP_INPUT, BFLOAT16);
  assert.ok(cosFloat >= 0.999, `cosine ${cosFloat}`);
});

test("bfloat16 MLP: pruning writes masked bfloat16 weights; calibration says onnxruntime cannot run it", async () => {
  const src = halfMlp(BFLOAT16);
  const { bytes, report } = await compressModel(loadModel(src, "mlp16.onnx"), {
    mode: "pruning",
    configList: LEVEL,
  });
  assert.ok([...types(decodeOnnx(bytes)).values()].every((t) => t === BFLOAT16));
  const weights = report.layers.filter((l) => l.target === "weight");
  assert.ok(weights.length > 0 && weights.every((l) => Math.abs(l.sparsity - 0.2) < 0.02));
  assertSizes(report, src, bytes);
  const cos = await fidelity(src, bytes, MLP_INPUT, BFLOAT16);
  assert.ok(cos >= 0.99, `cosine ${cos}`);
  const ort = await loadOrt();
  await assert.rejects(
    compressModel(loadModel(src, "mlp16.onnx"), {
      mode: "quantization",
      configList: INT8_ACTS,
      calibration: { batches: calibrationBatches(MLP_INPUT), ort },
    }),
    /onnxruntime cannot load the model to calibrate it: .*stores bfloat16 tensors/,
  );
});

test("float16 weights widened by Casts: every storage keeps float16 storage and the Cast", async () => {
  const src = castWeightsMlp();
  const config = [{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int4",
    granularity: "per_channel",
  }];
  for (const storage of ["int", "nbits", "float"] as const) {
    const { bytes, report } = await compressModel(loadModel(src, "castw.onnx"), {
      mode: "quantization",
      configList: config,
      storage,
    });
    assert.deepEqual(report.layers.map((l) => l.module), ["fc1", "fc2"], storage);
    const out = decodeOnnx(bytes);
    const casts = ops(out).filter((o) => o === "Cast").length;
    if (storage === "int") {
      // DequantizeLinear writes float16 under the weight's name; its Cast widens it as before.
      assert.equal(types(out).get("fc1.weight_scale"), FLOAT16);
      assert.equal(casts, 3);
    } else if (storage === "nbits") {
      // MatMulNBits computes in float32 (the Cast's type): the weights' Casts go.
      assert.equal(types(out).get("fc1.weight_nbits_scale"), FLOAT);
      assert.equal(casts, 1);
    } else assert.equal(types(out).get("fc1.weight"), FLOAT16);
    assertSizes(report, src, bytes);
    if (storage !== "float") {
      assert.ok(bytes.length < src.length * 0.45, `${storage}: ${bytes.length}`);
    }
    const cos = await fidelity(src, bytes, MLP_INPUT, FLOAT);
    assert.ok(cos >= 0.99, `${storage}: cosine ${cos}`);
  }
});

test("quantize and prune from the CLI shrink a float16 CNN as the summary says", async () => {
  const dir = tempDir();
  const model = join(dir, "cnn16.onnx");
  const src = halfCnn(FLOAT16);
  writeFileSync(model, src);
  const batch = writeSafetensors([{
    name: "x",
    dtype: "F32",
    shape: [6, ...CNN_INPUT.slice(1)],
    data: values(6 * 3 * 64, 7, 2),
  }]);
  writeFileSync(join(dir, "x.safetensors"), batch);
  const runs: [string, string[], string, number][] = [
    ["int", ["quantize", "-c", JSON.stringify(INT8), "--storage", "int"], "qdq", 0.999],
    ["float", ["quantize", "-c", JSON.stringify(INT8), "--storage", "float"], "float", 0.999],
    ["nbits", ["quantize", "-c", JSON.stringify(INT4_NBITS), "--storage", "nbits"], "nbits", 0.99],
    [
      "calibrated",
      [
        "quantize",
        "-c",
        JSON.stringify(INT8_ACTS),
        "--calibration",
        join(dir, "x.safetensors"),
        "--batch-size",
        "2",
      ],
      "qdq",
      0.99,
    ],
    ["pruned", ["prune", "-c", JSON.stringify(LEVEL)], "float", 0.99],
  ];
  for (const [name, args, storage, min] of runs) {
    const out = join(dir, `${name}.onnx`);
    const r = await cli(args[0], model, ...args.slice(1), "-o", out, "--json");
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const { report } = JSON.parse(r.stdout);
    const written = readFileSync(out);
    assert.equal(report.storage ?? "float", storage, name);
    assert.equal(statSync(out).size, report.after.fileBytes, name);
    assertSizes(report, src, written);
    if (storage !== "float") {
      assert.ok(report.after.fileBytes < src.length * 0.8, `${name}: ${report.after.fileBytes}`);
    }
    const cos = await fidelity(src, written, CNN_INPUT, FLOAT16);
    assert.ok(cos >= min, `${name}: cosine ${cos}`);
  }
});

test("quantize from the CLI shrinks a bfloat16 MLP; --calibration fails with exit 1 naming bfloat16", async () => {
  const dir = tempDir();
  const model = join(dir, "mlp16.onnx");
  const src = halfMlp(BFLOAT16);
  writeFileSync(model, src);
  const out = join(dir, "int.onnx");
  const r = await cli("quantize", model, "-c", JSON.stringify(INT8), "--storage", "int", "-o", out);
  assert.equal(r.code, 0, r.stderr);
  const written = readFileSync(out);
  assert.match(
    r.stdout,
    new RegExp(`wrote .*int\\.onnx \\(${(written.length / 1e3).toFixed(1)} kB`),
  );
  assert.ok(written.length < src.length * 0.6, `${src.length} -> ${written.length}`);
  const cos = await fidelity(src, written, MLP_INPUT, BFLOAT16);
  assert.ok(cos >= 0.999, `cosine ${cos}`);
  writeFileSync(
    join(dir, "x.safetensors"),
    writeSafetensors([{ name: "x", dtype: "F32", shape: MLP_INPUT, data: values(256, 3) }]),
  );
  const cal = await cli(
    "quantize",
    model,
    "-c",
    JSON.stringify(INT8_ACTS),
    "--calibration",
    join(dir, "x.safetensors"),
    "-o",
    join(dir, "cal.onnx"),
  );
  assert.equal(cal.code, 1, cal.stderr);
  assert.match(cal.stderr, /bfloat16/);
});

test("a float16 graph input: CLI calibration converts a float32 file to float16; the library names the type it needs", async () => {
  // x float16 [n, 64] → MatMul (float16 [64, 32]) → Relu → y float16: no Cast at either end.
  const src = buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes: [
      { name: "fc1", opType: "MatMul", inputs: ["x", "fc1.weight"], outputs: ["m"] },
      { name: "relu", opType: "Relu", inputs: ["m"], outputs: ["y"] },
    ],
    initializers: [{
      name: "fc1.weight",
      dataType: FLOAT16,
      dims: [64, 32],
      raw: encode(values(64 * 32, 1), FLOAT16),
    }],
    inputs: [{ name: "x", type: { elemType: FLOAT16, dims: ["n", 64] } }],
    outputs: [{ name: "y", type: { elemType: FLOAT16, dims: ["n", 32] } }],
  });
  const dir = tempDir();
  const model = join(dir, "in16.onnx");
  writeFileSync(model, src);
  writeFileSync(
    join(dir, "x.safetensors"),
    writeSafetensors([{ name: "x", dtype: "F32", shape: [8, 64], data: values(512, 5, 2) }]),
  );
  const config = [{
    op_types: ["Linear"],
    target_names: ["weight", "_input_0"],
    quant_dtype: "int8",
  }];
  const out = join(dir, "q.onnx");
  const r = await cli(
    "quantize",
    model,
    "-c",
    JSON.stringify(config),
    "--storage",
    "int",
    "--calibration",
    join(dir, "x.safetensors"),
    "-o",
    out,
    "--eval",
    "--json",
  );
  assert.equal(r.code, 0, r.stderr);
  const { report, comparison } = JSON.parse(r.stdout);
  assert.equal(report.storage, "qdq");
  assert.deepEqual(report.layers.map((l: { target: string }) => l.target), ["weight", "_input_0"]);
  const written = decodeOnnx(readFileSync(out));
  assert.equal(ops(written).filter((o) => o === "QuantizeLinear").length, 1);
  assert.equal(comparison[0].type, "float16");
  assert.ok(comparison[0].cosine >= 0.999, JSON.stringify(comparison[0]));

  // The library takes the batch as given, and a float32 batch for a float16 input is refused.
  await assert.rejects(
    compressModel(loadModel(src, "in16.onnx"), {
      mode: "quantization",
      configList: config,
      storage: "int",
      calibration: {
        batches: [{ x: { data: values(256, 5, 2), dims: [4, 64] } }],
        ort: await loadOrt(),
      },
    }),
    /calibration batch 0, input "x": the model expects float16: current value is float32/,
  );
});
