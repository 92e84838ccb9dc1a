// SparseGPT over an ONNX model: layer inputs captured with onnxruntime-node, sequentially.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { sparseGpt } from "../../src/pruning/sparse_gpt.ts";
import { sparseGptOnnx } from "../../src/pruning/sparse_gpt_model.ts";
import { loadOrt } from "../io/_ocr.ts";
import { groupedConvs, patches, twoLayers } from "../quantization/_grouped_convs.ts";

const SLOW = { timeout: 120_000 };

test(
  "sparseGptOnnx() prunes every MatMul 2:4 in graph order and encodes the new weights",
  SLOW,
  async () => {
    const { onnx, xs, batches } = twoLayers();
    const { layers, encode } = await sparseGptOnnx(onnx, batches, {
      ort: await loadOrt(),
      prunen: 2,
      prunem: 4,
    });
    assert.deepEqual(layers.map((l) => l.module), ["fc1", "fc2"]);
    const w1t = await onnxModel(onnx).modules.find((m) => m.name === "fc1")!.params.weight.data();
    const direct = sparseGpt(w1t, [32, 16], xs, { prunen: 2, prunem: 4 });
    assert.deepEqual(layers[0].result.mask, direct.mask);
    assert.deepEqual(layers[0].result.weight, direct.weight);
    const saved = onnxModel(decodeOnnx(encode()));
    for (const layer of layers) {
      const { mask, weight } = layer.result;
      for (let g = 0; g < mask.length; g += 4) {
        assert.equal(mask[g] + mask[g + 1] + mask[g + 2] + mask[g + 3], 2, `${layer.module} ${g}`);
      }
      const got = await saved.modules.find((m) => m.name === layer.module)!.params.weight.data();
      assert.deepEqual(got, weight, layer.module);
    }
  },
);

test(
  "sparseGptOnnx() prunes grouped and depthwise Convs one group at a time, N:M along each group's im2col row",
  SLOW,
  async () => {
    const { onnx, wg, wd, xs, batches } = groupedConvs();
    const ort = await loadOrt();
    for (
      const options of [{ sparsity: 0.5 }, { prunen: 2, prunem: 4 }, { sparsity: 0.4, bits: 4 }]
    ) {
      const run = await sparseGptOnnx(onnx, batches, { ort, ...options });
      assert.deepEqual(run.layers.map((l) => l.module), ["gconv", "dw"]);
      const byHand = (
        w: Float32Array,
        rows: number,
        cols: number,
        g: number,
        inputs: Float32Array[],
        dims: number[],
        groups: number,
        stride: number,
      ) =>
        sparseGpt(
          w.subarray(g * rows * cols, (g + 1) * rows * cols),
          [rows, cols],
          inputs.flatMap((x) => [0, 1].map((n) => patches(x, dims, groups, stride, n, g))),
          options,
        );
      const first = await sparseGptOnnx(onnx, batches, { ort, ...options, modules: ["gconv"] });
      const session = await ort.InferenceSession.create(first.encode());
      const rs: Float32Array[] = [];
      for (const x of xs) {
        const out = await session.run({ x: new ort.Tensor("float32", x, [2, 4, 6, 7]) });
        rs.push(out.r.data as Float32Array);
      }
      const want = [
        [0, 1].map((g) => byHand(wg, 3, 18, g, xs, [2, 4, 6, 7], 2, 1)),
        [0, 1, 2, 3, 4, 5].map((g) => byHand(wd, 1, 9, g, rs, [2, 6, 6, 7], 6, 2)),
      ];
      const label = JSON.stringify(options);
      const saved = onnxModel(decodeOnnx(run.encode()));
      for (const [l, layer] of run.layers.entries()) {
        const { result } = layer;
        assert.deepEqual([...result.mask], want[l].flatMap((r) => [...r.mask]), label);
        assert.deepEqual([...result.weight], want[l].flatMap((r) => [...r.weight]), label);
        if ("bits" in options) {
          assert.deepEqual([...result.codes!], want[l].flatMap((r) => [...r.codes!]), label);
          assert.deepEqual([...result.scale!], want[l].flatMap((r) => [...r.scale!]), label);
        }
        if ("prunen" in options) {
          // per output channel, 2 of every 4 consecutive columns of the group's im2col row
          // (gconv: 18 columns, the last 2 a partial pair; dw: 9 taps, the last one alone)
          const cols = result.mask.length / 6;
          for (let r = 0; r < 6; r++) {
            for (let c = 0; c + 4 <= cols; c += 4) {
              let kept = 0;
              for (let k = c; k < c + 4; k++) kept += result.mask[r * cols + k];
              assert.equal(kept, 2, `${label} ${layer.module} row ${r} columns ${c}..${c + 3}`);
            }
          }
        }
        // the float storage holds the pruned weights, zeros included
        const got = await saved.modules.find((m) => m.name === layer.module)!.params.weight.data();
        assert.deepEqual(got, result.weight, layer.module);
        result.mask.forEach((m, i) => m === 0 && assert.equal(got[i], 0));
      }
    }
  },
);
