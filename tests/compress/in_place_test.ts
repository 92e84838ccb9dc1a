// `inPlace`: pruning a safetensors file writes the masked values into the input's own bytes.
// The result must be the file a copy would give, byte for byte, in every float dtype and for
// every pruner granularity, with the same report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compressModel, loadModel, writeSafetensors } from "../../mod.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { values } from "./_values.ts";

function model(): Uint8Array {
  return writeSafetensors([
    { name: "fc1.weight", dtype: "F32", shape: [16, 24], data: values(384, 1) },
    { name: "fc1.bias", dtype: "F32", shape: [16], data: values(16, 2) },
    { name: "fc2.weight", dtype: "F16", shape: [8, 16], data: fromFloat32(values(128, 3), "F16") },
    {
      name: "conv.weight",
      dtype: "BF16",
      shape: [4, 3, 3, 3],
      data: fromFloat32(values(108, 4), "BF16"),
    },
    { name: "step", dtype: "I64", shape: [1], data: new BigInt64Array([3n]) },
  ], { metadata: { format: "pt" } });
}

const CASES: { algorithm: string; config: unknown[] }[] = [
  { algorithm: "level", config: [{ op_types: ["Linear", "Conv2d"], sparse_ratio: 0.5 }] },
  {
    algorithm: "l1",
    config: [{ op_types: ["Linear", "Conv2d"], sparse_ratio: 0.25, target_names: ["weight"] }],
  },
  { algorithm: "level", config: [{ op_names: ["fc1"], sparse_ratio: 0.7, apply_method: "add" }] },
];

for (const { algorithm, config } of CASES) {
  test(`inPlace pruning (${algorithm}, ${JSON.stringify(config)}) writes the copy's bytes into the input`, async () => {
    const copy = await compressModel(loadModel(model(), "m.safetensors"), {
      mode: "pruning",
      algorithm,
      configList: config,
    });
    const input = model();
    const inPlace = await compressModel(loadModel(input, "m.safetensors"), {
      mode: "pruning",
      algorithm,
      configList: config,
      inPlace: true,
    });
    assert.equal(inPlace.bytes.buffer, input.buffer, "the output is the input's buffer");
    assert.deepEqual(inPlace.bytes, copy.bytes);
    assert.notDeepEqual(inPlace.bytes, model(), "the masks changed the file");
    assert.deepEqual(inPlace.report.layers, copy.report.layers);
    assert.deepEqual(inPlace.report.after, copy.report.after);
  });
}

test("inPlace leaves an ONNX or quantized model's input as it is", async () => {
  const input = model();
  const out = await compressModel(loadModel(input, "m.safetensors"), {
    mode: "quantization",
    configList: [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }],
    inPlace: true,
  });
  assert.notEqual(out.bytes.buffer, input.buffer);
  assert.deepEqual(input, model());
});
