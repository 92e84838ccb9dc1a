// Pruned models through real files: the PP-OCR classifier and recognizer written with
// savePrunedFile, read back, checked for zeros exactly where the masks say and run in
// onnxruntime-node on the labelled lines; a lazily opened safetensors file written back with
// every tensor kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openFile, readFile, writeFileAtomic } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import type { OnnxModel } from "../../src/io/onnx/onnx_types.ts";
import { openSafetensors } from "../../src/io/safetensors/open_safetensors.ts";
import { readSafetensors } from "../../src/io/safetensors/read_safetensors.ts";
import { writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";
import { getKernels } from "../../src/kernels/default.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { toFloat32 } from "../../src/model/to_float32.ts";
import { expandMask } from "../../src/pruning/expand_mask.ts";
import { prune, type PruneResult } from "../../src/pruning/prune.ts";
import { savePrunedFile } from "../../src/pruning/save_pruned_file.ts";
import { loadOcrData, loadOcrKeys } from "../../src/compress/ocr_data.ts";
import { CLS, ctcDecode, loadOrt, REC, run } from "../io/_ocr.ts";

const SLOW = { timeout: 120_000 };

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "nnc-pruned-"));
}

/** Every masked tensor of the written model is zero exactly where its mask is 0. */
async function assertZerosMatchMasks(result: PruneResult, written: OnnxModel): Promise<number> {
  const view = onnxModel(written);
  let checked = 0;
  for (const t of result.targets) {
    const mask = result.masks[t.module]?.[t.target];
    if (mask === undefined) continue;
    const values = await view.modules.find((m) => m.name === t.module)!.params[t.target].data();
    const full = expandMask(mask);
    for (let i = 0; i < full.length; i++) {
      if ((values[i] === 0) !== (full[i] === 0)) {
        assert.fail(`${t.module}.${t.target}[${i}] is ${values[i]} with mask ${full[i]}`);
      }
    }
    checked++;
  }
  return checked;
}

test(
  "the classifier pruned by L1 out_channel at 30% on its convs is written, zeroed where the masks say and runs",
  SLOW,
  async () => {
    const dir = await tempDir();
    try {
      const onnx = decodeOnnx(await readFile(CLS), { file: CLS });
      const result = await prune(onnxModel(onnx), [
        { op_types: ["Conv2d"], target_names: ["weight"], sparse_ratio: 0.3 },
      ], { pruner: "l1" });
      const path = join(dir, "cls.pruned.onnx");
      await savePrunedFile(path, result);
      const bytes = await readFile(path);
      const written = decodeOnnx(bytes, { file: path });
      assert.equal(await assertZerosMatchMasks(result, written), 53);
      assert.equal(written.tensors.filter((t) => t.kind === "constant").length, 250);
      const { cls } = await loadOcrData();
      const out = await run(await loadOrt(), bytes, cls.input, cls.dims);
      assert.deepEqual(out.dims, [40, 2]);
      assert.ok(out.data.every(Number.isFinite));
    } finally {
      await rm(dir, { recursive: true });
    }
  },
);

test(
  "the recognizer with half of its MatMul weights pruned (Level) still reads at least 35 of 40 lines",
  SLOW,
  async () => {
    const dir = await tempDir();
    try {
      const onnx = decodeOnnx(await readFile(REC), { file: REC });
      const result = await prune(onnxModel(onnx), [
        { op_types: ["Linear"], target_names: ["weight"], sparse_ratio: 0.5 },
      ], { pruner: "level" });
      assert.equal(result.report.totals.kept * 2, result.report.totals.total);
      const path = join(dir, "rec.pruned.onnx");
      await savePrunedFile(path, result);
      const bytes = await readFile(path);
      assert.equal(await assertZerosMatchMasks(result, decodeOnnx(bytes)), 9);
      const { labels, rec } = await loadOcrData();
      const out = await run(await loadOrt(), bytes, rec.input, rec.dims);
      const texts = ctcDecode(out.data, out.dims, await loadOcrKeys());
      const exact = texts.filter((t, i) => t === labels.texts[i]).length;
      assert.ok(exact >= 35, `${exact} exact lines`);
    } finally {
      await rm(dir, { recursive: true });
    }
  },
);

test(
  "a lazily opened safetensors file is written back with every tensor, masked ones replaced in their dtype",
  SLOW,
  async () => {
    const dir = await tempDir();
    try {
      const kernels = getKernels();
      const w = new Float32Array(24).map((_, i) => Math.sin(i * 1.7));
      const source = join(dir, "model.safetensors");
      await writeFileAtomic(
        source,
        writeSafetensors([
          { name: "fc.weight", dtype: "F16", shape: [6, 4], data: kernels.f32ToF16(w) },
          { name: "fc.bias", dtype: "F32", shape: [6], data: new Float32Array(6).fill(1) },
          { name: "step", dtype: "I64", shape: [1], data: new BigInt64Array([42n]) },
        ], { metadata: { format: "pt" } }),
      );
      const file = await openFile(source);
      try {
        const lazy = await openSafetensors(file, { file: source });
        const result = await prune(safetensorsModel(lazy), [
          { op_types: ["Linear"], sparse_ratio: 0.5 },
        ], { pruner: "l2" });
        const path = join(dir, "model.pruned.safetensors");
        await savePrunedFile(path, result);
        const out = readSafetensors(await readFile(path));
        assert.deepEqual({ ...out.metadata }, { format: "pt" });
        assert.deepEqual(out.tensors.map((t) => [t.name, t.dtype]).sort(), [
          ["fc.bias", "F32"],
          ["fc.weight", "F16"],
          ["step", "I64"],
        ]);
        const get = (name: string) => out.tensors.find((t) => t.name === name)!;
        const weight = toFloat32(get("fc.weight").data, "F16");
        const mask = expandMask(result.masks.fc.weight);
        assert.deepEqual([...weight].map((v) => v !== 0), [...mask].map((m) => m === 1));
        assert.equal(new BigInt64Array(get("step").data.slice().buffer)[0], 42n);
        const bias = new Float32Array(get("fc.bias").data.slice().buffer);
        assert.deepEqual([...bias], [...expandMask(result.masks.fc.bias)]);
      } finally {
        await file.close();
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  },
);
