// `pruneSafetensorsFile` (the CLI's path for safetensors) streams the file and counts each layer
// as it is written: its output and per-layer report must be those of `compressModel` on the same
// file in memory, for every float dtype and apply method.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compressModel, loadModel, writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { values } from "./_values.ts";

const FILE = writeSafetensors([
  { name: "a.weight", dtype: "F32", shape: [32, 48], data: values(1536, 5) },
  { name: "a.bias", dtype: "F32", shape: [32], data: values(32, 6) },
  { name: "b.weight", dtype: "F16", shape: [16, 32], data: fromFloat32(values(512, 7), "F16") },
  { name: "c.weight", dtype: "BF16", shape: [8, 16], data: fromFloat32(values(128, 8), "BF16") },
]);

const CONFIGS: unknown[][] = [
  [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
  [
    { op_names: ["a"], sparse_ratio: 0.3, apply_method: "bypass" },
    { op_names: ["b", "c"], sparse_ratio: 0.6, apply_method: "add" },
  ],
  [{ op_types: ["Linear"], sparse_ratio: 0.4, global_group_id: 1 }],
];

for (const config of CONFIGS) {
  test(`pruneSafetensorsFile matches compressModel: ${JSON.stringify(config)}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-psf-"));
    try {
      const input = join(dir, "m.safetensors");
      const output = join(dir, "out.safetensors");
      writeFileSync(input, FILE);
      const report = await pruneSafetensorsFile(input, output, { configList: config });
      const expected = await compressModel(loadModel(FILE, "m.safetensors"), {
        mode: "pruning",
        configList: config,
      });
      assert.deepEqual(new Uint8Array(readFileSync(output)), expected.bytes);
      assert.deepEqual(report.layers, expected.report.layers);
      assert.equal(report.after.fileBytes, expected.bytes.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
