// The QDQ writer that makes each weight's codes where the output is written (assembled in one
// buffer, or streamed to a file): the same bytes as encoding every tensor up front, the same
// report, runnable in onnxruntime, and clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildOnnx } from "../../src/io/onnx/build_onnx.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import {
  assembleOnnxParts,
  DeferredBytes,
  editOnnx,
  editOnnxParts,
  writeOnnxParts,
} from "../../src/io/onnx/edit_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import type { NodeSpec, TensorSpec } from "../../src/io/onnx/proto_writer.ts";
import { writeFileAtomic } from "../../src/io/fs.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { invertPermutation, permute } from "../../src/model/permute.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { getKernels } from "../../src/kernels/default.ts";
import { referenceKernels } from "../../src/kernels/reference.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { quantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { quantDtypeRange } from "../../src/quantization/quant_dtype_range.ts";
import { onnxCodeBytes, onnxCodeType } from "../../src/quantization/_encode_codes.ts";
import { qdqOnnx, qdqOnnxParts } from "../../src/quantization/qdq_onnx.ts";
import { f32ToF16 } from "../../src/tensor/float16.ts";
import { loadOrt } from "../io/_ocr.ts";
import { cli, tempDir } from "../cli/_run.ts";

const FLOAT = 1, FLOAT16 = 10;

const values = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 3.7 + i * 0.61) * (1 + (i % 7)) / 8);
const f32 = (v: Float32Array) => new Uint8Array(v.buffer);
const f16 = (v: Float32Array) => new Uint8Array(f32ToF16(v).buffer);

/**
 * Conv (a kernel of odd size, so raw_data lands unaligned) then Gemm with transB, and a MatMul
 * (its weight transposed in the module view), in `dataType`; float32 graph input and output.
 */
function model(dataType: number): Uint8Array {
  const raw = dataType === FLOAT16 ? f16 : f32;
  const nodes: NodeSpec[] = [];
  const cast = (name: string, from: string, to: string, type: number): NodeSpec => ({
    name,
    opType: "Cast",
    inputs: [from],
    outputs: [to],
    attributes: [{ name: "to", i: type }],
  });
  if (dataType === FLOAT16) nodes.push(cast("in_cast", "x", "x0", FLOAT16));
  const x = dataType === FLOAT16 ? "x0" : "x";
  nodes.push(
    {
      name: "conv",
      opType: "Conv",
      inputs: [x, "conv.weight", "conv.bias"],
      outputs: ["c"],
      attributes: [{ name: "pads", ints: [1, 1, 1, 1] }],
    },
    { name: "flatten", opType: "Flatten", inputs: ["c"], outputs: ["f"] },
    {
      name: "fc",
      opType: "Gemm",
      inputs: ["f", "fc.weight", "fc.bias"],
      outputs: ["g"],
      attributes: [{ name: "transB", i: 1 }],
    },
    { name: "mm", opType: "MatMul", inputs: ["g", "mm.weight"], outputs: ["y0"] },
  );
  if (dataType === FLOAT16) nodes.push(cast("out_cast", "y0", "y", FLOAT));
  const out = dataType === FLOAT16 ? "y" : "y0";
  const initializers: TensorSpec[] = [
    { name: "conv.weight", dataType, dims: [6, 3, 3, 3], raw: raw(values(162, 1)) },
    { name: "conv.bias", dataType, dims: [6], raw: raw(values(6, 2)) },
    { name: "fc.weight", dataType, dims: [10, 6 * 4 * 4], raw: raw(values(960, 3)) },
    { name: "fc.bias", dataType, dims: [10], raw: raw(values(10, 4)) },
    { name: "mm.weight", dataType, dims: [10, 7], raw: raw(values(70, 5)) },
  ];
  return buildOnnx({
    opsets: [{ domain: "", version: 17 }],
    nodes,
    initializers,
    inputs: [{ name: "x", type: { elemType: FLOAT, dims: [1, 3, 4, 4] } }],
    outputs: [{ name: out, type: { elemType: FLOAT, dims: [1, 7] } }],
  });
}

