// GPTQ over an ONNX model: layer inputs captured with onnxruntime-node, sequentially.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { gptq, type GptqResult } from "../../src/quantization/gptq.ts";
import { gptqOnnx } from "../../src/quantization/gptq_model.ts";
import { quantizeTensor } from "../../src/quantization/quantize_tensor.ts";
import { attr, graph, model, node, tensor, valueInfo } from "../io/_onnx_builder.ts";
import { loadOrt } from "../io/_ocr.ts";
import { groupedConvs, patches, twoLayers, values } from "./_grouped_convs.ts";

const SLOW = { timeout: 120_000 };

test(
  "gptqOnnx() quantizes every MatMul in graph order, the first from the graph input",
  SLOW,
  async () => {
    const { onnx, xs, batches } = twoLayers();
    const ort = await loadOrt();
    const seen: string[] = [];
    const { layers, encode } = await gptqOnnx(onnx, batches, {
      ort,
      bits: 3,
      groupSize: 8,
      onLayer: (name) => seen.push(name),
    });
    assert.deepEqual(seen, ["fc1", "fc2"]);
    assert.deepEqual(layers.map((l) => l.tensor), ["fc1.weight", "fc2.weight"]);
    // fc1 sees the graph input itself: exactly gptq() on the batches
    const w1 = await onnxModel(onnx).modules.find((m) => m.name === "fc1")!.params.weight.data();
    const direct = gptq(w1, [32, 16], xs, { bits: 3, groupSize: 8 });
    assert.deepEqual(layers[0].result.codes, direct.codes);
    // the parameters in quantize()'s form give the same codes from the GPTQ weight
    for (const layer of layers) {
      const p = layer.params!;
      assert.deepEqual(p.kernel, [1, 8]);
      const codes = quantizeTensor(layer.result.weight, p.shape, p);
      assert.deepEqual([...codes], [...layer.result.codes], layer.module);
    }
    // the encoded model holds the GPTQ weights, in the MatMul layout [in, out]
    const saved = onnxModel(decodeOnnx(encode()));
    for (const layer of layers) {
      const got = await saved.modules.find((m) => m.name === layer.module)!.params.weight.data();
      assert.deepEqual(got, layer.result.weight, layer.module);
    }
  },
);

test(
  "gptqOnnx() captures the second layer's input from the model with the first one quantized",
  SLOW,
  async () => {
    const { onnx, xs, batches } = twoLayers();
    const ort = await loadOrt();
    const { layers } = await gptqOnnx(onnx, batches, { ort, bits: 3 });
    // r = relu(x · W1q), W1q in [out 32, in 16]
    const w1q = layers[0].result.weight;
    const rs = xs.map((x) => {
      const r = new Float32Array(40 * 32);
      for (let s = 0; s < 40; s++) {
        for (let o = 0; o < 32; o++) {
          let acc = 0;
          for (let i = 0; i < 16; i++) {
            acc = Math.fround(acc + Math.fround(x[s * 16 + i] * w1q[o * 16 + i]));
          }
          r[s * 32 + o] = Math.max(0, acc);
        }
      }
      return r;
    });
    const w2 = await onnxModel(onnx).modules.find((m) => m.name === "fc2")!.params.weight.data();
    const want = gptq(w2, [8, 32], rs, { bits: 3 });
    let same = 0;
    want.codes.forEach((c, i) => (same += c === layers[1].result.codes[i] ? 1 : 0));
    // onnxruntime sums the products in its own order: nearly every code agrees
    assert.ok(same >= 0.97 * want.codes.length, `${same} of ${want.codes.length} codes agree`);
  },
);

test("gptqOnnx() rejects a module that is not a MatMul or Gemm, and no batches", async () => {
  const { onnx, batches } = twoLayers();
  const ort = await loadOrt();
  await assert.rejects(
    gptqOnnx(onnx, batches, { ort, bits: 4, modules: ["act"] }),
    /"modules" must name MatMul or Gemm modules with a stored 2-D weight, or Conv modules .*: "act"/,
  );
  await assert.rejects(gptqOnnx(onnx, [], { ort, bits: 4 }), /"batches" must hold at least one/);
});

