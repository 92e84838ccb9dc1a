// Quantized safetensors exports: integer codes with scales and zero points, and simulated
// quantization written back as float — checked against NNI's codes and dequantized weights.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { fakeQuantizedTensors } from "../../src/quantization/fake_quantized_tensors.ts";
import {
  quantizedSafetensors,
  readQuantizedSafetensors,
} from "../../src/quantization/quantized_safetensors.ts";
import { dequantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { quantizeWeights } from "../../src/quantization/quantize_weights.ts";
import { rewriteSafetensors } from "../../src/quantization/rewrite_safetensors.ts";
import { asInt64, encValues, loadExpected, sha256 } from "./_oracle.ts";

const MLP = fileURLToPath(
  new URL("../nni_oracle/expected/weights/mlp_s0.safetensors", import.meta.url),
);

function mlp() {
  const file = readSafetensors(new Uint8Array(readFileSync(MLP)));
  return { file, model: safetensorsModel(file) };
}

/** Our export of an oracle case's config, with NNI's expected result. */
async function exportCase(id: string) {
  const exp = loadExpected(id);
  const { file, model } = mlp();
  const { params } = await quantizeWeights(
    model,
    exp.case.config_list.map((c: object) => ({
      ...c,
      target_names: ["weight", "bias"],
    })),
  );
  return { exp, file, model, params, bytes: await quantizedSafetensors(model, params) };
}

test("int4 weights are packed two per byte and read back to NNI's codes and values (q003)", async () => {
  const { exp, bytes, file } = await exportCase("q003_ptq_int4_weight_only");
  const { quantized, others } = readQuantizedSafetensors(bytes);
  assert.ok(quantized.length >= 3);
  const raw = readSafetensors(bytes);
  for (const q of quantized.filter((t) => t.name.endsWith(".weight"))) {
    const want = exp.result.fake_quant_params[q.name.split(".")[0]].weight;
    assert.equal(q.info.packing, "int4_low_nibble_first");
    const stored = raw.tensors.find((t) => t.name === q.name)!;
    assert.deepEqual(stored.shape, [q.shape[0], q.shape[1] / 2]);
    assert.equal(stored.dtype, "U8");
    assert.equal(sha256(asInt64(q.codes)), want.int_codes.sha256, q.name);
    // Codes carry no sign of zero: equal to NNI's values with -0 read as 0.
    const values = dequantizeTensor(q.codes, q.shape, q.params);
    assert.deepEqual([...values], [...encValues(want.dequantized)].map((v) => v + 0));
  }
  assert.deepEqual(others, []);
  console.log(`mlp int4 safetensors: ${readFileSync(MLP).length} -> ${bytes.length} bytes`);
  const weights = raw.tensors.filter((t) => t.name.endsWith(".weight"));
  const floats = file.tensors.filter((t) => t.name.endsWith(".weight"));
  const sum = (ts: readonly { data: Uint8Array }[]) => ts.reduce((a, t) => a + t.data.length, 0);
  assert.equal(sum(weights) * 8, sum(floats), "4 bits per weight instead of 32");
});

test("per-channel int8 codes, scales [out, 1] and zero points match NNI (q007)", async () => {
  const { exp, bytes } = await exportCase("q007_ptq_weight_out_channel");
  const { quantized } = readQuantizedSafetensors(bytes);
  const raw = readSafetensors(bytes);
  const meta = JSON.parse(raw.metadata["nncompress.quantization"]);
  assert.equal(raw.metadata["nncompress.format"], "quantized-v1");
  for (const q of quantized.filter((t) => t.name.endsWith(".weight"))) {
    const module = q.name.split(".")[0];
    const cal = exp.result.calibration_config[module].weight;
    const scale = raw.tensors.find((t) => t.name === `${q.name}_scale`)!;
    assert.deepEqual(scale.shape, cal.scale.shape);
    assert.equal(sha256(q.params.scale), cal.scale.sha256);
    assert.equal(raw.tensors.find((t) => t.name === q.name)!.dtype, "I8");
    assert.equal(raw.tensors.find((t) => t.name === `${q.name}_zero_point`)!.dtype, "I8");
    assert.deepEqual(meta[q.name].kernel, [1, -1]);
    assert.equal(meta[q.name].granularity, "out_channel");
    const want = exp.result.fake_quant_params[module].weight;
    assert.equal(sha256(asInt64(q.codes)), want.int_codes.sha256);
  }
});

test("uint16 affine codes and odd rows of 4-bit codes survive the round trip", async () => {
  const { model } = mlp();
  for (
    const [dtype, granularity] of [["uint16", null], ["uint4", [1, 3]], ["int3", "in_channel"]]
  ) {
    const { params } = await quantizeWeights(model, [{
      op_names: ["fc3"],
      target_names: ["weight"],
      quant_dtype: dtype,
      quant_scheme: "affine",
      granularity,
    }]);
    const { quantized, others } = readQuantizedSafetensors(
      await quantizedSafetensors(model, params),
    );
    assert.equal(quantized.length, 1);
    assert.equal(others.length, 5);
    const w = await model.modules.find((m) => m.name === "fc3")!.params.weight.data();
    const expected = dequantizeTensor(
      (await import("../../src/quantization/quantize_tensor.ts")).quantizeTensor(
        w,
        [10, 24],
        params[0],
      ),
      [10, 24],
      params[0],
    );
    assert.deepEqual(
      dequantizeTensor(quantized[0].codes, quantized[0].shape, quantized[0].params),
      expected,
    );
  }
});

test("fake-quantized weights written back as float equal NNI's dequantized weights (q001)", async () => {
  const exp = loadExpected("q001_ptq_mlp_int8_default");
  const { file, model } = mlp();
  const config = exp.case.config_list.map((c: object) => ({
    ...c,
    target_names: ["weight", "bias"],
  }));
  const { params } = await quantizeWeights(model, config);
  const out = readSafetensors(rewriteSafetensors(file, await fakeQuantizedTensors(model, params)));
  for (const m of ["fc1", "fc2", "fc3"]) {
    for (const p of ["weight", "bias"]) {
      const t = out.tensors.find((x) => x.name === `${m}.${p}`)!;
      assert.equal(sha256(t.data), exp.result.fake_quant_params[m][p].dequantized.sha256);
    }
  }
});