const configs: [string, unknown[]][] = [
  ["int8 per channel", [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "per_channel",
  }]],
  ["uint8 affine per tensor", [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "uint8",
    quant_scheme: "affine",
  }]],
  ["int4 per channel", [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "int4",
    granularity: "per_channel",
  }]],
  ["int12 (16-bit codes)", [{
    op_types: ["Conv2d", "Linear"],
    target_names: ["weight"],
    quant_dtype: "int12",
  }]],
];

/** Streams parts through `writeOnnxParts` in small chunks; the chunks joined. */
async function streamed(parts: Parameters<typeof writeOnnxParts>[0], chunk: number) {
  const chunks: Uint8Array[] = [];
  await writeOnnxParts(parts, { write: (c) => void chunks.push(c.slice()) }, chunk);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), at += c.length);
  return out;
}

for (const dataType of [FLOAT, FLOAT16]) {
  for (const [label, configList] of configs) {
    const name = `${dataType === FLOAT ? "float32" : "float16"} ${label}`;
    test(`QDQ codes made where written equal codes encoded per tensor: ${name}`, async () => {
      const onnx = decodeOnnx(model(dataType));
      const graph = onnxModel(onnx);
      const { params } = await quantizeWeights(graph, configList);
      const parts = qdqOnnxParts(onnx, graph, params);
      const assembled = await assembleOnnxParts(parts);
      assert.equal(assembled.length, parts.length);
      // Streamed in chunks smaller than a tensor, and larger than the file: the same bytes.
      assert.deepEqual(await streamed(parts, 5), assembled);
      assert.deepEqual(await streamed(qdqOnnxParts(onnx, graph, params), 1 << 20), assembled);
      assert.deepEqual(await qdqOnnx(onnx, graph, params), assembled);
      // The reference kernels make the same file.
      assert.deepEqual(
        await qdqOnnx(onnx, graph, params, { kernels: referenceKernels }),
        assembled,
      );
      // Each weight's codes as the writer encoded them before: the whole tensor decoded,
      // quantized, permuted back to the file layout and encoded in one piece.
      const out = decodeOnnx(assembled);
      const kernels = getKernels();
      let checked = 0;
      for (const p of params) {
        const ref = graph.modules.find((m) => m.name === p.module)!.params[p.target];
        let codes = quantizeTensor(await ref.data(), ref.shape, p, { kernels });
        if (ref.transpose !== undefined) {
          codes = permute(codes, ref.shape, invertPermutation(ref.transpose));
        }
        const type = onnxCodeType(p.bits, quantDtypeRange(p.quantDtype).signed, true);
        const t = out.graph.initializers.find((x) => x.name === `${ref.name}_quantized`)!;
        assert.equal(t.dataType, type);
        assert.deepEqual(await readOnnxTensor(out, t), onnxCodeBytes(codes, type, kernels));
        checked++;
      }
      assert.ok(checked >= 3);
      // The report's sizes come from the edited tensor list, without decoding the output.
      const loaded = () => loadModel(model(dataType), "m.onnx");
      const eager = await compressModel(loaded(), {
        mode: "quantization",
        configList,
        now: () => 0,
      });
      const deferred = await compressModel(loaded(), {
        mode: "quantization",
        configList,
        deferOnnx: true,
        now: () => 0,
      });
      assert.equal(deferred.bytes.length, 0);
      assert.ok(deferred.parts !== undefined);
      assert.deepEqual(deferred.report, eager.report);
      assert.deepEqual(await assembleOnnxParts(deferred.parts), eager.bytes);
    });
  }
}

