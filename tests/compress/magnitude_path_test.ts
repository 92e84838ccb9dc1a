// The streamed prune's element-wise magnitude path (the mask selected from the value bits,
// masked in place: `src/pruning/stored_magnitude.ts`) against the in-memory general path
// (`prune` → `parameterMetric` → `kSmallestMask`, then `prunedSafetensors`), byte for byte, on
// one thread and two: float32, float16 and bfloat16 tensors with many ties and zeros, an
// all-zero tensor, a one-element tensor (k = 0), small masks (bytes) and large ones (bits), and
// NaN, which must fail the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../../mod.ts";
import { pruneSafetensorsFile } from "../../src/compress/prune_safetensors_file.ts";
import { safetensorsModel } from "../../src/model/safetensors_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedSafetensors } from "../../src/pruning/pruned_safetensors.ts";
import { PACKED_MASK_BLOCKS } from "../../src/pruning/packed_mask.ts";

/** Stored values with many ties: a few magnitudes, random signs, zeros among them. */
function tied(dtype: "F32" | "F16" | "BF16", n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s ^ (s >>> 15)) >>> 0;
  };
  const top = dtype === "F32" ? 0x7f800000 : dtype === "F16" ? 0x7c00 : 0x7f80;
  // Magnitudes spread over the exponents, so the float32 radix passes meet many high bins.
  const pool = [0, ...Array.from({ length: 300 }, () => next() % top)];
  if (dtype === "F32") {
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const r = next();
      a[i] = (pool[r % pool.length] | (r & 0x400 ? 0x80000000 : 0)) >>> 0;
    }
    return new Uint8Array(a.buffer);
  }
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const r = next();
    a[i] = pool[r % pool.length] | (r & 0x400 ? 0x8000 : 0);
  }
  return new Uint8Array(a.buffer);
}

const FILE = writeSafetensors([
  { name: "a.weight", dtype: "F32", shape: [1024, 1100], data: tied("F32", 1024 * 1100, 1) },
  { name: "a.bias", dtype: "F32", shape: [1024], data: tied("F32", 1024, 2) },
  { name: "h.weight", dtype: "F16", shape: [1024, 1030], data: tied("F16", 1024 * 1030, 3) },
  { name: "g.weight", dtype: "BF16", shape: [1030, 1024], data: tied("BF16", 1030 * 1024, 4) },
  { name: "s.weight", dtype: "F32", shape: [24, 40], data: tied("F32", 960, 5) },
  { name: "s.bias", dtype: "F16", shape: [24], data: tied("F16", 24, 6) },
  { name: "z.weight", dtype: "F32", shape: [1024, 1024], data: new Float32Array(1024 * 1024) },
  { name: "t.weight", dtype: "F32", shape: [1, 1], data: new Float32Array([-2]) },
]);

/** Asserts equal bytes, naming the first difference (a diff of megabytes would not fit). */
function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const i = actual.findIndex((b, j) => b !== expected[j]);
  if (i >= 0) assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
}

/** The stored zeros (+0 and -0) of float bytes. */
function zerosOf(bytes: Uint8Array, dtype: string): number {
  const c = bytes.slice();
  const words = dtype === "F32" ? new Uint32Array(c.buffer) : new Uint16Array(c.buffer);
  const abs = dtype === "F32" ? 0x7fffffff : 0x7fff;
  let n = 0;
  for (let i = 0; i < words.length; i++) if ((words[i] & abs) === 0) n++;
  return n;
}

