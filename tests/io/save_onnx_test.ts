import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFile, writeFileAtomic } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx, encodeOnnxWithExternal } from "../../src/io/onnx/encode_onnx.ts";
import { saveOnnx } from "../../src/io/onnx/save_onnx.ts";
import { graph, model, node, tensor, valueInfo } from "./_onnx_builder.ts";
import { loadOrt } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "nnc-save-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** y = x · w1 · w2 with w1 [2, 3] at offset 8 of data/w.bin and w2 [3, 1] inline. */
function externalModel(): Uint8Array {
  return model(graph({
    nodes: [
      node("MatMul", ["x", "w1"], ["h"], "/a/MatMul"),
      node("MatMul", ["h", "w2"], ["y"], "/b/MatMul"),
    ],
    initializers: [
      tensor({
        name: "w1",
        dims: [2, 3],
        external: { location: "data/w.bin", offset: "8", length: "24" },
      }),
      tensor({ name: "w2", dims: [3, 1], raw: new Float32Array([1, 1, 1]) }),
    ],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 1])],
  }));
}

const WEIGHTS = new Uint8Array(40);
new Float32Array(WEIGHTS.buffer, 8, 6).set([1, 2, 3, 4, 5, 6]);

async function y(path: string): Promise<number> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(path);
  const out = await session.run({ x: new ort.Tensor("float32", new Float32Array([1, 1]), [1, 2]) });
  return out.y.data[0];
}

test(
  "saveOnnx() patches external tensors into a copy of their file next to the new model",
  SLOW,
  () =>
    withDir(async (dir) => {
      const { makeDir } = await import("../../src/io/fs.ts");
      await makeDir(join(dir, "src/data"));
      await writeFileAtomic(join(dir, "src/data/w.bin"), WEIGHTS);
      await writeFileAtomic(join(dir, "src/m.onnx"), externalModel());
      const source = join(dir, "src/m.onnx");
      assert.equal(await y(source), 21);
      const onnx = decodeOnnx(await readFile(source), { file: source });
      const w1 = new Uint8Array(new Float32Array([0, 0, 0, 4, 5, 6]).buffer);
      const w2 = new Uint8Array(new Float32Array([2, 2, 2]).buffer);
      const out = join(dir, "out/m.onnx");
      await saveOnnx(out, onnx, new Map([["w1", { bytes: w1 }], ["w2", { bytes: w2 }]]), {
        source,
        chunkBytes: 16,
      });
      assert.equal(await y(out), 30);
      const copied = await readFile(join(dir, "out/data/w.bin"));
      assert.deepEqual(copied.subarray(0, 8), WEIGHTS.subarray(0, 8));
      assert.deepEqual(copied.subarray(32), WEIGHTS.subarray(32));
      assert.deepEqual(await readFile(join(dir, "src/data/w.bin")), WEIGHTS);
      assert.equal(await y(source), 21);
    }),
);

test(
  "saveOnnx() never changes external data that the source model still uses",
  SLOW,
  () =>
    withDir(async (dir) => {
      await writeFileAtomic(join(dir, "w.bin"), WEIGHTS);
      const bytes = model(graph({
        nodes: [node("MatMul", ["x", "w1"], ["y"], "/a/MatMul")],
        initializers: [
          tensor({
            name: "w1",
            dims: [2, 1],
            external: { location: "w.bin", offset: "8", length: "8" },
          }),
        ],
        inputs: [valueInfo("x", [1, 2])],
        outputs: [valueInfo("y", [1, 1])],
      }));
      const source = join(dir, "m.onnx");
      await writeFileAtomic(source, bytes);
      const onnx = decodeOnnx(bytes, { file: source });
      await saveOnnx(join(dir, "same.onnx"), onnx, new Map(), { source });
      assert.deepEqual(await readFile(join(dir, "same.onnx")), bytes);
      const w1 = new Map([["w1", { bytes: new Uint8Array(new Float32Array([10, 20]).buffer) }]]);
      await assert.rejects(saveOnnx(join(dir, "./m2.onnx"), onnx, w1, { source }), /also uses/);
      assert.deepEqual(await readFile(join(dir, "w.bin")), WEIGHTS);
      assert.deepEqual((await readdir(dir)).sort(), ["m.onnx", "same.onnx", "w.bin"]);
      await saveOnnx(`${dir}/./m.onnx`, onnx, w1, { source });
      assert.equal(await y(source), 30);
      assert.deepEqual((await readdir(dir)).sort(), ["m.onnx", "same.onnx", "w.bin"]);
    }),
);

test(
  "encodeOnnxWithExternal() returns in-place patches and rewrites the dims of external tensors",
  SLOW,
  () => {
    const onnx = decodeOnnx(externalModel());
    const bytes = new Uint8Array(24);
    const { bytes: out, external } = encodeOnnxWithExternal(onnx, new Map([["w1", { bytes }]]));
    assert.deepEqual(out, externalModel());
    assert.deepEqual(external.map((p) => [p.name, p.location, p.offset, p.bytes.length]), [[
      "w1",
      "data/w.bin",
      8,
      24,
    ]]);
    const reshaped = encodeOnnxWithExternal(onnx, new Map([["w1", { bytes, dims: [3, 2] }]]));
    assert.deepEqual(decodeOnnx(reshaped.bytes).tensors[0].dims, [3, 2]);
    assert.deepEqual(reshaped.external.map((p) => [p.offset, p.appended]), [[8, undefined]]);
    assert.throws(
      () => encodeOnnx(onnx, new Map([["w1", { bytes }]])),
      /use encodeOnnxWithExternal/,
    );
  },
);

test("saveOnnx() needs the source path for a model with external data", SLOW, async () => {
  await assert.rejects(saveOnnx("/nonexistent/m.onnx", decodeOnnx(externalModel())), TypeError);
});

test(
  "saveOnnx() writes graph edits together with patched external tensors",
  SLOW,
  () =>
    withDir(async (dir) => {
      const { makeDir } = await import("../../src/io/fs.ts");
      await makeDir(join(dir, "src/data"));
      await writeFileAtomic(join(dir, "src/data/w.bin"), WEIGHTS);
      await writeFileAtomic(join(dir, "src/m.onnx"), externalModel());
      const source = join(dir, "src/m.onnx");
      const onnx = decodeOnnx(await readFile(source), { file: source });
      const w1 = new Uint8Array(new Float32Array([0, 0, 0, 4, 5, 6]).buffer);
      const k = new Uint8Array(new Float32Array([2]).buffer);
      const out = join(dir, "out/m.onnx");
      await saveOnnx(out, onnx, [
        { op: "replaceTensor", name: "w1", bytes: w1 },
        { op: "addInitializer", tensor: { name: "k", dataType: 1, dims: [], raw: k } },
        {
          op: "insertNodes",
          at: { after: 1 },
          nodes: [{ name: "double", opType: "Mul", inputs: ["y0", "k"], outputs: ["y"] }],
        },
        { op: "rewireNode", node: 1, outputs: { 0: "y0" } },
      ], { source });
      assert.equal(await y(out), 30);
      const copied = await readFile(join(dir, "out/data/w.bin"));
      assert.deepEqual(new Float32Array(copied.slice(8, 32).buffer), new Float32Array(w1.buffer));
      assert.deepEqual(await readFile(join(dir, "src/data/w.bin")), WEIGHTS);
    }),
);
