// The streamed safetensors runs on worker threads write the same bytes and report as on one
// thread: prune (Level, a global group, a structured and an "add" config) and quantize (int8
// per channel and int4 in blocks in the integer layout, int8 in compressed-tensors), with
// float32, float16 and bfloat16 tensors, more tensors than threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { quantizeSafetensorsFile } from "../../src/compress/quantize_safetensors_file.ts";
import { fromFloat32 } from "../../src/model/from_float32.ts";
import { PACKED_MASK_BLOCKS } from "../../src/pruning/packed_mask.ts";
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

const PRUNE: unknown[][] = [
  [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
  [{ op_types: ["Linear"], sparse_ratio: 0.5, global_group_id: 0 }],
  [{ op_types: ["Linear"], sparse_ratio: 0.3, granularity: "out_channel", apply_method: "add" }],
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
];

for (const [config, storage] of QUANTIZE) {
  test(`quantizeSafetensorsFile writes the same bytes on 1 and 2 threads: ${storage} ${JSON.stringify(config)}`, async () => {
    await both((input, output, threads) =>
      quantizeSafetensorsFile(input, output, { configList: config, storage, threads })
    );
  });
}

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
