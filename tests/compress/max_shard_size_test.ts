// `maxShardSize` (`--max-shard-size`): a safetensors output written as a sharded checkpoint with
// shards of at most that many bytes of tensor data, named as Hugging Face's `save_pretrained`
// names them, with `metadata.total_size` and `weight_map`; a tensor larger than the limit gets a
// shard of its own; a sharded input is re-sharded. The tensors are those of the unsharded output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { quantizeSafetensorsFile } from "../../src/compress/quantize_safetensors_file.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { cli, tempDir } from "../cli/_run.ts";
import { values } from "./_values.ts";

type Tensor = Parameters<typeof writeSafetensors>[0][number];

const TENSORS: Tensor[] = [
  { name: "embed.weight", dtype: "F32", shape: [10, 8], data: values(80, 1) },
  { name: "layers.0.fc.weight", dtype: "F32", shape: [8, 8], data: values(64, 2) },
  { name: "layers.0.fc.bias", dtype: "F32", shape: [8], data: values(8, 3) },
  {
    name: "layers.1.fc.weight",
    dtype: "F16",
    shape: [8, 8],
    data: fromFloat32(values(64, 4), "F16"),
  },
  { name: "layers.1.fc.bias", dtype: "F16", shape: [8], data: fromFloat32(values(8, 5), "F16") },
  { name: "head.weight", dtype: "F32", shape: [4, 8], data: values(32, 6) },
];

const PRUNE = [{ op_types: ["Linear"], sparse_ratio: 0.5 }];

function tensorsOf(bytes: Uint8Array): Map<string, Uint8Array> {
  return new Map(readSafetensors(bytes).tensors.map((t) => [t.name, t.data.slice()]));
}

/** The shards an index names, read back: tensor name → bytes, and each shard's tensor names. */
function readCheckpoint(index: string) {
  const json = JSON.parse(readFileSync(index, "utf8"));
  const folder = index.slice(0, index.lastIndexOf("/") + 1);
  const tensors = new Map<string, Uint8Array>();
  const shards = new Map<string, string[]>();
  for (const shard of new Set(Object.values(json.weight_map) as string[])) {
    const got = tensorsOf(new Uint8Array(readFileSync(folder + shard)));
    shards.set(shard, [...got.keys()]);
    for (const [name, bytes] of got) {
      assert.equal(json.weight_map[name], shard, name);
      tensors.set(name, bytes);
    }
  }
  const total = [...tensors.values()].reduce((n, b) => n + b.length, 0);
  assert.equal(json.metadata.total_size, total);
  return { json, tensors, shards };
}

test("a single file is written as shards of at most maxShardSize bytes, named like save_pretrained", async () => {
  const dir = tempDir();
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, writeSafetensors(TENSORS, { metadata: { format: "pt" } }));
    await pruneSafetensorsFile(input, join(dir, "one.safetensors"), { configList: PRUNE });
    const want = tensorsOf(new Uint8Array(readFileSync(join(dir, "one.safetensors"))));
    const index = join(dir, "pruned.safetensors.index.json");
    const report = await pruneSafetensorsFile(input, index, {
      configList: PRUNE,
      maxShardSize: 400,
    });
    const { tensors, shards } = readCheckpoint(index);
    assert.deepEqual(tensors, want);
    // Data order (float32 by name, then float16): 320 | 128 + 32 | 256 + 16 + 128 = 400.
    assert.deepEqual(Object.fromEntries(shards), {
      "pruned-00001-of-00003.safetensors": ["embed.weight"],
      "pruned-00002-of-00003.safetensors": ["head.weight", "layers.0.fc.bias"],
      "pruned-00003-of-00003.safetensors": [
        "layers.0.fc.weight",
        "layers.1.fc.bias",
        "layers.1.fc.weight",
      ],
    });
    const first = readSafetensors(
      new Uint8Array(readFileSync(join(dir, "pruned-00001-of-00003.safetensors"))),
    );
    assert.deepEqual({ ...first.metadata }, { format: "pt" });
    const files = readdirSync(dir).filter((f) => f.startsWith("pruned")).length;
    assert.equal(files, 4);
    assert.equal(
      report.after.fileBytes,
      readdirSync(dir).filter((f) => f.startsWith("pruned")).reduce(
        (n, f) => n + readFileSync(join(dir, f)).length,
        0,
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a tensor larger than maxShardSize gets a shard of its own", async () => {
  const dir = tempDir();
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, writeSafetensors(TENSORS));
    const index = join(dir, "model.safetensors.index.json");
    await pruneSafetensorsFile(input, index, { configList: PRUNE, maxShardSize: 200, threads: 2 });
    const { shards } = readCheckpoint(index);
    assert.deepEqual([...shards.values()], [
      ["embed.weight"],
      ["head.weight", "layers.0.fc.bias"],
      ["layers.0.fc.weight"],
      ["layers.1.fc.bias", "layers.1.fc.weight"],
    ]);
    assert.deepEqual(
      [...shards.keys()],
      [1, 2, 3, 4].map((k) => `model-0000${k}-of-00004.safetensors`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a sharded checkpoint is re-sharded: shards merged, quantization metadata kept per shard", async () => {
  const dir = tempDir();
  try {
    const map: Record<string, string> = {};
    const parts = [TENSORS.slice(0, 3), TENSORS.slice(3)];
    parts.forEach((tensors, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(dir, name), writeSafetensors(tensors));
      for (const t of tensors) map[t.name] = name;
    });
    const index = join(dir, "model.safetensors.index.json");
    writeFileSync(index, JSON.stringify({ metadata: { total_size: 880 }, weight_map: map }));
    const config = [{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }];
    const kept = join(dir, "kept.safetensors.index.json");
    await quantizeSafetensorsFile(index, kept, { configList: config, storage: "int" });
    const want = readCheckpoint(kept).tensors;
    const out = join(dir, "one.safetensors.index.json");
    await quantizeSafetensorsFile(index, out, {
      configList: config,
      storage: "int",
      maxShardSize: 5e9,
      threads: 2,
    });
    const { tensors, shards } = readCheckpoint(out);
    assert.deepEqual([...shards.keys()], ["one-00001-of-00001.safetensors"]);
    assert.deepEqual(tensors, want);
    const merged = readSafetensors(
      new Uint8Array(readFileSync(join(dir, "one-00001-of-00001.safetensors"))),
    );
    assert.deepEqual(
      Object.keys(JSON.parse(merged.metadata["nncompress.quantization"])).sort(),
      ["head.weight", "layers.0.fc.weight", "layers.1.fc.weight"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI takes --max-shard-size with units and refuses a bad size or a non-index output", async () => {
  const dir = tempDir();
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, writeSafetensors(TENSORS));
    const c = JSON.stringify(PRUNE);
    const ok = await cli(
      "prune",
      input,
      "-c",
      c,
      "-o",
      join(dir, "model.safetensors.index.json"),
      "--max-shard-size",
      "0.4KB",
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(readCheckpoint(join(dir, "model.safetensors.index.json")).shards.size, 3);
    const bad = await cli(
      "prune",
      input,
      "-c",
      c,
      "-o",
      join(dir, "x.safetensors.index.json"),
      "--max-shard-size",
      "5 lots",
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-shard-size must be a size/);
    const file = await cli(
      "prune",
      input,
      "-c",
      c,
      "-o",
      join(dir, "x.safetensors"),
      "--max-shard-size",
      "5GB",
    );
    assert.equal(file.code, 2);
    assert.match(file.stderr, /shard index/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
