import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { inspect } from "../../src/model/inspect.ts";
import { loadOcrData, loadOcrKeys, ocrLines } from "../../src/compress/ocr_data.ts";
import { CLS, ctcDecode, DET, loadOrt, REC, run } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

/** Every stored tensor replaced by its own values, so the writer re-encodes all of them. */
async function rewriteAll(bytes: Uint8Array): Promise<Uint8Array> {
  const model = decodeOnnx(bytes);
  const replacements = new Map<string, OnnxReplacement>();
  for (const t of model.tensors) {
    replacements.set(t.name, { bytes: (await readOnnxTensor(model, t)).slice() });
  }
  return encodeOnnx(model, replacements);
}

test("the three PP-OCR models decode and write back byte for byte", SLOW, async () => {
  for (const path of [REC, CLS, DET]) {
    const bytes = await readFile(path);
    const model = decodeOnnx(bytes, { file: path });
    assert.ok(model.tensors.length > 200, path);
    assert.ok(model.tensors.every((t) => t.kind === "constant"), "weights are Constant nodes");
    assert.deepEqual(encodeOnnx(model, new Map()), bytes);
  }
});

test(
  "the recognizer lists Conv2d, BatchNorm2d and Linear modules named after their weights",
  SLOW,
  async () => {
    const model = onnxModel(decodeOnnx(await readFile(REC)));
    const byName = new Map(model.modules.map((m) => [m.name, m]));
    const count = (type: string) => model.modules.filter((m) => m.type === type).length;
    assert.equal(count("Conv2d"), 38);
    assert.equal(count("BatchNorm2d"), 6);
    assert.equal(count("Linear"), 9);
    const fc = byName.get("linear_77")!;
    assert.equal(fc.opType, "MatMul");
    assert.deepEqual(fc.params.weight.shape, [360, 120]);
    assert.deepEqual(fc.params.weight.fileShape, [120, 360]);
    assert.deepEqual(fc.params.weight.transpose, [1, 0]);
    assert.deepEqual(fc.params.bias.shape, [360]);
    assert.deepEqual(Object.keys(byName.get("batch_norm2d_2")!.params), [
      "weight",
      "bias",
      "running_mean",
      "running_var",
    ]);
    assert.equal(byName.get("conv2d_10")!.type, "Conv2d");
    assert.equal(inspect(model).elements, 2_688_909);
    const conv = model.graph!.nodes.find((n) => n.opType === "Conv")!;
    assert.equal(conv.module, "conv2d_10");
    assert.deepEqual(model.graph!.inputs, ["x"]);
  },
);

test(
  "the classifier and detector list their conv, BatchNorm and activation modules",
  SLOW,
  async () => {
    const cls = onnxModel(decodeOnnx(await readFile(CLS)));
    assert.equal(cls.modules.filter((m) => m.type === "Conv2d").length, 53);
    assert.equal(cls.modules.filter((m) => m.type === "BatchNorm2d").length, 35);
    assert.ok(cls.modules.some((m) => m.type === "Hardsigmoid"));
    const det = onnxModel(decodeOnnx(await readFile(DET)));
    assert.equal(det.modules.filter((m) => m.type === "Conv2d").length, 62);
    assert.equal(det.modules.filter((m) => m.type === "ConvTranspose2d").length, 2);
    assert.equal(
      det.modules.filter((m) => m.type === "ReLU6").length,
      24,
      "Clip bounds read from constant inputs",
    );
    const names = det.modules.map((m) => m.name);
    assert.equal(new Set(names).size, names.length);
  },
);

test(
  "a Linear weight reads in PyTorch layout: row o of data() is column o of the file",
  SLOW,
  async () => {
    const model = onnxModel(decodeOnnx(await readFile(REC)));
    const w = model.modules.find((m) => m.name === "linear_78")!.params.weight;
    const torch = await w.data();
    const file = new Float32Array((await w.bytes()).slice().buffer);
    const [out, inp] = w.shape;
    for (const [o, i] of [[0, 0], [3, 7], [out - 1, inp - 1]]) {
      assert.equal(torch[o * inp + i], file[i * out + o]);
    }
  },
);

test(
  "the classifier and detector give identical outputs after a rewrite of every tensor",
  SLOW,
  async () => {
    const ort = await loadOrt();
    const { input, dims } = ocrLines((await loadOcrData()).cls, 0, 8);
    const cls = await readFile(CLS);
    const a = await run(ort, cls, input, dims);
    const b = await run(ort, await rewriteAll(cls), input, dims);
    assert.deepEqual(b.data, a.data);
    const det = await readFile(DET);
    const image = new Float32Array(3 * 64 * 96).map((_, i) => Math.sin(i) * 0.5);
    const c = await run(ort, det, image, [1, 3, 64, 96]);
    const d = await run(ort, await rewriteAll(det), image, [1, 3, 64, 96]);
    assert.deepEqual(d.data, c.data);
  },
);

test(
  "the recognizer reads 40/40 lines after a rewrite, with outputs identical to the original",
  SLOW,
  async () => {
    const ort = await loadOrt();
    const { labels, rec } = await loadOcrData();
    const keys = await loadOcrKeys();
    const original = await readFile(REC);
    const rewritten = await rewriteAll(original);
    assert.equal(rewritten.length, original.length);
    const after = await run(ort, rewritten, rec.input, rec.dims);
    assert.deepEqual(ctcDecode(after.data, after.dims, keys), labels.texts);
    const first = ocrLines(rec, 0, 4);
    const before = await run(ort, original, first.input, first.dims);
    assert.deepEqual(after.data.subarray(0, before.data.length), before.data);
  },
);