async function compare(file: Uint8Array, configList: unknown[]): Promise<void> {
  const reference = await prune(safetensorsModel(readSafetensors(file)), configList, {
    pruner: "level",
  });
  const expected = await prunedSafetensors(readSafetensors(file), reference);
  const dir = mkdtempSync(join(tmpdir(), "nnc-magnitude-"));
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, file);
    for (const threads of [1, 2]) {
      const output = join(dir, `o${threads}.safetensors`);
      const report = await pruneSafetensorsFile(input, output, { configList, threads });
      sameBytes(new Uint8Array(readFileSync(output)), expected, `${threads} thread(s)`);
      // The report's zeros, before and after, are those of the tensors themselves.
      const before = readSafetensors(file).tensors;
      const after = readSafetensors(expected).tensors;
      assert.ok(report.layers.length > 0);
      for (const l of report.layers) {
        const name = `${l.module}.${l.target}`;
        const b = before.find((t) => t.name === name)!;
        const a = after.find((t) => t.name === name)!;
        assert.equal(l.sparsityBefore, zerosOf(b.data, b.dtype) / l.elements, name);
        assert.equal(l.sparsity, zerosOf(a.data, a.dtype) / l.elements, name);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the magnitude path writes the general path's bytes: Level 50%, ties, zeros, k = 0", async () => {
  assert.ok(1024 * 1024 >= PACKED_MASK_BLOCKS);
  await compare(FILE, [{ op_types: ["Linear"], sparse_ratio: 0.5 }]);
});

test("the magnitude path writes the general path's bytes: clamped ratios, named targets", async () => {
  await compare(FILE, [
    { op_names: ["a", "h"], target_names: ["weight"], sparse_ratio: 0.9, max_sparse_ratio: 0.37 },
    { op_names: ["g", "s", "z"], sparse_ratio: 0.1, min_sparse_ratio: 0.73 },
  ]);
});

test("the magnitude path fails on NaN as the general path does, on 1 and 2 threads", async () => {
  const h = new Uint16Array(tied("F16", 1024 * 1030, 9).buffer);
  h[777777] = 0x7e00;
  const file = writeSafetensors([
    { name: "h.weight", dtype: "F16", shape: [1024, 1030], data: new Uint8Array(h.buffer) },
  ]);
  const config = [{ op_types: ["Linear"], sparse_ratio: 0.5 }];
  const message = await prune(safetensorsModel(readSafetensors(file)), config).then(
    () => assert.fail("no error"),
    (e: Error) => e.message,
  );
  assert.match(message, /element 777777/);
  const dir = mkdtempSync(join(tmpdir(), "nnc-magnitude-"));
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, file);
    for (const threads of [1, 2]) {
      await assert.rejects(
        pruneSafetensorsFile(input, join(dir, "o.safetensors"), { configList: config, threads }),
        (e: unknown) => {
          assert.equal((e as { code?: string }).code, "non_finite");
          assert.equal((e as Error).message, message);
          return true;
        },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a run on threads that fails after writing tensors ahead leaves no file behind", async () => {
  // a and b are written ahead of the masks (their ratio alone decides them); c holds a NaN.
  const c = new Float32Array(tied("F32", 1024 * 1100, 12).buffer.slice(0));
  c[123456] = NaN;
  const file = writeSafetensors([
    { name: "a.weight", dtype: "F32", shape: [1024, 1100], data: tied("F32", 1024 * 1100, 10) },
    { name: "b.weight", dtype: "F32", shape: [1024, 1100], data: tied("F32", 1024 * 1100, 11) },
    { name: "c.weight", dtype: "F32", shape: [1024, 1100], data: c },
  ]);
  const dir = mkdtempSync(join(tmpdir(), "nnc-magnitude-"));
  try {
    const input = join(dir, "m.safetensors");
    writeFileSync(input, file);
    await assert.rejects(
      pruneSafetensorsFile(input, join(dir, "o.safetensors"), {
        configList: [{ op_types: ["Linear"], sparse_ratio: 0.5 }],
        threads: 2,
      }),
      (e: unknown) => (e as { code?: string }).code === "non_finite",
    );
    assert.deepEqual(readdirSync(dir), ["m.safetensors"]);
    // Nothing to prune, and no unchanged copy asked for: no file either.
    const report = await pruneSafetensorsFile(input, join(dir, "o.safetensors"), {
      configList: [],
      threads: 2,
      writeUnchanged: false,
    });
    assert.equal(report.layers.length, 0);
    assert.deepEqual(readdirSync(dir), ["m.safetensors"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
