// Sharded safetensors checkpoints (`model.safetensors.index.json` + shards): pruned as one model
// (a global group spans the shards) and quantized, written back with the same shard layout; the
// result must equal compressing the same tensors as one file. Bad indexes give errors that name
// the index field or the shard.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compressModel, loadModel, readSafetensors, writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { readShardedModel } from "../../src/compress/sharded_checkpoint.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { readCompressedTensors } from "../../src/quantization/compressed_tensors.ts";
import { cli, tempDir } from "../cli/_run.ts";
import { values } from "./_values.ts";

type Tensor = Parameters<typeof writeSafetensors>[0][number];

const SHARDS: Record<string, Tensor[]> = {
  "model-00001-of-00003.safetensors": [
    { name: "embed.weight", dtype: "F32", shape: [10, 8], data: values(80, 1) },
    { name: "layers.0.fc.weight", dtype: "F32", shape: [8, 8], data: values(64, 2) },
    { name: "layers.0.fc.bias", dtype: "F32", shape: [8], data: values(8, 3) },
  ],
  "model-00002-of-00003.safetensors": [
    {
      name: "layers.1.fc.weight",
      dtype: "F16",
      shape: [8, 8],
      data: fromFloat32(values(64, 4), "F16"),
    },
    { name: "layers.1.fc.bias", dtype: "F16", shape: [8], data: fromFloat32(values(8, 5), "F16") },
  ],
  "model-00003-of-00003.safetensors": [
    { name: "head.weight", dtype: "F32", shape: [4, 8], data: values(32, 6).map((v) => v * 3) },
  ],
};

/** Writes the checkpoint into `dir`; returns its index path. */
function writeCheckpoint(dir: string, weightMap?: Record<string, string>): string {
  const map: Record<string, string> = {};
  for (const [shard, tensors] of Object.entries(SHARDS)) {
    writeFileSync(join(dir, shard), writeSafetensors(tensors, { metadata: { format: "pt" } }));
    for (const t of tensors) map[t.name] = shard;
  }
  const index = join(dir, "model.safetensors.index.json");
  writeFileSync(
    index,
    JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap ?? map }),
  );
  return index;
}

/** The same tensors as one file. */
function single(): Uint8Array {
  return writeSafetensors(Object.values(SHARDS).flat(), { metadata: { format: "pt" } });
}

function tensorsOf(bytes: Uint8Array): Map<string, Uint8Array> {
  return new Map(readSafetensors(bytes).tensors.map((t) => [t.name, t.data.slice()]));
}

const GLOBAL = [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }];

