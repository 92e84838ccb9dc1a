// The streamed safetensors runs on worker threads write the same bytes and report as on one
// thread: prune (Level, a global group, a structured and an "add" config) and quantize (int8
// per channel and int4 in blocks in the integer layout, int8 in compressed-tensors), with
// float32, float16 and bfloat16 tensors, more tensors than threads; a global group's ties across
// tensors, in memory and streamed, in one file and across the shards of a checkpoint.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { quantizeSafetensorsFile } from "../../src/compress/quantize_safetensors_file.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { PACKED_MASK_BLOCKS } from "../../src/pruning/packed_mask.ts";
import { TRANSFERRED_BITS } from "../../src/compress/_tensor_tasks.ts";
import { values } from "./_values.ts";

const FILE = writeSafetensors([
  ...[0, 1, 2, 3, 4].flatMap((i) => [
    { name: `l${i}.weight`, dtype: "F32" as const, shape: [24, 40], data: values(960, 10 + i) },
    { name: `l${i}.bias`, dtype: "F32" as const, shape: [24], data: values(24, 20 + i) },
  ]),
  { name: "h.weight", dtype: "F16", shape: [16, 32], data: fromFloat32(values(512, 7), "F16") },
  { name: "g.weight", dtype: "BF16", shape: [8, 16], data: fromFloat32(values(128, 8), "BF16") },
  { name: "step", dtype: "I64", shape: [1], data: new BigInt64Array([3n]) },
]);

async function both(
  run: (input: string, output: string, threads: number) => Promise<{ layers: unknown }>,
  file: Uint8Array = FILE,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, file);
    const one = await run(input, join(dir, "one.safetensors"), 1);
    const two = await run(input, join(dir, "two.safetensors"), 2);
    const bytes = new Uint8Array(readFileSync(join(dir, "one.safetensors")));
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, "two.safetensors"))), bytes);
    assert.deepEqual(two.layers, one.layers);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes the tensors of `file` into `dir` as a sharded checkpoint, one shard per list of names;
 * returns its index's path.
 */
function writeShards(dir: string, file: Uint8Array, shards: string[][]): string {
  const tensors = new Map(readSafetensors(file).tensors.map((t) => [t.name, t]));
  const map: Record<string, string> = {};
  for (const [i, names] of shards.entries()) {
    const shard = `model-0000${i + 1}-of-0000${shards.length}.safetensors`;
    const list = names.map((n) => {
      const t = tensors.get(n)!;
      return { name: n, dtype: t.dtype, shape: t.shape, data: t.data.slice() };
    });
    writeFileSync(join(dir, shard), writeSafetensors(list));
    for (const n of names) map[n] = shard;
  }
  const index = join(dir, "model.safetensors.index.json");
  writeFileSync(index, JSON.stringify({ metadata: {}, weight_map: map }));
  return index;
}

/** Every file of a folder, by name. */
const filesIn = (dir: string) =>
  new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));

const PRUNE: unknown[][] = [
  [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
  [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }],
  [{ op_types: ["Linear"], sparse_ratio: 0.3, granularity: "out_channel", apply_method: "add" }],
  // Tensors written ahead of the masks (their own ratio decides them) beside a global group's.
  [
    { op_names: ["l0", "l1"], sparse_ratio: 0.5, global_group_id: 0 },
    { op_names: ["l2", "l3", "l4", "h", "g"], sparse_ratio: 0.4 },
    { op_names: ["l4"], target_names: ["bias"], sparse_ratio: 0.25 },
  ],
];

for (const config of PRUNE) {
  test(`pruneSafetensorsFile writes the same bytes on 1 and 2 threads: ${JSON.stringify(config)}`, async () => {
    await both((input, output, threads) =>
      pruneSafetensorsFile(input, output, { configList: config, threads })
    );
  });
}

test("pruneSafetensorsFile on threads streams a global group larger than memory the same way", async () => {
  await both((input, output, threads) =>
    pruneSafetensorsFile(input, output, {
      configList: [{ op_types: ["Linear"], sparse_ratio: 0.6, global_group_id: 0 }],
      threads,
      inMemoryEntries: 100,
    })
  );
});

