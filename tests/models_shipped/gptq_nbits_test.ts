// GPTQ results stored as MatMulNBits (`storage: "nbits"`): the codes are GPTQ's own grid, so
// onnxruntime running the MatMulNBits model gives the outputs of the float GPTQ model (the same
// weights, dequantized) up to float rounding, at a fraction of the size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compressModel, loadModel } from "../../mod.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { mlp, values } from "./_models.ts";
import { loadOrt } from "../io/_ocr.ts";
import { difference, runModel } from "./_ort.ts";

// The model's input is [2, 32]: 32 batches of 2 rows.
const BATCHES = Array.from({ length: 32 }, (_, i) => ({
  x: { data: values(2 * 32, 100 + i), dims: [2, 32] },
}));

for (
  const granularity of ["per_channel", [1, 32], [1, 16]] as const
) {
  for (const quant_dtype of ["int4", "uint4", "int3"]) {
    test(`GPTQ ${quant_dtype} ${JSON.stringify(granularity)} as MatMulNBits runs like its float model`, async () => {
      const ort = await loadOrt();
      const config = [{
        op_types: ["Linear"],
        target_names: ["weight"],
        quant_dtype,
        ...(quant_dtype === "uint4" ? { quant_scheme: "affine" } : {}),
        granularity,
      }];
      const run = (storage: "float" | "nbits") =>
        compressModel(loadModel(mlp(), "mlp.onnx"), {
          mode: "quantization",
          algorithm: "GPTQ",
          configList: config,
          storage,
          calibration: { batches: BATCHES, ort },
        });
      const float = await run("float");
      const nbits = await run("nbits");
      assert.equal(nbits.report.storage, "nbits");
      const ops = decodeOnnx(nbits.bytes).graph.nodes.map((n) => n.opType);
      assert.equal(ops.filter((o) => o === "MatMulNBits").length, 2, ops.join(","));
      assert.ok(nbits.bytes.length < 0.45 * float.bytes.length, `${nbits.bytes.length} bytes`);
      const a = await runModel(float.bytes, "x", [2, 32]);
      const b = await runModel(nbits.bytes, "x", [2, 32]);
      const d = difference(b.y, a.y);
      assert.ok(d.relative <= 1e-4, `max |diff| ${d.max} (relative ${d.relative})`);
    });
  }
}
