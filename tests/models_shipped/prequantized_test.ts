// Pre-quantized ONNX models (onnxruntime's dynamic ConvInteger/MatMulInteger, QLinearConv and
// QLinearMatMul, DequantizeLinear weights, 4-bit MatMulNBits): each runs in onnxruntime-node like
// its float twin; `inspect` lists the stored codes, scales, zero points and granularity;
// `prune` and `quantize` refuse them (CLI exit 1, library ConfigError) with the modules named
// and what to do, and compress the float modules of a partly quantized model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compressModel } from "../../src/compress/compress_model.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { ConfigError } from "../../src/config/config_error.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { inspect } from "../../src/model/inspect.ts";
import { onnxModel } from "../../src/model/onnx_model.ts";
import { prune } from "../../src/pruning/prune.ts";
import { cli, tempDir } from "../cli/_run.ts";
import { loadOrt } from "../io/_ocr.ts";
import {
  contribOps,
  dynamicInteger,
  matMulNBits,
  type PrequantizedCase,
  qdqWeights,
  qoperator,
  wave,
} from "./_prequantized_models.ts";

const SLOW = { timeout: 120_000 };

const CASES: Record<string, () => PrequantizedCase> = {
  "DequantizeLinear weights": () => qdqWeights(),
  "ConvInteger + MatMulInteger": dynamicInteger,
  "QLinearConv + QLinearMatMul": qoperator,
  "MatMulNBits": matMulNBits,
  "DynamicQuantizeMatMul + QGemm": contribOps,
};

async function run(bytes: Uint8Array, c: PrequantizedCase): Promise<Float32Array> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes);
  const n = c.input.dims.reduce((a, b) => a * b, 1);
  const feeds = { [c.input.name]: new ort.Tensor("float32", wave(n, 9), [...c.input.dims]) };
  const out = await session.run(feeds);
  return out[session.outputNames[0]].data as Float32Array;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test("each pre-quantized model runs in onnxruntime-node like its float twin", SLOW, async () => {
  // DequantizeLinear and the Integer ops quantize activations on the fly in onnxruntime (about
  // 0.2% of the output range); QLinear* also round the activations to 8 bits.
  const tolerance: Record<string, number> = {
    "DequantizeLinear weights": 0.02,
    "ConvInteger + MatMulInteger": 0.02,
    "QLinearConv + QLinearMatMul": 0.1,
    "MatMulNBits": 1e-4,
    "DynamicQuantizeMatMul + QGemm": 0.05,
  };
  for (const [name, make] of Object.entries(CASES)) {
    const c = make();
    const d = maxDiff(await run(c.quantized, c), await run(c.float, c));
    assert.ok(d <= tolerance[name], `${name}: max difference ${d}`);
  }
});

