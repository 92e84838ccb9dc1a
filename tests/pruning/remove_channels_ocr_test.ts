// Channel removal on the three PP-OCR models (detector: residual + concat + depthwise + SE;
// recognizer; classifier): L1 filter pruning of every conv at 25% and 50% with automatic
// dependency groups, then removeChannels(); the shrunk model runs in onnxruntime-node and its
// outputs equal the masked model's within 1e-4 of their largest magnitude. The recognizer and
// classifier end in a Softmax and the detector in a Sigmoid: their inputs (logits) are compared,
// since a saturated softmax turns float32 reordering noise into larger probability changes (the
// masked recognizer alone moves its probabilities by 1.7e-4 when onnxruntime's graph
// optimizations are switched off); the final outputs are compared within 1e-3.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { editOnnx } from "../../src/io/onnx/edit_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { prunedOnnx } from "../../src/pruning/pruned_onnx.ts";
import { removeChannels } from "../../src/pruning/remove_channels.ts";
import { loadOcrData, ocrLines } from "../../src/compress/ocr_data.ts";
import { CLS, DET, loadOrt, REC, run } from "../io/_ocr.ts";

const SLOW = { timeout: 300_000 };

/** The model with its last node (Softmax/Sigmoid) replaced by an Identity: its logits. */
function logits(bytes: Uint8Array): Uint8Array {
  const m = decodeOnnx(bytes);
  const i = m.graph.nodes.findIndex((n) => n.outputs[0] === m.graph.outputs[0]);
  const last = m.graph.nodes[i];
  return editOnnx(m, [
    { op: "removeNode", node: i },
    {
      op: "insertNodes",
      at: { after: i },
      nodes: [{
        name: "logits",
        opType: "Identity",
        inputs: [last.inputs[0]],
        outputs: last.outputs,
      }],
    },
  ]).bytes;
}

/** A page for the detector: four recognizer lines stacked, `[1, 3, 4·48, 480]`. */
function page(part: { input: Float32Array; dims: number[] }) {
  const [n, c, h, w] = part.dims;
  const x = new Float32Array(c * n * h * w);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      for (let y = 0; y < h; y++) {
        const from = ((i * c + k) * h + y) * w;
        x.set(part.input.subarray(from, from + w), (k * n * h + i * h + y) * w);
      }
    }
  }
  return { input: x, dims: [1, c, n * h, w] };
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

for (const [label, path] of [["classifier", CLS], ["detector", DET], ["recognizer", REC]]) {
  test(
    `removeChannels() on the PP-OCR ${label} at 25% and 50% of conv filters keeps the masked outputs`,
    SLOW,
    async () => {
      const data = await loadOcrData();
      const feed = label === "classifier"
        ? ocrLines(data.cls, 0, 4)
        : label === "recognizer"
        ? ocrLines(data.rec, 0, 4)
        : page(ocrLines(data.rec, 0, 4));
      const onnx = decodeOnnx(new Uint8Array(await readFile(path)), { file: path });
      const ort = await loadOrt();
      for (const ratio of [0.25, 0.5]) {
        const result = await prune(onnxModel(onnx), [
          { op_types: ["Conv2d"], sparse_ratio: ratio },
        ], { pruner: "l1", dependencyGroups: "auto" });
        assert.ok(result.autoGroups.length > 5, `${label}: ${result.autoGroups.length} groups`);
        const masked = await prunedOnnx(onnx, result);
        const shrunk = await removeChannels(onnx, result);
        const removed = shrunk.producers.reduce((n, p) => n + p.removed.length, 0);
        const total = shrunk.producers.reduce((n, p) => n + p.channels, 0);
        assert.ok(removed > 0.6 * ratio * total, `${label} ${ratio}: ${removed}/${total}`);
        assert.ok(shrunk.bytes.length < masked.length * (1 - ratio / 2), `${label} ${ratio} size`);
        const a = await run(ort, logits(masked), feed.input, feed.dims);
        const b = await run(ort, logits(shrunk.bytes), feed.input, feed.dims);
        assert.deepEqual(b.dims, a.dims);
        const scale = Math.max(maxAbs(a.data), 1e-6);
        const d = maxDiff(a.data, b.data);
        assert.ok(d <= 1e-4 * scale, `${label} ${ratio}: logits differ by ${d} (max ${scale})`);
        const p = await run(ort, masked, feed.input, feed.dims);
        const q = await run(ort, shrunk.bytes, feed.input, feed.dims);
        assert.ok(maxDiff(p.data, q.data) <= 1e-3, `${label} ${ratio}: outputs`);
      }
    },
  );
}

test(
  "removeChannels() on the PP-OCR detector with its ConvTranspose head pruned too, counts multiples of 8, keeps the masked outputs",
  SLOW,
  async () => {
    const data = await loadOcrData();
    const feed = page(ocrLines(data.rec, 0, 4));
    const onnx = decodeOnnx(new Uint8Array(await readFile(DET)), { file: DET });
    const ort = await loadOrt();
    const result = await prune(onnxModel(onnx), [
      { op_types: ["Conv2d", "ConvTranspose2d"], sparse_ratio: 0.25 },
    ], { pruner: "l1", dependencyGroups: "auto" });
    const masked = await prunedOnnx(onnx, result);
    for (const constantInputs of ["auto", "term"] as const) {
      const shrunk = await removeChannels(onnx, result, { channelMultiple: 8, constantInputs });
      // the head conv's removed channels carry BatchNorm shifts into the first ConvTranspose,
      // whose output depends on the kernel position: they go through the map of ones
      const written = decodeOnnx(shrunk.bytes);
      const ops = written.graph.nodes.map((n) => n.opType);
      assert.ok(ops.includes("ConstantOfShape"), constantInputs);
      assert.equal(
        ops.filter((o) => o === "ConvTranspose").length,
        constantInputs === "term" ? 3 : 2,
      );
      const head = written.graph.nodes.find((n) => n.opType === "ConvTranspose")!;
      const weight = written.tensors.find((t) => t.name === head.inputs[1])!;
      assert.ok(weight.dims[0] < 24, `ConvTranspose input channels ${weight.dims[0]}`);
      const a = await run(ort, logits(masked), feed.input, feed.dims);
      const b = await run(ort, logits(shrunk.bytes), feed.input, feed.dims);
      const scale = Math.max(maxAbs(a.data), 1e-6);
      const d = maxDiff(a.data, b.data);
      assert.ok(d <= 1e-4 * scale, `${constantInputs}: logits differ by ${d} (max ${scale})`);
    }
  },
);
