// BatchNorm folding (`fuse_names`) from the stored statistics, with no calibration data: the
// BatchNormalization's scale, shift, running mean and variance and its own epsilon go into the
// Conv before it, in the CLI, the library and the edge handler. Results run in onnxruntime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, tempDir } from "../cli/_run.ts";
import { decodeOnnx } from "../../src/io/onnx/decode_onnx.ts";
import { readOnnxValues } from "../../src/io/onnx/read_onnx_values.ts";
import { loadModel } from "../../src/compress/load_model.ts";
import { compressModel } from "../../src/compress/compress_model.ts";
import { createHandler } from "../../edge/handler.ts";
import { convBatchNorm } from "./_models.ts";
import { difference, runModel } from "./_ort.ts";

const SLOW = { timeout: 180_000 };
const DIMS = [1, 3, 8, 8];
const FOLD_INT8 = [{
  op_names: ["conv"],
  target_names: ["weight", "bias"],
  quant_dtype: "int8",
  granularity: "per_channel",
  fuse_names: [["conv", "bn", "relu"]],
}, { op_names: ["head"], target_names: ["weight"], quant_dtype: "int8" }];

async function tensors(bytes: Uint8Array): Promise<Map<string, Float32Array>> {
  const onnx = decodeOnnx(bytes);
  const out = new Map<string, Float32Array>();
  for (const t of onnx.tensors) out.set(t.name, await readOnnxValues(onnx, t));
  return out;
}

/** Conv weight and bias folded with the BatchNorm in float64, with the given epsilon. */
async function folded(eps: number): Promise<{ weight: Float64Array; bias: Float64Array }> {
  const t = await tensors(convBatchNorm());
  const [w, b, g, beta, mean, variance] = [
    "conv.weight",
    "conv.bias",
    "bn.weight",
    "bn.bias",
    "bn.running_mean",
    "bn.running_var",
  ].map((n) => t.get(n)!);
  const per = w.length / g.length;
  const weight = new Float64Array(w.length);
  const bias = new Float64Array(g.length);
  for (let c = 0; c < g.length; c++) {
    const k = g[c] / Math.sqrt(variance[c] + eps);
    for (let i = 0; i < per; i++) weight[c * per + i] = w[c * per + i] * k;
    bias[c] = (b[c] - mean[c]) * k + beta[c];
  }
  return { weight, bias };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test(
  "CLI: fuse_names folds the BatchNorm with no calibration; int8 result runs in onnxruntime",
  SLOW,
  async () => {
    const dir = tempDir();
    try {
      const path = join(dir, "convbn.onnx");
      writeFileSync(path, convBatchNorm());
      const out = join(dir, "q.onnx");
      const run = await cli("quantize", path, "-c", JSON.stringify(FOLD_INT8), "-o", out, "--json");
      assert.equal(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout).report;
      assert.equal(report.storage, "qdq");
      const onnx = decodeOnnx(new Uint8Array(readFileSync(out)));
      const ops = onnx.graph.nodes.map((n) => n.opType);
      assert.ok(!ops.includes("BatchNormalization"), ops.join());
      assert.ok(ops.includes("DequantizeLinear"), ops.join());
      const a = await runModel(path, "x", DIMS);
      const b = await runModel(out, "x", DIMS);
      const d = difference(a.y, b.y);
      assert.ok(d.relative < 0.02 && d.max > 0, `relative error ${d.relative}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "folding uses the node's epsilon and stored statistics exactly (float storage)",
  SLOW,
  async () => {
    const { bytes, report } = await compressModel(loadModel(convBatchNorm(), "convbn.onnx"), {
      mode: "quantization",
      storage: "float",
      configList: [{
        op_names: ["conv"],
        target_names: ["weight"],
        quant_dtype: "int16",
        granularity: "per_channel",
        fuse_names: [["conv", "bn"]],
      }],
    });
    assert.deepEqual(report.layers.map((l) => `${l.module}.${l.target}`), ["conv.weight"]);
    const t = await tensors(bytes);
    const want = await folded(1e-3);
    // The folded bias is not quantized: float32 rounding only.
    const biasError = maxDiff(t.get("conv.bias")!, want.bias);
    assert.ok(biasError < 1e-6, `${biasError}`);
    // The weight is on an int16 grid per output channel: within half a step of the folded value.
    const step = Math.max(...want.weight.map(Math.abs)) / 32767;
    const weightError = maxDiff(t.get("conv.weight")!, want.weight);
    assert.ok(weightError <= step * 0.51, `${weightError} > ${step / 2}`);
    // PyTorch's default epsilon would give other values: the node's 1e-3 was read.
    const other = await folded(1e-5);
    assert.ok(maxDiff(want.bias, other.bias) > 100 * biasError + 1e-5);
    assert.ok(maxDiff(want.weight, other.weight) > 10 * step);
    assert.equal(t.has("bn.running_var"), false);
    const a = await runModel(convBatchNorm(), "x", DIMS);
    const b = await runModel(bytes, "x", DIMS);
    assert.ok(difference(a.y, b.y).relative < 1e-3);
  },
);

test("edge handler: fuse_names folds the BatchNorm without calibration", SLOW, async () => {
  const handler = createHandler({ isolation: "inline" });
  try {
    const form = new FormData();
    form.set("model", new Blob([convBatchNorm() as Uint8Array<ArrayBuffer>]), "convbn.onnx");
    form.set("config", JSON.stringify(FOLD_INT8));
    const res = await handler.fetch(new Request("http://edge/", { method: "POST", body: form }));
    assert.equal(res.status, 200, await res.clone().text());
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.ok(!decodeOnnx(bytes).graph.nodes.some((n) => n.opType === "BatchNormalization"));
    const a = await runModel(convBatchNorm(), "x", DIMS);
    const b = await runModel(bytes, "x", DIMS);
    assert.ok(difference(a.y, b.y).relative < 0.02);
  } finally {
    handler.close();
  }
});