test("a sharded checkpoint is pruned as one model (one global group) and keeps its shard layout", async () => {
  const dir = tempDir();
  try {
    const index = writeCheckpoint(dir);
    const out = join(dir, "pruned.safetensors.index.json");
    const report = await pruneSafetensorsFile(index, out, { configList: GLOBAL });
    const expected = await compressModel(loadModel(single(), "m.safetensors"), {
      mode: "pruning",
      configList: GLOBAL,
    });
    // Modules come in shard order here, in the single file's tensor order there.
    const byModule = (ls: typeof report.layers) =>
      [...ls].sort((a, b) => a.module.localeCompare(b.module));
    assert.deepEqual(byModule(report.layers), byModule(expected.report.layers));
    const written = JSON.parse(readFileSync(out, "utf8"));
    const want = tensorsOf(expected.bytes);
    let total = 0;
    for (const [shard, tensors] of Object.entries(SHARDS)) {
      const name = shard.replace(/^model/, "pruned");
      const got = tensorsOf(new Uint8Array(readFileSync(join(dir, name))));
      assert.deepEqual([...got.keys()], tensors.map((t) => t.name).sort());
      for (const [t, bytes] of got) {
        assert.deepEqual(bytes, want.get(t), t);
        assert.equal(written.weight_map[t], name);
        total += bytes.length;
      }
    }
    assert.equal(written.metadata.total_size, total);
    // The input is untouched and the global group did prune across shards.
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("model")).length, 4);
    assert.deepEqual(
      [...new Set(report.layers.map((l) => l.module))].sort(),
      ["head", "layers.0.fc", "layers.1.fc"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI prunes, quantizes and inspects a sharded checkpoint", async () => {
  const dir = tempDir();
  try {
    const index = writeCheckpoint(dir);
    const config = join(dir, "q.json");
    writeFileSync(
      config,
      JSON.stringify([{ op_types: ["Linear"], target_names: ["weight"], quant_dtype: "int8" }]),
    );
    const outDir = join(dir, "out");
    mkdirSync(outDir);
    const out = join(outDir, "model.safetensors.index.json");
    const q = await cli("quantize", index, "-c", config, "-o", out, "--storage", "int");
    assert.equal(q.code, 0, q.stderr);
    const written = JSON.parse(readFileSync(out, "utf8"));
    // Scales go with their weight's shard; names are kept in another folder.
    assert.equal(written.weight_map["head.weight_scale"], "model-00003-of-00003.safetensors");
    assert.equal(written.weight_map["layers.1.fc.weight"], "model-00002-of-00003.safetensors");
    const merged = await readShardedModel(out, () => {});
    const expected = await compressModel(loadModel(single(), "m.safetensors"), {
      mode: "quantization",
      configList: JSON.parse(readFileSync(config, "utf8")),
      storage: "int",
    });
    assert.deepEqual(tensorsOf(merged.model.bytes), tensorsOf(expected.bytes));

    const p = await cli(
      "prune",
      index,
      "-c",
      JSON.stringify(GLOBAL),
      "-o",
      join(outDir, "p.safetensors.index.json"),
    );
    assert.equal(p.code, 0, p.stderr);
    assert.ok(readdirSync(outDir).includes("p-00002-of-00003.safetensors"));

    const i = await cli("inspect", index);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /layers\.1\.fc/);
    assert.match(i.stdout, /head/);

    const bad = await cli(
      "prune",
      index,
      "-c",
      JSON.stringify(GLOBAL),
      "-o",
      join(dir, "x.safetensors"),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--output must be a shard index \(\.safetensors\.index\.json\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI quantizes a sharded checkpoint into compressed-tensors by default, config.json merged", async () => {
  const dir = tempDir();
  try {
    const index = writeCheckpoint(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "toy", hidden_size: 8 }));
    const config = [{
      op_types: ["Linear"],
      target_names: ["weight"],
      quant_dtype: "uint4",
      quant_scheme: "affine",
      granularity: [1, 4],
    }];
    const outDir = join(dir, "out");
    mkdirSync(outDir);
    const out = join(outDir, "model.safetensors.index.json");
    const q = await cli("quantize", index, "-c", JSON.stringify(config), "-o", out, "--json");
    assert.equal(q.code, 0, q.stderr);
    const result = JSON.parse(q.stdout);
    assert.equal(result.report.storage, "compressed-tensors");
    assert.equal(result.quantizationConfig, join(outDir, "config.json"));
    const written = JSON.parse(readFileSync(out, "utf8"));
    // Each packed weight, its scale, shape and packed zero point stay in its weight's shard.
    for (const suffix of ["packed", "scale", "shape", "zero_point"]) {
      assert.equal(written.weight_map[`head.weight_${suffix}`], "model-00003-of-00003.safetensors");
      assert.equal(
        written.weight_map[`layers.1.fc.weight_${suffix}`],
        "model-00002-of-00003.safetensors",
      );
    }
    const hf = JSON.parse(readFileSync(join(outDir, "config.json"), "utf8"));
    assert.equal(hf.model_type, "toy");
    assert.equal(hf.quantization_config.quant_method, "compressed-tensors");
    const expected = await compressModel(loadModel(single(), "m.safetensors"), {
      mode: "quantization",
      configList: config,
    });
    assert.deepEqual(hf.quantization_config, expected.quantizationConfig);
    // The shards together hold the tensors of the single-file result, and decode.
    const merged = await readShardedModel(out, () => {});
    assert.deepEqual(tensorsOf(merged.model.bytes), tensorsOf(expected.bytes));
    const decoded = readCompressedTensors(merged.model.bytes, hf.quantization_config);
    assert.deepEqual(decoded.quantized.map((t) => t.name).sort(), [
      "head.weight",
      "layers.0.fc.weight",
      "layers.1.fc.weight",
    ]);
    assert.ok(decoded.quantized.every((t) => t.weights.strategy === "group"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a bad shard index is refused with the field and file it is about", async () => {
  const cases: { map: Record<string, string>; error: RegExp }[] = [
    {
      map: { "head.weight": "../model-00003-of-00003.safetensors" },
      error: /weight_map\[\\?"head\.weight\\?"\].*file name ending in \.safetensors/,
    },
    {
      map: { "layers.0.fc.bias": "model-00002-of-00003.safetensors" },
      error:
        /weight_map\[\\?"layers\.0\.fc\.bias\\?"\].*but it is in "model-00001-of-00003\.safetensors"/,
    },
    { map: { "head.weight": "missing.safetensors" }, error: /missing\.safetensors/ },
  ];
  for (const { map, error } of cases) {
    const dir = tempDir();
    try {
      const index = writeCheckpoint(dir, {
        ...Object.fromEntries(
          Object.values(SHARDS).flat().map((t) => [
            t.name,
            Object.keys(SHARDS).find((s) => SHARDS[s].includes(t))!,
          ]),
        ),
        ...map,
      });
      const r = await cli("inspect", index);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, error);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