test("QDQ output made where written runs in onnxruntime-node close to the float model", async () => {
  const ort = await loadOrt();
  const bytes = model(FLOAT);
  const onnx = decodeOnnx(bytes);
  const graph = onnxModel(onnx);
  const { params } = await quantizeWeights(graph, configs[0][1]);
  const parts = qdqOnnxParts(onnx, graph, params);
  const quantized = await streamed(parts, 64);
  const x = new ort.Tensor("float32", values(48, 9), [1, 3, 4, 4]);
  const run = async (b: Uint8Array) => {
    const s = await ort.InferenceSession.create(b);
    const r = await s.run({ x });
    return r[s.outputNames[0]].data as Float32Array;
  };
  const want = await run(bytes);
  const got = await run(quantized);
  assert.equal(got.length, 7);
  const scale = Math.max(...want.map(Math.abs));
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 0.05 * scale);
  assert.notDeepEqual([...got], [...want]);
});

test("the CLI streams a QDQ ONNX output to the file: the bytes of the assembled output", async () => {
  const dir = tempDir();
  const input = join(dir, "m.onnx");
  writeFileSync(input, model(FLOAT16));
  const config = JSON.stringify(configs[0][1]);
  const r = await cli("quantize", input, "-c", config, "-o", join(dir, "q.onnx"));
  assert.equal(r.code, 0, r.stderr);
  const onnx = decodeOnnx(model(FLOAT16));
  const graph = onnxModel(onnx);
  const { params } = await quantizeWeights(graph, configs[0][1]);
  assert.deepEqual(
    new Uint8Array(readFileSync(join(dir, "q.onnx"))),
    await qdqOnnx(onnx, graph, params),
  );
  assert.deepEqual(readdirSync(dir).sort(), ["m.onnx", "q.onnx"]);
});

test("a deferred tensor that fails leaves no output and no temp file, with its own error", async () => {
  const dir = tempDir();
  const path = join(dir, "out.onnx");
  const bytes = model(FLOAT);
  const failing = new DeferredBytes(8, () => {
    throw new RangeError('tensor "w": cannot be made');
  });
  const parts = editOnnxParts(bytes, [
    { op: "addInitializer", tensor: { name: "w", dataType: FLOAT, dims: [2], raw: failing } },
  ]);
  await assert.rejects(
    writeFileAtomic(path, (sink) => writeOnnxParts(parts, sink)),
    /tensor "w": cannot be made/,
  );
  assert.equal(existsSync(path), false);
  assert.deepEqual(readdirSync(dir), []);
  await assert.rejects(assembleOnnxParts(parts), /tensor "w": cannot be made/);
});

test("deferred bytes: editOnnx refuses them, lengths are checked", async () => {
  const bytes = model(FLOAT);
  const raw = new DeferredBytes(8, (into) => void into.fill(1));
  const edit = [{
    op: "addInitializer" as const,
    tensor: { name: "w", dataType: FLOAT, dims: [2], raw },
  }];
  assert.throws(() => editOnnx(bytes, edit), /editOnnxParts or editOnnxAsync/);
  assert.throws(
    () => new DeferredBytes(-1, () => {}),
    /non-negative integer length: current value is -1/,
  );
  const parts = editOnnxParts(bytes, edit);
  const wrong = { ...parts, length: parts.length + 1 };
  await assert.rejects(
    writeOnnxParts(wrong, { write: () => {} }),
    /the parts hold \d+ bytes: the model's length is \d+/,
  );
  // The stored tensors of the edited model, without making it.
  assert.deepEqual(
    parts.tensors.map((t) => t.dims.join("x")).sort(),
    decodeOnnx(await assembleOnnxParts(parts)).tensors.map((t) => t.dims.join("x")).sort(),
  );
});

test("f16ToF32 and bf16ToF32 into an array: the values of a new array; a wrong length is refused", () => {
  const bits = f32ToF16(values(1000, 11));
  for (const k of [getKernels(), referenceKernels]) {
    const out = new Float32Array(1000);
    assert.equal(k.f16ToF32(bits, out), out);
    assert.deepEqual(out, k.f16ToF32(bits));
    const b = new Float32Array(1000);
    assert.equal(k.bf16ToF32(bits, b), b);
    assert.deepEqual(b, k.bf16ToF32(bits));
    assert.throws(
      () => k.f16ToF32(bits, new Float32Array(999)),
      /"out" must have the length of "bits" \(1000\): current length is 999/,
    );
  }
});