test("inspect lists pre-quantized weights with their codes, scales, zero points and granularity", () => {
  const storage = (c: PrequantizedCase) =>
    inspect(onnxModel(decodeOnnx(c.quantized))).modules.filter((m) => m.quantized)
      .map((m) => ({ name: m.name, type: m.type, ...m.quantized }));
  assert.deepEqual(storage(qdqWeights()), [
    {
      name: "conv",
      type: "Conv2d",
      op: "DequantizeLinear",
      codes: "int8",
      bits: 8,
      shape: [4, 3, 3, 3],
      granularity: "per_axis",
      axis: 0,
      scaleShape: [4],
      zeroPointShape: [4],
    },
    {
      name: "fc",
      type: "Linear",
      op: "DequantizeLinear",
      codes: "int8",
      bits: 8,
      shape: [5, 64],
      granularity: "per_tensor",
      scaleShape: [],
      zeroPointShape: null,
    },
  ]);
  const dynamic = storage(dynamicInteger());
  // the weight scale is the constant of the Mul after the Cast
  assert.deepEqual(
    dynamic.map((m) => [m.name, m.op, m.codes, m.scaleShape, m.scaleAfter, m.zeroPointShape]),
    [
      ["conv", "ConvInteger", "uint8", [], true, []],
      ["fc", "MatMulInteger", "uint8", [], true, []],
    ],
  );
  // a quantized bias is listed as its codes and scale
  const qdq = inspect(onnxModel(decodeOnnx(qdqWeights().quantized))).modules[0];
  assert.deepEqual(qdq.params.map((p) => [p.name, p.dtype, p.shape]), [
    ["weight", "I8", [4, 3, 3, 3]],
    ["weight_scale", "F32", [4]],
    ["weight_zero_point", "I8", [4]],
    ["bias", "I32", [4]],
    ["bias_scale", "F32", []],
  ]);
  // onnxruntime's com.microsoft operators; QGemm with transB keeps [N, K], scales along 0
  assert.deepEqual(
    storage(contribOps()).map((m) => [m.name, m.op, m.shape, m.granularity, m.axis]),
    [
      ["fc1", "DynamicQuantizeMatMul", [5, 64], "per_tensor", undefined],
      ["fc2", "QGemm", [3, 5], "per_axis", 0],
    ],
  );
  const qop = storage(qoperator());
  assert.deepEqual(qop.map((m) => [m.name, m.op, m.codes, m.granularity, m.scaleShape]), [
    ["conv", "QLinearConv", "int8", "per_axis", [4]],
    ["fc", "QLinearMatMul", "int8", "per_tensor", []],
  ]);
  assert.deepEqual(storage(matMulNBits()), [{
    name: "fc",
    type: "Linear",
    op: "MatMulNBits",
    codes: "uint4",
    bits: 4,
    shape: [6, 64],
    granularity: "block",
    axis: 1,
    blockSize: 32,
    scaleShape: [12],
    zeroPointShape: [6],
  }]);
  // the parameters are the stored tensors, at their stored sizes
  const listing = inspect(onnxModel(decodeOnnx(qoperator().quantized)));
  const conv = listing.modules.find((m) => m.name === "conv")!;
  assert.deepEqual(conv.params.map((p) => [p.name, p.dtype, p.shape, p.bytes]), [
    ["weight", "I8", [4, 3, 3, 3], 108],
    ["weight_scale", "F32", [4], 16],
    ["weight_zero_point", "I8", [4], 4],
    ["bias", "I32", [4], 16],
  ]);
});

test(
  "nncompress inspect prints the storage column and says how to compress the modules",
  SLOW,
  async () => {
    const dir = tempDir();
    const path = join(dir, "nbits.onnx");
    writeFileSync(path, matMulNBits().quantized);
    const r = await cli("inspect", path);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /module\s+type\s+op\s+param\s+dtype\s+shape\s+elements\s+bytes\s+storage/,
    );
    assert.match(
      r.stdout,
      /fc\s+Linear\s+MatMulNBits\s+weight\s+U8\s+\[6, 2, 16\]\s+192\s+192\s+MatMulNBits uint4 codes, blocks of 32 along axis 1, scale \[12\], zero point \[6\]/,
    );
    assert.match(r.stdout, /1 module is pre-quantized .* dequantize the model first/);
    const json = JSON.parse((await cli("inspect", path, "--json")).stdout);
    assert.equal(json.modules[0].quantized.blockSize, 32);
  },
);

test(
  "prune and quantize refuse a fully pre-quantized model: exit 1, the modules named, no file written",
  SLOW,
  async () => {
    const dir = tempDir();
    for (const [name, make] of Object.entries(CASES)) {
      const c = make();
      const path = join(dir, "model.onnx");
      writeFileSync(path, c.quantized);
      const lists = {
        prune: '[{"op_types":["Conv2d","Linear"],"sparse_ratio":0.5}]',
        quantize:
          '[{"op_types":["Conv2d","Linear"],"target_names":["weight"],"quant_dtype":"int8"}]',
      };
      for (const [command, list] of Object.entries(lists)) {
        if (name === "MatMulNBits") continue; // it has a float Linear too: see the mixed test
        const out = join(dir, `${command}.onnx`);
        const r = await cli(command, path, "-c", list, "-o", out);
        assert.equal(r.code, 1, `${name} ${command}: ${r.stdout}${r.stderr}`);
        const names = c.modules.map((m) => `"${m}"`).join(", ");
        assert.match(
          r.stderr,
          new RegExp(
            `selects only ${c.modules.length} pre-quantized modules \\([A-Za-z, ]+\\): ${names}; ` +
              "nothing is left to compress",
          ),
          `${name} ${command}`,
        );
        assert.match(r.stderr, /Dequantize the model first, or compress the float original/);
        assert.doesNotMatch(r.stdout, /total \(0 tensors\)/);
        assert.equal(existsSync(out), false);
        const json = JSON.parse((await cli(command, path, "-c", list, "-o", out, "--json")).stdout);
        assert.equal(json.error.kind, "ConfigError");
        assert.equal(json.error.issues[0].code, "unsupported_target");
      }
    }
  },
);