test(
  "gptqOnnx() quantizes a Conv as im2col rows, padding as zeros, one add_batch per image",
  SLOW,
  async () => {
    // x [2, 2, 5, 6] -> Conv [3, 2, 3, 3], pads 1, strides [2, 1] -> y [2, 3, 3, 6]
    const w = values(3 * 2 * 3 * 3, 5, 0.6);
    const onnx = decodeOnnx(model(graph({
      nodes: [
        node("Conv", ["x", "conv.weight"], ["y"], "/conv/Conv", [
          attr("kernel_shape", { ints: [3, 3] }),
          attr("pads", { ints: [1, 1, 1, 1] }),
          attr("strides", { ints: [2, 1] }),
        ]),
      ],
      initializers: [tensor({ name: "conv.weight", dims: [3, 2, 3, 3], raw: w })],
      inputs: [valueInfo("x", [2, 2, 5, 6])],
      outputs: [valueInfo("y", [2, 3, 3, 6])],
    })));
    const x = values(2 * 2 * 5 * 6, 6, 3);
    const { layers, encode } = await gptqOnnx(onnx, [{ x: { data: x, dims: [2, 2, 5, 6] } }], {
      ort: await loadOrt(),
      bits: 3,
    });
    assert.deepEqual(layers.map((l) => l.module), ["conv"]);
    // the patches of each image, written out: position (oy, ox) reads rows 2 oy - 1 + i and
    // columns ox - 1 + j of both channels
    const images = [0, 1].map((n) => {
      const rows: number[] = [];
      for (let oy = 0; oy < 3; oy++) {
        for (let ox = 0; ox < 6; ox++) {
          for (let c = 0; c < 2; c++) {
            for (let i = 0; i < 3; i++) {
              for (let j = 0; j < 3; j++) {
                const yy = 2 * oy - 1 + i;
                const xx = ox - 1 + j;
                const inside = yy >= 0 && yy < 5 && xx >= 0 && xx < 6;
                rows.push(inside ? x[((n * 2 + c) * 5 + yy) * 6 + xx] : 0);
              }
            }
          }
        }
      }
      return Float32Array.from(rows);
    });
    const direct = gptq(w, [3, 18], images, { bits: 3 });
    assert.deepEqual(layers[0].result.codes, direct.codes);
    assert.deepEqual(layers[0].result.weight, direct.weight);
    const saved = onnxModel(decodeOnnx(encode()));
    assert.deepEqual(await saved.modules[0].params.weight.data(), direct.weight);
  },
);

test(
  "gptqOnnx() quantizes grouped and depthwise Convs one group at a time, each with its own H",
  SLOW,
  async () => {
    const { onnx, wg, wd, xs, batches } = groupedConvs();
    const ort = await loadOrt();
    for (const options of [{ bits: 4 }, { bits: 3, actOrder: true }, { bits: 4, groupSize: 9 }]) {
      const run = await gptqOnnx(onnx, batches, { ort, ...options });
      assert.deepEqual(run.layers.map((l) => l.module), ["gconv", "dw"]);
      // gconv: 2 groups of 3 output channels over 2 input channels each, 18 columns; one
      // add_batch per image, 2 images per batch
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
        gptq(
          w.subarray(g * rows * cols, (g + 1) * rows * cols),
          [rows, cols],
          inputs.flatMap((x) => [0, 1].map((n) => patches(x, dims, groups, stride, n, g))),
          options,
        );
      const gconv = [0, 1].map((g) => byHand(wg, 3, 18, g, xs, [2, 4, 6, 7], 2, 1));
      const dwInputs = await (async () => {
        // the depthwise layer sees r from the model with gconv already quantized
        const first = await gptqOnnx(onnx, batches, { ort, ...options, modules: ["gconv"] });
        const session = await ort.InferenceSession.create(first.encode());
        const rs: Float32Array[] = [];
        for (const x of xs) {
          const out = await session.run({ x: new ort.Tensor("float32", x, [2, 4, 6, 7]) });
          rs.push(out.r.data as Float32Array);
        }
        return rs;
      })();
      // dw: 6 groups of one output channel over one input channel, 9 columns
      const dw = [0, 1, 2, 3, 4, 5].map((g) => byHand(wd, 1, 9, g, dwInputs, [2, 6, 6, 7], 6, 2));
      const label = JSON.stringify(options);
      for (const [layer, want] of [[run.layers[0], gconv], [run.layers[1], dw]] as const) {
        const { result, parts } = layer;
        assert.equal(parts?.length, want.length, label);
        want.forEach((w, g) => {
          assert.deepEqual(parts![g].codes, w.codes, `${label} ${layer.module} group ${g}`);
          assert.deepEqual(parts![g].perm, w.perm, `${label} ${layer.module} group ${g}`);
        });
        const cat = (pick: (r: GptqResult) => Float32Array | Uint8Array) =>
          want.flatMap((w) => [...pick(w)]);
        assert.deepEqual([...result.weight], cat((r) => r.weight), label);
        assert.deepEqual([...result.codes], cat((r) => r.codes), label);
        assert.deepEqual([...result.scale], cat((r) => r.scale), label);
        assert.deepEqual([...result.zeroPoint], cat((r) => r.zeroPoint), label);
        assert.equal(result.loss, want.reduce((s, r) => s + r.loss, 0), label);
        // quantize()'s form of the grid gives the same codes, except for act-order groups
        if (options.actOrder === undefined || options.groupSize === undefined) {
          const p = layer.params!;
          assert.deepEqual([...quantizeTensor(result.weight, p.shape, p)], [...result.codes]);
        }
      }
      const saved = onnxModel(decodeOnnx(run.encode()));
      for (const layer of run.layers) {
        const got = await saved.modules.find((m) => m.name === layer.module)!.params.weight.data();
        assert.deepEqual(got, layer.result.weight, layer.module);
      }
    }
  },
);
