// The dynamic (DynamicQuantizeLinear + MatMulInteger/ConvInteger) and bnb4 (MatMulBnb4) storages
// on the PP-OCRv4 recognizer, a transformer block and a tied-embedding merged-decoder layout:
// every output runs in onnxruntime-node and in onnxruntime-web's WASM backend, keeps the
// recognizer's lines or the block's outputs, stores shared weights once, and has the size the
// format gives (within 2%).
import { test } from "node:test";
import assert from "node:assert/strict";
import { compressModel, loadModel } from "../../mod.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { graphPaths } from "../../src/io/onnx/edit_onnx.ts";
import type { OnnxModel } from "../../src/io/onnx/onnx_types.ts";
import type { OrtLike } from "../../src/io/onnx/ort.ts";
import { evaluateOcr } from "../../src/compress/ocr_eval.ts";
import { loadOcrData, loadOcrKeys } from "../../src/compress/ocr_data.ts";
import { bnb4Decode, bnb4Encode, FP4_TABLE, NF4_TABLE } from "../../src/quantization/bnb4_onnx.ts";
import { dynamicCodes, dynamicWeightParams } from "../../src/quantization/dynamic_onnx.ts";
import { loadOrt } from "../io/_ocr.ts";
import { readModel, REC } from "../quantization/_ocr_eval.ts";
import { values } from "./_models.ts";
import { K as GK, loopModel, M as GM, N as GN, weights } from "./_gemm_subgraph_models.ts";
import {
  B,
  BLOCK_WEIGHTS,
  D,
  FF,
  L,
  T,
  tiedIfModel,
  transformerBlock,
  V,
} from "./_integer_ops_models.ts";

const SLOW = { timeout: 300_000 };
const W = { target_names: ["weight"] };

async function loadOrtWeb(): Promise<OrtLike> {
  const ort = await import("onnxruntime-web");
  // One thread and no proxy worker: the single-threaded WASM CPU path of every runtime.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort as unknown as OrtLike;
}

type Feeds = Record<string, { type: string; data: ArrayLike<number | bigint>; dims: number[] }>;