test("naming a pre-quantized module in op_names is an error at its path", SLOW, async () => {
  const dir = tempDir();
  const path = join(dir, "qdq.onnx");
  writeFileSync(path, qdqWeights(true).quantized);
  const r = await cli(
    "quantize",
    path,
    "-c",
    '[{"op_names":["conv","fc"],"target_names":["weight"],"quant_dtype":"int8"}]',
    "-o",
    join(dir, "out.onnx"),
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /\[0\]\.op_names\[0\]: "conv" \(Conv2d\) is pre-quantized \(DequantizeLinear\): its weight is already stored as integer codes; dequantize the model first/,
  );
});

test(
  "a partly quantized model: the float modules are compressed, the pre-quantized ones skipped with one warning",
  SLOW,
  async () => {
    const dir = tempDir();
    for (const c of [qdqWeights(true), matMulNBits()]) {
      const path = join(dir, "mixed.onnx");
      writeFileSync(path, c.quantized);
      const out = join(dir, "mixed.pruned.onnx");
      const r = await cli(
        "prune",
        path,
        "-c",
        '[{"op_types":["Conv2d","Linear"],"target_names":["weight"],"sparse_ratio":0.5}]',
        "-o",
        out,
        "--json",
      );
      assert.equal(r.code, 0, r.stderr);
      const { report } = JSON.parse(r.stdout);
      assert.equal(report.layers.length, 1);
      assert.ok(!c.modules.includes(report.layers[0].module));
      assert.equal(report.layers[0].sparsity, 0.5);
      const skipped = report.warnings.filter((w: string) => /pre-quantized/.test(w));
      assert.equal(skipped.length, 1);
      assert.match(
        skipped[0],
        new RegExp(`skipped 1 pre-quantized module \\(\\w+\\): "${c.modules[0]}"`),
      );
      // the codes are untouched and the pruned model still runs
      const codes = async (bytes: Uint8Array) =>
        Uint8Array.from(
          await onnxModel(decodeOnnx(bytes)).modules.find((m) => m.quantized)!.params.weight
            .bytes(),
        );
      assert.deepEqual(await codes(readFileSync(out)), await codes(c.quantized));
      assert.equal((await run(readFileSync(out), c)).length, (await run(c.quantized, c)).length);
    }
  },
);

test("compressModel and prune() refuse a model whose selected modules are all pre-quantized", async () => {
  const c = qoperator();
  const model = loadModel(c.quantized, "qop.onnx");
  for (const mode of ["pruning", "quantization"] as const) {
    await assert.rejects(
      compressModel(model, {
        mode,
        configList: [{
          op_types: ["Linear"],
          ...(mode === "pruning" ? { sparse_ratio: 0.5 } : { quant_dtype: "int8" }),
        }],
      }),
      (e) =>
        e instanceof ConfigError && e.issues[0].code === "unsupported_target" &&
        /pre-quantized module \(QLinearMatMul\): "fc"/.test(e.message),
    );
  }
  await assert.rejects(
    prune(onnxModel(decodeOnnx(c.quantized)), [{ op_types: ["Conv2d"], sparse_ratio: 0.5 }]),
    (e) => e instanceof ConfigError && /QLinearConv\): "conv"/.test(e.message),
  );
});

test("the QDQ file nncompress writes is itself pre-quantized: listed, and refused on a second run", async () => {
  const c = qdqWeights(true); // fc is float
  const first = await compressModel(loadModel(c.quantized, "mixed.onnx"), {
    mode: "quantization",
    configList: [{ op_names: ["fc"], target_names: ["weight"], quant_dtype: "int8" }],
    storage: "int",
  });
  assert.equal(first.report.storage, "qdq");
  const listed = onnxModel(decodeOnnx(first.bytes)).modules.filter((m) => m.quantized);
  assert.deepEqual(listed.map((m) => [m.name, m.quantized!.op, m.quantized!.codes]), [
    ["conv", "DequantizeLinear", "int8"],
    ["fc", "DequantizeLinear", "int8"],
  ]);
  await assert.rejects(
    compressModel(loadModel(first.bytes, "again.onnx"), {
      mode: "quantization",
      configList: [{ op_names: ["fc"], target_names: ["weight"], quant_dtype: "int8" }],
    }),
    (e) => e instanceof ConfigError && /"fc" \(Linear\) is pre-quantized/.test(e.message),
  );
});
