import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDir, readFile, writeFileAtomic } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnxWithExternal, EXTERNAL_ALIGNMENT } from "../../src/io/onnx/encode_onnx.ts";
import type { OnnxReplacement } from "../../src/io/onnx/encode_onnx.ts";
import { saveOnnx } from "../../src/io/onnx/save_onnx.ts";
import { graph, model, node, tensor, valueInfo } from "./_onnx_builder.ts";
import { loadOrt } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

/** y = x · w1 · w2 with w1 [2, 3] at offset 8 of data/w.bin and w2 [3, 1] inline. */
const SOURCE = model(graph({
  nodes: [
    node("MatMul", ["x", "w1"], ["h"], "/a/MatMul"),
    node("MatMul", ["h", "w2"], ["y"], "/b/MatMul"),
  ],
  initializers: [
    tensor({
      name: "w1",
      dims: [2, 3],
      external: { location: "data/w.bin", offset: "8", length: "24", checksum: "x" },
    }),
    tensor({ name: "w2", dims: [3, 1], raw: new Float32Array([1, 1, 1]) }),
  ],
  inputs: [valueInfo("x", [1, 2])],
  outputs: [valueInfo("y", [1, 1])],
}));

const WEIGHTS = new Uint8Array(40);
new Float32Array(WEIGHTS.buffer, 8, 6).set([1, 2, 3, 4, 5, 6]);

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

/** Writes the source model and its data file, saves a variant into out/ and runs it. */
async function saveAndRun(
  replacements: ReadonlyMap<string, OnnxReplacement>,
  check: (dir: string) => Promise<void> = async () => {},
): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "nnc-move-"));
  try {
    await makeDir(join(dir, "src/data"));
    await makeDir(join(dir, "out"));
    await writeFileAtomic(join(dir, "src/data/w.bin"), WEIGHTS);
    const source = join(dir, "src/m.onnx");
    await writeFileAtomic(source, SOURCE);
    const out = join(dir, "out/m.onnx");
    await saveOnnx(out, decodeOnnx(SOURCE, { file: source }), replacements, {
      source,
      chunkBytes: 1000,
    });
    assert.deepEqual(await readFile(join(dir, "src/data/w.bin")), WEIGHTS);
    await check(dir);
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(out);
    const x = new ort.Tensor("float32", new Float32Array([1, 1]), [1, 2]);
    return (await session.run({ x })).y.data[0];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test(
  "saveOnnx() moves an inline tensor into an external file, appended at an aligned offset",
  SLOW,
  async () => {
    const y = await saveAndRun(
      new Map([["w2", { bytes: f32(1, 2, 3), external: "data/w.bin" }]]),
      async (dir) => {
        const out = decodeOnnx(await readFile(join(dir, "out/m.onnx")));
        const w2 = out.tensors.find((t) => t.name === "w2")!;
        assert.deepEqual(w2.storage, {
          kind: "external",
          location: "data/w.bin",
          offset: EXTERNAL_ALIGNMENT,
          length: 12,
        });
        const data = await readFile(join(dir, "out/data/w.bin"));
        assert.equal(data.length, EXTERNAL_ALIGNMENT + 12);
        assert.deepEqual(data.subarray(0, 40), WEIGHTS);
      },
    );
    assert.equal(y, 5 * 1 + 7 * 2 + 9 * 3);
  },
);

test(
  "saveOnnx() moves a tensor into a new external file next to the saved model",
  SLOW,
  async () => {
    const y = await saveAndRun(
      new Map([["w2", { bytes: f32(1, 1, 2), external: "w2.bin" }]]),
      async (dir) => {
        assert.deepEqual(await readFile(join(dir, "out/w2.bin")), f32(1, 1, 2));
      },
    );
    assert.equal(y, 5 + 7 + 18);
  },
);

test(
  "saveOnnx() moves an external tensor inline and drops the data file it no longer uses",
  SLOW,
  async () => {
    const y = await saveAndRun(
      new Map([["w1", { bytes: f32(1, 0, 0, 0, 1, 0), external: false }]]),
      async (dir) => {
        assert.deepEqual(await readdir(join(dir, "out")), ["m.onnx"]);
        const w1 = decodeOnnx(await readFile(join(dir, "out/m.onnx"))).tensors[0];
        assert.equal(w1.storage.kind, "raw");
      },
    );
    assert.equal(y, 2);
  },
);

test("saveOnnx() writes a shrunk external tensor in place and its new dims", SLOW, async () => {
  const y = await saveAndRun(
    new Map([["w1", { bytes: f32(1, 2, 3, 4), dims: [2, 2] }], [
      "w2",
      { bytes: f32(1, 1), dims: [2, 1] },
    ]]),
    async (dir) => {
      const out = decodeOnnx(await readFile(join(dir, "out/m.onnx")));
      assert.deepEqual(out.tensors[0].dims, [2, 2]);
      assert.deepEqual(out.tensors[0].storage, {
        kind: "external",
        location: "data/w.bin",
        offset: 8,
        length: 16,
      });
      assert.equal((await readFile(join(dir, "out/data/w.bin"))).length, 40);
    },
  );
  assert.equal(y, 4 + 6);
});

test(
  "saveOnnx() appends an external tensor that grows and keeps the others in place",
  SLOW,
  async () => {
    const y = await saveAndRun(
      new Map([["w1", { bytes: f32(1, 1, 1, 1, 2, 2, 2, 2), dims: [2, 4] }], [
        "w2",
        { bytes: f32(1, 1, 1, 1), dims: [4, 1] },
      ]]),
      async (dir) => {
        const out = decodeOnnx(await readFile(join(dir, "out/m.onnx")));
        assert.deepEqual(out.tensors[0].storage, {
          kind: "external",
          location: "data/w.bin",
          offset: EXTERNAL_ALIGNMENT,
          length: 32,
        });
      },
    );
    assert.equal(y, 12);
  },
);

test("saveOnnx() rejects a new external location outside the model's folder", SLOW, async () => {
  await assert.rejects(
    saveAndRun(new Map([["w2", { bytes: f32(1, 1, 1), external: "../w2.bin" }]])),
    /relative path inside/,
  );
});

test("encodeOnnxWithExternal() rejects an empty external location", () => {
  const onnx = decodeOnnx(SOURCE);
  assert.throws(
    () => encodeOnnxWithExternal(onnx, new Map([["w2", { bytes: f32(1, 1, 1), external: "" }]])),
    /must be false or a file location/,
  );
});