/** The first output of a model on the feeds, in one onnxruntime. */
async function run(ort: OrtLike, model: Uint8Array, feeds: Feeds): Promise<Float32Array> {
  // deno-lint-ignore no-explicit-any
  const o = ort as any;
  const session = await o.InferenceSession.create(model);
  const inputs = Object.fromEntries(
    Object.entries(feeds).map(([k, v]) => [k, new o.Tensor(v.type, v.data, v.dims)]),
  );
  const out = await session.run(inputs);
  const y = out[session.outputNames[0]].data as Float32Array;
  await session.release?.();
  return y;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** Every node of every graph. */
function nodes(onnx: OnnxModel) {
  return [...graphPaths(onnx).values()].flatMap((g) => g.nodes);
}

/** Float32 element counts of the stored tensors by name. */
function floatTensors(onnx: OnnxModel): Map<string, number[]> {
  return new Map(
    onnx.tensors.filter((t) => t.dtype === "F32").map((t) => [t.name, [...t.dims]] as const),
  );
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The file size the dynamic format gives: the original, less 4 bytes per float weight element,
 * plus 1 byte per code, 4 per scale and 1 per zero point (per tensor: one of each; per channel:
 * N of each for a MatMul `[K, N]`, C scales and one zero point for a Conv `[C, …]`). Node and
 * name bytes are left out; they are what the 2% allows for.
 */
function dynamicSize(original: Uint8Array, out: OnnxModel, perChannel: boolean): number {
  const before = decodeOnnx(original);
  const dims = floatTensors(before);
  const conv = new Set(nodes(before).filter((n) => n.opType === "Conv").map((n) => n.inputs[1]));
  let size = original.length;
  for (const t of out.tensors) {
    const name = t.name.replace(/_quantized$/, "");
    const d = dims.get(name);
    if (!t.name.endsWith("_quantized") || d === undefined) continue;
    const n = product(d);
    const channels = !perChannel ? 1 : conv.has(name) ? d[0] : d[d.length - 1];
    size += -4 * n + n + 4 * channels + (conv.has(name) ? 1 : channels);
  }
  return size;
}

/** The file size the MatMulBnb4 format gives: codes `ceil(K N / 2)`, one float32 per block. */
function bnb4Size(original: Uint8Array, blockSize: number): number {
  let size = original.length;
  for (const w of BLOCK_WEIGHTS) {
    const n = w.k * w.n;
    size += -4 * n + Math.ceil(n / 2) + 4 * Math.ceil(n / blockSize);
  }
  return size;
}

const blockFeeds = (): Feeds => ({
  x: { type: "float32", data: values(B * T * D, 7, 1), dims: [B, T, D] },
});

test(
  "dynamic q8 on the PP-OCRv4 recognizer: uint8 ConvInteger, 40/40 lines in onnxruntime-node and onnxruntime-web",
  SLOW,
  async () => {
    const bytes = await readModel(REC);
    // transformers.js's model_quantized rule (int8 asked, uint8 because the model has Conv), with
    // symmetric per-channel weights: onnxruntime's per-tensor default reads 20/40 lines here.
    const result = await compressModel(loadModel(bytes, "rec.onnx"), {
      mode: "quantization",
      configList: [{
        op_types: ["Linear", "Conv2d"],
        ...W,
        quant_dtype: "int8",
        quant_scheme: "symmetric",
        granularity: "per_channel",
      }],
      storage: "dynamic",
      dynamic: { uint8WhenConv: true },
    });
    assert.equal(result.report.storage, "dynamic");
    assert.match(
      result.report.warnings.join("\n"),
      /weights are stored as uint8: the model has a Conv node/,
    );
    const out = decodeOnnx(result.bytes);
    const ops = nodes(out).map((n) => n.opType);
    assert.equal(ops.filter((o) => o === "ConvInteger").length, 38);
    assert.equal(ops.filter((o) => o === "MatMulInteger").length, 9);
    assert.equal(ops.filter((o) => o === "Conv" || o === "MatMul").length, 4); // attention's
    assert.ok(ops.includes("DynamicQuantizeLinear"));
    // Opset 9 raised to 11, with Clip's bounds moved from attributes to inputs.
    assert.deepEqual(out.opsets.find((o) => o.domain === ""), { domain: "", version: 11 });
    for (const n of nodes(out).filter((n) => n.opType === "Clip")) {
      assert.equal(n.attributes.length, 0);
      assert.equal(n.inputs.length, 3);
    }
    const codes = out.tensors.filter((t) => t.name.endsWith("_quantized"));
    assert.equal(codes.length, 47);
    assert.ok(codes.every((t) => t.dtype === "U8"), "uint8 codes");
    const expected = dynamicSize(bytes, out, true);
    const off = Math.abs(result.bytes.length - expected) / expected;
    console.log(
      `recognizer dynamic q8: ${bytes.length} -> ${result.bytes.length} bytes (format: ${expected}, ${
        (off * 100).toFixed(2)
      }% off)`,
    );
    assert.ok(off < 0.02, `${result.bytes.length} bytes written, ${expected} expected`);
    const data = await loadOcrData();
    const keys = await loadOcrKeys();
    const node = await evaluateOcr(await loadOrt(), result.bytes, "recognizer", data, keys);
    assert.equal(node.correct, 40, "onnxruntime-node");
    const web = await evaluateOcr(await loadOrtWeb(), result.bytes, "recognizer", data, keys);
    assert.equal(web.correct, 40, "onnxruntime-web (uint8 ConvInteger)");
  },
);

test(
  "dynamic int8 and uint8, per tensor and per channel, on a transformer block: node and web agree with the float block",
  SLOW,
  async () => {
    const model = transformerBlock();
    const feeds = blockFeeds();
    const node = await loadOrt();
    const web = await loadOrtWeb();
    const reference = await run(node, model, feeds);
    for (const quant_dtype of ["int8", "uint8"]) {
      for (const granularity of ["default", "per_channel"]) {
        const result = await compressModel(loadModel(model, "block.onnx"), {
          mode: "quantization",
          configList: [{ op_types: ["Linear"], ...W, quant_dtype, granularity }],
          storage: "dynamic",
        });
        const out = decodeOnnx(result.bytes);
        const mm = nodes(out).filter((n) => n.opType === "MatMulInteger");
        assert.equal(mm.length, 6);
        // onnxruntime's names: codes, zero points, and one DynamicQuantizeLinear for x's 3 readers.
        assert.deepEqual(mm[0].inputs, [
          "x_quantized",
          "attn.q.weight_quantized",
          "x_zero_point",
          "attn.q.weight_zero_point",
        ]);
        assert.equal(mm[0].name, "/attn/q/MatMul_quant");
        assert.equal(nodes(out).filter((n) => n.opType === "DynamicQuantizeLinear").length, 4);
        const scale = out.tensors.find((t) => t.name === "attn.q.weight_scale")!;
        assert.deepEqual(scale.dims, granularity === "default" ? [] : [D]);
        const expected = dynamicSize(model, out, granularity !== "default");
        const off = Math.abs(result.bytes.length - expected) / expected;
        assert.ok(off < 0.02, `${result.bytes.length} bytes written, ${expected} expected`);
        for (const [label, ort] of [["node", node], ["web", web]] as const) {
          const y = await run(ort, result.bytes, feeds);
          const c = cosine(reference, y);
          console.log(`block dynamic ${quant_dtype} ${granularity} (${label}): cosine ${c}`);
          assert.ok(c > 0.999, `${quant_dtype} ${granularity} ${label}: cosine ${c}`);
        }
      }
    }
  },
);

test(
  "bnb4 NF4 and FP4 on a transformer block: MatMulBnb4 as onnxruntime writes it, node and web, cosine bound",
  SLOW,
  async () => {
    const model = transformerBlock();
    const feeds = blockFeeds();
    const node = await loadOrt();
    const web = await loadOrtWeb();
    const reference = await run(node, model, feeds);
    // NF4 keeps cosine >= 0.99 on this block; FP4, whose grid is coarser near the absmax, 0.98.
    for (const [quantType, bound] of [["nf4", 0.99], ["fp4", 0.98]] as const) {
      for (const blockSize of [64, 32]) {
        const result = await compressModel(loadModel(model, "block.onnx"), {
          mode: "quantization",
          configList: [{ op_types: ["Linear"], ...W, quant_dtype: "int4" }],
          storage: "bnb4",
          bnb4: { quantType },
          ...(blockSize === 64 ? {} : { blockSize }),
        });
        assert.equal(result.report.storage, "bnb4");
        const out = decodeOnnx(result.bytes);
        const mm = nodes(out).filter((n) => n.opType === "MatMulBnb4");
        assert.equal(mm.length, 6);
        const down = mm.find((n) => n.name === "/ffn/down/MatMul_Bnb4")!;
        assert.equal(down.domain, "com.microsoft");
        assert.deepEqual(down.inputs, ["act", "ffn.down.weight_Bnb4", "ffn.down.weight_absmax"]);
        assert.deepEqual(
          down.attributes.map((a) => [a.name, a.i]),
          [["K", FF], ["N", D], ["block_size", blockSize], [
            "quant_type",
            quantType === "nf4" ? 1 : 0,
          ]],
        );
        const codes = out.tensors.find((t) => t.name === "ffn.down.weight_Bnb4")!;
        assert.deepEqual(codes.dims, [(FF * D) / 2]);
        assert.equal(codes.dtype, "U8");
        assert.deepEqual(out.tensors.find((t) => t.name === "ffn.down.weight_absmax")!.dims, [
          (FF * D) / blockSize,
        ]);
        assert.ok(!out.tensors.some((t) => t.name === "ffn.down.weight"), "float weight removed");
        const expected = bnb4Size(model, blockSize);
        const off = Math.abs(result.bytes.length - expected) / expected;
        assert.ok(off < 0.02, `${result.bytes.length} bytes written, ${expected} expected`);
        for (const [label, ort] of [["node", node], ["web", web]] as const) {
          const y = await run(ort, result.bytes, feeds);
          const c = cosine(reference, y);
          console.log(`block bnb4 ${quantType} block ${blockSize} (${label}): cosine ${c}`);
          assert.ok(c >= bound, `${quantType} block ${blockSize} ${label}: cosine ${c}`);
        }
      }
    }
  },
);

test("NF4 and FP4 codes decode to their table entries and are the nearest ones", () => {
  const w = weights(64 * 40, 17, 64);
  w[5] = 0; // an exact zero
  for (const [type, table] of [["nf4", NF4_TABLE], ["fp4", FP4_TABLE]] as const) {
    const { packed, absmax } = bnb4Encode(w, 64, type);
    const decoded = bnb4Decode(packed, absmax, w.length, 64, type);
    for (let i = 0; i < w.length; i++) {
      const code = (i & 1) === 0 ? packed[i >> 1] >> 4 : packed[i >> 1] & 15;
      const m = absmax[Math.floor(i / 64)];
      assert.equal(decoded[i], Math.fround(table[code] * m));
      // The code's entry is the nearest to w / absmax (ties and float32 rounding aside).
      const x = w[i] / m;
      const best = Math.min(...table.map((v) => Math.abs(v - x)));
      assert.ok(Math.abs(table[code] - x) <= best + 1e-6, `${type} value ${i}: code ${code}`);
    }
    assert.equal(decoded[5], 0);
  }
  // The block absmax is the largest magnitude; it decodes to itself (code ±1.0).
  const { packed, absmax } = bnb4Encode(new Float32Array([0.5, -7, 1, 0.25, 3]), 16, "nf4");
  assert.deepEqual([...absmax], [7]);
  assert.equal(packed.length, 3);
  assert.equal(packed[0] & 15, 0); // -7 / 7 = -1: code 0
  assert.equal(packed[2] & 15, 7, "an odd count ends with the code of 0");
  // NF4 and FP4 tables as onnxruntime's kernel holds them.
  assert.equal(NF4_TABLE.length, 16);
  assert.equal(NF4_TABLE[7], 0);
  assert.deepEqual([NF4_TABLE[0], NF4_TABLE[15]], [-1, 1]);
  assert.deepEqual([FP4_TABLE[3], FP4_TABLE[11]], [1, -1]);
});

test("dynamic weight parameters follow onnxruntime's quantize_data", () => {
  const w = new Float32Array([-0.5, 0.25, 1.5]);
  // uint8 affine: [min(0, -0.5), 1.5] over 255 steps; zero point round(0.5 / scale) = 64.
  const u = dynamicWeightParams(w, "uint8", false, false);
  assert.equal(u.scale, Math.fround(2 / 255));
  assert.equal(u.zeroPoint, 64);
  assert.deepEqual([...dynamicCodes(w, u.scale, u.zeroPoint, "uint8")], [0, 96, 255]);
  // int8 symmetric: absmax / 127, zero point 0.
  const s = dynamicWeightParams(w, "int8", true, false);
  assert.equal(s.scale, Math.fround(3 / 254));
  assert.equal(s.zeroPoint, 0);
  // reduce_range: int8 [-64, 64], uint8 [0, 127]; uint8 symmetric: [0, 254], zero point 127.
  assert.deepEqual([
    dynamicWeightParams(w, "int8", true, true).qmin,
    dynamicWeightParams(w, "int8", true, true).qmax,
  ], [-64, 64]);
  assert.equal(dynamicWeightParams(w, "uint8", false, true).qmax, 127);
  assert.equal(dynamicWeightParams(w, "uint8", true, false).zeroPoint, 127);
  // All zeros: scale 1, zero point 0.
  assert.deepEqual(dynamicWeightParams(new Float32Array(4), "uint8", false, false), {
    scale: 1,
    zeroPoint: 0,
    qmin: 0,
    qmax: 255,
  });
  // Half-way codes round to even, like numpy.
  assert.deepEqual([...dynamicCodes(new Float32Array([0.5, 1.5, -0.5, 2.5]), 1, 0, "int8")], [
    0,
    2,
    0,
    2,
  ]);
});

test(
  "shared weights stay shared: tied embeddings read by a Gather and by a MatMul in both If branches",
  SLOW,
  async () => {
    const model = tiedIfModel();
    const node = await loadOrt();
    const web = await loadOrtWeb();
    const ids = BigInt64Array.from([3n, 0n, 255n, 17n, 42n, 128n]);
    const feeds = (useCache: boolean): Feeds => ({
      ids: { type: "int64", data: ids, dims: [L] },
      use_cache: { type: "bool", data: [useCache ? 1 : 0], dims: [] },
    });
    const config = [{ op_types: ["Linear"], ...W, quant_dtype: "int8" }];
    const dynamic = await compressModel(loadModel(model, "tied.onnx"), {
      mode: "quantization",
      configList: config,
      storage: "dynamic",
    });
    const out = decodeOnnx(dynamic.bytes);
    // One copy of the codes, in the main graph; no float copy; both branches read the codes and
    // the Gather reads them through a DequantizeLinear.
    assert.deepEqual(
      out.tensors.filter((t) => t.name === "tok.weight_quantized").map((t) =>
        t.path.split(".initializer")[0]
      ),
      ["graph"],
    );
    assert.ok(!out.tensors.some((t) => t.name === "tok.weight"));
    const mm = nodes(out).filter((n) => n.opType === "MatMulInteger");
    assert.equal(mm.length, 2);
    for (const n of mm) {
      assert.equal(n.inputs[1], "tok.weight_quantized");
      assert.equal(n.inputs[3], "tok.weight_zero_point");
    }
    const dq = out.graph.nodes.find((n) => n.opType === "DequantizeLinear")!;
    assert.deepEqual(dq.outputs, ["tok.weight"]);
    // The float table (4 V² bytes) became V² codes once: a copy per reader would add V² per branch,
    // and keeping the float table for the Gather 4 V².
    const saved = model.length - dynamic.bytes.length;
    console.log(`tied model dynamic: ${model.length} -> ${dynamic.bytes.length} bytes`);
    assert.ok(saved > 3 * V * V - 2048 && saved <= 3 * V * V, `${saved} bytes saved`);
    const bnb4 = await compressModel(loadModel(model, "tied.onnx"), {
      mode: "quantization",
      configList: [{ op_types: ["Linear"], ...W, quant_dtype: "int4" }],
      storage: "bnb4",
    });
    const b = decodeOnnx(bnb4.bytes);
    assert.equal(b.tensors.filter((t) => t.name === "tok.weight_Bnb4").length, 1);
    const bn = nodes(b).filter((n) => n.opType === "MatMulBnb4");
    assert.equal(bn.length, 2);
    assert.ok(
      bn.every((n) => n.inputs[1] === "tok.weight_Bnb4" && n.inputs[2] === "tok.weight_absmax"),
    );
    // The Gather still needs the float table: it stays, once, with a warning.
    assert.equal(b.tensors.filter((t) => t.name === "tok.weight").length, 1);
    assert.match(bnb4.report.warnings.join("\n"), /"tok\.weight" is also read by nodes other than/);
    // The codes and absmax are stored once (two branches, one copy): the file grows by one set.
    const grown = bnb4.bytes.length - model.length;
    const once = V * V / 2 + 4 * (V * V / 64);
    assert.ok(grown >= once && grown < once + 1024, `${grown} bytes added, ${once} for one copy`);
    for (const useCache of [true, false]) {
      const reference = await run(node, model, feeds(useCache));
      for (const [label, ort] of [["node", node], ["web", web]] as const) {
        for (
          const [storage, bytes] of [["dynamic", dynamic.bytes], ["bnb4", bnb4.bytes]] as const
        ) {
          const c = cosine(reference, await run(ort, bytes, feeds(useCache)));
          assert.ok(
            c > (storage === "dynamic" ? 0.999 : 0.99),
            `${storage} ${label} use_cache=${useCache}: cosine ${c}`,
          );
        }
      }
    }
  },
);

test(
  "Loop bodies: the body's MatMul reads codes of a main-graph weight, its Gemm stays float with a warning; node and web",
  SLOW,
  async () => {
    const model = loopModel();
    const feeds: Feeds = {
      x: { type: "float32", data: values(GM * GK, 3, 1), dims: [GM, GK] },
      h0: { type: "float32", data: values(GM * GN, 4, 1), dims: [GM, GN] },
    };
    const node = await loadOrt();
    const web = await loadOrtWeb();
    const reference = await run(node, model, feeds);
    for (const storage of ["dynamic", "bnb4"] as const) {
      const result = await compressModel(loadModel(model, "loop.onnx"), {
        mode: "quantization",
        configList: [{
          op_types: ["Linear"],
          ...W,
          quant_dtype: storage === "dynamic" ? "int8" : "int4",
        }],
        storage,
      });
      assert.match(result.report.warnings.join("\n"), /body\.fc: Gemm stays float/);
      const out = decodeOnnx(result.bytes);
      const body = out.graph.nodes.find((n) => n.opType === "Loop")!.attributes[0].g!;
      const op = storage === "dynamic" ? "MatMulInteger" : "MatMulBnb4";
      const inBody = body.nodes.find((n) => n.opType === op)!;
      const codes = storage === "dynamic" ? "loop.in.weight_quantized" : "loop.in.weight_Bnb4";
      assert.equal(inBody.inputs[1], codes);
      // The codes live in the main graph, which stores the weight; the body reads them.
      assert.ok(out.graph.initializers.some((t) => t.name === codes));
      assert.ok(body.nodes.some((n) => n.opType === "Gemm"));
      if (storage === "dynamic") {
        // The body quantizes the outer-scope x itself.
        assert.ok(
          body.nodes.some((n) => n.opType === "DynamicQuantizeLinear" && n.inputs[0] === "x"),
        );
      }
      assert.ok(out.graph.nodes.some((n) => n.opType === op && n.name.startsWith("/head/MatMul")));
      for (const [label, ort] of [["node", node], ["web", web]] as const) {
        const c = cosine(reference, await run(ort, result.bytes, feeds));
        assert.ok(c > (storage === "dynamic" ? 0.999 : 0.99), `${storage} ${label}: cosine ${c}`);
      }
    }
  },
);
