// `quantizeSafetensorsFile` (the CLI's path for `quantize` on safetensors) streams the file tensor
// by tensor: its output bytes and report must be those of `compressModel` with the same storage
// (`int`, or `auto`: compressed-tensors when the scheme fits) on the same file in memory, for
// every float dtype and granularity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compressModel, loadModel, writeSafetensors } from "../../mod.ts";
import { quantizeSafetensorsFile } from "../../src/compress/quantize_safetensors_file.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { values } from "./_values.ts";

const FILE = writeSafetensors([
  { name: "a.weight", dtype: "F32", shape: [32, 48], data: values(1536, 5) },
  { name: "a.bias", dtype: "F32", shape: [32], data: values(32, 6) },
  { name: "b.weight", dtype: "F16", shape: [16, 31], data: fromFloat32(values(496, 7), "F16") },
  { name: "c.weight", dtype: "BF16", shape: [8, 16], data: fromFloat32(values(128, 8), "BF16") },
  { name: "norm.weight", dtype: "F32", shape: [16], data: values(16, 9) },
], { metadata: { format: "pt" } });

const CONFIGS: unknown[][] = [
  [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }],
  [{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "uint8",
    quant_scheme: "affine",
    granularity: "out_channel",
  }],
  [{ op_names: ["b", "c"], target_names: ["weight"], quant_dtype: "int4" }],
  [{ op_names: ["a"], target_names: ["weight"], quant_dtype: "int8", granularity: [8, 16] }],
];

for (const config of CONFIGS) {
  for (const storage of ["int", "auto"] as const) {
    test(`quantizeSafetensorsFile matches compressModel (${storage}): ${JSON.stringify(config)}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "nnc-qsf-"));
      try {
        const input = join(dir, "m.safetensors");
        const output = join(dir, "out.safetensors");
        writeFileSync(input, FILE);
        const report = await quantizeSafetensorsFile(input, output, {
          configList: config,
          storage,
        });
        const expected = await compressModel(loadModel(FILE, "m.safetensors"), {
          mode: "quantization",
          configList: config,
          storage,
        });
        assert.deepEqual(new Uint8Array(readFileSync(output)), expected.bytes);
        assert.deepEqual(report.layers, expected.report.layers);
        assert.deepEqual(report.after, expected.report.after);
        assert.deepEqual(report.warnings, expected.report.warnings);
        assert.equal(report.parameters, expected.report.parameters);
        assert.equal(report.storage, expected.report.storage);
        // The block granularity [8, 16] is not one compressed-tensors holds: auto says why.
        const blocks = JSON.stringify(config).includes("[8,16]");
        assert.equal(report.storage, storage === "auto" && !blocks ? "compressed-tensors" : "int");
        if (storage === "auto" && blocks) {
          assert.match(report.warnings.join("\n"), /not compressed-tensors: a\.weight/);
        }
        // The config beside the output: the input's folder keeps its own config.json.
        const side = join(dir, "out.config.json");
        if (report.storage === "compressed-tensors") {
          const written = JSON.parse(readFileSync(side, "utf8"));
          assert.deepEqual(written, { quantization_config: expected.quantizationConfig });
        } else assert.ok(!existsSync(side));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}