// Weights of few distinct values: a global group's threshold is tied across tensors (float32,
// float16 and bfloat16 ones), selected in memory and in passes over summaries made on the
// workers; every run writes the same bytes.
const TIES = writeSafetensors([
  ...[0, 1, 2].map((i) => ({
    name: `t${i}.weight`,
    dtype: "F32" as const,
    shape: [20 + 4 * i, 30],
    data: values((20 + 4 * i) * 30, 50 + i).map((v) => Math.round(v * 4) / 4),
  })),
  {
    name: "u.weight",
    dtype: "F16",
    shape: [12, 16],
    data: fromFloat32(values(192, 60).map((v) => Math.round(v * 2) / 2), "F16"),
  },
  {
    name: "v.weight",
    dtype: "BF16",
    shape: [8, 8],
    data: fromFloat32(values(64, 61).map((v) => Math.round(v * 8) / 8), "BF16"),
  },
]);

for (
  const [ratio, granularity] of [
    [0.3, undefined],
    [0.5, undefined],
    [0.77, undefined],
    [0.4, "out_channel"],
  ] as const
) {
  test(`pruneSafetensorsFile on threads keeps a global group's ties across tensors like one thread, in memory and streamed: ${ratio} ${granularity}`, async () => {
    const configList = [{
      op_types: ["Linear"],
      sparse_ratio: ratio,
      global_group_id: 0,
      ...(granularity === undefined ? {} : { granularity }),
    }];
    const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
    try {
      const input = join(dir, "m.safetensors");
      writeFileSync(input, TIES);
      const outputs: Uint8Array[] = [];
      const layers: unknown[] = [];
      for (const inMemoryEntries of [undefined, 100]) {
        for (const threads of [1, 2]) {
          const output = join(dir, `o${threads}-${inMemoryEntries}.safetensors`);
          const report = await pruneSafetensorsFile(input, output, {
            configList,
            threads,
            ...(inMemoryEntries === undefined ? {} : { inMemoryEntries }),
          });
          outputs.push(new Uint8Array(readFileSync(output)));
          layers.push(report.layers);
        }
      }
      for (const [i, o] of outputs.entries()) {
        assert.deepEqual(o, outputs[0], `run ${i}`);
        assert.deepEqual(layers[i], layers[0], `run ${i}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("pruneSafetensorsFile on threads streams a global group spanning the shards of a checkpoint like one thread", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const index = writeShards(dir, TIES, [["t0.weight", "t1.weight"], ["u.weight"], [
      "t2.weight",
      "v.weight",
    ]]);
    const configList = [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }];
    const runs: Map<string, Uint8Array>[] = [];
    for (const [threads, inMemoryEntries] of [[1, 100], [2, 100], [2, undefined]] as const) {
      const out = join(dir, `p${threads}-${inMemoryEntries}`);
      mkdirSync(out);
      await pruneSafetensorsFile(index, join(out, "model.safetensors.index.json"), {
        configList,
        threads,
        ...(inMemoryEntries === undefined ? {} : { inMemoryEntries }),
      });
      runs.push(filesIn(out));
    }
    assert.equal(runs[0].size, 4);
    for (const run of runs.slice(1)) assert.deepEqual(run, runs[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("quantizeSafetensorsFile writes a sharded checkpoint in one pass the same on 1 and 2 threads", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const index = writeShards(dir, FILE, [["l0.weight", "l0.bias", "l1.weight"], [
      "l1.bias",
      "h.weight",
    ], ["l2.weight", "g.weight", "step"]]);
    const weights = { op_types: ["Linear"], target_names: ["weight"], granularity: "out_channel" };
    const cases: [string, unknown[], "int" | "auto"][] = [
      ["int", [{ ...weights, quant_dtype: "int8" }], "int"],
      ["symmetric", [{ ...weights, quant_dtype: "int4" }], "auto"],
      ["affine", [{ ...weights, quant_dtype: "uint4", quant_scheme: "affine" }], "auto"],
    ];
    for (const [label, configList, storage] of cases) {
      const runs: Map<string, Uint8Array>[] = [];
      const layers: unknown[] = [];
      for (const threads of [1, 2]) {
        const out = join(dir, `${label}${threads}`);
        mkdirSync(out);
        const report = await quantizeSafetensorsFile(
          index,
          join(out, "model.safetensors.index.json"),
          { configList, storage, threads },
        );
        layers.push(report.layers);
        runs.push(filesIn(out));
      }
      assert.ok(runs[0].size >= 4, label);
      assert.deepEqual(runs[1], runs[0], label);
      assert.deepEqual(layers[1], layers[0], label);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Weights of more than PACKED_MASK_BLOCKS elements: their masks are held as bits and cross to
// the workers as bits.
const LARGE = writeSafetensors([0, 1].flatMap((i) => [
  {
    name: `b${i}.weight`,
    dtype: "F32" as const,
    shape: [1024, 1100],
    data: values(1126400, 30 + i),
  },
  { name: `b${i}.bias`, dtype: "F32" as const, shape: [1024], data: values(1024, 40 + i) },
]));

for (const config of PRUNE.slice(0, 2)) {
  test(`pruneSafetensorsFile writes the same bytes on 1 and 2 threads with masks held as bits: ${JSON.stringify(config)}`, async () => {
    assert.ok(1024 * 1100 >= PACKED_MASK_BLOCKS);
    await both(
      (input, output, threads) =>
        pruneSafetensorsFile(input, output, { configList: config, threads }),
      LARGE,
    );
  });
}

// Masks of several sizes, held as bits (2^20 blocks or more) and as bytes, all large enough to
// cross to the workers transferred (TRANSFERRED_BITS): later masks go in buffers the workers
// handed back, some larger than the mask.
const MIXED = writeSafetensors(
  [[1024, 1100], [900, 1000], [1100, 1000], [300, 400], [1024, 1100], [800, 100]].map((
    shape,
    i,
  ) => ({
    name: `m${i}.weight`,
    dtype: "F32" as const,
    shape,
    data: values(shape[0] * shape[1], 50 + i),
  })),
);

for (
  const config of [
    [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }],
    [{ op_types: ["Linear"], sparse_ratio: 0.4, granularity: [1, 4] }],
  ]
) {
  test(`pruneSafetensorsFile writes the same bytes on 1 and 2 threads with masks of mixed sizes sent transferred: ${JSON.stringify(config)}`, async () => {
    assert.ok(300 * 400 >= TRANSFERRED_BITS && (1100 * 1000) / 8 >= TRANSFERRED_BITS);
    await both(
      (input, output, threads) =>
        pruneSafetensorsFile(input, output, { configList: config, threads }),
      MIXED,
    );
  });
}

const QUANTIZE: [unknown[], "int" | "auto"][] = [
  [[{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "out_channel",
  }], "int"],
  [[{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "uint4",
    granularity: [1, 8],
  }], "int"],
  [[{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "int8",
    granularity: "out_channel",
  }], "auto"],
  // compressed-tensors written ahead (symmetric schemes), groups beside channels; and affine.
  [[
    {
      op_names: ["l0", "l1", "l2"],
      target_names: ["weight"],
      quant_dtype: "int4",
      granularity: [1, 8],
    },
    {
      op_names: ["l3", "l4"],
      target_names: ["weight"],
      quant_dtype: "uint8",
      granularity: "out_channel",
    },
  ], "auto"],
  [[{
    op_types: ["Linear"],
    target_names: ["weight"],
    quant_dtype: "uint4",
    quant_scheme: "affine",
  }], "auto"],
  // Weights and biases, affine per tensor and 16-bit per channel beside each other.
  [[
    { op_names: ["l0", "l1", "h", "g"], quant_dtype: "uint8", quant_scheme: "affine" },
    {
      op_names: ["l2", "l3", "l4"],
      target_names: ["weight"],
      quant_dtype: "int16",
      granularity: "out_channel",
    },
  ], "int"],
];

for (const [config, storage] of QUANTIZE) {
  test(`quantizeSafetensorsFile writes the same bytes on 1 and 2 threads: ${storage} ${JSON.stringify(config)}`, async () => {
    await both((input, output, threads) =>
      quantizeSafetensorsFile(input, output, { configList: config, storage, threads })
    );
  });
}

test("a quantize on 1 and 2 threads: a NaN is the same error, with no output; nothing to do writes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const input = join(dir, "m.safetensors");
    const w = values(960, 1);
    w[70] = NaN;
    writeFileSync(
      input,
      writeSafetensors([
        ...[0, 1, 2, 3].map((i) => ({
          name: `a${i}.weight`,
          dtype: "F32" as const,
          shape: [24, 40],
          data: values(960, 2 + i),
        })),
        { name: "l.weight", dtype: "F32", shape: [24, 40], data: w },
      ]),
    );
    const output = join(dir, "o.safetensors");
    const messages: string[] = [];
    for (const threads of [1, 2]) {
      await assert.rejects(
        quantizeSafetensorsFile(input, output, {
          configList: [{ op_types: ["Linear"], quant_dtype: "int8", granularity: "out_channel" }],
          storage: "int",
          threads,
        }),
        (e: unknown) => {
          messages.push((e as Error).message);
          return true;
        },
      );
      assert.deepEqual(readdirSync(dir), ["m.safetensors"]);
    }
    assert.equal(messages[1], messages[0]);
    for (const threads of [1, 2]) {
      const report = await quantizeSafetensorsFile(input, output, {
        configList: [{ op_names: ["nothing"], quant_dtype: "int8" }],
        storage: "int",
        threads,
        writeUnchanged: false,
      });
      assert.notEqual(report.unchanged, undefined);
      assert.deepEqual(readdirSync(dir), ["m.safetensors"]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a NaN in a global group selected in passes is the metric's error on 1 and 2 threads", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const input = join(dir, "m.safetensors");
    const w = values(960, 1);
    w[33] = NaN;
    writeFileSync(
      input,
      writeSafetensors([
        { name: "a.weight", dtype: "F32", shape: [24, 40], data: values(960, 2) },
        { name: "l.weight", dtype: "F32", shape: [24, 40], data: w },
      ]),
    );
    for (const threads of [1, 2]) {
      await assert.rejects(
        pruneSafetensorsFile(input, join(dir, "o.safetensors"), {
          configList: [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }],
          threads,
          inMemoryEntries: 100,
        }),
        (e: unknown) => {
          assert.equal((e as Error).name, "PruningError");
          assert.equal((e as { code?: string }).code, "non_finite");
          assert.equal((e as { module?: string }).module, "l");
          assert.match((e as Error).message, /element 33/);
          return true;
        },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a worker's error reaches the caller as the library's error, with its fields", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const input = join(dir, "m.safetensors");
    const w = values(960, 1);
    w[17] = NaN;
    writeFileSync(
      input,
      writeSafetensors([{ name: "l.weight", dtype: "F32", shape: [24, 40], data: w }]),
    );
    await assert.rejects(
      pruneSafetensorsFile(input, join(dir, "o.safetensors"), {
        configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
        threads: 2,
      }),
      (e: unknown) => {
        assert.equal((e as Error).name, "PruningError");
        assert.equal((e as { code?: string }).code, "non_finite");
        assert.match((e as Error).message, /element 17/);
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pruneSafetensorsFile reports its stages in order on 1 and 2 threads: masks, write, report", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nnc-threads-"));
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, FILE);
    for (const threads of [1, 2]) {
      const stages: string[] = [];
      await pruneSafetensorsFile(input, join(dir, `o${threads}.safetensors`), {
        configList: PRUNE[0],
        threads,
        onProgress: (stage) => {
          if (stages[stages.length - 1] !== stage) stages.push(stage);
        },
      });
      assert.deepEqual(stages, ["masks", "write", "report"], `${threads} thread(s)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
