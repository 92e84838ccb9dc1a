import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDir, readFile, writeFileAtomic } from "../io/fs.ts";
import { decodeOnnx } from "../io/onnx/decode_onnx.ts";
import { onnxModel } from "../model/onnx_model.ts";
import { generateMasks } from "./generate_masks.ts";
import { savePrunedFile } from "./save_pruned_file.ts";
import type { PruningTarget } from "./types.ts";
import { graph, model, node, tensor, valueInfo } from "../../tests/io/_onnx_builder.ts";

/** y = Relu(x · w) with w [2, 3] at offset 0 of data/w.bin; module "act" is the Relu. */
function externalModel(): Uint8Array {
  return model(graph({
    nodes: [
      node("MatMul", ["x", "w"], ["h"], "/fc/MatMul"),
      node("Relu", ["h"], ["y"], "/act/Relu"),
    ],
    initializers: [
      tensor({ name: "w", dims: [2, 3], external: { location: "data/w.bin", offset: "0" } }),
    ],
    inputs: [valueInfo("x", [1, 2])],
    outputs: [valueInfo("y", [1, 3])],
  }));
}

test("savePrunedFile() writes activation masks into a model whose weights are in an external file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nnc-pruned-"));
  try {
    await makeDir(join(dir, "src/data"));
    await writeFileAtomic(
      join(dir, "src/data/w.bin"),
      new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer),
    );
    const source = join(dir, "src/m.onnx");
    await writeFileAtomic(source, externalModel());
    const onnx = decodeOnnx(await readFile(source), { file: source });
    const targets: PruningTarget[] = [{
      module: "act",
      target: "_output_0",
      kind: "output",
      shape: [1, 3],
      setting: { sparse_ratio: 0.34, granularity: "per_channel", apply_method: "mul" },
    }];
    const { masks } = generateMasks({ act: { _output_0: new Float32Array([3, 1, 2]) } }, targets);
    const out = join(dir, "out/m.onnx");
    await savePrunedFile(out, { model: onnxModel(onnx), targets, masks }, { sourcePath: source });
    const written = decodeOnnx(await readFile(out));
    assert.deepEqual(written.graph.nodes.map((n) => n.opType), ["MatMul", "Relu", "Mul"]);
    assert.equal(written.tensors.find((t) => t.name === "w")?.storage.kind, "external");
    const ort = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(out);
    try {
      const x = new ort.Tensor("float32", new Float32Array([1, 1]), [1, 2]);
      const y = (await session.run({ x })).y.data as Float32Array;
      assert.deepEqual([...y], [5, 0, 9]); // [1 + 4, 2 + 5, 3 + 6] with channel 1 masked
    } finally {
      await session.release();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
