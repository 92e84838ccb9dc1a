import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "../../src/io/fs.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../../src/io/onnx/encode_onnx.ts";
import { readOnnxTensor } from "../../src/io/onnx/read_onnx_tensor.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { loadOrt, type Ort } from "./_ocr.ts";

/** Generous per-test limit: these tests run models and load the shared machine. */
const SLOW = { timeout: 120_000 };

const VAD = "node_modules/@ricky0123/vad-web/dist/";
const LEGACY = `${VAD}silero_vad_legacy.onnx`;
const V5 = `${VAD}silero_vad_v5.onnx`;
const WAKE = "node_modules/openwakeword-js/models/hello_deepa.onnx";

async function rewriteAll(bytes: Uint8Array): Promise<Uint8Array> {
  const model = decodeOnnx(bytes);
  const replacements = new Map<string, OnnxReplacement>();
  for (const t of model.tensors) {
    if (t.dtype !== undefined && !replacements.has(t.name)) {
      replacements.set(t.name, { bytes: (await readOnnxTensor(model, t)).slice() });
    }
  }
  return encodeOnnx(model, replacements);
}

async function outputs(
  ort: Ort,
  bytes: Uint8Array,
  feeds: Record<string, unknown>,
): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await session.run(feeds);
  await session.release?.();
  return session.outputNames.map((n: string) => out[n].data as Float32Array);
}

function audio(n: number): Float32Array {
  return new Float32Array(n).map((_, i) =>
    0.3 * Math.sin(i * 0.05) * Math.sin(i * 0.0031) + 0.01 * Math.cos(i * 1.7)
  );
}

test(
  "both Silero VAD models decode with their If subgraphs and write back byte for byte",
  SLOW,
  async () => {
    for (const path of [LEGACY, V5]) {
      const bytes = await readFile(path);
      const model = decodeOnnx(bytes, { file: path });
      assert.equal(model.graph.nodes.find((n) => n.opType === "If")!.attributes.length, 2);
      assert.ok(model.tensors.length > 250, `${path}: ${model.tensors.length}`);
      assert.deepEqual(encodeOnnx(model, new Map()), bytes);
    }
  },
);

test(
  "the Silero VAD models list Conv1d modules named after their PyTorch parameters",
  SLOW,
  async () => {
    const legacy = onnxModel(decodeOnnx(await readFile(LEGACY)));
    const names = legacy.modules.map((m) => m.name);
    assert.equal(legacy.modules.filter((m) => m.type === "Conv1d").length, 36);
    assert.ok(names.includes("model_8k.first_layer.0.dw_conv.0"));
    assert.ok(names.includes("model.first_layer.0.dw_conv.0"));
    assert.equal(new Set(names).size, names.length);
    const v5 = onnxModel(decodeOnnx(await readFile(V5)));
    const conv = v5.modules.find((m) =>
      m.name === "If_0_else_branch__Inline_0__encoder.0.reparam_conv"
    )!;
    assert.equal(conv.type, "Conv1d");
    assert.deepEqual(conv.params.weight.shape, [128, 65, 3]);
    assert.ok(
      v5.modules.some((m) =>
        m.name === "If_0_else_branch__Inline_0__encoder.0.activation" && m.type === "ReLU"
      ),
    );
    assert.equal(v5.modules.filter((m) => m.type === "Conv1d").length, 12);
  },
);

test(
  "the Silero VAD models give identical outputs after a rewrite, in both If branches",
  SLOW,
  async () => {
    const ort = await loadOrt();
    for (const sr of [16000n, 8000n]) {
      const srT = new ort.Tensor("int64", BigInt64Array.from([sr]), []);
      const legacy = await readFile(LEGACY);
      const lf = {
        input: new ort.Tensor("float32", audio(sr === 16000n ? 1536 : 768), [
          1,
          sr === 16000n ? 1536 : 768,
        ]),
        sr: srT,
        h: new ort.Tensor("float32", new Float32Array(128), [2, 1, 64]),
        c: new ort.Tensor("float32", new Float32Array(128), [2, 1, 64]),
      };
      assert.deepEqual(
        await outputs(ort, await rewriteAll(legacy), lf),
        await outputs(ort, legacy, lf),
      );
      const v5 = await readFile(V5);
      const vf = {
        input: new ort.Tensor("float32", audio(sr === 16000n ? 512 : 256), [
          1,
          sr === 16000n ? 512 : 256,
        ]),
        state: new ort.Tensor("float32", new Float32Array(256), [2, 1, 128]),
        sr: srT,
      };
      const before = await outputs(ort, v5, vf);
      assert.deepEqual(await outputs(ort, await rewriteAll(v5), vf), before);
      assert.ok(before[0][0] >= 0 && before[0][0] <= 1);
    }
  },
);

test(
  "the openWakeWord model lists its Linear layers by PyTorch name and survives a rewrite",
  SLOW,
  async () => {
    const bytes = await readFile(WAKE);
    const onnx = decodeOnnx(bytes, { file: WAKE });
    assert.deepEqual(encodeOnnx(onnx, new Map()), bytes);
    const model = onnxModel(onnx);
    assert.deepEqual(model.modules.map((m) => [m.name, m.type]), [
      ["layer1", "Linear"],
      ["relu1", "ReLU"],
      ["blocks.0.fcn_layer", "Linear"],
      ["blocks.0.relu", "ReLU"],
      ["last_layer", "Linear"],
      ["last_act", "Sigmoid"],
    ]);
    assert.deepEqual(model.modules[0].params.weight.shape, [32, 2400]);
    const ort = await loadOrt();
    const feeds = { "onnx::Flatten_0": new ort.Tensor("float32", audio(2400), [1, 25, 96]) };
    assert.deepEqual(
      await outputs(ort, await rewriteAll(bytes), feeds),
      await outputs(ort, bytes, feeds),
    );
  },
);
