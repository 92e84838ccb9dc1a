import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  copyFileAtomic,
  openFile,
  openFileRange,
  readFile,
  writeFileAtomic,
  writeFileRange,
} from "../../src/io/fs.ts";
import { openSafetensors } from "../../src/io/safetensors/open_safetensors.ts";
import { streamSafetensors, writeSafetensors } from "../../src/io/safetensors/write_safetensors.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "nnc-fs-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test(
  "writeFileAtomic() writes bytes that readFile() reads back",
  SLOW,
  () =>
    withDir(async (dir) => {
      const path = join(dir, "a.bin");
      await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
      assert.deepEqual(await readFile(path), new Uint8Array([1, 2, 3]));
      assert.deepEqual(await readdir(dir), ["a.bin"]);
    }),
);

test(
  "writeFileAtomic() leaves the old file and no temporary file when the producer fails",
  SLOW,
  () =>
    withDir(async (dir) => {
      const path = join(dir, "a.bin");
      await writeFile(path, new Uint8Array([9]));
      await assert.rejects(
        writeFileAtomic(path, async (sink) => {
          await sink.write(new Uint8Array(100));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.deepEqual(await readFile(path), new Uint8Array([9]));
      assert.deepEqual(await readdir(dir), ["a.bin"]);
    }),
);

test(
  "openFile() reads ranges of a file that a streamed safetensors write produced",
  SLOW,
  () =>
    withDir(async (dir) => {
      const path = join(dir, "m.safetensors");
      const tensors = [
        { name: "a", dtype: "F32" as const, shape: [3], data: new Float32Array([1, 2, 3]) },
        { name: "b", dtype: "U8" as const, shape: [2], data: new Uint8Array([4, 5]) },
      ];
      await writeFileAtomic(
        path,
        (sink) => streamSafetensors(tensors.map((t) => ({ ...t, data: () => t.data })), sink),
      );
      assert.deepEqual(await readFile(path), writeSafetensors(tensors));
      const file = await openFile(path);
      try {
        const lazy = await openSafetensors(file, { file: path });
        assert.deepEqual(await lazy.read("b"), new Uint8Array([4, 5]));
        assert.equal((await file.read(file.size - 1, 4)).length, 1);
      } finally {
        await file.close();
      }
    }),
);

test(
  "externalDataFiles() lets onnxruntime and onnxModel() read the same external weights",
  SLOW,
  () =>
    withDir(async (dir) => {
      const { decodeOnnx } = await import("../../src/io/onnx/decode_onnx.ts");
      const { onnxModel } = await import("../../src/model/onnx_model.ts");
      const { externalDataFiles } = await import("../../src/io/fs.ts");
      const { ModelFormatError } = await import("../../src/io/model_format_error.ts");
      const b = await import("./_onnx_builder.ts");
      const { loadOrt } = await import("./_ocr.ts");
      const weights = new Float32Array([1, 2, 3, 4, 5, 6]);
      await writeFileAtomic(join(dir, "w.bin"), new Uint8Array(weights.buffer));
      const bytes = b.model(b.graph({
        nodes: [b.node("MatMul", ["x", "w"], ["y"], "/proj/MatMul")],
        initializers: [
          b.tensor({
            name: "w",
            dims: [2, 3],
            external: { location: "w.bin", offset: "0", length: "24" },
          }),
        ],
        inputs: [b.valueInfo("x", [1, 2])],
        outputs: [b.valueInfo("y", [1, 3])],
      }));
      const path = join(dir, "m.onnx");
      await writeFileAtomic(path, bytes);
      const files = externalDataFiles(path);
      try {
        const m = onnxModel(decodeOnnx(await readFile(path), { file: path }), {
          external: files.open,
        });
        assert.deepEqual([...await m.modules[0].params.weight.data()], [1, 4, 2, 5, 3, 6]);
        await assert.rejects(files.open("../etc/passwd"), ModelFormatError);
        await assert.rejects(files.open("/etc/passwd"), ModelFormatError);
      } finally {
        await files.close();
      }
      const ort = await loadOrt();
      const session = await ort.InferenceSession.create(path);
      const out = await session.run({
        x: new ort.Tensor("float32", new Float32Array([1, 1]), [1, 2]),
      });
      assert.deepEqual([...out.y.data], [5, 7, 9]);
    }),
);

test(
  "copyFileAtomic() copies a file with ranges overwritten and appended, leaving the source",
  SLOW,
  () =>
    withDir(async (dir) => {
      const from = join(dir, "a.bin");
      await writeFile(from, new Uint8Array([1, 2, 3, 4]));
      const to = join(dir, "b.bin");
      await copyFileAtomic(from, to, [
        { offset: 6, bytes: new Uint8Array([9]) },
        { offset: 1, bytes: new Uint8Array([7, 8]) },
      ]);
      assert.deepEqual(await readFile(to), new Uint8Array([1, 7, 8, 4, 0, 0, 9]));
      assert.deepEqual(await readFile(from), new Uint8Array([1, 2, 3, 4]));
      await copyFileAtomic(from, from, [{ offset: 0, bytes: new Uint8Array([5]) }]);
      assert.deepEqual(await readFile(from), new Uint8Array([5, 2, 3, 4]));
      await assert.rejects(copyFileAtomic(join(dir, "missing.bin"), to, []));
      assert.deepEqual((await readdir(dir)).sort(), ["a.bin", "b.bin"]);
    }),
);

test("a streamed output larger than one background flush is written whole, ahead-written bytes included", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nnc-fs-"));
  try {
    const path = join(dir, "big.bin");
    const chunk = 48 * 2 ** 20;
    // 4 chunks of 48 MiB (192 MiB: the file is flushed in the background along the way), the
    // last one written ahead at its place and passed over.
    await writeFileAtomic(path, async (sink) => {
      await sink.writeAt!(3 * chunk, new Uint8Array(chunk).fill(4));
      for (const v of [1, 2, 3]) await sink.write(new Uint8Array(chunk).fill(v));
      await sink.skip!(chunk);
    });
    const bytes = await readFile(path);
    assert.equal(bytes.length, 4 * chunk);
    for (const v of [1, 2, 3, 4]) {
      const part = bytes.subarray((v - 1) * chunk, v * chunk);
      assert.ok(part.every((b) => b === v), `chunk ${v}`);
    }
    assert.deepEqual(await readdir(dir), ["big.bin"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("writeFileRange writes a range of the file a sink is writing; writes in pieces keep every byte; a failed write names the output", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nnc-fs-"));
  try {
    const path = join(dir, "ranges.bin");
    // Sizes around the 256 KiB write pieces (below, equal, above, not a multiple) and larger.
    const sizes = [3, 2 ** 18, 2 ** 18 + 17, 2 ** 22, 3 * 2 ** 22 - 5];
    const parts = sizes.map((n, i) => {
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = (j * 31 + i * 7) & 255;
      return b;
    });
    const offsets = parts.map((_, i) => parts.slice(0, i).reduce((a, p) => a + p.length, 0));
    await writeFileAtomic(path, async (sink) => {
      assert.ok(sink.file !== undefined);
      assert.equal(sink.file.destination, path);
      assert.notEqual(sink.file.path, path, "the temporary file is written");
      // The odd parts at their place, by another handle; the even ones appended.
      for (const i of [3, 1]) {
        await writeFileRange(sink.file, offsets[i], parts[i]);
        sink.file.wrote(parts[i].length);
      }
      for (const [i, p] of parts.entries()) {
        if (i % 2 === 0) await sink.write(p);
        else await sink.skip!(p.length);
      }
    });
    const bytes = await readFile(path);
    assert.equal(bytes.length, offsets.at(-1)! + parts.at(-1)!.length);
    for (const [i, p] of parts.entries()) {
      assert.deepEqual(bytes.subarray(offsets[i], offsets[i] + p.length), p, `part ${i}`);
    }
    // A write to a temporary file that is gone: a FileError naming the output, and no output.
    const lost = join(dir, "lost.bin");
    await assert.rejects(
      writeFileAtomic(lost, async (sink) => {
        await writeFileRange(
          { ...sink.file!, path: join(dir, "no-such-folder", "x") },
          0,
          new Uint8Array(8),
        );
      }),
      (e: Error & { path?: string }) => {
        assert.equal(e.name, "FileError");
        assert.equal(e.path, lost);
        assert.match(e.message, /lost\.bin/);
        return true;
      },
    );
    assert.deepEqual(await readdir(dir), ["ranges.bin"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("openFileRange writes a range in pieces, out of order, through one handle; a failed open names the output", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nnc-fs-"));
  try {
    const path = join(dir, "range.bin");
    const head = new Uint8Array([1, 2, 3]);
    const body = Uint8Array.from({ length: 3 * 2 ** 18 + 11 }, (_, j) => (j * 7) & 255);
    await writeFileAtomic(path, async (sink) => {
      await sink.write(head);
      const range = await openFileRange(sink.file!, head.length);
      // The second half first, then the first: each at its offset within the range.
      const half = 2 ** 18 + 5;
      await range.write(half, body.subarray(half));
      await range.write(0, body.subarray(0, half));
      await range.close();
      await range.close();
      sink.file!.wrote(body.length);
      await sink.skip!(body.length);
    });
    const bytes = await readFile(path);
    assert.deepEqual(bytes.subarray(0, 3), head);
    assert.deepEqual(bytes.subarray(3), body);
    const lost = join(dir, "lost.bin");
    await assert.rejects(
      writeFileAtomic(lost, async (sink) => {
        await openFileRange({ ...sink.file!, path: join(dir, "no-such-folder", "x") }, 0);
      }),
      (e: Error & { path?: string }) => {
        assert.equal(e.name, "FileError");
        assert.equal(e.path, lost);
        return true;
      },
    );
    assert.deepEqual(await readdir(dir), ["range.bin"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("openFile reads ranges larger than the staging buffer exactly, from any offset, and stops at the end", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nnc-fs-"));
  try {
    const path = join(dir, "data.bin");
    const n = 9 * 2 ** 20 + 5;
    const data = new Uint8Array(n);
    for (let j = 0; j < n; j++) data[j] = (j * 13 + (j >> 12)) & 255;
    await writeFile(path, data);
    const file = await openFile(path);
    try {
      for (const [offset, length] of [[0, n], [1, 2 ** 22], [7, 2 ** 22 + 1], [2 ** 20, 3]]) {
        assert.deepEqual(await file.read(offset, length), data.subarray(offset, offset + length));
      }
      // Past the end: the bytes there are, no more.
      const tail = await file.read(n - 2 ** 22 + 3, 2 ** 22);
      assert.deepEqual(tail, data.subarray(n - 2 ** 22 + 3));
      const into = new Uint8Array(2 ** 23);
      assert.equal(await file.readInto(n - 2 ** 22, into), 2 ** 22);
      assert.deepEqual(into.subarray(0, 2 ** 22), data.subarray(n - 2 ** 22));
    } finally {
      await file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
